"""The least-privilege IAM policy an operator needs for `runbook up` and `runbook down` of one params file.

Only actions the runbook calls, each on the narrowest resources and conditions the service supports
(the sandbox's ``--enforce-iam`` proves it: tests/reliability/test_iam_enforcement.py). Sources:

- AWS managed policy **AWSAppRunnerFullAccess**: ``iam:PassRole`` conditioned on
  ``iam:PassedToService = apprunner.amazonaws.com`` (``tasks.apprunner.amazonaws.com`` is the principal
  the instance role's *trust policy* names, not the PassedToService value), and
  ``iam:CreateServiceLinkedRole`` of ``…/aws-service-role/apprunner.amazonaws.com/AWSServiceRoleForAppRunner``
  with ``iam:AWSServiceName``; the networking role likewise (App Runner's VPC documentation).
- **Service Authorization Reference** (App Runner, IAM, EC2, S3): which actions take resource-level
  permissions (App Runner List*, EC2 Describe* do not: ``*``), which condition keys each carries
  (``aws:RequestTag/*`` on creates, ``aws:ResourceTag/*`` on existing EC2 groups, ``ec2:CreateAction``
  on tag-on-create, ``iam:PolicyARN`` on AttachRolePolicy), and that ``CreateSecurityGroup`` with
  ``TagSpecifications`` also needs ``ec2:CreateTags``. ``sts:GetCallerIdentity`` needs no permission.
- **CloudFormation's AWS::AppRunner::Service handler permissions** add ``logs:*`` (CreateLogGroup,
  PutRetentionPolicy, CreateLogStream, PutLogEvents, DescribeLogStreams) and ``events:PutRule`` /
  ``PutTargets``. These are exactly what the managed policy of App Runner's *service-linked role*,
  AppRunnerServiceRolePolicy, grants (on ``/aws/apprunner/*`` log groups and ``AWSAppRunnerManagedRule*``
  rules): App Runner does that work itself through AWSServiceRoleForAppRunner, and
  AWSAppRunnerFullAccess (enough for the console and API) grants none of them, so a direct API caller
  does not need them and this policy does not grant them.
- Image services and tracing: the ECR access role is made, tagged and passed like the instance role
  (``iam:PassRole`` to ``apprunner.amazonaws.com``; AWSAppRunnerFullAccess grants PassRole for both
  roles) and gets ``AWSAppRunnerServicePolicyForECRAccess`` attached (``iam:PolicyARN``); observability
  configurations are created tagged and described / deleted by name, like auto scaling configurations.
- ``runbook pause|resume|deploy``: ``apprunner:PauseService``, ``ResumeService``, ``StartDeployment`` on
  the service.
- Failure diagnosis reads the service's log groups, ``/aws/apprunner/<name>/*``
  (``logs:DescribeLogStreams`` on the group, ``logs:GetLogEvents`` on its streams). That statement is
  OPTIONAL: without it a failure is reported all the same, its log tail replaced by "could not read it".
- Custom domains (``custom_domains``): App Runner's three domain actions on the service; Route 53's
  ``GetHostedZone``, ``ListResourceRecordSets`` and ``ChangeResourceRecordSets`` on the hosted zones the
  params name (Route 53 has no tags on records, so the zone is the narrowest resource).
- Private services (``ingress``): the VPC ingress connection's actions on ``vpcingressconnection/<name>/*``
  (the create with the owner tag); with ``vpc_endpoint_id: create`` the endpoint's create with the owner
  tag (tag-on-create: ``ec2:CreateTags`` with ``ec2:CreateAction``), in the VPC, and its delete only with
  the owner tag as ``aws:ResourceTag``.
"""

from __future__ import annotations

from typing import Any

from runbook_lib import observability
from runbook_lib.iam import ECR_ACCESS_POLICY
from runbook_lib.params import OWNER_TAG, Params

__all__ = ["APP_RUNNER_PRINCIPAL", "DIAGNOSE_SID", "OPTIONAL", "build_operator_policy"]

PARTITION = "aws"
APP_RUNNER_PRINCIPAL = "apprunner.amazonaws.com"
NETWORKING_PRINCIPAL = "networking.apprunner.amazonaws.com"
DIAGNOSE_SID = "DiagnoseReadServiceLogs"
OPTIONAL = frozenset({DIAGNOSE_SID})  # statements a successful run does not need (only a failing one)


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


def _owned_request(params: Params) -> dict[str, Any]:
    """Creates must carry the owner tag of this environment."""
    return {"StringEquals": {f"aws:RequestTag/{OWNER_TAG}": params.name}}


def _connectors(params: Params, arn: str) -> list[str]:
    """The connector family: its name, and the hashed names of replacements (``<name[:33]>-<hex>``)."""
    base = params.network.connector_name if params.network else params.name
    return [f"{arn}:vpcconnector/{base}/*", f"{arn}:vpcconnector/{base[:33]}-*"]


def _app_runner(params: Params, arn: str) -> list[dict[str, Any]]:
    asc, conn = params.autoscaling.name, params.connection.name if params.connection else params.name
    service = [f"{arn}:service/{params.name}/*"]
    used = [f"{arn}:connection/{conn}/*", f"{arn}:autoscalingconfiguration/{asc}/*"]
    used += _connectors(params, arn) if params.network is not None else []
    used += [_observability_arn(params, arn)] if params.observability is not None else []
    lists = [
        "apprunner:ListServices",
        "apprunner:ListConnections",
        "apprunner:ListAutoScalingConfigurations",
        "apprunner:ListVpcConnectors",
        "apprunner:ListObservabilityConfigurations",  # teardown looks for a configuration left behind
    ]
    owned = _owned_request(params)
    statements = [
        _statement("AppRunnerListAccountWide", lists, ["*"]),
        _statement("AppRunnerCreateService", ["apprunner:CreateService"], service + used, **owned),
        _statement("AppRunnerUpdateService", ["apprunner:UpdateService"], service + used),
        _statement(
            "AppRunnerService",
            [
                "apprunner:DescribeService", "apprunner:ListOperations", "apprunner:DeleteService",
                "apprunner:ResumeService", "apprunner:TagResource", "apprunner:UntagResource",
                "apprunner:ListTagsForResource", "apprunner:PauseService", "apprunner:StartDeployment",
            ],
            service,
        ),
        _statement(
            "AppRunnerCreateConnectionAndAutoScaling",
            ["apprunner:CreateConnection", "apprunner:CreateAutoScalingConfiguration"],
            [f"{arn}:connection/{conn}/*", f"{arn}:autoscalingconfiguration/{asc}/*"],
            **owned,
        ),
        _statement(
            "AppRunnerConnection",
            ["apprunner:DeleteConnection", "apprunner:ListTagsForResource"],  # deleted only when owned
            [f"{arn}:connection/{conn}/*"],
        ),
        _statement(
            "AppRunnerAutoScaling",
            ["apprunner:DescribeAutoScalingConfiguration", "apprunner:DeleteAutoScalingConfiguration",
             "apprunner:ListTagsForResource", "apprunner:ListServicesForAutoScalingConfiguration"],
            # DeleteAutoScalingConfiguration(DeleteAllRevisions) takes the partial ARN ending in the name
            [f"{arn}:autoscalingconfiguration/{asc}", f"{arn}:autoscalingconfiguration/{asc}/*"],
        ),
        _statement(
            "AppRunnerVpcConnector",
            ["apprunner:DescribeVpcConnector", "apprunner:DeleteVpcConnector",
             "apprunner:ListTagsForResource"],
            _connectors(params, arn),
        ),
    ]  # fmt: skip
    if params.network is not None:
        statements.append(
            _statement("AppRunnerCreateVpcConnector", ["apprunner:CreateVpcConnector"],
                       _connectors(params, arn), **owned)
        )  # fmt: skip
    return statements + _observability(params, arn)


def _observability_arn(params: Params, arn: str) -> str:
    return f"{arn}:observabilityconfiguration/{observability.config_name(params)}/*"


def _observability(params: Params, arn: str) -> list[dict[str, Any]]:
    """With an ``observability`` section (keep it, tracing omitted, while turning tracing off: the runbook
    then deletes the configuration the service no longer uses)."""
    if params.observability is None:
        return []
    configs = [_observability_arn(params, arn)]
    return [
        _statement("AppRunnerCreateObservability", ["apprunner:CreateObservabilityConfiguration"], configs,
                   **_owned_request(params)),
        _statement("AppRunnerObservability",
                   ["apprunner:DescribeObservabilityConfiguration",
                    "apprunner:DeleteObservabilityConfiguration", "apprunner:ListTagsForResource"], configs),
    ]  # fmt: skip


def _logs(params: Params) -> list[dict[str, Any]]:
    """Reading the service's log groups when an operation fails (``diagnose``): optional, see OPTIONAL."""
    groups = (
        f"arn:{PARTITION}:logs:{params.region}:{params.account_id}:log-group:/aws/apprunner/{params.name}/*"
    )
    return [_statement(DIAGNOSE_SID, ["logs:DescribeLogStreams", "logs:GetLogEvents"], [groups])]


def _domains(params: Params, arn: str) -> list[dict[str, Any]]:
    if not params.custom_domains:
        return []
    actions = ["apprunner:AssociateCustomDomain", "apprunner:DescribeCustomDomains",
               "apprunner:DisassociateCustomDomain"]  # fmt: skip
    statements = [_statement("AppRunnerCustomDomains", actions, [f"{arn}:service/{params.name}/*"])]
    zones = sorted({d.hosted_zone_id for d in params.custom_domains if d.hosted_zone_id})
    if zones:
        records = ["route53:GetHostedZone", "route53:ListResourceRecordSets"]
        records.append("route53:ChangeResourceRecordSets")
        hosted = [f"arn:{PARTITION}:route53:::hostedzone/{z}" for z in zones]
        statements.append(_statement("Route53DomainRecords", records, hosted))
    return statements


def _private(params: Params, arn: str) -> list[dict[str, Any]]:
    if params.ingress is None:
        return []
    connection = [f"{arn}:vpcingressconnection/{params.ingress.name}/*"]
    statements = [
        _statement("AppRunnerListIngressConnections", ["apprunner:ListVpcIngressConnections"], ["*"]),
        _statement("AppRunnerCreateIngressConnection", ["apprunner:CreateVpcIngressConnection"], connection,
                   **_owned_request(params)),
        _statement("AppRunnerIngressConnection",
                   ["apprunner:DescribeVpcIngressConnection", "apprunner:UpdateVpcIngressConnection",
                    "apprunner:DeleteVpcIngressConnection", "apprunner:ListTagsForResource"], connection),
    ]  # fmt: skip
    if params.ingress.vpc_endpoint_id != "create":
        return statements
    region, account = params.region, params.account_id
    endpoints = [f"arn:{PARTITION}:ec2:{region}:{account}:vpc-endpoint/*"]
    vpc_id = params.ingress.vpc_id
    vpcs = [f"arn:{PARTITION}:ec2:{region}:{account}:vpc/{'*' if vpc_id == 'default' else vpc_id}"]
    reads = ["ec2:DescribeVpcEndpoints"]
    reads += ["ec2:DescribeVpcs"] if vpc_id == "default" and not params.network else []
    return statements + [
        _statement("Ec2ReadEndpoints", reads, ["*"]),
        _statement("Ec2CreateOwnedEndpoint", ["ec2:CreateVpcEndpoint"], endpoints, **_owned_request(params)),
        _statement("Ec2CreateEndpointInVpc", ["ec2:CreateVpcEndpoint"], vpcs),
        _statement("Ec2TagEndpointAtCreation", ["ec2:CreateTags"], endpoints,
                   StringEquals={"ec2:CreateAction": "CreateVpcEndpoint"}),
        _statement("Ec2DeleteOwnedEndpoint", ["ec2:DeleteVpcEndpoints"], endpoints,
                   StringEquals={f"aws:ResourceTag/{OWNER_TAG}": params.name}),
    ]  # fmt: skip


def _service_linked_role(account: str, principal: str, role: str, sid: str) -> dict[str, Any]:
    resource = f"arn:{PARTITION}:iam::{account}:role/aws-service-role/{principal}/{role}"
    condition = {"StringEquals": {"iam:AWSServiceName": principal}}
    return _statement(sid, ["iam:CreateServiceLinkedRole"], [resource], **condition)


def _iam(params: Params) -> list[dict[str, Any]]:
    account = params.account_id
    role = f"arn:{PARTITION}:iam::{account}:role/{params.instance.role_name}"
    # the ECR access role: made and passed for private ECR images; looked up (deleted if owned) by `down`
    access = f"arn:{PARTITION}:iam::{account}:role/{params.access_role_name or params.name + '-access'}"
    made = [role, access] if params.access_role_name else [role]
    statements = [
        _statement("IamCreateInstanceRole", ["iam:CreateRole"], made, **_owned_request(params)),
        _statement(
            "IamInstanceRole",
            [
                "iam:GetRole", "iam:DeleteRole", "iam:UpdateAssumeRolePolicy", "iam:TagRole", "iam:UntagRole",
                "iam:DetachRolePolicy", "iam:ListAttachedRolePolicies", "iam:ListRolePolicies",
                "iam:DeleteRolePolicy",
            ],
            [role, access],
        ),
        _statement("IamPassInstanceRoleToAppRunner", ["iam:PassRole"], made,
                   StringEquals={"iam:PassedToService": APP_RUNNER_PRINCIPAL}),
        _service_linked_role(account, APP_RUNNER_PRINCIPAL, "AWSServiceRoleForAppRunner",
                             "AppRunnerServiceLinkedRole"),
    ]  # fmt: skip
    if params.access_role_name:
        statements.insert(
            1,
            _statement("IamAttachEcrAccessPolicy", ["iam:AttachRolePolicy"], [access],
                       ArnEquals={"iam:PolicyARN": [ECR_ACCESS_POLICY]}),
        )  # fmt: skip
    if params.instance.policy_arns:
        statements.insert(
            1,
            _statement(
                "IamAttachListedPolicies", ["iam:AttachRolePolicy"], [role],
                ArnEquals={"iam:PolicyARN": sorted(params.instance.policy_arns)},
            ),
        )  # fmt: skip
    return statements


def _ec2(params: Params) -> list[dict[str, Any]]:
    """Reads and owned-group changes always (``down`` cleans up a network the params no longer have)."""
    region, account = params.region, params.account_id
    groups = [f"arn:{PARTITION}:ec2:{region}:{account}:security-group/*"]
    statements = [
        _statement("Ec2ReadSecurityGroups", ["ec2:DescribeSecurityGroups"], ["*"]),
        _statement(
            "Ec2ChangeOwnedSecurityGroup",
            ["ec2:DeleteSecurityGroup", "ec2:AuthorizeSecurityGroupEgress", "ec2:RevokeSecurityGroupIngress",
             "ec2:CreateTags"],
            groups,
            StringEquals={f"aws:ResourceTag/{OWNER_TAG}": params.name},
        ),
    ]  # fmt: skip
    if params.network is None:
        return statements
    vpc_id = params.network.vpc_id
    vpcs = [f"arn:{PARTITION}:ec2:{region}:{account}:vpc/{'*' if vpc_id == 'default' else vpc_id}"]
    return statements + [
        _statement("Ec2ReadNetwork", ["ec2:DescribeVpcs", "ec2:DescribeSubnets"], ["*"]),
        _statement("Ec2CreateOwnedSecurityGroup", ["ec2:CreateSecurityGroup"], groups,
                   **_owned_request(params)),
        # the VPC is a resource of the request too; EC2 checks aws:RequestTag only on what is created
        _statement("Ec2CreateSecurityGroupInVpc", ["ec2:CreateSecurityGroup"], vpcs),
        _statement("Ec2TagOnlyAtCreation", ["ec2:CreateTags"], groups,
                   StringEquals={"ec2:CreateAction": "CreateSecurityGroup"}),
        _service_linked_role(account, NETWORKING_PRINCIPAL, "AWSServiceRoleForAppRunnerNetworking",
                             "AppRunnerNetworkingServiceLinkedRole"),
    ]  # fmt: skip


def _s3(audit_dir: str) -> list[dict[str, Any]]:
    bucket, _, prefix = audit_dir[5:].partition("/")
    objects = f"arn:{PARTITION}:s3:::{bucket}/{prefix.strip('/') + '/' if prefix.strip('/') else ''}*"
    return [
        _statement("AuditTrailList", ["s3:ListBucket"], [f"arn:{PARTITION}:s3:::{bucket}"]),
        # DeleteObject: the S3 lock is released by deleting it
        _statement("AuditTrailObjects", ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"], [objects]),
    ]


def build_operator_policy(params: Params, *, audit_dir: str | None = None) -> dict[str, Any]:
    """The policy document (pure) for `up` and `down` of the environment in ``params``.

    ``audit_dir`` overrides the params' (an ``s3://bucket/prefix`` adds the audit trail's statements).
    """
    arn = f"arn:{PARTITION}:apprunner:{params.region}:{params.account_id}"
    statements = _app_runner(params, arn) + _iam(params) + _ec2(params) + _logs(params)
    statements += _domains(params, arn) + _private(params, arn)
    trail = audit_dir or params.audit_dir
    if trail.startswith("s3://"):
        statements += _s3(trail)
    return {"Version": "2012-10-17", "Statement": statements}
