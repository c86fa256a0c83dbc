"""Network and auto scaling against the local sandbox (moto's EC2 + the App Runner emulator)."""

from __future__ import annotations

import pytest

from runbook_lib import autoscaling, network
from runbook_lib.clients import make_clients
from runbook_lib.params import parse_params
from runbook_lib.results import Action


def make_params(**overrides):
    doc = {
        "name": "demo-app",
        "account_id": "123456789012",
        "region": "us-east-1",
        "connection": {"name": "github-demo"},
        "source": {"repository_url": "https://github.com/example/app", "branch": "main", "runtime": "GO_1"},
        "instance": {},
        "network": {"vpc_id": "default", "subnet_ids": "default"},
        "autoscaling": {"max_concurrency": 50, "min_size": 1, "max_size": 5},
    }
    return parse_params(doc, overrides=overrides)


@pytest.fixture
def clients(sandbox_env):
    return make_clients(region="us-east-1")


def converge_network(clients, params):
    """The plan's network step: security group, then connector."""
    group = network.ensure_security_group(clients, params)
    resolved = network.resolve_network(clients, params)
    return group, network.ensure_vpc_connector(clients, params, network=resolved), resolved


def test_network_lifecycle_with_replacement(clients) -> None:
    params = make_params()
    group, connector, resolved = converge_network(clients, params)
    assert (group.action, connector.action) == (Action.CREATED, Action.CREATED)
    assert resolved["security_group_ids"] == [group.extra["group_id"]]

    clients.calls.clear()
    group, again, _ = converge_network(clients, params)
    assert (group.action, again.action, again.arn) == (Action.UNCHANGED, Action.UNCHANGED, connector.arn)
    assert [c for c in clients.calls if c.mutating] == []

    moved = make_params(**{"network.subnet_ids": resolved["subnet_ids"][:2]})
    _, replaced, _ = converge_network(clients, moved)
    assert replaced.action is Action.REPLACED and replaced.extra["old_arn"] == connector.arn
    assert network.find_vpc_connector(clients, moved)["arn"] == replaced.arn
    assert network.delete_vpc_connector(clients, moved, arn=connector.arn).action is Action.DELETED
    assert converge_network(clients, moved)[1].action is Action.UNCHANGED

    assert network.delete_vpc_connector(clients, moved).extra["arns"] == [replaced.arn]
    assert network.delete_vpc_connector(clients, moved).action is Action.ABSENT
    assert network.delete_security_group(clients, params).action is Action.DELETED
    assert network.delete_security_group(clients, params).action is Action.ABSENT


def test_autoscaling_revisions_quota_and_teardown(clients) -> None:
    first = autoscaling.ensure_autoscaling(clients, make_params())
    assert (first.action, first.extra) == (Action.CREATED, {"revision": 1})
    clients.calls.clear()
    assert autoscaling.ensure_autoscaling(clients, make_params(), in_use_arn=first.arn).arn == first.arn
    assert [c for c in clients.calls if c.mutating] == []

    results = [
        autoscaling.ensure_autoscaling(clients, make_params(**{"autoscaling.max_size": size}))
        for size in (6, 7, 8, 9)
    ]
    assert [r.action for r in results] == [Action.UPDATED] * 4
    assert len(autoscaling.find_autoscaling(clients, make_params())) == autoscaling.REVISION_QUOTA
    sixth = autoscaling.ensure_autoscaling(
        clients, make_params(**{"autoscaling.max_size": 10}), in_use_arn=first.arn
    )
    assert sixth.extra["revision"] == 6 and sixth.extra["deleted_arns"] == [results[0].arn]

    pruned = autoscaling.prune_autoscaling(clients, make_params(), sixth.arn)
    assert pruned.action is Action.DELETED and len(pruned.extra["deleted_arns"]) == 4
    assert autoscaling.delete_autoscaling(clients, make_params()).action is Action.DELETED
    assert autoscaling.delete_autoscaling(clients, make_params()).action is Action.ABSENT
