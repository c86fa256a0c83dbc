"""What an AWS request asks IAM for: its (action, resource ARN, condition context) checks, as data.

``checks(request, lookups)`` turns one request served by the sandbox into the list of
:class:`~runbook_lib.sandbox.iam_policy.Check` that must all be allowed. The tables cover every
operation the runbook calls (App Runner, IAM, EC2, Route 53, S3 for the audit trail, CloudWatch Logs
reads on the log group or stream; ``sts:GetCallerIdentity`` needs no permission, as on AWS); any other
operation is checked as ``<service>:<Operation>`` on ``*``.

Resource ARNs and condition keys follow the Service Authorization Reference: App Runner creates are
authorised on ``<type>/<name>/*`` (the id is not known yet) with ``aws:RequestTag/*`` and
``aws:TagKeys``; CreateService / UpdateService also on the connection, auto scaling configuration and
VPC connector they name. What App Runner checks on the caller's behalf is added here too:
``iam:PassRole`` of the instance and access roles (``iam:PassedToService = apprunner.amazonaws.com``,
as AWS's managed policy AWSAppRunnerFullAccess conditions it) and ``iam:CreateServiceLinkedRole`` of
AWSServiceRoleForAppRunner (first service) or AWSServiceRoleForAppRunnerNetworking (first VPC
connector) while that role does not exist. EC2 tag-on-create (``TagSpecifications``) needs
``ec2:CreateTags`` with ``ec2:CreateAction``; operations on an existing security group carry its tags
as ``aws:ResourceTag/*`` and ``ec2:ResourceTag/*``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from runbook_lib.sandbox.apprunner.resources import _tags_dict
from runbook_lib.sandbox.iam_policy import Check

__all__ = ["AwsRequest", "Lookups", "SERVICE_LINKED_ROLES", "checks", "service_linked_role_arn"]

PASSED_TO = "apprunner.amazonaws.com"
# service-linked roles App Runner creates on first use: operation → (AWS service name, role name)
SERVICE_LINKED_ROLES = {
    "CreateService": ("apprunner.amazonaws.com", "AWSServiceRoleForAppRunner"),
    "CreateVpcConnector": ("networking.apprunner.amazonaws.com", "AWSServiceRoleForAppRunnerNetworking"),
}
# App Runner operation → its resource: "*", "@<request member holding the ARN>", or "<type>/{Member}/*"
APPRUNNER_RESOURCE = {
    "CreateService": "service/{ServiceName}/*",
    "CreateConnection": "connection/{ConnectionName}/*",
    "CreateAutoScalingConfiguration": "autoscalingconfiguration/{AutoScalingConfigurationName}/*",
    "CreateVpcConnector": "vpcconnector/{VpcConnectorName}/*",
    "CreateObservabilityConfiguration": "observabilityconfiguration/{ObservabilityConfigurationName}/*",
    "CreateVpcIngressConnection": "vpcingressconnection/{VpcIngressConnectionName}/*",
    "ListServices": "*", "ListConnections": "*", "ListAutoScalingConfigurations": "*",
    "ListVpcConnectors": "*", "ListObservabilityConfigurations": "*", "ListVpcIngressConnections": "*",
    "TagResource": "@ResourceArn", "UntagResource": "@ResourceArn", "ListTagsForResource": "@ResourceArn",
    "ListServicesForAutoScalingConfiguration": "@AutoScalingConfigurationArn",
}  # fmt: skip
# the first request member naming an ARN, for every other App Runner operation
ARN_MEMBERS = (
    "ServiceArn", "ConnectionArn", "AutoScalingConfigurationArn", "VpcConnectorArn",
    "ObservabilityConfigurationArn", "VpcIngressConnectionArn",
)  # fmt: skip
# S3 operation (as the sandbox names it) → IAM action; resource: the object, else the bucket
S3_ACTION = {
    "HeadObject": "s3:GetObject", "GetObject": "s3:GetObject", "PutObject": "s3:PutObject",
    "DeleteObject": "s3:DeleteObject", "DeleteObjects": "s3:DeleteObject", "ListObjects": "s3:ListBucket",
    "ListObjectsV2": "s3:ListBucket", "HeadBucket": "s3:ListBucket", "CreateBucket": "s3:CreateBucket",
    "DeleteBucket": "s3:DeleteBucket", "ListBuckets": "s3:ListAllMyBuckets",
}  # fmt: skip
FREE = {("sts", "GetCallerIdentity")}  # AWS answers these whatever the policies say
EC2_ID_TYPES = {
    "sg": "security-group", "vpc": "vpc", "subnet": "subnet", "eni": "network-interface",
    "vpce": "vpc-endpoint",
}  # fmt: skip
# EC2 creates with tag-on-create: operation → the type of what it creates
EC2_CREATES = {"CreateSecurityGroup": "security-group", "CreateVpcEndpoint": "vpc-endpoint"}


class Lookups(Protocol):
    """What the checks need to know about existing resources."""

    def resource_tags(self, arn: str) -> dict[str, str]: ...

    def role_exists(self, arn: str) -> bool: ...


@dataclass(frozen=True)
class AwsRequest:
    """One request: App Runner's JSON body, or the query/form parameters of moto's services."""

    service: str
    operation: str
    region: str
    account: str
    params: Mapping[str, Any] = field(default_factory=dict)
    path: str = "/"


def service_linked_role_arn(account: str, service_name: str, role_name: str) -> str:
    return f"arn:aws:iam::{account}:role/aws-service-role/{service_name}/{role_name}"


def _tag_context(tags: Mapping[str, str], *, prefix: str = "aws:RequestTag/") -> dict[str, list[str]]:
    context: dict[str, list[str]] = {f"{prefix}{k}": [v] for k, v in tags.items()}
    if prefix == "aws:RequestTag/":
        context["aws:TagKeys"] = list(tags)
    return context


def _resource_tags(lookups: Lookups, arn: str, *, ec2: bool = False) -> dict[str, list[str]]:
    tags = lookups.resource_tags(arn) if arn != "*" else {}
    context = _tag_context(tags, prefix="aws:ResourceTag/")
    return {**context, **(_tag_context(tags, prefix="ec2:ResourceTag/") if ec2 else {})}


# ------------------------------------------------------------------------------------------ App Runner


def _apprunner_resource(req: AwsRequest) -> str:
    spec = APPRUNNER_RESOURCE.get(req.operation)
    base = f"arn:aws:apprunner:{req.region}:{req.account}:"
    if spec is None:
        member = next((m for m in ARN_MEMBERS if req.params.get(m)), None)
        return str(req.params[member]) if member else "*"
    if spec.startswith("@"):
        return str(req.params.get(spec[1:]) or "*")
    return spec if spec == "*" else base + spec.format_map({k: str(v) for k, v in req.params.items()})


def _service_references(req: AwsRequest) -> dict[str, str]:
    """Condition key → ARN of what a CreateService / UpdateService request names."""
    source = req.params.get("SourceConfiguration") or {}
    egress = (req.params.get("NetworkConfiguration") or {}).get("EgressConfiguration") or {}
    found = {
        "apprunner:ConnectionArn": (source.get("AuthenticationConfiguration") or {}).get("ConnectionArn"),
        "apprunner:AutoScalingConfigurationArn": req.params.get("AutoScalingConfigurationArn"),
        "apprunner:VpcConnectorArn": egress.get("VpcConnectorArn"),
        "apprunner:ObservabilityConfigurationArn": (req.params.get("ObservabilityConfiguration") or {}).get(
            "ObservabilityConfigurationArn"
        ),
    }
    return {k: v for k, v in found.items() if v}


def _passed_roles(req: AwsRequest) -> list[str]:
    source = req.params.get("SourceConfiguration") or {}
    access = (source.get("AuthenticationConfiguration") or {}).get("AccessRoleArn")
    instance = (req.params.get("InstanceConfiguration") or {}).get("InstanceRoleArn")
    return [arn for arn in (instance, access) if arn]


def _apprunner_checks(req: AwsRequest, lookups: Lookups) -> list[Check]:
    action, resource = f"apprunner:{req.operation}", _apprunner_resource(req)
    request: dict[str, list[str]] = {}  # the request's own keys, shared by every resource it names
    if req.operation.startswith("Create") or req.operation == "TagResource":
        request.update(_tag_context(_tags_dict(req.params.get("Tags"))))
    if req.operation == "UntagResource":
        request["aws:TagKeys"] = list(req.params.get("TagKeys") or [])
    refs = _service_references(req) if req.operation in ("CreateService", "UpdateService") else {}
    request.update({k: [v] for k, v in refs.items()})
    named = [resource, *refs.values()]
    found = [
        Check(action, arn, {**request, **(_resource_tags(lookups, arn) if not arn.endswith("/*") else {})})
        for arn in named
    ]
    found += [Check("iam:PassRole", arn, {"iam:PassedToService": [PASSED_TO]}) for arn in _passed_roles(req)]
    if req.operation in SERVICE_LINKED_ROLES:
        service_name, role_name = SERVICE_LINKED_ROLES[req.operation]
        slr = service_linked_role_arn(req.account, service_name, role_name)
        if not lookups.role_exists(slr):
            found.append(Check("iam:CreateServiceLinkedRole", slr, {"iam:AWSServiceName": [service_name]}))
    return found


# ------------------------------------------------------------------------------------------ query APIs


def _members(params: Mapping[str, Any], prefix: str) -> list[str]:
    """Values of a query-protocol list: ``<prefix>.1``, ``<prefix>.2`` … in order."""
    pattern = re.compile(rf"{re.escape(prefix)}\.(\d+)$")
    numbered = sorted((int(m.group(1)), str(v)) for k, v in params.items() if (m := pattern.match(k)))
    return [v for _, v in numbered]


def _query_tags(params: Mapping[str, Any], prefix: str) -> dict[str, str]:
    """Tags of a query-protocol request: ``<prefix>.N.Key`` / ``<prefix>.N.Value``."""
    pattern = re.compile(rf"{re.escape(prefix)}\.(\d+)\.Key")
    return {
        str(key): str(params.get(f"{prefix}.{m.group(1)}.Value", ""))
        for name, key in params.items()
        if (m := pattern.fullmatch(name))
    }


def _iam_checks(req: AwsRequest, lookups: Lookups) -> list[Check]:
    base, p = f"arn:aws:iam::{req.account}:", req.params
    if p.get("RoleName"):
        resource = f"{base}role{p.get('Path') or '/'}{p['RoleName']}"
    elif p.get("UserName"):
        resource = f"{base}user/{p['UserName']}"
    elif p.get("AWSServiceName"):
        resource = f"{base}role/aws-service-role/{p['AWSServiceName']}/*"
    else:
        resource = str(p.get("PolicyArn") or "*")
    context = (
        _tag_context(_query_tags(p, "Tags.member")) if req.operation in ("CreateRole", "TagRole") else {}
    )
    if p.get("PolicyArn") and resource != p.get("PolicyArn"):
        context["iam:PolicyARN"] = [str(p["PolicyArn"])]
    if p.get("AWSServiceName"):
        context["iam:AWSServiceName"] = [str(p["AWSServiceName"])]
    return [Check(f"iam:{req.operation}", resource, context)]


def _ec2_arn(req: AwsRequest, resource_id: str) -> str:
    kind = EC2_ID_TYPES.get(resource_id.split("-", 1)[0])
    return f"arn:aws:ec2:{req.region}:{req.account}:{kind}/{resource_id}" if kind else "*"


def _ec2_checks(req: AwsRequest, lookups: Lookups) -> list[Check]:
    action, p = f"ec2:{req.operation}", req.params
    if req.operation in EC2_CREATES:
        group = f"arn:aws:ec2:{req.region}:{req.account}:{EC2_CREATES[req.operation]}/*"
        tags = _query_tags(p, "TagSpecification.1.Tag")
        found = [Check(action, group, _tag_context(tags))]
        if p.get("VpcId"):
            vpc = _ec2_arn(req, str(p["VpcId"]))
            found.append(
                Check(action, vpc, _resource_tags(lookups, vpc, ec2=True))
            )  # request tags: the group's
        if tags:
            found.append(
                Check("ec2:CreateTags", group, {**_tag_context(tags), "ec2:CreateAction": [req.operation]})
            )
        return found
    if req.operation in ("CreateTags", "DeleteTags"):
        tags = _query_tags(p, "Tag")
        context = _tag_context(tags) if req.operation == "CreateTags" else {"aws:TagKeys": list(tags)}
        arns = [_ec2_arn(req, rid) for rid in _members(p, "ResourceId")]
        return [Check(action, arn, {**context, **_resource_tags(lookups, arn, ec2=True)}) for arn in arns]
    if req.operation == "DeleteVpcEndpoints":
        arns = [_ec2_arn(req, rid) for rid in _members(p, "VpcEndpointId")]
        return [Check(action, arn, _resource_tags(lookups, arn, ec2=True)) for arn in arns]
    if p.get("GroupId") and not req.operation.startswith("Describe"):
        arn = _ec2_arn(req, str(p["GroupId"]))
        return [Check(action, arn, _resource_tags(lookups, arn, ec2=True))]
    return [Check(action, "*")]


def _s3_checks(req: AwsRequest, lookups: Lookups) -> list[Check]:
    bucket, _, key = req.path.lstrip("/").partition("/")
    action = S3_ACTION.get(req.operation, f"s3:{req.operation}")
    if action == "s3:ListAllMyBuckets" or not bucket:
        return [Check(action, "*")]
    uses_object = key and action in ("s3:GetObject", "s3:PutObject", "s3:DeleteObject")
    return [Check(action, f"arn:aws:s3:::{bucket}/{key}" if uses_object else f"arn:aws:s3:::{bucket}")]


def _logs_checks(req: AwsRequest, lookups: Lookups) -> list[Check]:
    """CloudWatch Logs reads on the log group (``…:log-group:<name>``) or its stream
    (``…:log-group:<name>:log-stream:<stream>``), as the Service Authorization Reference lists them."""
    group, stream = req.params.get("logGroupName"), req.params.get("logStreamName")
    if not group:
        return [Check(f"logs:{req.operation}", "*")]
    arn = f"arn:aws:logs:{req.region}:{req.account}:log-group:{group}"
    return [Check(f"logs:{req.operation}", f"{arn}:log-stream:{stream}" if stream else arn)]


def _route53_checks(req: AwsRequest, lookups: Lookups) -> list[Check]:
    """Route 53 (REST): a hosted zone's operations on ``arn:aws:route53:::hostedzone/<id>``."""
    parts = [p for p in req.path.split("/") if p][1:]  # after the API version
    zone = parts[1] if len(parts) > 1 and parts[0] == "hostedzone" else None
    return [Check(f"route53:{req.operation}", f"arn:aws:route53:::hostedzone/{zone}" if zone else "*")]


_BY_SERVICE: dict[str, Callable[[AwsRequest, Lookups], list[Check]]] = {
    "apprunner": _apprunner_checks,
    "iam": _iam_checks,
    "ec2": _ec2_checks,
    "s3": _s3_checks,
    "logs": _logs_checks,
    "route53": _route53_checks,
}


def checks(req: AwsRequest, lookups: Lookups) -> list[Check]:
    """Every (action, resource, context) the request needs; empty for calls AWS never refuses."""
    if (req.service, req.operation) in FREE:
        return []
    build = _BY_SERVICE.get(req.service)
    return build(req, lookups) if build else [Check(f"{req.service}:{req.operation}", "*")]
