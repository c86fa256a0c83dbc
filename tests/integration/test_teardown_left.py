"""A teardown whose wait runs out (sandbox, simulated time): the rest is still deleted, what is left is
named, and the next teardown finishes."""

from __future__ import annotations

from pathlib import Path

import pytest

from runbook_lib import Action, apply, load_params, make_clients, teardown
from runbook_lib.errors import TeardownIncomplete
from runbook_lib.sandbox.control import SimulatedTime as SimTime

PARAMS = Path(__file__).resolve().parents[2] / "params" / "sandbox.yaml"


@pytest.fixture
def env(sandbox_env):
    params = load_params(PARAMS)
    clients = make_clients(params)
    control = sandbox_env.control
    apply(clients, params, only="connection", wait_handshake=False)
    control.handshake(params.connection.name, "AVAILABLE")
    t = SimTime(control)
    apply(clients, params, sleep=t.sleep, clock=t.clock)
    return clients, params, control


def owned_groups(clients, params) -> list[dict]:
    tag = {"Name": "tag:runbook:name", "Values": [params.name]}
    return clients.ec2.describe_security_groups(Filters=[tag])["SecurityGroups"]


def test_security_group_wait_runs_out_the_rest_is_deleted_and_named(env) -> None:
    clients, params, control = env
    control.faults(eni_release_lag_s=4 * 3600)  # App Runner's ENIs hold the group past the 2700 s wait
    t = SimTime(control)
    with pytest.raises(TeardownIncomplete) as caught:
        teardown(clients, params, sleep=t.sleep, clock=t.clock)
    group = f"{params.name}-apprunner-egress"
    assert f"security_group {group}" in str(caught.value) and "runbook down PARAMS" in str(caught.value)
    assert caught.value.left == [f"security_group {group}"]
    assert t.now >= 2700
    ar = clients.apprunner
    assert not ar.list_auto_scaling_configurations(AutoScalingConfigurationName=params.autoscaling.name)[
        "AutoScalingConfigurationSummaryList"
    ]
    assert params.instance.role_name not in {r["RoleName"] for r in clients.iam.list_roles()["Roles"]}
    assert [s for s in ar.list_services()["ServiceSummaryList"] if s["ServiceName"] == params.name] == []
    assert len(owned_groups(clients, params)) == 1

    control.advance(4 * 3600)  # the ENIs are released
    again = teardown(clients, params, sleep=t.sleep, clock=t.clock)
    assert {r.resource: r.action for r in again} == {
        "service": Action.ABSENT, "vpc_connector": Action.ABSENT, "security_group": Action.DELETED,
        "autoscaling": Action.ABSENT, "instance_role": Action.ABSENT,
    }  # fmt: skip
    assert owned_groups(clients, params) == []
