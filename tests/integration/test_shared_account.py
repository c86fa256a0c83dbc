"""A shared account: a neighbour (plain boto3) owns resources before the runbook runs.

For each case, plan, up and down leave every foreign resource exactly as it was (Describe output compared
before and after), the runbook's own resources converge, and refusals come before any mutating call
(the sandbox's request log). Also: UpdateService sends only what changed (the logged request bodies), and
a plan on the same clients sees an out-of-band change.
"""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest

from runbook_lib import Action, apply, load_params, make_clients, plan, teardown
from runbook_lib.ownership import NotOwned
from runbook_lib.sandbox.control import SimulatedTime as SimTime

PARAMS = Path(__file__).resolve().parents[2] / "params" / "sandbox.yaml"
TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
    ],
}

READ = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}],
}


@pytest.fixture
def env(sandbox_env):
    params = load_params(PARAMS)
    neighbour = {s: boto3.client(s, region_name="us-east-1") for s in ("iam", "ec2", "apprunner")}
    return make_clients(params), params, sandbox_env.control, neighbour


def mutating(control) -> list[str]:
    return [r["operation"] for r in control.mutating_requests()]


def up(clients, params, control) -> list:
    t = SimTime(control)
    apply(clients, params, only="connection", wait_handshake=False)
    control.handshake(params.connection.name, "AVAILABLE")
    return apply(clients, params, sleep=t.sleep, clock=t.clock)


def down(clients, params, control) -> list:
    t = SimTime(control)
    return teardown(clients, params, sleep=t.sleep, clock=t.clock)


def role_snapshot(iam, name: str) -> dict:
    role = iam.get_role(RoleName=name)["Role"]
    role.pop("RoleLastUsed", None)
    return {
        "role": role,
        "attached": iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"],
        "inline": {
            p: iam.get_role_policy(RoleName=name, PolicyName=p)["PolicyDocument"]
            for p in iam.list_role_policies(RoleName=name)["PolicyNames"]
        },
    }


def refused_without_change(clients, params, control, kind: str) -> None:
    """plan and apply both refuse with NotOwned naming ``kind``, with no mutating call at all."""
    control.clear_requests()
    for attempt in (lambda: plan(clients, params), lambda: apply(clients, params)):
        with pytest.raises(NotOwned) as err:
            attempt()
        assert kind in str(err.value) and "adopt:" in str(err.value)
    assert mutating(control) == []


def test_a_same_named_role_of_someone_else(env) -> None:
    clients, params, control, nb = env
    name = params.instance.role_name
    nb["iam"].create_role(
        RoleName=name, AssumeRolePolicyDocument=json.dumps(TRUST), Tags=[{"Key": "o", "Value": "n"}]
    )
    policy = nb["iam"].create_policy(PolicyName="theirs", PolicyDocument=json.dumps(READ))["Policy"]["Arn"]
    nb["iam"].attach_role_policy(RoleName=name, PolicyArn=policy)
    nb["iam"].put_role_policy(RoleName=name, PolicyName="inline", PolicyDocument=json.dumps(READ))
    before = role_snapshot(nb["iam"], name)

    refused_without_change(clients, params, control, f"instance_role {name}")
    assert [r.action for r in down(clients, params, control) if r.resource == "instance_role"] == [
        Action.KEPT
    ]
    assert role_snapshot(nb["iam"], name) == before

    mine = load_params(PARAMS, overrides={"instance.role_name": "demo-go-app-mine"})  # way out 1: rename
    up(clients, mine, control)
    assert not plan(clients, mine).has_changes
    down(clients, mine, control)
    assert role_snapshot(nb["iam"], name) == before


def test_adopting_a_role_tags_it_and_then_owns_it(env) -> None:
    clients, params, control, nb = env
    name = params.instance.role_name
    nb["iam"].create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(TRUST))
    adopting = load_params(PARAMS, overrides={"adopt": ["instance_role"]})
    planned = {s.resource: s for s in plan(clients, adopting).steps}
    assert planned["instance_role"].action is Action.UPDATE
    assert set(planned["instance_role"].changed_fields) == {"trust_policy", "tags"}
    up(clients, adopting, control)
    tags = {t["Key"]: t["Value"] for t in nb["iam"].get_role(RoleName=name)["Role"]["Tags"]}
    assert tags["runbook:name"] == params.name
    assert not plan(clients, params).has_changes  # owned now, even without `adopt`
    down(clients, params, control)
    with pytest.raises(nb["iam"].exceptions.NoSuchEntityException):
        nb["iam"].get_role(RoleName=name)


def test_an_untagged_connector_of_the_connectors_name(env) -> None:
    clients, params, control, nb = env
    subnets = sorted(
        s["SubnetId"]
        for s in nb["ec2"].describe_subnets(Filters=[{"Name": "default-for-az", "Values": ["true"]}])[
            "Subnets"
        ]
    )[:2]
    group = nb["ec2"].create_security_group(GroupName="neighbour", Description="n")["GroupId"]
    made = nb["apprunner"].create_vpc_connector(
        VpcConnectorName=params.network.connector_name, Subnets=subnets, SecurityGroups=[group]
    )["VpcConnector"]
    arn = made["VpcConnectorArn"]

    def snapshot() -> dict:
        found = nb["apprunner"].describe_vpc_connector(VpcConnectorArn=arn)["VpcConnector"]
        return {"connector": found, "tags": nb["apprunner"].list_tags_for_resource(ResourceArn=arn)["Tags"]}

    before = snapshot()
    refused_without_change(clients, params, control, f"vpc_connector {params.network.connector_name}")
    down(clients, params, control)
    assert snapshot() == before

    mine = load_params(PARAMS, overrides={"network.connector_name": "demo-go-app-mine"})
    results = up(clients, mine, control)
    assert "stale_arns" not in next(r for r in results if r.resource == "vpc_connector").extra
    down(clients, mine, control)
    assert snapshot() == before


def test_two_environments_sharing_32_leading_characters(env) -> None:
    clients, _, control, nb = env
    prefix = "team-platform-payments-service-e"  # 32 characters
    first = load_params(PARAMS, overrides={"name": prefix + "u1", "network": None})
    second = load_params(PARAMS, overrides={"name": prefix + "u2", "network": None})
    assert first.autoscaling.name != second.autoscaling.name
    up(clients, first, control)
    up(clients, second, control)

    def revisions() -> list:
        found = nb["apprunner"].list_auto_scaling_configurations(
            AutoScalingConfigurationName=second.autoscaling.name, LatestOnly=False
        )["AutoScalingConfigurationSummaryList"]
        return sorted((r["AutoScalingConfigurationArn"], r["Status"]) for r in found)

    before = revisions()
    down(clients, first, control)
    assert revisions() == before
    assert not plan(clients, second).has_changes


def test_organisation_tags_on_the_service_stay_and_are_no_change(env) -> None:
    clients, params, control, nb = env
    service = next(r for r in up(clients, params, control) if r.resource == "service")
    nb["apprunner"].tag_resource(ResourceArn=service.arn, Tags=[{"Key": "CostCenter", "Value": "42"}])
    control.clear_requests()
    assert not plan(clients, params).has_changes
    apply(clients, params)
    assert mutating(control) == []

    fewer = load_params(PARAMS, overrides={"tags": {"team": "platform"}})  # `env` removed from the params
    (changed,) = [s for s in plan(clients, fewer).steps if s.resource == "service"]
    assert changed.changes[0].field == "tags" and changed.changes[0].observed == ["env"]
    apply(clients, fewer, only="service")
    tags = {
        t["Key"]: t["Value"] for t in nb["apprunner"].list_tags_for_resource(ResourceArn=service.arn)["Tags"]
    }
    assert tags["CostCenter"] == "42" and "env" not in tags and tags["runbook:tags"] == "team"


def test_a_security_group_tagged_by_another_environment(env) -> None:
    clients, params, control, nb = env
    group = nb["ec2"].create_security_group(
        GroupName=f"{params.name}-apprunner-egress",
        Description="theirs",
        TagSpecifications=[
            {"ResourceType": "security-group", "Tags": [{"Key": "runbook:name", "Value": "another-env"}]}
        ],
    )["GroupId"]

    def snapshot() -> dict:
        return nb["ec2"].describe_security_groups(GroupIds=[group])["SecurityGroups"][0]

    before = snapshot()
    refused_without_change(clients, params, control, "owned by environment 'another-env'")
    down(clients, params, control)
    assert snapshot() == before


def test_update_service_sends_only_the_blocks_that_changed(env) -> None:
    clients, params, control, _ = env
    up(clients, params, control)
    t = SimTime(control)

    def sent_update(overrides: dict) -> dict:
        control.clear_requests()
        apply(clients, load_params(PARAMS, overrides=overrides), sleep=t.sleep, clock=t.clock)
        (update,) = [r for r in control.requests() if r["operation"] == "UpdateService"]
        return update["body"]

    scaled = sent_update({"autoscaling.max_size": 9})
    assert set(scaled) == {"ServiceArn", "AutoScalingConfigurationArn"}
    env_changed = sent_update({"autoscaling.max_size": 9, "source.env": {"ENV1": "bye"}})
    assert set(env_changed) == {"ServiceArn", "SourceConfiguration"}
    values = env_changed["SourceConfiguration"]["CodeRepository"]["CodeConfiguration"][
        "CodeConfigurationValues"
    ]
    assert values["RuntimeEnvironmentVariables"] == {"ENV1": "bye"}


def test_plan_on_the_same_clients_sees_an_out_of_band_pause(env) -> None:
    clients, params, control, nb = env
    service = next(r for r in up(clients, params, control) if r.resource == "service")
    assert not plan(clients, params).has_changes
    nb["apprunner"].pause_service(ServiceArn=service.arn)
    control.advance(60)
    (step,) = [s for s in plan(clients, params).steps if s.resource == "service"]
    assert step.action is Action.UPDATE and step.changes[0].field == "status"


def test_the_cli_refuses_before_any_mutating_call(env, tmp_path, capsys) -> None:
    from runbook_lib.cli import main

    clients, params, control, nb = env
    nb["iam"].create_role(RoleName=params.instance.role_name, AssumeRolePolicyDocument=json.dumps(TRUST))
    control.clear_requests()
    audit = ["--audit-dir", str(tmp_path / "runs")]
    assert main(["plan", str(PARAMS), *audit]) == 1
    assert main(["up", str(PARAMS), *audit]) == 1
    assert mutating(control) == []
    out = capsys.readouterr()
    text = out.out + out.err
    assert params.instance.role_name in text and "adopt" in text
