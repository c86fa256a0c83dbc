"""plan / apply / teardown against the local sandbox (op_seconds 0, manual handshake), judged by its
request log: what was created, what a re-run sends (nothing), what a one-field change sends."""

from __future__ import annotations

from pathlib import Path

import pytest

from runbook_lib import Action, apply, load_params, make_clients, plan, teardown, verify_service
from runbook_lib.errors import ResourceNotFound, WaitFailed, WaitTimeout
from runbook_lib.sandbox.control import SimulatedTime as SimTime

PARAMS = Path(__file__).resolve().parents[2] / "params" / "sandbox.yaml"
CONSOLE = "https://us-east-1.console.aws.amazon.com/apprunner/home?region=us-east-1#/connections"


@pytest.fixture
def env(sandbox_env):
    params = load_params(PARAMS)
    return make_clients(params), params, sandbox_env.control


def up(clients, params, control, **kw) -> list:
    """The first apply of a fresh account: create the connection, complete its handshake, apply all."""
    t = SimTime(control)
    apply(clients, params, only="connection", wait_handshake=False)
    control.handshake(params.connection.name, "AVAILABLE")
    return apply(clients, params, sleep=t.sleep, clock=t.clock, **kw)


def mutating(control) -> list[str]:
    return [r["operation"] for r in control.mutating_requests()]


def changed(results) -> dict[str, Action]:
    return {r.resource: r.action for r in results if r.action is not Action.UNCHANGED}


def test_apply_creates_everything_then_a_rerun_changes_nothing(env) -> None:
    clients, params, control = env
    first = up(clients, params, control)
    assert [(r.resource, r.action) for r in first] == [
        ("connection", Action.UNCHANGED),  # created by the first (connection-only) call of `up`
        ("instance_role", Action.CREATED),
        ("security_group", Action.CREATED),
        ("vpc_connector", Action.CREATED),
        ("autoscaling", Action.CREATED),
        ("service", Action.CREATED),
    ]
    service = first[-1]
    assert service.extra["status"] == "RUNNING" and service.arn
    checked = verify_service(clients, params)
    assert checked.extra["status_code"] == 200 and checked.extra["ok"] is True
    assert "/_sandbox/services/" in checked.extra["http_url"]

    control.clear_requests()
    assert not plan(clients, params).has_changes
    second = apply(clients, params)
    assert mutating(control) == []
    assert {r.action for r in second} == {Action.UNCHANGED}
    assert {r.resource for r in second} >= {"connection", "instance_role", "vpc_connector", "autoscaling"}


@pytest.mark.parametrize(
    ("overrides", "planned", "sent"),
    [
        (
            {"autoscaling.max_size": 7},
            {"autoscaling": ["max_size"], "service": ["autoscaling_configuration"]},
            ["CreateAutoScalingConfiguration", "UpdateService", "DeleteAutoScalingConfiguration"],
        ),
        ({"source.env": {"ENV1": "bye"}}, {"service": ["source.env"]}, ["UpdateService"]),
        ({"instance.memory": "4 GB"}, {"service": ["instance.memory"]}, ["UpdateService"]),
    ],
    ids=["autoscaling.max_size", "env", "instance.memory"],
)
def test_one_field_change_is_planned_then_applied_exactly(env, overrides, planned, sent) -> None:
    clients, params, control = env
    up(clients, params, control)
    changed_params = load_params(PARAMS, overrides=overrides)
    control.clear_requests()
    shown = plan(clients, changed_params)
    assert mutating(control) == []
    assert {s.resource: s.changed_fields for s in shown.steps if s.action is not Action.UNCHANGED} == planned
    t = SimTime(control)
    results = apply(clients, changed_params, sleep=t.sleep, clock=t.clock)
    assert mutating(control) == sent
    updated = changed(results)
    assert updated.pop("service") is Action.UPDATED
    if "autoscaling" in planned:
        assert [r.action for r in results if r.resource == "autoscaling"] == [Action.UPDATED, Action.DELETED]
    else:
        assert updated == {}
    service = next(r for r in results if r.resource == "service")
    assert service.changed_fields == planned["service"]
    control.clear_requests()
    assert not plan(clients, changed_params).has_changes
    assert {r.action for r in apply(clients, changed_params)} == {Action.UNCHANGED}
    assert mutating(control) == []


def test_rolled_back_update_is_a_failure_naming_the_operation(env) -> None:
    clients, params, control = env
    up(clients, params, control)
    control.faults(rollback_next_update=True)
    t = SimTime(control)
    with pytest.raises(WaitFailed) as info:
        apply(
            clients,
            load_params(PARAMS, overrides={"source.env": {"ENV1": "x"}}),
            sleep=t.sleep,
            clock=t.clock,
        )
    service_arn = info.value.service_arn
    (latest, *_) = clients.apprunner.list_operations(ServiceArn=service_arn)["OperationSummaryList"]
    assert latest["Status"] == "ROLLBACK_SUCCEEDED"
    text = str(info.value)
    assert latest["Id"] in text and "UPDATE_SERVICE" in text and "ROLLBACK_SUCCEEDED" in text
    assert info.value.operation_id == latest["Id"]
    status = clients.apprunner.describe_service(ServiceArn=service_arn)["Service"]["Status"]
    assert status == "RUNNING"  # the service looks healthy; only the operation tells the truth


def test_create_failed_service_is_replaced_on_the_next_apply(env) -> None:
    clients, params, control = env
    control.faults(fail_next_create=True)
    with pytest.raises(WaitFailed, match="CREATE_SERVICE"):
        up(clients, params, control)
    planned = plan(clients, params, only="service").steps
    assert [(s.resource, s.action) for s in planned] == [("service", Action.REPLACE)]
    control.clear_requests()
    t = SimTime(control)
    (result,) = apply(clients, params, only="service", sleep=t.sleep, clock=t.clock)
    assert result.action is Action.REPLACED and result.extra["status"] == "RUNNING"
    assert mutating(control) == ["DeleteService", "CreateService"]


def leftovers(clients, params) -> dict[str, list]:
    """Everything of this runbook still in the sandbox: App Runner by name, the rest by owner tag."""
    ar = clients.apprunner
    tag = {"Name": "tag:runbook:name", "Values": [params.name]}
    roles = [
        r["RoleName"] for r in clients.iam.list_roles()["Roles"] if r["RoleName"] == params.instance.role_name
    ]
    return {
        "services": [s for s in ar.list_services()["ServiceSummaryList"] if s["ServiceName"] == params.name],
        "connectors": [
            c
            for c in ar.list_vpc_connectors()["VpcConnectors"]
            if c["VpcConnectorName"].startswith(params.network.connector_name) and c["Status"] == "ACTIVE"
        ],
        "autoscaling": ar.list_auto_scaling_configurations(
            AutoScalingConfigurationName=params.autoscaling.name
        )["AutoScalingConfigurationSummaryList"],
        "security_groups": clients.ec2.describe_security_groups(Filters=[tag])["SecurityGroups"],
        "roles": roles,
    }


def test_teardown_leaves_nothing_even_when_the_connector_lingers(env) -> None:
    clients, params, control = env
    up(clients, params, control)
    control.faults(connector_release_lag_s=90, eni_release_lag_s=60)
    t = SimTime(control)
    results = teardown(clients, params, sleep=t.sleep, clock=t.clock)
    assert [(r.resource, r.action) for r in results] == [
        ("service", Action.DELETED),
        ("vpc_connector", Action.DELETED),
        ("security_group", Action.DELETED),
        ("autoscaling", Action.DELETED),
        ("instance_role", Action.DELETED),
    ]
    assert t.now >= 90  # the connector was "in use" for a while after the service was gone
    assert all(not found for found in leftovers(clients, params).values()), leftovers(clients, params)
    assert clients.apprunner.list_connections(ConnectionName=params.connection.name)["ConnectionSummaryList"]
    again = teardown(clients, params, delete_connection=True, sleep=t.sleep, clock=t.clock)
    assert [r.action for r in again] == [Action.ABSENT] * 5 + [Action.DELETED]


def test_handshake_wait_times_out_with_the_console_url(env) -> None:
    clients, params, control = env
    t = SimTime(control)
    with pytest.raises(WaitTimeout) as info:
        apply(clients, params, only="connection", sleep=t.sleep, clock=t.clock)
    text = str(info.value)
    assert CONSOLE in text and "re-run" in text and "PENDING_HANDSHAKE" in text
    assert t.now == params.connection.handshake_timeout_s
    assert mutating(control) == ["CreateConnection"]


def test_a_step_alone_names_the_missing_prerequisite(env) -> None:
    clients, params, control = env
    apply(clients, params, only="connection", wait_handshake=False)
    control.handshake(params.connection.name, "AVAILABLE")
    with pytest.raises(ResourceNotFound, match="`instance_role` step"):
        apply(clients, params, only="service")
    assert mutating(control) == ["CreateConnection"]


def test_wrong_account_is_refused_before_any_call(env) -> None:
    clients, _, control = env
    other = load_params(PARAMS, overrides={"account_id": "210987654321"})
    with pytest.raises(Exception, match="Refusing to act"):
        apply(clients, other)
    assert mutating(control) == []


def test_subnet_drift_replaces_the_connector_switches_the_service_then_deletes_the_old(env) -> None:
    clients, params, control = env
    first = up(clients, params, control)
    old = next(r for r in first if r.resource == "vpc_connector").arn
    vpc = clients.ec2.describe_vpcs(Filters=[{"Name": "isDefault", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
    subnets = clients.ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["Subnets"]
    chosen = sorted(s["SubnetId"] for s in subnets)[-2:]
    drifted = load_params(PARAMS, overrides={"network.subnet_ids": chosen})
    shown = plan(clients, drifted)
    assert {s.resource: s.action for s in shown.steps if s.action is not Action.UNCHANGED} == {
        "vpc_connector": Action.REPLACE,
        "service": Action.UPDATE,
    }
    control.clear_requests()
    t = SimTime(control)
    results = apply(clients, drifted, sleep=t.sleep, clock=t.clock)
    assert mutating(control) == ["CreateVpcConnector", "UpdateService", "DeleteVpcConnector"]
    new = next(r for r in results if r.resource == "vpc_connector" and r.action is Action.REPLACED).arn
    service = next(r for r in results if r.resource == "service")
    assert service.changed_fields == ["network.vpc_connector_arn"]
    egress = clients.apprunner.describe_service(ServiceArn=service.arn)["Service"]["NetworkConfiguration"]
    assert egress["EgressConfiguration"]["VpcConnectorArn"] == new
    status = clients.apprunner.describe_vpc_connector(VpcConnectorArn=old)["VpcConnector"]["Status"]
    assert status == "INACTIVE"


def test_fresh_instance_role_is_retried_until_assumable(env) -> None:
    clients, params, control = env
    control.faults(role_propagation_s=20)
    up(clients, params, control)
    creates = [r for r in control.requests() if r["operation"] == "CreateService"]
    assert len(creates) > 1 and creates[0]["error"] == "InvalidRequestException"
    assert creates[-1]["status"] == 200


def test_maintenance_flip_is_awaited_then_nothing_to_do(env) -> None:
    clients, params, control = env
    service = up(clients, params, control)[-1]
    control.faults(maintenance={service.extra["id"]: 30})
    control.clear_requests()
    t = SimTime(control)
    (result,) = apply(clients, params, only="service", sleep=t.sleep, clock=t.clock)
    assert result.action is Action.UNCHANGED and mutating(control) == []
    assert t.now >= 30


def test_step_by_step_like_the_notebooks_cleans_up_after_the_service_step(env) -> None:
    clients, params, control = env
    up(clients, params, control)
    vpc = clients.ec2.describe_vpcs(Filters=[{"Name": "isDefault", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
    subnets = clients.ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["Subnets"]
    changed_params = load_params(
        PARAMS,
        overrides={
            "network.subnet_ids": sorted(s["SubnetId"] for s in subnets)[-2:],
            "autoscaling.max_size": 9,
        },
    )
    t = SimTime(control)
    control.clear_requests()
    for step in ("connection", "instance_role", "network", "autoscaling"):
        apply(clients, changed_params, only=step, sleep=t.sleep, clock=t.clock)
    assert mutating(control) == ["CreateVpcConnector", "CreateAutoScalingConfiguration"]
    control.clear_requests()
    results = apply(clients, changed_params, only="service", sleep=t.sleep, clock=t.clock)
    assert mutating(control) == ["UpdateService", "DeleteVpcConnector", "DeleteAutoScalingConfiguration"]
    assert [(r.resource, r.action) for r in results] == [
        ("service", Action.UPDATED),
        ("vpc_connector", Action.DELETED),
        ("autoscaling", Action.DELETED),
    ]
    control.clear_requests()
    assert {r.action for r in apply(clients, changed_params)} == {Action.UNCHANGED}
    assert mutating(control) == []


def test_the_service_step_looks_each_thing_up_once_and_verify_reuses_it(env) -> None:
    """API economy: a no-op service step reads the service once, the role without its policies, and the
    verify after it makes no lookup of its own."""
    clients, params, control = env
    up(clients, params, control)
    fresh = make_clients(params)  # a new notebook: nothing memoized yet
    control.clear_requests()
    results = apply(fresh, params, only="service")
    verified = verify_service(fresh, params, results=results)
    ops = [r["operation"] for r in control.requests()]
    assert verified.extra["ok"] is True and not [op for op in ops if op.startswith(("Create", "Update"))]
    assert ops.count("ListServices") == 1 and ops.count("DescribeService") == 1, ops
    assert "ListAttachedRolePolicies" not in ops and ops.count("GetCallerIdentity") == 1


def test_up_rerun_and_down_converge_under_a_consistency_delay(env) -> None:
    """Reads lag writes by 3 s (new resources hidden, deleted ones still listed): apply waits until what it
    created is readable, so the next step and a re-run find it; teardown waits until what it deleted is
    gone, so a second teardown finds nothing. Sleeping moves the sandbox clock (deterministic)."""
    clients, params, control = env
    control.config(consistency_delay=3)
    t = SimTime(control)
    waits = {"sleep": t.sleep, "clock": t.clock}
    apply(clients, params, only="connection", wait_handshake=False, **waits)
    control.handshake(params.connection.name, "AVAILABLE")
    for step in ("instance_role", "network", "autoscaling", "service"):  # one notebook after another
        apply(clients, params, only=step, **waits)
    assert not plan(clients, params).has_changes
    control.clear_requests()
    again = apply(clients, params, **waits)
    assert changed(again) == {} and mutating(control) == []

    down = teardown(clients, params, delete_connection=True, **waits)
    assert {r.resource: r.action for r in down} == {
        "service": Action.DELETED,
        "vpc_connector": Action.DELETED,
        "security_group": Action.DELETED,
        "autoscaling": Action.DELETED,
        "instance_role": Action.DELETED,
        "connection": Action.DELETED,
    }
    control.clear_requests()
    assert {r.action for r in teardown(clients, params, delete_connection=True, **waits)} == {Action.ABSENT}
    assert mutating(control) == []
