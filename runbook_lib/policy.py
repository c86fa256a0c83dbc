"""The least-privilege IAM policy an operator needs for `runbook up` and `runbook down` of one params file.

Actions are listed one by one (no wildcards) and scoped to the params' named resources wherever the
service supports resource-level permissions; List/Describe calls that do not are granted on ``*``.
"""

from __future__ import annotations

from typing import Any

from runbook_lib.params import OWNER_TAG, Params

PARTITION = "aws"
# API operations authorized by an IAM action of another name
ACTION_FOR = {
    "s3:HeadObject": "s3:GetObject",
    "s3:HeadBucket": "s3:ListBucket",
    "s3:ListObjectsV2": "s3:ListBucket",
    "s3:ListObjects": "s3:ListBucket",
}


def _statement(sid: str, actions: list[str], resources: list[str], **condition: Any) -> dict[str, Any]:
    statement: dict[str, Any] = {
        "Sid": sid,
        "Effect": "Allow",
        "Action": sorted(actions),
        "Resource": resources,
    }
    if condition:
        statement["Condition"] = condition
    return statement


def build_operator_policy(params: Params, *, audit_bucket: str | None = None) -> dict[str, Any]:
    """The policy document (pure) for `up` and `down` of the environment in ``params``."""
    region, account = params.region, params.account_id
    arn = f"arn:{PARTITION}:apprunner:{region}:{account}"
    role = f"arn:{PARTITION}:iam::{account}:role/{params.instance.role_name}"
    asc = params.autoscaling.name
    statements = [
        _statement("Identity", ["sts:GetCallerIdentity"], ["*"]),
        _statement(
            "AppRunnerReadAccountWide",
            [
                "apprunner:ListServices", "apprunner:ListConnections", "apprunner:ListVpcConnectors",
                "apprunner:ListAutoScalingConfigurations", "apprunner:ListOperations",
            ],
            ["*"],
        ),
        _statement(
            "AppRunnerService",
            [
                "apprunner:CreateService", "apprunner:UpdateService", "apprunner:DeleteService",
                "apprunner:DescribeService", "apprunner:PauseService", "apprunner:ResumeService",
                "apprunner:StartDeployment", "apprunner:ListOperations", "apprunner:TagResource",
                "apprunner:UntagResource", "apprunner:ListTagsForResource",
            ],
            [f"{arn}:service/{params.name}/*"],
        ),
        _statement(
            "AppRunnerConnection",
            [
                "apprunner:CreateConnection", "apprunner:DeleteConnection", "apprunner:TagResource",
                "apprunner:ListTagsForResource",
            ],
            [f"{arn}:connection/{params.connection.name}", f"{arn}:connection/{params.connection.name}/*"],
        ),
        _statement(
            "AppRunnerAutoScaling",
            [
                "apprunner:CreateAutoScalingConfiguration", "apprunner:DescribeAutoScalingConfiguration",
                "apprunner:DeleteAutoScalingConfiguration", "apprunner:TagResource",
                "apprunner:ListServicesForAutoScalingConfiguration", "apprunner:ListTagsForResource",
            ],
            [f"{arn}:autoscalingconfiguration/{asc}", f"{arn}:autoscalingconfiguration/{asc}/*"],
        ),
        _statement(
            "IamInstanceRole",
            [
                "iam:GetRole", "iam:CreateRole", "iam:DeleteRole", "iam:UpdateAssumeRolePolicy",
                "iam:TagRole", "iam:UntagRole", "iam:ListRoleTags", "iam:AttachRolePolicy",
                "iam:DetachRolePolicy", "iam:ListAttachedRolePolicies", "iam:ListRolePolicies",
            ],
            [role],
        ),
        _statement("IamPassInstanceRole", ["iam:PassRole"], [role],
                   StringEquals={"iam:PassedToService": "tasks.apprunner.amazonaws.com"}),
    ]  # fmt: skip
    if params.network is not None:
        connector = params.network.connector_name
        statements += [
            _statement(
                "AppRunnerVpcConnector",
                [
                    "apprunner:CreateVpcConnector", "apprunner:DescribeVpcConnector",
                    "apprunner:DeleteVpcConnector", "apprunner:TagResource", "apprunner:ListTagsForResource",
                ],
                [f"{arn}:vpcconnector/{connector}/*", f"{arn}:vpcconnector/{connector}-*"],
            ),
            _statement(
                "Ec2ReadNetwork",
                [
                    "ec2:DescribeVpcs", "ec2:DescribeSubnets", "ec2:DescribeSecurityGroups",
                    "ec2:DescribeNetworkInterfaces", "ec2:DescribeAvailabilityZones",
                ],
                ["*"],
            ),
            _statement(
                "Ec2CreateOwnedSecurityGroup",
                ["ec2:CreateSecurityGroup", "ec2:CreateTags"],
                [f"arn:{PARTITION}:ec2:{region}:{account}:security-group/*",
                 f"arn:{PARTITION}:ec2:{region}:{account}:vpc/*"],
            ),
            _statement(
                "Ec2ChangeOwnedSecurityGroup",
                [
                    "ec2:DeleteSecurityGroup", "ec2:AuthorizeSecurityGroupEgress",
                    "ec2:RevokeSecurityGroupEgress", "ec2:RevokeSecurityGroupIngress", "ec2:CreateTags",
                    "ec2:DeleteTags",
                ],
                [f"arn:{PARTITION}:ec2:{region}:{account}:security-group/*"],
                StringEquals={f"aws:ResourceTag/{OWNER_TAG}": params.name},
            ),
            _statement(
                "AppRunnerNetworkingServiceLinkedRole",
                ["iam:CreateServiceLinkedRole"],
                [f"arn:{PARTITION}:iam::{account}:role/aws-service-role/networking.apprunner.amazonaws.com/*"],
                StringEquals={"iam:AWSServiceName": "networking.apprunner.amazonaws.com"},
            ),
        ]  # fmt: skip
    bucket = audit_bucket or _s3_bucket(params.audit_dir)
    if bucket:
        statements.append(
            _statement(
                "AuditTrailBucket",
                ["s3:PutObject", "s3:GetObject", "s3:DeleteObject", "s3:ListBucket"],  # Delete: locks
                [f"arn:{PARTITION}:s3:::{bucket}", f"arn:{PARTITION}:s3:::{bucket}/*"],
            )
        )
    return {"Version": "2012-10-17", "Statement": statements}


def _s3_bucket(audit_dir: str) -> str | None:
    return audit_dir[5:].split("/", 1)[0] if audit_dir.startswith("s3://") else None


def allows(policy: dict[str, Any], service: str, operation: str) -> bool:
    """Whether an Allow statement lists ``service:operation`` (exact action names only)."""
    action = f"{service}:{operation}"
    action = ACTION_FOR.get(action, action)
    return any(action in s["Action"] for s in policy["Statement"] if s["Effect"] == "Allow")
