"""The operator policy printed by `runbook policy`: only called actions, tight resources and conditions,
clean by a policy linter (parliament). That it is enough is shown with IAM enforced on the sandbox
(tests/reliability/test_iam_enforcement.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from parliament import analyze_policy_string

from runbook_lib.params import load_params, parse_params, read_document
from runbook_lib.policy import DIAGNOSE_SID, build_operator_policy

ROOT = Path(__file__).resolve().parents[2]
# granted once, never called (UntagRole and ListServicesForAutoScalingConfiguration are called since the
# runbook manages tags by key and keeps revisions that any service uses: tests/reliability proves them)
NEVER_CALLED = {
    "iam:ListRoleTags", "ec2:DescribeNetworkInterfaces", "ec2:DescribeAvailabilityZones",
    "ec2:RevokeSecurityGroupEgress", "ec2:DeleteTags",
}  # fmt: skip


def policies() -> list[tuple[str, dict[str, Any]]]:
    net = load_params(ROOT / "params/example-go.yaml")
    public = load_params(
        ROOT / "params/sandbox.yaml", overrides={"network": None, "audit_dir": "s3://audit-b/runs"}
    )
    attach = load_params(
        ROOT / "params/sandbox.yaml",
        overrides={"instance": {"policy_arns": ["arn:aws:iam::aws:policy/ReadOnly"]}},
    )
    private = load_params(
        ROOT / "params/sandbox.yaml",
        overrides={"public": False, "ingress": {"vpc_endpoint_id": "create"},
                   "custom_domains": [{"domain": "app.example.com", "hosted_zone_id": "Z0123456789ABC"}]},
    )  # fmt: skip
    return [("network", build_operator_policy(net)), ("public+s3", build_operator_policy(public)),
            ("policy_arns", build_operator_policy(attach)),
            ("private+domains", build_operator_policy(private))]  # fmt: skip


def vpc_of_new_group(finding: Any) -> bool:
    """parliament's one false positive: it takes the VPC, an optional resource type of
    ec2:CreateSecurityGroup in the Service Authorization Reference, for a mismatch with the required
    security-group type. The VPC gets its own statement because EC2 checks aws:RequestTag only on the
    resource being created (the reference lists the tag keys on security-group, not on vpc). The same
    holds for ec2:CreateVpcEndpoint (vpc-endpoint and vpc in two statements)."""
    return finding.issue == "RESOURCE_MISMATCH" and all(
        d["action"] in ("ec2:CreateSecurityGroup", "ec2:CreateVpcEndpoint") for d in finding.detail
    )


def by_sid(policy: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["Sid"]: s for s in policy["Statement"]}


@pytest.mark.parametrize(("name", "policy"), policies(), ids=[n for n, _ in policies()])
def test_lints_clean_with_parliament_and_grants_no_wildcard_or_uncalled_action(name, policy) -> None:
    findings = [f for f in analyze_policy_string(json.dumps(policy)).findings if not vpc_of_new_group(f)]
    assert findings == [], [str(f) for f in findings]
    actions = {a for s in policy["Statement"] for a in s["Action"]}
    assert actions and not any("*" in a for a in actions)
    assert not actions & NEVER_CALLED and "sts:GetCallerIdentity" not in actions  # STS needs no permission
    assert len(by_sid(policy)) == len(policy["Statement"])


def test_pass_role_and_service_linked_roles_as_app_runner_documents_them() -> None:
    statements = by_sid(build_operator_policy(load_params(ROOT / "params/example-go.yaml")))
    assert statements["IamPassInstanceRoleToAppRunner"]["Resource"] == [
        "arn:aws:iam::111122223333:role/seed-go-app-instance"
    ]
    assert statements["IamPassInstanceRoleToAppRunner"]["Condition"] == {
        "StringEquals": {"iam:PassedToService": "apprunner.amazonaws.com"}
    }
    assert statements["AppRunnerServiceLinkedRole"]["Resource"] == [
        "arn:aws:iam::111122223333:role/aws-service-role/apprunner.amazonaws.com/AWSServiceRoleForAppRunner"
    ]
    assert statements["AppRunnerServiceLinkedRole"]["Condition"] == {
        "StringEquals": {"iam:AWSServiceName": "apprunner.amazonaws.com"}
    }
    networking = statements["AppRunnerNetworkingServiceLinkedRole"]
    assert networking["Resource"][0].endswith(
        "/networking.apprunner.amazonaws.com/AWSServiceRoleForAppRunnerNetworking"
    )
    logs = {
        sid for sid, s in statements.items() if any(a.startswith(("logs:", "events:")) for a in s["Action"])
    }
    assert logs == {DIAGNOSE_SID} and set(statements[DIAGNOSE_SID]["Action"]) == {
        "logs:DescribeLogStreams",
        "logs:GetLogEvents",
    }  # reads of the service's log groups when something failed; App Runner writes them itself
    assert statements[DIAGNOSE_SID]["Resource"] == [
        "arn:aws:logs:us-east-1:111122223333:log-group:/aws/apprunner/seed-go-app/*"
    ]


def test_image_and_tracing_params_add_the_access_role_and_the_observability_configuration() -> None:
    doc = read_document(ROOT / "params/sandbox.yaml")
    doc.pop("connection")
    doc["source"] = {
        "image": {"identifier": "123456789012.dkr.ecr.us-east-1.amazonaws.com/app:1"},
        "port": 8080,
    }
    doc["observability"] = {"tracing": "AWSXRAY"}
    statements = by_sid(build_operator_policy(parse_params(doc)))
    access = "arn:aws:iam::123456789012:role/demo-go-app-access"
    assert access in statements["IamPassInstanceRoleToAppRunner"]["Resource"]
    assert access in statements["IamCreateInstanceRole"]["Resource"]
    assert statements["IamAttachEcrAccessPolicy"]["Condition"] == {
        "ArnEquals": {
            "iam:PolicyARN": ["arn:aws:iam::aws:policy/service-role/AWSAppRunnerServicePolicyForECRAccess"]
        }
    }
    configs = ["arn:aws:apprunner:us-east-1:123456789012:observabilityconfiguration/demo-go-app/*"]
    assert statements["AppRunnerCreateObservability"]["Resource"] == configs
    assert statements["AppRunnerCreateObservability"]["Condition"] == {
        "StringEquals": {"aws:RequestTag/runbook:name": "demo-go-app"}
    }
    assert configs[0] in statements["AppRunnerUpdateService"]["Resource"]
    findings = analyze_policy_string(
        json.dumps({"Version": "2012-10-17", "Statement": list(statements.values())})
    )
    assert [f for f in findings.findings if not vpc_of_new_group(f)] == []


def test_tags_only_at_creation_or_on_owned_groups_and_creates_must_be_tagged_owned() -> None:
    statements = by_sid(build_operator_policy(load_params(ROOT / "params/example-go.yaml")))
    tagging = [s for s in statements.values() if "ec2:CreateTags" in s["Action"]]
    assert {json.dumps(s["Condition"], sort_keys=True) for s in tagging} == {
        '{"StringEquals": {"ec2:CreateAction": "CreateSecurityGroup"}}',
        '{"StringEquals": {"aws:ResourceTag/runbook:name": "seed-go-app"}}',
    }
    for sid in ("AppRunnerCreateService", "Ec2CreateOwnedSecurityGroup", "IamCreateInstanceRole"):
        assert statements[sid]["Condition"] == {
            "StringEquals": {"aws:RequestTag/runbook:name": "seed-go-app"}
        }
    assert statements["AppRunnerService"]["Resource"] == [
        "arn:aws:apprunner:us-east-1:111122223333:service/seed-go-app/*"
    ]
    for statement in statements.values():
        if statement["Resource"] == ["*"]:
            assert all(a.split(":")[1].startswith(("List", "Describe")) for a in statement["Action"])


def test_network_s3_and_policy_arns_statements_follow_the_params() -> None:
    public = by_sid(
        build_operator_policy(load_params(ROOT / "params/sandbox.yaml", overrides={"network": None}),
                              audit_dir="s3://audit-b/runs/")
    )  # fmt: skip
    assert "AppRunnerCreateVpcConnector" not in public and "Ec2CreateOwnedSecurityGroup" not in public
    assert "AppRunnerVpcConnector" in public  # down still cleans up a connector an earlier network made
    assert public["AuditTrailObjects"]["Resource"] == ["arn:aws:s3:::audit-b/runs/*"]
    assert public["AuditTrailList"]["Resource"] == ["arn:aws:s3:::audit-b"]
    assert "IamAttachListedPolicies" not in public
    attach = by_sid(dict(policies())["policy_arns"])
    assert attach["IamAttachListedPolicies"]["Condition"] == {
        "ArnEquals": {"iam:PolicyARN": ["arn:aws:iam::aws:policy/ReadOnly"]}
    }
