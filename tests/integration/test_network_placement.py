"""Where the network goes on a shared account (sandbox: moto's EC2, whose subnets carry AZ IDs, and the
emulator): the VPC follows explicit subnets, default subnets are chosen by AZ ID among supported zones,
one subnet is accepted with a warning, and a mix of VPCs is refused before any mutating call."""

from __future__ import annotations

import pytest

from runbook_lib import network
from runbook_lib.clients import make_clients
from runbook_lib.errors import ParameterError
from runbook_lib.orchestrate import plan
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
        "autoscaling": {},
    }
    return parse_params(doc, overrides=overrides)


@pytest.fixture
def clients(sandbox_env):
    return make_clients(region="us-east-1")


@pytest.fixture
def other_vpc(clients, sandbox_env):
    """A second VPC (someone else's network on the account) with subnets in use1-az1 and use1-az3."""
    ec2 = clients.ec2
    vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.9.{i}.0/24", AvailabilityZoneId=zone)["Subnet"][
            "SubnetId"
        ]
        for i, zone in enumerate(("use1-az1", "use1-az3"))
    ]
    sandbox_env.control.clear_requests()
    return vpc, subnets


def zone_ids(clients, subnet_ids: list[str]) -> list[str]:
    found = clients.ec2.describe_subnets(SubnetIds=subnet_ids)["Subnets"]
    return sorted(s["AvailabilityZoneId"] for s in found)


def test_moto_default_subnets_carry_zone_ids_and_defaults_skip_unsupported_zones(clients) -> None:
    default = clients.ec2.describe_subnets(Filters=[{"Name": "default-for-az", "Values": ["true"]}])
    assert all(s.get("AvailabilityZoneId") for s in default["Subnets"])
    assert "use1-az3" in {s["AvailabilityZoneId"] for s in default["Subnets"]}
    resolved = network.resolve_network(clients, make_params())
    assert zone_ids(clients, resolved["subnet_ids"]) == ["use1-az1", "use1-az2", "use1-az4"]
    assert resolved["warnings"] == []


def test_explicit_subnets_put_the_owned_group_in_their_vpc(clients, other_vpc) -> None:
    vpc, subnets = other_vpc
    params = make_params(**{"network.subnet_ids": subnets[:1]})  # vpc_id left at `default`
    group = network.ensure_security_group(clients, params)
    assert group.action is Action.CREATED and group.extra["vpc_id"] == vpc
    described = clients.ec2.describe_security_groups(GroupIds=[group.extra["group_id"]])["SecurityGroups"]
    assert described[0]["VpcId"] == vpc
    resolved = network.resolve_network(clients, params, owned_group_id=group.extra["group_id"])
    connector = network.ensure_vpc_connector(clients, params, network=resolved)
    assert connector.action is Action.CREATED  # the emulator, like AWS, accepts one subnet
    assert "one Availability Zone only (use1-az1)" in connector.detail
    found = clients.apprunner.describe_vpc_connector(VpcConnectorArn=connector.arn)["VpcConnector"]
    assert found["Subnets"] == subnets[:1]


def test_plan_warns_about_a_subnet_in_an_unsupported_zone(clients, other_vpc, sandbox_env) -> None:
    _, subnets = other_vpc
    params = make_params(**{"network.subnet_ids": subnets})
    steps = {s.resource: s for s in plan(clients, params, only="network").steps}
    assert f"{subnets[1]} is in use1-az3" in steps["vpc_connector"].detail
    assert sandbox_env.control.mutating_requests() == []


def test_subnets_of_two_vpcs_are_refused_before_any_mutating_call(clients, other_vpc, sandbox_env) -> None:
    vpc, subnets = other_vpc
    default_subnet = network.resolve_network(clients, make_params())["subnet_ids"][0]
    params = make_params(**{"network.subnet_ids": [subnets[0], default_subnet]})
    with pytest.raises(ParameterError, match="network.subnet_ids") as caught:
        network.ensure_security_group(clients, params)
    assert (
        subnets[0] in str(caught.value) and default_subnet in str(caught.value) and vpc in str(caught.value)
    )
    explicit = make_params(**{"network.subnet_ids": subnets, "network.vpc_id": "vpc-0123456789abcdef0"})
    with pytest.raises(ParameterError, match="network.vpc_id"):
        plan(clients, explicit, only="network")
    assert sandbox_env.control.mutating_requests() == []
