"""Connections, VPC connectors, auto scaling and observability configurations, tags.

Covers docs/apprunner-behavior.md "Emulator must": E16 (PENDING_HANDSHAKE, duplicate name, control-API
handshake, auto handshake), E17 (exact-name filter, delete in use refused, DELETED briefly visible, unknown
ARN), E18 (ACTIVE revision 1, duplicate name, unknown subnet / SG, two VPCs, default SG), E19 (in use and
release lag, INACTIVE + DeletedAt, describable), E20 (AWSAppRunnerManaged ENIs hold the SG:
DependencyViolation until released), E21 (revisions, Latest, defaults, 5-revision and 10-name quotas),
E22 (lowercase casing mode), E23 (one default, UpdateDefault moves it, services bind to the current default
and keep it), E24 (HasAssociatedService, ListServicesForAutoScalingConfiguration), E25 (partial ARNs,
DeleteAllRevisions rules, in-use / default refused with the documented message, INACTIVE + Latest
recomputed), E26 (List returns ACTIVE only, LatestOnly defaults to true).
"""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

ASC_IN_USE = "You can't delete the auto scaling configuration. It's used by one or more services."


# ----------------------------------------------------------------------------------- connections


def test_connection_lifecycle(ar: Any, sb: Any) -> None:
    conn = ar.create_connection(ConnectionName="github-seed", ProviderType="GITHUB")["Connection"]
    assert conn["Status"] == "PENDING_HANDSHAKE"
    with pytest.raises(ar.exceptions.InvalidRequestException, match="already exists"):
        ar.create_connection(ConnectionName="github-seed", ProviderType="BITBUCKET")
    ar.create_connection(ConnectionName="github-seed-2", ProviderType="BITBUCKET")
    listed = ar.list_connections(ConnectionName="github-seed")["ConnectionSummaryList"]
    assert [c["ConnectionName"] for c in listed] == ["github-seed"]
    assert len(ar.list_connections()["ConnectionSummaryList"]) == 2
    [changed] = sb.control.handshake("github-seed")
    assert changed["Status"] == "AVAILABLE"
    assert (
        ar.list_connections(ConnectionName="github-seed")["ConnectionSummaryList"][0]["Status"] == "AVAILABLE"
    )
    deleted = ar.delete_connection(ConnectionArn=conn["ConnectionArn"])["Connection"]
    assert deleted["Status"] == "DELETED"
    assert (
        ar.list_connections(ConnectionName="github-seed")["ConnectionSummaryList"][0]["Status"] == "DELETED"
    )
    sb.control.advance(sb.app.apprunner.config.connection_deleted_retention_s + 1)
    assert ar.list_connections(ConnectionName="github-seed")["ConnectionSummaryList"] == []
    with pytest.raises(ar.exceptions.ResourceNotFoundException):
        ar.delete_connection(ConnectionArn=conn["ConnectionArn"])


def test_auto_handshake(ar: Any, sb: Any) -> None:
    sb.control.config(handshake="auto", handshake_seconds=5)
    ar.create_connection(ConnectionName="auto-conn", ProviderType="GITHUB")
    sb.control.advance(4)
    assert (
        ar.list_connections(ConnectionName="auto-conn")["ConnectionSummaryList"][0]["Status"]
        == "PENDING_HANDSHAKE"
    )
    sb.control.advance(2)
    assert (
        ar.list_connections(ConnectionName="auto-conn")["ConnectionSummaryList"][0]["Status"] == "AVAILABLE"
    )


def test_connection_in_use_cannot_be_deleted(ar: Any, make_service: Any, connection_arn: str) -> None:
    arn = make_service()["Service"]["ServiceArn"]
    with pytest.raises(ar.exceptions.InvalidRequestException, match="used by one or more services"):
        ar.delete_connection(ConnectionArn=connection_arn)
    ar.delete_service(ServiceArn=arn)
    ar.delete_connection(ConnectionArn=connection_arn)


def test_handshake_of_unknown_connection_is_404(sb: Any) -> None:
    from runbook_lib.sandbox.control import SandboxControlError

    with pytest.raises(SandboxControlError) as info:
        sb.control.handshake("nope")
    assert info.value.status == 404


# -------------------------------------------------------------------------------- VPC connectors


def test_vpc_connector_create_and_validation(ar: Any, ec2: Any, default_subnets: list[str]) -> None:
    vc = ar.create_vpc_connector(VpcConnectorName="seed-go-app", Subnets=default_subnets)["VpcConnector"]
    assert vc["Status"] == "ACTIVE" and vc["VpcConnectorRevision"] == 1
    default_sg = ec2.describe_security_groups(Filters=[{"Name": "group-name", "Values": ["default"]}])
    assert vc["SecurityGroups"] == [default_sg["SecurityGroups"][0]["GroupId"]]
    with pytest.raises(ar.exceptions.InvalidRequestException, match="already exists"):
        ar.create_vpc_connector(VpcConnectorName="seed-go-app", Subnets=default_subnets)
    with pytest.raises(ar.exceptions.InvalidRequestException, match="subnet-0000"):
        ar.create_vpc_connector(VpcConnectorName="bad-subnet", Subnets=["subnet-00000000000000000"])
    with pytest.raises(ar.exceptions.InvalidRequestException, match="sg-0000"):
        ar.create_vpc_connector(
            VpcConnectorName="bad-sg", Subnets=default_subnets, SecurityGroups=["sg-00000000000000000"]
        )
    vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    other = ec2.create_subnet(VpcId=vpc, CidrBlock="10.9.1.0/24")["Subnet"]["SubnetId"]
    with pytest.raises(ar.exceptions.InvalidRequestException, match="one VPC"):
        ar.create_vpc_connector(VpcConnectorName="two-vpcs", Subnets=[default_subnets[0], other])


def test_vpc_connector_in_use_and_release_lag(
    ar: Any, sb: Any, make_service: Any, default_subnets: list[str]
) -> None:
    vc = ar.create_vpc_connector(VpcConnectorName="seed-go-app", Subnets=default_subnets)["VpcConnector"]
    arn = vc["VpcConnectorArn"]
    svc = make_service(
        NetworkConfiguration={"EgressConfiguration": {"EgressType": "VPC", "VpcConnectorArn": arn}}
    )
    message = f"Provided VPC connector arn is being used by other services. ARN: {arn}"
    with pytest.raises(ar.exceptions.InvalidRequestException) as info:
        ar.delete_vpc_connector(VpcConnectorArn=arn)
    assert info.value.response["Error"]["Message"] == message
    sb.control.faults(connector_release_lag_s=20)
    ar.delete_service(ServiceArn=svc["Service"]["ServiceArn"])
    assert ar.describe_service(ServiceArn=svc["Service"]["ServiceArn"])["Service"]["Status"] == "DELETED"
    with pytest.raises(ar.exceptions.InvalidRequestException, match="being used by other services"):
        ar.delete_vpc_connector(VpcConnectorArn=arn)
    sb.control.advance(21)
    gone = ar.delete_vpc_connector(VpcConnectorArn=arn)["VpcConnector"]
    assert gone["Status"] == "INACTIVE" and "DeletedAt" in gone
    assert ar.describe_vpc_connector(VpcConnectorArn=arn)["VpcConnector"]["Status"] == "INACTIVE"
    with pytest.raises(ar.exceptions.ResourceNotFoundException):
        ar.delete_vpc_connector(VpcConnectorArn=arn)
    # the name is free again once the old connector is INACTIVE
    ar.create_vpc_connector(VpcConnectorName="seed-go-app", Subnets=default_subnets)


def test_egress_validation(ar: Any, make_service: Any, default_subnets: list[str]) -> None:
    vc = ar.create_vpc_connector(VpcConnectorName="seed-go-app", Subnets=default_subnets)["VpcConnector"]
    with pytest.raises(ar.exceptions.InvalidRequestException, match="only be set when EgressType is VPC"):
        make_service(
            NetworkConfiguration={
                "EgressConfiguration": {"EgressType": "DEFAULT", "VpcConnectorArn": vc["VpcConnectorArn"]}
            }
        )
    with pytest.raises(ar.exceptions.InvalidRequestException, match="required when EgressType is VPC"):
        make_service(NetworkConfiguration={"EgressConfiguration": {"EgressType": "VPC"}})


def test_enis_hold_security_group(
    ar: Any, sb: Any, ec2: Any, make_service: Any, default_subnets: list[str]
) -> None:
    """E20: ENIs tagged AWSAppRunnerManaged keep the SG undeletable for eni_release_lag_s."""
    vpc_id = ec2.describe_subnets(SubnetIds=default_subnets)["Subnets"][0]["VpcId"]
    sg = ec2.create_security_group(GroupName="seed-egress", Description="egress", VpcId=vpc_id)["GroupId"]
    vc = ar.create_vpc_connector(VpcConnectorName="seed-go-app", Subnets=default_subnets, SecurityGroups=[sg])
    arn = vc["VpcConnector"]["VpcConnectorArn"]
    svc = make_service(
        NetworkConfiguration={"EgressConfiguration": {"EgressType": "VPC", "VpcConnectorArn": arn}}
    )
    ar.describe_service(ServiceArn=svc["Service"]["ServiceArn"])
    enis = ec2.describe_network_interfaces(Filters=[{"Name": "group-id", "Values": [sg]}])[
        "NetworkInterfaces"
    ]
    assert len(enis) == len(default_subnets)
    assert all({"Key": "AWSAppRunnerManaged", "Value": "true"} in e["TagSet"] for e in enis)
    sb.control.faults(eni_release_lag_s=30)
    ar.delete_service(ServiceArn=svc["Service"]["ServiceArn"])
    ar.describe_service(ServiceArn=svc["Service"]["ServiceArn"])
    ar.delete_vpc_connector(VpcConnectorArn=arn)
    with pytest.raises(ClientError) as info:
        ec2.delete_security_group(GroupId=sg)
    assert info.value.response["Error"]["Code"] == "DependencyViolation"
    sb.control.advance(31)
    assert (
        ec2.describe_network_interfaces(Filters=[{"Name": "group-id", "Values": [sg]}])["NetworkInterfaces"]
        == []
    )
    ec2.delete_security_group(GroupId=sg)


# ------------------------------------------------------------------------ auto scaling configurations


def _asc(ar: Any, name: str, **kw: Any) -> dict[str, Any]:
    return ar.create_auto_scaling_configuration(AutoScalingConfigurationName=name, **kw)[
        "AutoScalingConfiguration"
    ]


def test_asc_revisions_latest_and_quota(ar: Any) -> None:
    first = _asc(ar, "seed-go-app")
    assert (first["AutoScalingConfigurationRevision"], first["Latest"]) == (1, True)
    assert (first["MaxConcurrency"], first["MinSize"], first["MaxSize"]) == (100, 1, 25)
    revs = [_asc(ar, "seed-go-app", MaxSize=i + 2) for i in range(4)]
    assert [r["AutoScalingConfigurationRevision"] for r in revs] == [2, 3, 4, 5]
    described = ar.describe_auto_scaling_configuration(
        AutoScalingConfigurationArn=first["AutoScalingConfigurationArn"]
    )
    assert described["AutoScalingConfiguration"]["Latest"] is False
    with pytest.raises(ar.exceptions.ServiceQuotaExceededException, match="revision quota: 5"):
        _asc(ar, "seed-go-app")
    ar.delete_auto_scaling_configuration(AutoScalingConfigurationArn=revs[1]["AutoScalingConfigurationArn"])
    sixth = _asc(ar, "seed-go-app")
    assert sixth["AutoScalingConfigurationRevision"] == 6  # highest ACTIVE (5) + 1
    ar.delete_auto_scaling_configuration(AutoScalingConfigurationArn=sixth["AutoScalingConfigurationArn"])
    again = _asc(ar, "seed-go-app")
    assert again["AutoScalingConfigurationRevision"] == 6  # the highest ACTIVE is 5 again: 6 is reused
    assert again["AutoScalingConfigurationArn"] != sixth["AutoScalingConfigurationArn"]
    listed = ar.list_auto_scaling_configurations(AutoScalingConfigurationName="seed-go-app")
    [latest] = listed["AutoScalingConfigurationSummaryList"]  # LatestOnly defaults to true
    assert latest["AutoScalingConfigurationArn"] == again["AutoScalingConfigurationArn"]
    everything = ar.list_auto_scaling_configurations(
        AutoScalingConfigurationName="seed-go-app", LatestOnly=False
    )
    summaries = everything["AutoScalingConfigurationSummaryList"]
    revisions = [a["AutoScalingConfigurationRevision"] for a in summaries]
    assert revisions == [1, 2, 4, 5, 6]


def test_asc_revision_is_highest_active_plus_one(ar: Any) -> None:
    """Terraform's acceptance tests: replacing the only revision gives 1 again; revision 2 of 2 gives 2."""
    only = _asc(ar, "replaced-only")
    ar.delete_auto_scaling_configuration(AutoScalingConfigurationArn=only["AutoScalingConfigurationArn"])
    assert _asc(ar, "replaced-only", MaxSize=3)["AutoScalingConfigurationRevision"] == 1
    _asc(ar, "two-of-two")
    second = _asc(ar, "two-of-two", MaxSize=3)
    ar.delete_auto_scaling_configuration(AutoScalingConfigurationArn=second["AutoScalingConfigurationArn"])
    assert _asc(ar, "two-of-two", MaxSize=4)["AutoScalingConfigurationRevision"] == 2


def test_asc_name_quota(ar: Any) -> None:
    for i in range(10):
        _asc(ar, f"asc-name-{i}")
    with pytest.raises(ar.exceptions.ServiceQuotaExceededException):
        _asc(ar, "asc-name-10")
    _asc(ar, "asc-name-0")  # a new revision of an existing name is fine


def test_asc_bounds(ar: Any, sb: Any) -> None:
    with pytest.raises(ar.exceptions.InvalidRequestException):
        _asc(ar, "too-big", MaxSize=26)
    with pytest.raises(ar.exceptions.InvalidRequestException, match="MinSize"):
        _asc(ar, "min-max", MinSize=5, MaxSize=3)
    with pytest.raises(ar.exceptions.InvalidRequestException):
        _asc(ar, "conc", MaxConcurrency=201)
    sb.control.config(max_size_limit=100)
    assert _asc(ar, "raised-limit", MaxSize=100)["MaxSize"] == 100


def test_asc_status_is_lowercase_on_the_wire(ar: Any) -> None:
    """The real API answers ``active`` / ``inactive`` (Terraform asserts it), not the model's enum."""
    raw = ar.meta.events
    seen: list[bytes] = []
    raw.register_first("after-call.apprunner", lambda http_response, **_: seen.append(http_response.content))
    made = _asc(ar, "lower-case")
    assert made["Status"] == "active" and b'"Status": "active"' in seen[0]
    arn = made["AutoScalingConfigurationArn"]
    gone = ar.delete_auto_scaling_configuration(AutoScalingConfigurationArn=arn)
    assert gone["AutoScalingConfiguration"]["Status"] == "inactive"


def test_default_asc_and_binding(ar: Any, make_service: Any) -> None:
    """E23/E24."""
    defaults = [
        a
        for a in ar.list_auto_scaling_configurations()["AutoScalingConfigurationSummaryList"]
        if a["IsDefault"]
    ]
    assert [d["AutoScalingConfigurationArn"].split(":")[-1] for d in defaults] == [
        "autoscalingconfiguration/DefaultConfiguration/1/00000000000000000000000000000001"
    ]
    old_default = defaults[0]["AutoScalingConfigurationArn"]
    first = make_service("app-one")["Service"]
    assert first["AutoScalingConfigurationSummary"]["AutoScalingConfigurationArn"] == old_default
    mine = _asc(ar, "seed-go-app", MaxSize=5)
    name_arn = mine["AutoScalingConfigurationArn"].rsplit("/", 2)[0]
    new_default = ar.update_default_auto_scaling_configuration(AutoScalingConfigurationArn=name_arn)
    assert new_default["AutoScalingConfiguration"]["IsDefault"] is True
    old = ar.describe_auto_scaling_configuration(AutoScalingConfigurationArn=old_default)[
        "AutoScalingConfiguration"
    ]
    assert old["IsDefault"] is False and old["HasAssociatedService"] is True
    second = make_service("app-two")["Service"]
    assert (
        second["AutoScalingConfigurationSummary"]["AutoScalingConfigurationArn"]
        == mine["AutoScalingConfigurationArn"]
    )
    assert (
        ar.describe_service(ServiceArn=first["ServiceArn"])["Service"]["AutoScalingConfigurationSummary"][
            "AutoScalingConfigurationArn"
        ]
        == old_default
    )
    users = ar.list_services_for_auto_scaling_configuration(AutoScalingConfigurationArn=name_arn)[
        "ServiceArnList"
    ]
    assert users == [second["ServiceArn"]]


def test_asc_delete_rules(ar: Any, make_service: Any) -> None:
    """E25/E26."""
    one = _asc(ar, "seed-go-app")
    two = _asc(ar, "seed-go-app", MaxSize=5)
    name_arn = one["AutoScalingConfigurationArn"].rsplit("/", 2)[0]
    svc = make_service(AutoScalingConfigurationArn=f"{name_arn}/1")["Service"]
    assert (
        svc["AutoScalingConfigurationSummary"]["AutoScalingConfigurationArn"]
        == one["AutoScalingConfigurationArn"]
    )
    with pytest.raises(ar.exceptions.InvalidRequestException, match="DeleteAllRevisions"):
        ar.delete_auto_scaling_configuration(
            AutoScalingConfigurationArn=one["AutoScalingConfigurationArn"], DeleteAllRevisions=True
        )
    with pytest.raises(ar.exceptions.InvalidRequestException) as info:
        ar.delete_auto_scaling_configuration(AutoScalingConfigurationArn=one["AutoScalingConfigurationArn"])
    assert info.value.response["Error"]["Message"].startswith(ASC_IN_USE)
    default_arn = "arn:aws:apprunner:us-east-1:123456789012:autoscalingconfiguration/DefaultConfiguration"
    with pytest.raises(ar.exceptions.InvalidRequestException, match="It's used by one or more services"):
        ar.delete_auto_scaling_configuration(AutoScalingConfigurationArn=default_arn)
    # name-only ARN → latest active revision (2)
    deleted = ar.delete_auto_scaling_configuration(AutoScalingConfigurationArn=name_arn)[
        "AutoScalingConfiguration"
    ]
    assert deleted["AutoScalingConfigurationArn"] == two["AutoScalingConfigurationArn"]
    assert deleted["Status"] == "inactive" and "DeletedAt" in deleted and deleted["Latest"] is False
    now_latest = ar.describe_auto_scaling_configuration(
        AutoScalingConfigurationArn=one["AutoScalingConfigurationArn"]
    )
    assert now_latest["AutoScalingConfiguration"]["Latest"] is True
    listed = ar.list_auto_scaling_configurations(AutoScalingConfigurationName="seed-go-app", LatestOnly=False)
    assert [a["AutoScalingConfigurationRevision"] for a in listed["AutoScalingConfigurationSummaryList"]] == [
        1
    ]
    ar.delete_service(ServiceArn=svc["ServiceArn"])
    ar.delete_auto_scaling_configuration(AutoScalingConfigurationArn=name_arn, DeleteAllRevisions=True)
    assert (
        ar.list_auto_scaling_configurations(AutoScalingConfigurationName="seed-go-app")[
            "AutoScalingConfigurationSummaryList"
        ]
        == []
    )


def test_asc_invalid_and_unknown_arns(ar: Any, make_service: Any) -> None:
    with pytest.raises(ar.exceptions.ResourceNotFoundException):
        ar.describe_auto_scaling_configuration(
            AutoScalingConfigurationArn="arn:aws:apprunner:us-east-1:123456789012:autoscalingconfiguration/nope"
        )
    with pytest.raises(ar.exceptions.InvalidRequestException, match="isn't valid"):
        make_service(AutoScalingConfigurationArn="arn:aws:apprunner:us-east-1:123456789012:service/x/y")


# ------------------------------------------------------------------------ observability, tags


def test_observability_revisions(ar: Any) -> None:
    one = ar.create_observability_configuration(ObservabilityConfigurationName="obs-one")[
        "ObservabilityConfiguration"
    ]
    two = ar.create_observability_configuration(
        ObservabilityConfigurationName="obs-one", TraceConfiguration={"Vendor": "AWSXRAY"}
    )["ObservabilityConfiguration"]
    assert (one["ObservabilityConfigurationRevision"], two["ObservabilityConfigurationRevision"]) == (1, 2)
    assert two["Latest"] is True and two["TraceConfiguration"] == {"Vendor": "AWSXRAY"}
    with pytest.raises(ar.exceptions.InvalidRequestException, match="reserved"):
        ar.create_observability_configuration(ObservabilityConfigurationName="DefaultConfiguration")
    assert len(ar.list_observability_configurations()["ObservabilityConfigurationSummaryList"]) == 1
    assert (
        len(ar.list_observability_configurations(LatestOnly=False)["ObservabilityConfigurationSummaryList"])
        == 2
    )


def test_tags(ar: Any) -> None:
    conn = ar.create_connection(
        ConnectionName="tagged", ProviderType="GITHUB", Tags=[{"Key": "runbook:name", "Value": "x"}]
    )["Connection"]
    arn = conn["ConnectionArn"]
    ar.tag_resource(ResourceArn=arn, Tags=[{"Key": "team", "Value": "platform"}])
    tags = {t["Key"]: t["Value"] for t in ar.list_tags_for_resource(ResourceArn=arn)["Tags"]}
    assert tags == {"runbook:name": "x", "team": "platform"}
    ar.untag_resource(ResourceArn=arn, TagKeys=["team"])
    assert ar.list_tags_for_resource(ResourceArn=arn)["Tags"] == [{"Key": "runbook:name", "Value": "x"}]
    with pytest.raises(ar.exceptions.InvalidRequestException, match="pattern"):
        ar.tag_resource(ResourceArn=arn, Tags=[{"Key": "aws:reserved", "Value": "x"}])
    with pytest.raises(ar.exceptions.ResourceNotFoundException):
        ar.list_tags_for_resource(ResourceArn=arn[:-32] + "0" * 32)
