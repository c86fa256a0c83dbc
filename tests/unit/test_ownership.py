"""The ownership rule and the managed tags (runbook_lib.ownership), pure."""

from __future__ import annotations

import pytest

from runbook_lib.ownership import (
    Foreign,
    NotOwned,
    claim,
    diff_owned_tags,
    is_owned,
    owner_of,
    tag_changes,
    tag_list,
    tag_map,
)
from runbook_lib.params import autoscaling_name, parse_params
from runbook_lib.results import Change


def make(**over):
    doc = {
        "name": "demo-app",
        "account_id": "123456789012",
        "region": "us-east-1",
        "tags": {"team": "platform", "env": "dev"},
        "connection": {"name": "github-demo", "provider": "GITHUB"},
        "source": {
            "repository_url": "https://github.com/example/app",
            "branch": "main",
            "runtime": "PYTHON_311",
        },
        "instance": {},
        "autoscaling": {},
    }
    doc.update(over)
    return parse_params(doc)


def test_owned_tags_remember_the_params_keys() -> None:
    params = make()
    assert params.owned_tags == {
        "team": "platform", "env": "dev", "runbook:name": "demo-app", "runbook:tags": "env+team",
    }  # fmt: skip
    assert make(tags={}).owned_tags == {"runbook:name": "demo-app"}


def test_foreign_keys_stay_and_are_no_change() -> None:
    params = make()
    observed = {**params.owned_tags, "CostCenter": "42", "aws:cloudformation:stack-name": "x"}
    assert diff_owned_tags(params, observed) == ({}, [])
    assert tag_changes(params, observed) == ()


def test_a_key_removed_from_the_params_is_removed_and_others_stay() -> None:
    before = make().owned_tags
    params = make(tags={"team": "web"})
    observed = {**before, "CostCenter": "42"}
    to_set, to_remove = diff_owned_tags(params, observed)
    assert to_set == {"team": "web", "runbook:tags": "team"}
    assert to_remove == ["env"]
    assert tag_changes(params, observed) == (Change("tags", ["env"], to_set),)
    # no params tags any more: the bookkeeping tag goes too
    assert diff_owned_tags(make(tags={}), observed) == ({}, ["env", "runbook:tags", "team"])


def test_claim_owned_adopted_or_refused() -> None:
    params = make()
    assert is_owned(params, {"runbook:name": "demo-app"})
    assert claim(params, "instance_role", "r", "arn:r", {"runbook:name": "demo-app"}) is True
    with pytest.raises(NotOwned) as err:
        claim(params, "instance_role", "r", "arn:aws:iam::1:role/r", {"owner": "alice"})
    text = str(err.value)
    assert "instance_role r (arn:aws:iam::1:role/r)" in text and "owner=alice" in text
    assert "adopt: [instance_role]" in text and "other names" in text
    with pytest.raises(NotOwned, match="owned by environment 'other'"):
        claim(params, "service", "s", None, {"runbook:name": "other"})
    adopting = make(adopt=["instance_role"])
    assert claim(adopting, "instance_role", "r", "arn:r", {}) is False


def test_autoscaling_names_never_collide() -> None:
    a, b = "x" * 32 + "-alpha", "x" * 32 + "-beta"
    assert autoscaling_name("short") == "short"
    assert autoscaling_name("y" * 32) == "y" * 32
    assert autoscaling_name(a) != autoscaling_name(b)
    assert len(autoscaling_name(a)) <= 32 and autoscaling_name(a) == autoscaling_name(a)
    assert make(name="z" * 40).autoscaling.name == autoscaling_name("z" * 40)


def test_tag_and_adopt_params_are_validated_together() -> None:
    from runbook_lib.errors import ParameterError

    with pytest.raises(ParameterError) as err:
        make(tags={"a+b": "1", "runbook:x": "2"}, adopt=["instance_role", "everything"])
    text = str(err.value)
    assert "runbook:x" in text and "'+'" in text and "adopt[1]" in text


def test_tag_forms_and_owner() -> None:
    tags = {"b": "2", "a": "1"}
    assert tag_list(tags) == [{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}]
    assert tag_map(tag_list(tags)) == tags == tag_map(tags)
    assert tag_map(None) == {} and tag_map([{"Key": "k"}]) == {"k": ""}
    assert owner_of({"runbook:name": "x"}) == "x" and owner_of({}) is None
    assert not is_owned(make(), {"runbook:name": "other"}) and not is_owned(make(), {})


def test_aws_and_unlisted_keys_are_never_removed() -> None:
    params = make(tags={})
    observed = {"runbook:name": "demo-app", "aws:cloudformation:stack-name": "s", "CostCenter": "42"}
    assert diff_owned_tags(params, observed) == ({}, [])
    # a key listed in runbook:tags but already gone from the resource is nothing to remove
    assert diff_owned_tags(params, {"runbook:name": "demo-app", "runbook:tags": "gone"}) == (
        {},
        ["runbook:tags"],
    )


def test_not_owned_names_every_foreign_resource() -> None:
    foreign = [
        Foreign("instance_role", "r", "arn:r", {}),
        Foreign("service", "s", None, {"runbook:name": "other", "CostCenter": "42"}),
    ]
    text = str(NotOwned("demo-app", foreign))
    assert "2 resource(s)" in text and "nothing was changed" in text
    assert "instance_role r (arn:r) is without the runbook:name tag; tags: no tags" in text
    assert (
        "service s (no ARN) is owned by environment 'other'; tags: CostCenter=42, runbook:name=other" in text
    )
    assert "adopt: [instance_role, service]" in text


def test_adopt_lets_only_the_listed_kinds_through() -> None:
    params = make(adopt=["autoscaling", "service"])
    assert claim(params, "service", "s", None, {"runbook:name": "other"}) is False
    with pytest.raises(NotOwned):
        claim(params, "vpc_connector", "c", None, {})
