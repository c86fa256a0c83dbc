"""Network: resolution of `default`, the owned security group, VPC connectors (stubbed), and moto."""

from __future__ import annotations

import datetime as dt

import pytest
from botocore.stub import Stubber
from botocore.validate import validate_parameters
from moto import mock_aws
from unit_helpers import ACCOUNT, FakeTime, demo_params

from runbook_lib import network
from runbook_lib.clients import make_clients
from runbook_lib.errors import InvalidRequest, InvalidState, ParameterError, WaitTimeout
from runbook_lib.ownership import NotOwned
from runbook_lib.results import Action

VPC = "vpc-0123456789abcdef0"
SUBNETS = ["subnet-0000000000000000a", "subnet-0000000000000000b"]
SG = "sg-0123456789abcdef0"
SG_NAME = "demo-app-apprunner-egress"
OWNED = [
    {"Key": "runbook:name", "Value": "demo-app"},
    {"Key": "runbook:tags", "Value": "team"},
    {"Key": "team", "Value": "platform"},
]
FOREIGN = [{"Key": "runbook:name", "Value": "other-app"}]
SG_TAGS = [{"Key": "Name", "Value": SG_NAME}, *OWNED]
CONNECTOR_ARN = f"arn:aws:apprunner:us-east-1:{ACCOUNT}:vpcconnector/demo-app/1/{'a' * 32}"
# looked up by name only: whose it is is decided from the returned Tags
SG_FILTERS = [{"Name": "group-name", "Values": [SG_NAME]}]


def make_params(**overrides):
    return demo_params({"network": {"vpc_id": "default", "subnet_ids": "default"}}, **overrides)


@pytest.fixture
def ec2(clients, no_network):
    with Stubber(clients.ec2) as stubber:
        yield stubber
        stubber.assert_no_pending_responses()


@pytest.fixture
def apprunner(clients, no_network):
    with Stubber(clients.apprunner) as stubber:
        yield stubber
        stubber.assert_no_pending_responses()


def mutating(clients) -> list[str]:
    return [c.operation for c in clients.calls if c.mutating]


def validate(client, operation: str, request: dict) -> None:
    validate_parameters(request, client.meta.service_model.operation_model(operation).input_shape)


def group(ingress=(), egress=None, tags=SG_TAGS) -> dict:
    all_out = [{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]
    return {
        "GroupId": SG,
        "GroupName": SG_NAME,
        "VpcId": VPC,
        "OwnerId": ACCOUNT,
        "Description": "d",
        "IpPermissions": list(ingress),
        "IpPermissionsEgress": all_out if egress is None else egress,
        "Tags": tags,
    }


def observe_sg(ec2: Stubber, *groups: dict, vpc: str | None = VPC) -> None:
    filters = SG_FILTERS + ([{"Name": "vpc-id", "Values": [vpc]}] if vpc else [])
    ec2.add_response("describe_security_groups", {"SecurityGroups": list(groups)}, {"Filters": filters})


def observe_default_vpc(ec2: Stubber) -> None:
    ec2.add_response(
        "describe_vpcs",
        {"Vpcs": [{"VpcId": VPC, "IsDefault": True}]},
        {"Filters": [{"Name": "isDefault", "Values": ["true"]}]},
    )


# ---------------------------------------------------------------- pure builders


def test_security_group_requests_snapshot(clients) -> None:
    params = make_params()
    create = network.build_create_security_group_request(params, VPC)
    assert create == {
        "GroupName": SG_NAME,
        "Description": "App Runner VPC connector egress for demo-app (managed by runbook)",
        "VpcId": VPC,
        "TagSpecifications": [{"ResourceType": "security-group", "Tags": SG_TAGS}],
    }
    validate(clients.ec2, "CreateSecurityGroup", create)
    egress = network.build_allow_all_egress_request(SG)
    assert egress == {
        "GroupId": SG,
        "IpPermissions": [{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}],
    }
    validate(clients.ec2, "AuthorizeSecurityGroupEgress", egress)
    tags = network.build_tag_security_group_request(params, SG)
    assert tags == {"Resources": [SG], "Tags": SG_TAGS}
    validate(clients.ec2, "CreateTags", tags)


def test_vpc_connector_request_snapshot(clients) -> None:
    net = {"subnet_ids": list(reversed(SUBNETS)), "security_group_ids": [SG]}
    request = network.build_create_vpc_connector_request(make_params(), net)
    assert request == {
        "VpcConnectorName": "demo-app",
        "Subnets": SUBNETS,
        "SecurityGroups": [SG],
        "Tags": OWNED,
    }
    validate(clients.apprunner, "CreateVpcConnector", request)


def test_replacement_names_are_deterministic_and_in_the_family() -> None:
    name = network.replacement_connector_name("demo-app", SUBNETS, [SG])
    assert name == network.replacement_connector_name("demo-app", list(reversed(SUBNETS)), [SG])
    assert name != network.replacement_connector_name("demo-app", SUBNETS, ["sg-0000000000000000f"])
    assert name.startswith("demo-app-") and len(name) == len("demo-app-") + 6
    long_name = network.replacement_connector_name("x" * 40, SUBNETS, [SG])
    assert len(long_name) == 40 and network.in_connector_family("x" * 40, long_name)
    assert network.in_connector_family("demo-app", name) and network.in_connector_family(
        "demo-app", "demo-app"
    )
    assert not network.in_connector_family("demo-app", "demo-app-other")
    assert not network.in_connector_family("demo-app", "demo-app2")


def test_diff_security_group_and_connector() -> None:
    params = make_params()
    observed = {"ingress": [{"IpProtocol": "tcp"}], "egress": [], "tags": {}}
    assert [c.field for c in network.diff_security_group(params, observed)] == [
        "ingress_rules",
        "egress",
        "tags",
    ]
    connector = {"subnets": SUBNETS, "security_groups": [SG]}
    same = {"subnet_ids": list(reversed(SUBNETS)), "security_group_ids": [SG]}
    assert network.diff_vpc_connector(params, connector, same) == ()
    moved = {"subnet_ids": SUBNETS[:1] + ["subnet-0000000000000000c"], "security_group_ids": [SG]}
    assert [c.field for c in network.diff_vpc_connector(params, connector, moved)] == ["subnets"]


# ---------------------------------------------------------------- resolution


# moto's us-east-1 mapping of AZ names to AZ IDs (names differ per account; IDs do not)
ZONE_IDS = {"us-east-1a": "use1-az6", "us-east-1b": "use1-az1", "us-east-1c": "use1-az2",
            "us-east-1d": "use1-az4", "us-east-1e": "use1-az3"}  # fmt: skip
DEFAULT_FILTERS = [{"Name": "vpc-id", "Values": [VPC]}, {"Name": "default-for-az", "Values": ["true"]}]
OTHER_VPC = "vpc-0000000000000000f"


def subnet(subnet_id: str, zone: str, vpc: str = VPC) -> dict:
    return {
        "SubnetId": subnet_id,
        "AvailabilityZone": zone,
        "AvailabilityZoneId": ZONE_IDS[zone],
        "VpcId": vpc,
    }


def observe_subnets(ec2: Stubber, ids: list[str], *subnets: dict) -> None:
    ec2.add_response("describe_subnets", {"Subnets": list(subnets)}, {"SubnetIds": sorted(ids)})


def test_resolve_default_subnets_by_zone_id_among_supported(clients, ec2) -> None:
    observe_default_vpc(ec2)
    found = [subnet(f"subnet-000000000000000{z[-1]}1", z) for z in ZONE_IDS]
    ec2.add_response("describe_subnets", {"Subnets": found}, {"Filters": DEFAULT_FILTERS})
    observe_sg(ec2, group())
    resolved = network.resolve_network(clients, make_params())
    # by AZ ID: use1-az1 (b), use1-az2 (c), use1-az4 (d); use1-az3 (e) is not supported; az6 (a) is 4th
    assert resolved == {
        "vpc_id": VPC,
        "subnet_ids": ["subnet-000000000000000b1", "subnet-000000000000000c1", "subnet-000000000000000d1"],
        "security_group_ids": [SG],
        "owned_security_group": True,
        "warnings": [],
    }
    assert mutating(clients) == []


def test_explicit_subnets_decide_the_vpc_and_the_group_goes_there(clients, ec2) -> None:
    params = make_params(**{"network.subnet_ids": SUBNETS})  # vpc_id left at `default`
    observe_subnets(
        ec2, SUBNETS, subnet(SUBNETS[0], "us-east-1a", OTHER_VPC), subnet(SUBNETS[1], "us-east-1b", OTHER_VPC)
    )
    observe_sg(ec2, vpc=OTHER_VPC)  # no DescribeVpcs: the default VPC is not consulted
    resolved = network.resolve_network(clients, params)
    assert (resolved["vpc_id"], resolved["subnet_ids"], resolved["warnings"]) == (OTHER_VPC, SUBNETS, [])
    # subnets are memoized for the life of the clients (STABLE reads in runbook_lib.aws)
    observe_sg(ec2, vpc=OTHER_VPC)
    planned = network.plan_security_group(clients, params)
    assert planned.action is Action.CREATE and planned.extra["vpc_id"] == OTHER_VPC


def test_subnets_spanning_vpcs_are_refused_naming_them(clients, ec2) -> None:
    observe_subnets(
        ec2, SUBNETS, subnet(SUBNETS[0], "us-east-1a"), subnet(SUBNETS[1], "us-east-1b", OTHER_VPC)
    )
    with pytest.raises(ParameterError, match="network.subnet_ids") as caught:
        network.resolve_network(clients, make_params(**{"network.subnet_ids": SUBNETS}))
    for name in (*SUBNETS, VPC, OTHER_VPC):
        assert name in str(caught.value)
    assert mutating(clients) == []


def test_subnets_outside_an_explicit_vpc_are_refused(clients, ec2) -> None:
    params = make_params(**{"network.vpc_id": VPC, "network.subnet_ids": SUBNETS})
    observe_subnets(
        ec2,
        SUBNETS,
        *(subnet(s, "us-east-1a", OTHER_VPC) for s in SUBNETS[:1]),
        subnet(SUBNETS[1], "us-east-1b", OTHER_VPC),
    )
    with pytest.raises(ParameterError, match="network.vpc_id") as caught:
        network.resolve_network(clients, params)
    assert VPC in str(caught.value) and OTHER_VPC in str(caught.value) and SUBNETS[0] in str(caught.value)


def test_one_subnet_is_accepted_with_a_warning(clients, ec2) -> None:
    params = make_params(**{"network.subnet_ids": SUBNETS[:1], "network.security_group_ids": [SG]})
    observe_subnets(ec2, SUBNETS[:1], subnet(SUBNETS[0], "us-east-1b"))
    resolved = network.resolve_network(clients, params)
    assert resolved["subnet_ids"] == SUBNETS[:1]
    assert resolved["warnings"] == [network.ONE_ZONE_WARNING.format(zones="use1-az1")]


def test_explicit_subnet_in_an_unsupported_zone_is_a_plan_warning(clients, ec2, apprunner) -> None:
    params = make_params(**{"network.subnet_ids": SUBNETS, "network.security_group_ids": [SG]})
    observe_subnets(ec2, SUBNETS, subnet(SUBNETS[0], "us-east-1b"), subnet(SUBNETS[1], "us-east-1e"))
    observe_connectors(apprunner)
    planned = network.plan_vpc_connector(clients, params)
    assert planned.action is Action.CREATE
    assert f"warning: {SUBNETS[1]} is in use1-az3" in planned.detail
    assert len(planned.extra["warnings"]) == 1 and "does not support" in planned.extra["warnings"][0]


def test_default_subnets_only_in_unsupported_zones_are_refused(clients, ec2) -> None:
    observe_default_vpc(ec2)
    ec2.add_response(
        "describe_subnets", {"Subnets": [subnet(SUBNETS[0], "us-east-1e")]}, {"Filters": DEFAULT_FILTERS}
    )
    with pytest.raises(ParameterError, match="use1-az3"):
        network.resolve_network(clients, make_params())


def test_one_supported_default_subnet_is_used_with_a_warning(clients, ec2) -> None:
    observe_default_vpc(ec2)
    found = [subnet(SUBNETS[0], "us-east-1a"), subnet(SUBNETS[1], "us-east-1e")]
    ec2.add_response("describe_subnets", {"Subnets": found}, {"Filters": DEFAULT_FILTERS})
    observe_sg(ec2)
    resolved = network.resolve_network(clients, make_params())
    assert resolved["subnet_ids"] == SUBNETS[:1] and "use1-az6" in resolved["warnings"][0]


def test_resolve_without_default_vpc(clients, ec2) -> None:
    ec2.add_response("describe_vpcs", {"Vpcs": []})
    with pytest.raises(ParameterError, match="network.vpc_id"):
        network.resolve_vpc_id(clients, make_params())


# ---------------------------------------------------------------- security group decisions


def test_ensure_creates_absent_group(clients, ec2) -> None:
    params = make_params()
    observe_default_vpc(ec2)
    observe_sg(ec2)
    ec2.add_response(
        "create_security_group", {"GroupId": SG}, network.build_create_security_group_request(params, VPC)
    )
    result = network.ensure_security_group(clients, params)
    assert (result.resource, result.name, result.action) == ("security_group", SG_NAME, Action.CREATED)
    assert result.extra == {"group_id": SG, "vpc_id": VPC}
    assert result.arn == f"arn:aws:ec2:us-east-1:{ACCOUNT}:security-group/{SG}"


def test_ensure_leaves_matching_group_alone(clients, ec2) -> None:
    observe_default_vpc(ec2)
    observe_sg(ec2, group())
    result = network.ensure_security_group(clients, make_params())
    assert (result.action, result.extra["group_id"]) == (Action.UNCHANGED, SG)
    assert mutating(clients) == []


def test_ensure_revokes_ingress_and_restores_egress_and_tags(clients, ec2) -> None:
    ingress = [{"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]
    observe_default_vpc(ec2)
    observe_sg(ec2, group(ingress=ingress, egress=[], tags=OWNED))
    ec2.add_response(
        "revoke_security_group_ingress", {"Return": True}, {"GroupId": SG, "IpPermissions": ingress}
    )
    ec2.add_response(
        "authorize_security_group_egress", {"Return": True}, network.build_allow_all_egress_request(SG)
    )
    ec2.add_response("create_tags", {}, network.build_tag_security_group_request(make_params(), SG))
    result = network.ensure_security_group(clients, make_params())
    assert (result.action, result.changed_fields) == (Action.UPDATED, ["ingress_rules", "egress", "tags"])


def test_plan_security_group_reads_only(clients, ec2) -> None:
    observe_default_vpc(ec2)
    observe_sg(ec2)
    assert network.plan_security_group(clients, make_params()).action is Action.CREATE
    assert mutating(clients) == []


def test_a_foreign_group_of_the_name_in_the_vpc_is_refused(clients, ec2) -> None:
    observe_default_vpc(ec2)  # DescribeVpcs is memoized for the clients' life (STABLE)
    observe_sg(ec2, group(tags=[{"Key": "Name", "Value": SG_NAME}, *FOREIGN]))
    with pytest.raises(NotOwned) as err:
        network.plan_security_group(clients, make_params())
    assert "security_group" in str(err.value) and SG in str(err.value)
    observe_sg(ec2, group(tags=[]))
    with pytest.raises(NotOwned, match="without the runbook:name tag"):
        network.ensure_security_group(clients, make_params())
    assert mutating(clients) == []


def test_adopting_the_group_tags_it(clients, ec2) -> None:
    params = make_params(adopt=["security_group"])
    observe_default_vpc(ec2)
    observe_sg(ec2, group(tags=[{"Key": "CostCenter", "Value": "42"}]))
    ec2.add_response("create_tags", {}, network.build_tag_security_group_request(params, SG))
    result = network.ensure_security_group(clients, params)
    assert (result.action, result.changed_fields, result.extra["group_id"]) == (Action.UPDATED, ["tags"], SG)
    assert mutating(clients) == ["CreateTags"]


def test_delete_leaves_a_foreign_group_alone(clients, ec2) -> None:
    observe_sg(ec2, group(tags=FOREIGN), vpc=None)
    result = network.delete_security_group(clients, make_params())
    assert result.action in (Action.ABSENT, Action.KEPT)
    assert mutating(clients) == []


def test_delete_reports_a_foreign_group_kept(clients, ec2) -> None:
    observe_sg(ec2, group(tags=FOREIGN), vpc=None)
    assert network.delete_security_group(clients, make_params()).action is Action.KEPT


def test_given_groups_or_no_network_own_nothing(clients, ec2) -> None:
    given = make_params(**{"network.security_group_ids": [SG]})
    result = network.ensure_security_group(clients, given)
    assert (result.action, result.extra) == (Action.UNCHANGED, {"security_group_ids": [SG]})
    assert network.ensure_security_group(clients, make_params(network=None)).action is Action.UNCHANGED
    assert clients.calls == []


def test_delete_retries_dependency_violation(clients, ec2) -> None:
    clock = FakeTime()
    observe_sg(ec2, group(), vpc=None)
    for _ in range(3):
        ec2.add_client_error("delete_security_group", "DependencyViolation", "has a dependent object")
    ec2.add_response("delete_security_group", {}, {"GroupId": SG})
    events = []
    result = network.delete_security_group(
        clients, make_params(), sleep=clock.sleep, clock=clock.clock, on_progress=events.append
    )
    assert (result.action, result.extra) == (Action.DELETED, {"group_ids": [SG]})
    assert clock.sleeps == [5.0, 10.0, 20.0]
    assert [e["status"] for e in events] == ["DependencyViolation"] * 3 + ["DELETED"]


def test_delete_security_group_times_out(clients, ec2) -> None:
    clock = FakeTime()
    observe_sg(ec2, group(), vpc=None)
    for _ in range(4):  # at t = 0, 5, 15 and 30 s
        ec2.add_client_error("delete_security_group", "DependencyViolation", "has a dependent object")
    with pytest.raises(WaitTimeout) as info:
        network.delete_security_group(
            clients, make_params(), sleep=clock.sleep, clock=clock.clock, timeout=30
        )
    assert clock.sleeps == [5.0, 10.0, 15.0] and info.value.last == "DependencyViolation"
    assert "still in use" in str(info.value)


def test_delete_absent_group_and_other_errors(clients, ec2) -> None:
    observe_sg(ec2, vpc=None)
    assert network.delete_security_group(clients, make_params()).action is Action.ABSENT
    observe_sg(ec2, group(), vpc=None)
    ec2.add_client_error("delete_security_group", "InvalidGroup.NotFound", "gone")
    assert network.delete_security_group(clients, make_params()).action is Action.ABSENT


# ---------------------------------------------------------------- VPC connector decisions

NET = {"vpc_id": VPC, "subnet_ids": SUBNETS, "security_group_ids": [SG], "owned_security_group": True}


def connector(name="demo-app", subnets=SUBNETS, groups=(SG,), status="ACTIVE", suffix="a", day=1) -> dict:
    return {
        "VpcConnectorName": name,
        "VpcConnectorArn": f"arn:aws:apprunner:us-east-1:{ACCOUNT}:vpcconnector/{name}/1/{suffix * 32}",
        "VpcConnectorRevision": 1,
        "Subnets": list(subnets),
        "SecurityGroups": list(groups),
        "Status": status,
        "CreatedAt": dt.datetime(2024, 1, day, tzinfo=dt.timezone.utc),
    }


def observe_connectors(
    apprunner: Stubber, *items: dict, owned: bool = True, tags: list | None = None, created: tuple = ()
) -> None:
    """ListVpcConnectors, then the tags of each family member but those this process ``created``."""
    apprunner.add_response("list_vpc_connectors", {"VpcConnectors": list(items)}, {})
    for item in items:
        if item["VpcConnectorArn"] in created:  # tagged by its create (aws.resource_tags)
            continue
        if item["Status"] == "ACTIVE" and network.in_connector_family("demo-app", item["VpcConnectorName"]):
            tags = tags if tags is not None else OWNED if owned else []
            apprunner.add_response(
                "list_tags_for_resource", {"Tags": tags}, {"ResourceArn": item["VpcConnectorArn"]}
            )


def read_connector(apprunner: Stubber, item: dict) -> None:
    apprunner.add_response(
        "describe_vpc_connector", {"VpcConnector": item}, {"VpcConnectorArn": item["VpcConnectorArn"]}
    )


def test_ensure_creates_absent_connector(clients, apprunner) -> None:
    params = make_params()
    observe_connectors(apprunner, connector(name="unrelated", suffix="c"))
    apprunner.add_response(
        "create_vpc_connector",
        {"VpcConnector": connector()},
        network.build_create_vpc_connector_request(params, NET),
    )
    apprunner.add_client_error(  # reads may lag the create: not found at first, then ACTIVE
        "describe_vpc_connector",
        "ResourceNotFoundException",
        expected_params={"VpcConnectorArn": CONNECTOR_ARN},
    )
    read_connector(apprunner, connector())
    clock = FakeTime()
    result = network.ensure_vpc_connector(clients, params, network=NET, sleep=clock.sleep, clock=clock.clock)
    assert (result.resource, result.action, result.arn) == ("vpc_connector", Action.CREATED, CONNECTOR_ARN)
    assert len(clock.sleeps) == 1


def test_ensure_keeps_same_connector(clients, apprunner) -> None:
    observe_connectors(
        apprunner,
        connector(groups=[SG], subnets=list(reversed(SUBNETS))),
        connector(status="INACTIVE", suffix="b"),
    )
    result = network.ensure_vpc_connector(clients, make_params(), network=NET)
    assert (result.action, result.arn, result.extra) == (Action.UNCHANGED, CONNECTOR_ARN, {})
    assert mutating(clients) == []


def test_ensure_replaces_drifted_connector(clients, apprunner) -> None:
    params = make_params()
    moved = {**NET, "subnet_ids": [SUBNETS[0], "subnet-0000000000000000c"]}
    new_name = network.replacement_connector_name("demo-app", moved["subnet_ids"], [SG])
    observe_connectors(apprunner, connector())
    apprunner.add_response(
        "create_vpc_connector",
        {"VpcConnector": connector(name=new_name, subnets=moved["subnet_ids"], suffix="d", day=2)},
        network.build_create_vpc_connector_request(params, moved, new_name),
    )
    read_connector(apprunner, connector(name=new_name, subnets=moved["subnet_ids"], suffix="d", day=2))
    result = network.ensure_vpc_connector(clients, params, network=moved)
    assert result.action is Action.REPLACED and result.changed_fields == ["subnets"]
    assert result.extra["old_arn"] == CONNECTOR_ARN and result.extra["connector_name"] == new_name
    assert new_name in result.arn
    # afterwards the new one is found as current (its tags: as created), and the old one is reported stale
    replacement = connector(name=new_name, subnets=moved["subnet_ids"], suffix="d", day=2)
    observe_connectors(apprunner, connector(), replacement, created=(result.arn,))
    again = network.ensure_vpc_connector(clients, params, network=moved)
    assert (again.action, again.arn, again.extra) == (
        Action.UNCHANGED,
        result.arn,
        {"stale_arns": [CONNECTOR_ARN]},
    )


def test_plan_connector_reads_only(clients, apprunner, ec2) -> None:
    observe_connectors(apprunner, connector())
    moved = {**NET, "security_group_ids": ["sg-0000000000000000f"]}
    planned = network.plan_vpc_connector(clients, make_params(), network=moved)
    assert (planned.action, planned.changed_fields, planned.extra) == (
        Action.REPLACE,
        ["security_groups"],
        {"old_arn": CONNECTOR_ARN},
    )
    # the owned group not created yet: the plan says so instead of failing
    observe_default_vpc(ec2)
    ec2.add_response(
        "describe_subnets",
        {
            "Subnets": [
                {"SubnetId": s, "AvailabilityZone": f"us-east-1{z}"}
                for s, z in zip(SUBNETS, "ab", strict=True)
            ]
        },
    )
    observe_sg(ec2)
    observe_connectors(apprunner)
    planned = network.plan_vpc_connector(clients, make_params())
    assert planned.action is Action.CREATE and SG_NAME in planned.changes[1].desired[0]
    assert mutating(clients) == []


def test_ensure_connector_needs_the_group(clients, apprunner) -> None:
    with pytest.raises(InvalidState, match="ensure_security_group"):
        network.ensure_vpc_connector(clients, make_params(), network={**NET, "security_group_ids": []})


def test_find_prefers_matching_then_newest(clients, apprunner) -> None:
    other = network.replacement_connector_name("demo-app", SUBNETS, ["sg-0000000000000000f"])
    items = (connector(), connector(name=other, groups=["sg-0000000000000000f"], suffix="e", day=3))
    observe_connectors(apprunner, *items)
    assert network.find_vpc_connector(clients, make_params(), network=NET)["arn"] == CONNECTOR_ARN
    observe_connectors(apprunner, *items)
    assert network.find_vpc_connector(clients, make_params())["name"] == other


def test_a_foreign_connector_of_the_name_is_refused(clients, apprunner) -> None:
    observe_connectors(apprunner, connector(), tags=FOREIGN)
    with pytest.raises(NotOwned) as err:
        network.plan_vpc_connector(clients, make_params(), network=NET)
    assert "vpc_connector demo-app" in str(err.value) and CONNECTOR_ARN in str(err.value)
    observe_connectors(apprunner, connector(), owned=False)
    with pytest.raises(NotOwned):
        network.ensure_vpc_connector(clients, make_params(), network=NET)
    assert mutating(clients) == []


def test_adopting_the_connector_tags_it(clients, apprunner) -> None:
    params = make_params(adopt=["vpc_connector"])
    observe_connectors(apprunner, connector(), owned=False)
    planned = network.plan_vpc_connector(clients, params, network=NET)
    assert (planned.action, planned.changed_fields, planned.arn) == (Action.UPDATE, ["tags"], CONNECTOR_ARN)
    observe_connectors(apprunner, connector(), owned=False)
    apprunner.add_response("tag_resource", {}, {"ResourceArn": CONNECTOR_ARN, "Tags": OWNED})
    result = network.ensure_vpc_connector(clients, params, network=NET)
    assert (result.action, result.arn) == (Action.UPDATED, CONNECTOR_ARN)
    assert mutating(clients) == ["TagResource"]


def test_delete_leaves_a_foreign_connector_alone(clients, apprunner) -> None:
    observe_connectors(apprunner, connector(), tags=FOREIGN)
    result = network.delete_vpc_connector(clients, make_params())
    assert result.action in (Action.ABSENT, Action.KEPT)
    assert mutating(clients) == []


def test_delete_reports_a_foreign_connector_kept(clients, apprunner) -> None:
    observe_connectors(apprunner, connector(), tags=FOREIGN)
    assert network.delete_vpc_connector(clients, make_params()).action is Action.KEPT


def test_unowned_replacement_names_are_ignored(clients, apprunner) -> None:
    stranger = connector(name=network.replacement_connector_name("demo-app", SUBNETS, [SG]), suffix="f")
    observe_connectors(apprunner, stranger, owned=False)
    assert network.find_vpc_connector(clients, make_params()) is None


def test_delete_connector_retries_being_used(clients, apprunner) -> None:
    clock = FakeTime()
    observe_connectors(apprunner, connector())
    in_use = f"Provided VPC connector arn is being used by other services. ARN: {CONNECTOR_ARN}"
    apprunner.add_client_error("delete_vpc_connector", "InvalidRequestException", in_use)
    apprunner.add_client_error("delete_vpc_connector", "InvalidRequestException", in_use)
    apprunner.add_response(
        "delete_vpc_connector",
        {"VpcConnector": connector(status="INACTIVE")},
        {"VpcConnectorArn": CONNECTOR_ARN},
    )
    read_connector(apprunner, connector())  # reads may lag the delete: still ACTIVE, then INACTIVE
    read_connector(apprunner, connector(status="INACTIVE"))
    result = network.delete_vpc_connector(clients, make_params(), sleep=clock.sleep, clock=clock.clock)
    assert (result.action, result.arn, result.extra) == (
        Action.DELETED,
        CONNECTOR_ARN,
        {"arns": [CONNECTOR_ARN]},
    )
    assert clock.sleeps == [5.0, 10.0, 1.0]


def test_delete_connector_times_out_and_other_errors_raise(clients, apprunner) -> None:
    clock = FakeTime()
    apprunner.add_response(
        "describe_vpc_connector", {"VpcConnector": connector()}, {"VpcConnectorArn": CONNECTOR_ARN}
    )
    for _ in range(3):
        apprunner.add_client_error(
            "delete_vpc_connector", "InvalidRequestException", "is being used by other services"
        )
    with pytest.raises(WaitTimeout):
        network.delete_vpc_connector(
            clients, make_params(), arn=CONNECTOR_ARN, sleep=clock.sleep, clock=clock.clock, timeout=12
        )
    apprunner.add_response(
        "describe_vpc_connector", {"VpcConnector": connector()}, {"VpcConnectorArn": CONNECTOR_ARN}
    )
    apprunner.add_client_error("delete_vpc_connector", "InvalidRequestException", "bad arn")
    with pytest.raises(InvalidRequest):
        network.delete_vpc_connector(
            clients, make_params(), arn=CONNECTOR_ARN, sleep=clock.sleep, clock=clock.clock
        )


def test_delete_connector_absent(clients, apprunner) -> None:
    observe_connectors(apprunner)
    assert network.delete_vpc_connector(clients, make_params()).action is Action.ABSENT
    apprunner.add_response("describe_vpc_connector", {"VpcConnector": connector(status="INACTIVE")})
    assert network.delete_vpc_connector(clients, make_params(), arn=CONNECTOR_ARN).action is Action.ABSENT
    apprunner.add_client_error("describe_vpc_connector", "ResourceNotFoundException", "gone")
    assert network.delete_vpc_connector(clients, make_params(), arn=CONNECTOR_ARN).action is Action.ABSENT
    assert mutating(clients) == []


# ---------------------------------------------------------------- against moto


def test_security_group_lifecycle_under_moto(aws_env, no_network) -> None:
    params = make_params()
    with mock_aws():
        clients = make_clients(region="us-east-1")
        created = network.ensure_security_group(clients, params)
        assert created.action is Action.CREATED
        clients.calls.clear()
        again = network.ensure_security_group(clients, params)
        assert again.action is Action.UNCHANGED, again.changes
        resolved = network.resolve_network(clients, params)
        assert [c for c in clients.calls if c.mutating] == []
        assert resolved["security_group_ids"] == [created.extra["group_id"]]
        assert len(resolved["subnet_ids"]) == network.MAX_DEFAULT_SUBNETS
        assert resolved["subnet_ids"] == sorted(resolved["subnet_ids"])
        group_id = created.extra["group_id"]
        clients.ec2.authorize_security_group_ingress(
            GroupId=group_id, IpProtocol="tcp", FromPort=22, ToPort=22, CidrIp="0.0.0.0/0"
        )
        assert network.ensure_security_group(clients, params).changed_fields == ["ingress_rules"]
        assert network.ensure_security_group(clients, params).action is Action.UNCHANGED
        assert network.delete_security_group(clients, params).action is Action.DELETED
        assert network.delete_security_group(clients, params).action is Action.ABSENT


def test_resolve_network_takes_the_owned_group_just_ensured_without_a_lookup(clients, ec2) -> None:
    params = make_params(**{"network.vpc_id": VPC, "network.subnet_ids": SUBNETS})
    observe_subnets(ec2, SUBNETS, subnet(SUBNETS[0], "us-east-1a"), subnet(SUBNETS[1], "us-east-1b"))
    net = network.resolve_network(clients, params, owned_group_id=SG)
    assert net == {
        "vpc_id": VPC,
        "subnet_ids": sorted(SUBNETS),
        "security_group_ids": [SG],
        "owned_security_group": True,
        "warnings": [],
    }
    assert [c.operation for c in clients.calls] == ["DescribeSubnets"]  # no security group lookup
