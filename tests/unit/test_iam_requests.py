"""What each request asks IAM for (the sandbox's table): actions, resource ARNs and condition keys."""

from __future__ import annotations

from typing import Any

from runbook_lib.sandbox.iam_policy import Check
from runbook_lib.sandbox.iam_requests import AwsRequest, checks

ACCOUNT, REGION = "123456789012", "us-east-1"
AR = f"arn:aws:apprunner:{REGION}:{ACCOUNT}"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/app-instance"
SLR = f"arn:aws:iam::{ACCOUNT}:role/aws-service-role/apprunner.amazonaws.com/AWSServiceRoleForAppRunner"


class FakeLookups:
    def __init__(self, tags: dict[str, dict[str, str]] | None = None, roles: set[str] | None = None) -> None:
        self.tags, self.roles = tags or {}, roles or set()

    def resource_tags(self, arn: str) -> dict[str, str]:
        return self.tags.get(arn, {})

    def role_exists(self, arn: str) -> bool:
        return arn in self.roles


def req(service: str, operation: str, params: dict[str, Any] | None = None, path: str = "/") -> AwsRequest:
    return AwsRequest(service, operation, REGION, ACCOUNT, params or {}, path)


def create_service(**extra: Any) -> AwsRequest:
    conn = f"{AR}:connection/gh/abc"
    return req("apprunner", "CreateService", {
        "ServiceName": "app", "Tags": [{"Key": "runbook:name", "Value": "app"}],
        "SourceConfiguration": {"AuthenticationConfiguration": {"ConnectionArn": conn}},
        "InstanceConfiguration": {"InstanceRoleArn": ROLE}, **extra,
    })  # fmt: skip


def test_create_service_needs_the_service_the_connection_pass_role_and_the_service_linked_role() -> None:
    found = checks(create_service(), FakeLookups())
    tags = {"aws:RequestTag/runbook:name": ["app"], "aws:TagKeys": ["runbook:name"]}
    conn_key = {"apprunner:ConnectionArn": [f"{AR}:connection/gh/abc"]}
    assert found == [
        Check("apprunner:CreateService", f"{AR}:service/app/*", {**tags, **conn_key}),
        Check("apprunner:CreateService", f"{AR}:connection/gh/abc", {**tags, **conn_key}),
        Check("iam:PassRole", ROLE, {"iam:PassedToService": ["apprunner.amazonaws.com"]}),
        Check("iam:CreateServiceLinkedRole", SLR, {"iam:AWSServiceName": ["apprunner.amazonaws.com"]}),
    ]
    assert [c.action for c in checks(create_service(), FakeLookups(roles={SLR}))][-1] == "iam:PassRole"


def test_the_first_vpc_connector_needs_the_networking_service_linked_role() -> None:
    found = checks(req("apprunner", "CreateVpcConnector", {"VpcConnectorName": "net"}), FakeLookups())
    assert found[0] == Check("apprunner:CreateVpcConnector", f"{AR}:vpcconnector/net/*", {"aws:TagKeys": []})
    assert found[1].action == "iam:CreateServiceLinkedRole"
    assert found[1].resource.endswith(
        "/networking.apprunner.amazonaws.com/AWSServiceRoleForAppRunnerNetworking"
    )


def test_operations_on_existing_app_runner_resources_carry_their_tags() -> None:
    arn = f"{AR}:service/app/abc"
    lookups = FakeLookups(tags={arn: {"runbook:name": "app"}})
    assert checks(req("apprunner", "DeleteService", {"ServiceArn": arn}), lookups) == [
        Check("apprunner:DeleteService", arn, {"aws:ResourceTag/runbook:name": ["app"]})
    ]
    untag = checks(req("apprunner", "UntagResource", {"ResourceArn": arn, "TagKeys": ["x"]}), lookups)
    assert untag[0].context["aws:TagKeys"] == ["x"]
    assert checks(req("apprunner", "ListServices"), lookups) == [Check("apprunner:ListServices", "*", {})]


def test_security_group_created_with_tags_needs_create_tags_with_the_create_action() -> None:
    params = {
        "GroupName": "g", "VpcId": "vpc-1", "TagSpecification.1.ResourceType": "security-group",
        "TagSpecification.1.Tag.1.Key": "runbook:name", "TagSpecification.1.Tag.1.Value": "app",
    }  # fmt: skip
    found = checks(req("ec2", "CreateSecurityGroup", params), FakeLookups())
    groups = f"arn:aws:ec2:{REGION}:{ACCOUNT}:security-group/*"
    assert [(c.action, c.resource) for c in found] == [
        ("ec2:CreateSecurityGroup", groups),
        ("ec2:CreateSecurityGroup", f"arn:aws:ec2:{REGION}:{ACCOUNT}:vpc/vpc-1"),
        ("ec2:CreateTags", groups),
    ]
    assert found[2].context["ec2:CreateAction"] == ["CreateSecurityGroup"]
    assert found[2].context["aws:RequestTag/runbook:name"] == ["app"]


def test_tagging_an_existing_group_carries_its_tags_and_no_create_action() -> None:
    sg = f"arn:aws:ec2:{REGION}:{ACCOUNT}:security-group/sg-1"
    params = {"ResourceId.1": "sg-1", "Tag.1.Key": "team", "Tag.1.Value": "x"}
    (found,) = checks(req("ec2", "CreateTags", params), FakeLookups(tags={sg: {"runbook:name": "other"}}))
    assert found.resource == sg and "ec2:CreateAction" not in found.context
    assert found.context["aws:ResourceTag/runbook:name"] == ["other"]
    assert found.context["ec2:ResourceTag/runbook:name"] == ["other"]
    assert checks(req("ec2", "DescribeVpcs"), FakeLookups()) == [Check("ec2:DescribeVpcs", "*")]


def test_iam_s3_sts_and_unknown_operations() -> None:
    params = {"RoleName": "app-instance", "Tags.member.1.Key": "runbook:name", "Tags.member.1.Value": "app"}
    (role,) = checks(req("iam", "CreateRole", params), FakeLookups())
    assert role.resource == ROLE and role.context["aws:RequestTag/runbook:name"] == ["app"]
    attach = {"RoleName": "app-instance", "PolicyArn": "arn:aws:iam::aws:policy/X"}
    assert checks(req("iam", "AttachRolePolicy", attach), FakeLookups())[0].context == {
        "iam:PolicyARN": ["arn:aws:iam::aws:policy/X"]
    }
    assert checks(req("s3", "HeadObject", path="/audit/runs/m.json"), FakeLookups()) == [
        Check("s3:GetObject", "arn:aws:s3:::audit/runs/m.json")
    ]
    assert checks(req("s3", "ListObjectsV2", path="/audit"), FakeLookups()) == [
        Check("s3:ListBucket", "arn:aws:s3:::audit")
    ]
    assert checks(req("sts", "GetCallerIdentity"), FakeLookups()) == []
    assert checks(req("logs", "CreateLogGroup"), FakeLookups()) == [Check("logs:CreateLogGroup", "*")]
