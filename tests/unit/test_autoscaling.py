"""Auto scaling configurations: request builder, revision decisions and quotas over stubbed App Runner."""

from __future__ import annotations

import datetime as dt

import pytest
from botocore.stub import Stubber
from botocore.validate import validate_parameters
from unit_helpers import ACCOUNT, demo_params

from runbook_lib import autoscaling
from runbook_lib.clients import make_clients
from runbook_lib.errors import QuotaExceeded
from runbook_lib.ownership import NotOwned
from runbook_lib.results import NOT_OWNED, Action

NAME_ARN = f"arn:aws:apprunner:us-east-1:{ACCOUNT}:autoscalingconfiguration/demo-app"
LIST_ARGS = {"AutoScalingConfigurationName": "demo-app", "LatestOnly": False}
TAGS = [
    {"Key": "runbook:name", "Value": "demo-app"},
    {"Key": "runbook:tags", "Value": "team"},
    {"Key": "team", "Value": "platform"},
]
FOREIGN = [{"Key": "runbook:name", "Value": "other-app"}]
SERVICE = f"arn:aws:apprunner:us-east-1:{ACCOUNT}:service/other/0123"


def make_params(**overrides):
    return demo_params({"autoscaling": {"max_concurrency": 50, "min_size": 1, "max_size": 5}}, **overrides)


class _Unkept(dict):
    """A memo that keeps nothing."""

    def __setitem__(self, key: object, value: object) -> None:
        pass


@pytest.fixture
def clients(aws_env, no_network):
    """Clients that remember no revision between ``observe``s: these tests give one revision ARN other
    settings from one observation to the next, which App Runner never does (``autoscaling._described``);
    what a run remembers is tested in test_run_memo.py."""
    made = make_clients(region="us-east-1")
    made.revision_settings, made.created_tags = _Unkept(), _Unkept()
    return made


@pytest.fixture
def stub(clients, no_network):
    with Stubber(clients.apprunner) as stubber:
        yield stubber
        stubber.assert_no_pending_responses()


def arn(revision: int) -> str:
    return f"{NAME_ARN}/{revision}/{revision:032x}"


def summary(revision: int, *, used: bool = False, status: str = "active") -> dict:
    return {
        "AutoScalingConfigurationArn": arn(revision),
        "AutoScalingConfigurationName": "demo-app",
        "AutoScalingConfigurationRevision": revision,
        "Status": status,
        "CreatedAt": dt.datetime(2024, 1, revision, tzinfo=dt.timezone.utc),
        "HasAssociatedService": used,
        "IsDefault": False,
    }


def config(revision: int, settings: tuple[int, int, int] = (50, 1, 5), *, used: bool = False) -> dict:
    max_concurrency, min_size, max_size = settings
    fields = {k: v for k, v in summary(revision, used=used).items()}
    return {
        **fields,
        "Latest": False,
        "MaxConcurrency": max_concurrency,
        "MinSize": min_size,
        "MaxSize": max_size,
    }


def observe(
    stub: Stubber, *revisions: dict, inactive: tuple[int, ...] = (), tags: dict[int, list] | None = None
) -> None:
    """ListAutoScalingConfigurations (plus INACTIVE entries that must be ignored), then one Describe and
    one ListTagsForResource each (owned unless ``tags`` gives a revision others)."""
    items = [
        summary(r["AutoScalingConfigurationRevision"], used=r["HasAssociatedService"]) for r in revisions
    ]
    items += [summary(n, status="inactive") for n in inactive]
    stub.add_response(
        "list_auto_scaling_configurations", {"AutoScalingConfigurationSummaryList": items}, LIST_ARGS
    )
    for revision in revisions:
        stub.add_response(
            "describe_auto_scaling_configuration",
            {"AutoScalingConfiguration": revision},
            {"AutoScalingConfigurationArn": revision["AutoScalingConfigurationArn"]},
        )
        number = revision["AutoScalingConfigurationRevision"]
        stub.add_response(
            "list_tags_for_resource",
            {"Tags": (tags or {}).get(number, TAGS)},
            {"ResourceArn": revision["AutoScalingConfigurationArn"]},
        )


def expect_used_by(stub: Stubber, revision: int, *services: str) -> None:
    """ListServicesForAutoScalingConfiguration: which services use the revision."""
    stub.add_response(
        "list_services_for_auto_scaling_configuration",
        {"ServiceArnList": list(services)},
        {"AutoScalingConfigurationArn": arn(revision)},
    )


def expect_create(stub: Stubber, revision: int) -> None:
    created = {**config(revision), "Latest": True}
    stub.add_response(
        "create_auto_scaling_configuration",
        {"AutoScalingConfiguration": created},
        autoscaling.build_create_autoscaling_request(make_params()),
    )
    expect_read(stub, revision, "active")  # the library waits until it can read the new revision


def expect_delete(stub: Stubber, revision: int) -> None:
    stub.add_response(
        "delete_auto_scaling_configuration",
        {"AutoScalingConfiguration": {**config(revision), "Status": "inactive"}},
        {"AutoScalingConfigurationArn": arn(revision)},
    )
    expect_read(stub, revision, "inactive")  # ... and until reads no longer show it ACTIVE


def expect_read(stub: Stubber, revision: int, status: str) -> None:
    stub.add_response(
        "describe_auto_scaling_configuration",
        {"AutoScalingConfiguration": {**config(revision), "Status": status}},
        {"AutoScalingConfigurationArn": arn(revision)},
    )


def mutating(clients) -> list[str]:
    return [c.operation for c in clients.calls if c.mutating]


# ---------------------------------------------------------------- pure parts


def test_create_request_snapshot(clients) -> None:
    request = autoscaling.build_create_autoscaling_request(make_params())
    assert request == {
        "AutoScalingConfigurationName": "demo-app",
        "MaxConcurrency": 50,
        "MinSize": 1,
        "MaxSize": 5,
        "Tags": TAGS,
    }
    operation = clients.apprunner.meta.service_model.operation_model("CreateAutoScalingConfiguration")
    validate_parameters(request, operation.input_shape)


def test_name_arn_and_revision_delete_request(clients) -> None:
    """Teardown deletes revision by revision (never DeleteAllRevisions); the name ARN names the result."""
    assert autoscaling.name_arn(arn(3)) == NAME_ARN
    request = {"AutoScalingConfigurationArn": arn(3)}
    operation = clients.apprunner.meta.service_model.operation_model("DeleteAutoScalingConfiguration")
    validate_parameters(request, operation.input_shape)


def test_decide_prefers_the_revision_in_use() -> None:
    params = make_params()
    revisions = [autoscaling._revision(config(n)) for n in (1, 2, 3)]
    assert autoscaling.decide_autoscaling(params, revisions).reuse["revision"] == 3
    assert autoscaling.decide_autoscaling(params, revisions, arn(2)).reuse["revision"] == 2
    other = autoscaling.decide_autoscaling(make_params(**{"autoscaling.max_size": 7}), revisions, arn(2))
    assert (other.action, other.reuse, [c.field for c in other.changes]) == (
        Action.UPDATE,
        None,
        ["max_size"],
    )


# ---------------------------------------------------------------- decisions over stubbed App Runner


def test_ensure_creates_first_revision(clients, stub) -> None:
    observe(stub)
    expect_create(stub, 1)
    result = autoscaling.ensure_autoscaling(clients, make_params())
    assert (result.resource, result.action, result.arn, result.extra) == (
        "autoscaling",
        Action.CREATED,
        arn(1),
        {"revision": 1},
    )


def test_ensure_reuses_matching_revision(clients, stub) -> None:
    observe(stub, config(1, (100, 1, 25)), config(2, used=True), inactive=(3,))
    result = autoscaling.ensure_autoscaling(clients, make_params(), in_use_arn=arn(2))
    assert (result.action, result.arn, result.extra, result.detail) == (
        Action.UNCHANGED,
        arn(2),
        {"revision": 2},
        "",
    )
    assert mutating(clients) == []


def test_ensure_reuses_an_older_matching_revision_for_repointing(clients, stub) -> None:
    observe(stub, config(1), config(2, (100, 1, 25), used=True))
    result = autoscaling.ensure_autoscaling(clients, make_params(), in_use_arn=arn(2))
    assert (result.action, result.arn) == (Action.UNCHANGED, arn(1))
    assert "switched" in result.detail and mutating(clients) == []


def test_ensure_creates_new_revision_on_change(clients, stub) -> None:
    observe(stub, config(1, (100, 1, 25), used=True))
    expect_create(stub, 2)
    result = autoscaling.ensure_autoscaling(clients, make_params(), in_use_arn=arn(1))
    assert (result.action, result.arn, result.extra["revision"]) == (Action.UPDATED, arn(2), 2)
    assert result.changed_fields == ["max_concurrency", "max_size"]


def test_quota_deletes_oldest_unused_first(clients, stub) -> None:
    old = (100, 1, 25)
    observe(stub, config(1, old, used=True), config(2, old), config(3, old), config(4, old), config(5, old))
    expect_used_by(stub, 2)  # checked with ListServicesForAutoScalingConfiguration before deleting
    expect_delete(stub, 2)
    expect_create(stub, 6)
    result = autoscaling.ensure_autoscaling(clients, make_params(), in_use_arn=arn(1))
    assert (result.action, result.extra) == (Action.UPDATED, {"revision": 6, "deleted_arns": [arn(2)]})
    assert mutating(clients) == ["DeleteAutoScalingConfiguration", "CreateAutoScalingConfiguration"]


def test_quota_never_evicts_a_revision_of_someone_else(clients, stub) -> None:
    """A foreign revision stops ensure before any change (NotOwned), and is never an eviction candidate."""
    old = (100, 1, 25)
    observe(stub, *(config(n, old) for n in range(1, 6)), tags={2: FOREIGN})
    with pytest.raises(NotOwned, match="autoscaling demo-app revision 2"):
        autoscaling.ensure_autoscaling(clients, make_params())
    assert mutating(clients) == []
    revisions = [{**autoscaling._revision(config(n, old)), "owned": n != 2} for n in range(1, 6)]
    decision = autoscaling.decide_autoscaling(make_params(), revisions)
    assert [r["revision"] for r in decision.evict] == [1]


def test_quota_eviction_candidate_found_in_use_is_neither_deleted_nor_reported(clients, stub) -> None:
    """HasAssociatedService said unused, ListServicesForAutoScalingConfiguration says used: no delete, and
    no CreateAutoScalingConfiguration doomed to exceed the quota."""
    old = (100, 1, 25)
    observe(stub, config(1, old, used=True), *(config(n, old, used=n != 2) for n in range(2, 6)))
    expect_used_by(stub, 2, SERVICE)
    with pytest.raises(QuotaExceeded):
        autoscaling.ensure_autoscaling(clients, make_params(), in_use_arn=arn(1))
    assert mutating(clients) == []


def test_quota_with_every_revision_in_use(clients, stub) -> None:
    observe(stub, *(config(n, (100, 1, 25), used=True) for n in range(1, 6)))
    with pytest.raises(QuotaExceeded, match="in use|used by a service"):
        autoscaling.ensure_autoscaling(clients, make_params())
    assert mutating(clients) == []


def test_quota_never_deletes_the_revision_reported_in_use(clients, stub) -> None:
    old = (100, 1, 25)
    observe(stub, config(1, old), *(config(n, old, used=True) for n in range(2, 6)))
    with pytest.raises(QuotaExceeded):
        autoscaling.ensure_autoscaling(clients, make_params(), in_use_arn=arn(1))


def test_plan_reads_only(clients, stub) -> None:
    observe(stub)
    assert autoscaling.plan_autoscaling(clients, make_params()).action is Action.CREATE
    observe(stub, config(1, (100, 1, 25)))
    planned = autoscaling.plan_autoscaling(clients, make_params())
    assert (planned.action, planned.changed_fields) == (Action.UPDATE, ["max_concurrency", "max_size"])
    observe(stub, *(config(n, (100, 1, 25), used=n != 2) for n in range(1, 6)))
    assert "deletes unused revision(s) 2" in autoscaling.plan_autoscaling(clients, make_params()).detail
    observe(stub, *(config(n, (100, 1, 25), used=True) for n in range(1, 6)))
    assert "blocked" in autoscaling.plan_autoscaling(clients, make_params()).detail
    observe(stub, config(1))
    assert autoscaling.plan_autoscaling(clients, make_params()).action is Action.UNCHANGED
    assert mutating(clients) == []


def test_plan_and_ensure_refuse_a_foreign_revision(clients, stub) -> None:
    observe(stub, config(1), config(2), tags={1: FOREIGN})
    with pytest.raises(NotOwned) as err:
        autoscaling.plan_autoscaling(clients, make_params())
    assert "owned by environment 'other-app'" in str(err.value)
    observe(stub, config(1), tags={1: []})
    with pytest.raises(NotOwned, match="without the runbook:name tag"):
        autoscaling.ensure_autoscaling(clients, make_params())
    assert mutating(clients) == []


def test_adopting_tags_the_revisions(clients, stub) -> None:
    params = make_params(adopt=["autoscaling"])
    observe(stub, config(1), tags={1: []})
    planned = autoscaling.plan_autoscaling(clients, params)
    assert (planned.action, planned.changed_fields, planned.arn) == (Action.UPDATE, ["tags"], arn(1))
    observe(stub, config(1), tags={1: []})
    stub.add_response("tag_resource", {}, {"ResourceArn": arn(1), "Tags": TAGS})
    result = autoscaling.ensure_autoscaling(clients, params)
    assert result.arn == arn(1)  # reused as is, only tagged
    assert mutating(clients) == ["TagResource"]


def test_delete_revision_by_revision(clients, stub) -> None:
    observe(stub, config(1), config(2), inactive=(3,))
    expect_used_by(stub, 1)
    expect_delete(stub, 1)
    expect_used_by(stub, 2)
    expect_delete(stub, 2)
    result = autoscaling.delete_autoscaling(clients, make_params())
    assert (result.action, result.arn, result.extra, result.detail) == (
        Action.DELETED,
        NAME_ARN,
        {"revisions": [1, 2]},
        "",
    )
    deletes = [c for c in clients.calls if c.operation == "DeleteAutoScalingConfiguration"]
    assert len(deletes) == 2  # one per revision, never DeleteAllRevisions on the name


def test_delete_keeps_foreign_used_and_default_revisions(clients, stub) -> None:
    default = {**config(3), "IsDefault": True}
    observe(stub, config(1), config(2), default, config(4), tags={1: FOREIGN})
    expect_used_by(stub, 2, SERVICE)
    expect_used_by(stub, 4)
    expect_delete(stub, 4)
    result = autoscaling.delete_autoscaling(clients, make_params())
    assert (result.action, result.arn, result.extra) == (Action.DELETED, NAME_ARN, {"revisions": [4]})
    assert f"kept revision 1: {NOT_OWNED}" in result.detail
    assert f"kept revision 2: used by {SERVICE}" in result.detail
    assert "kept revision 3: the account default" in result.detail
    # nothing left that may go: KEPT, untouched
    observe(stub, config(1), config(2), tags={1: FOREIGN})
    expect_used_by(stub, 2, SERVICE)
    kept = autoscaling.delete_autoscaling(clients, make_params())
    assert (kept.action, kept.extra) == (Action.KEPT, {})
    assert "revision 1" in kept.detail and "revision 2" in kept.detail
    assert mutating(clients) == ["DeleteAutoScalingConfiguration"]


def test_delete_absent(clients, stub) -> None:
    stub.add_response(
        "list_auto_scaling_configurations", {"AutoScalingConfigurationSummaryList": []}, LIST_ARGS
    )
    assert autoscaling.delete_autoscaling(clients, make_params()).action is Action.ABSENT
    assert mutating(clients) == []


def test_prune_keeps_the_given_and_used_revisions(clients, stub) -> None:
    observe(stub, config(1), config(2, used=True), config(3), config(4), tags={4: FOREIGN})
    expect_used_by(stub, 1)
    expect_delete(stub, 1)
    expect_used_by(stub, 2, SERVICE)
    result = autoscaling.prune_autoscaling(clients, make_params(), arn(3))
    assert (result.action, result.arn, result.extra) == (Action.DELETED, arn(3), {"deleted_arns": [arn(1)]})
    observe(stub, config(2, used=True), config(3))
    expect_used_by(stub, 2, SERVICE)
    assert autoscaling.prune_autoscaling(clients, make_params(), arn(3)).action is Action.UNCHANGED
    assert mutating(clients) == ["DeleteAutoScalingConfiguration"]


def test_waits_until_a_new_revision_is_readable(clients, stub) -> None:
    """Reads may lag the create (Terraform waits up to 2 min): not found, then ACTIVE."""
    observe(stub)
    stub.add_response(
        "create_auto_scaling_configuration",
        {"AutoScalingConfiguration": {**config(1), "Latest": True}},
        autoscaling.build_create_autoscaling_request(make_params()),
    )
    stub.add_client_error(
        "describe_auto_scaling_configuration",
        "ResourceNotFoundException",
        expected_params={"AutoScalingConfigurationArn": arn(1)},
    )
    expect_read(stub, 1, "active")
    slept: list[float] = []
    result = autoscaling.ensure_autoscaling(clients, make_params(), sleep=slept.append, clock=lambda: 0.0)
    assert result.action is Action.CREATED and len(slept) == 1
