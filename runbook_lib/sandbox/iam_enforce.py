"""``--enforce-iam``: authorise each request against the caller's identity policies in moto's IAM.

The caller is found by the access key id of the SigV4 ``Authorization`` header, through moto's own
access-key lookup (``moto.iam.access_control``): an IAM user (its inline and attached policies and
those of its groups) or an assumed-role session (the role's policies). The root keys (``testing``)
may do anything; any other unknown key is refused as ``InvalidClientTokenId``. The decision is
``iam_policy.evaluate`` over the checks ``iam_requests.checks`` derives from the request.

Refusals answer as AWS does: App Runner ``AccessDeniedException`` (JSON, HTTP 400), EC2
``UnauthorizedOperation`` (XML, 403), S3 ``AccessDenied`` (XML, 403), IAM / STS / other query APIs
``AccessDenied`` (XML, 403), each naming the caller, the action and the resource.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from dataclasses import dataclass
from typing import Any

from runbook_lib.sandbox.defaults import DEFAULT_ACCOUNT_ID
from runbook_lib.sandbox.ec2_shim import ec2_error
from runbook_lib.sandbox.iam_policy import Check, Decision, first_denied
from runbook_lib.sandbox.iam_requests import SERVICE_LINKED_ROLES, AwsRequest, checks, service_linked_role_arn

__all__ = ["ROOT_ACCESS_KEYS", "Denial", "Enforcer", "SandboxLookups", "denial", "json_object"]

log = logging.getLogger(__name__)

ROOT_ACCESS_KEYS = frozenset({"testing"})
_ACCESS_KEY_RE = re.compile(r"Credential=([^/,\s]+)/")


@dataclass(frozen=True)
class Denial:
    """A refused request: the AWS error code, HTTP status, headers and body to answer with."""

    code: str
    status: int
    headers: dict[str, str]
    body: bytes


def _message(caller: str, check: Check, decision: Decision) -> str:
    why = (
        "with an explicit deny in an identity-based policy"
        if decision is Decision.EXPLICIT_DENY
        else f"because no identity-based policy allows the {check.action} action"
    )
    return f"User: {caller} is not authorized to perform: {check.action} on resource: {check.resource} {why}"


def _xml_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def denial(service: str, code: str, message: str, *, json_protocol: bool = False) -> Denial:
    """The error response AWS gives for a refused request of ``service``."""
    request_id, text = str(uuid.uuid4()), _xml_escape(message)
    if service == "apprunner" or json_protocol:
        code = "AccessDeniedException" if code == "AccessDenied" else code
        body = json.dumps({"__type": code, "Message": message})
        return Denial(code, 400, {"Content-Type": "application/x-amz-json-1.0"}, body.encode())
    if service == "ec2":
        code = "UnauthorizedOperation" if code == "AccessDenied" else code
        return Denial(code, 403, {"Content-Type": "text/xml"}, ec2_error(code, text))
    if service == "s3":
        xml = (
            f"<Error><Code>{code}</Code><Message>{text}</Message><RequestId>{request_id}</RequestId></Error>"
        )
    else:
        xml = (
            f"<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>{text}</Message></Error>"
            f"<RequestId>{request_id}</RequestId></ErrorResponse>"
        )
    body = f'<?xml version="1.0" encoding="UTF-8"?>\n{xml}'.encode()
    return Denial(code, 403, {"Content-Type": "text/xml"}, body)


def _documents(policies: list[Any]) -> list[dict[str, Any]]:
    """moto's collected policies (managed Policy objects, inline documents, dicts) as parsed JSON."""
    docs = []
    for policy in policies:
        if hasattr(policy, "versions"):
            policy = next(v.document for v in policy.versions if v.is_default)
        elif isinstance(policy, dict):
            policy = policy["policy_document"]
        docs.append(json.loads(policy) if isinstance(policy, str) else policy)
    return docs


def json_object(body: bytes) -> dict[str, Any]:
    """A JSON request body as a dict ({} when it is empty or not an object)."""
    try:
        found = json.loads(body) if body.strip() else {}
    except ValueError:
        return {}
    return found if isinstance(found, dict) else {}


_HEADERS = {
    "HTTP_AUTHORIZATION": "Authorization",
    "HTTP_X_AMZ_SECURITY_TOKEN": "X-Amz-Security-Token",
    "HTTP_X_AMZ_TARGET": "X-Amz-Target",
}


class Enforcer:
    """Authorises requests for one sandbox; ``lookups`` answers questions about existing resources."""

    def __init__(self, lookups: Any) -> None:
        self.lookups = lookups

    def check_environ(
        self, environ: dict[str, Any], service: str, operation: str, region: str, params: dict[str, Any]
    ) -> tuple[AwsRequest, Denial | None]:
        """The request of a WSGI ``environ`` as IAM sees it, and its refusal (None: allowed)."""
        req = AwsRequest(
            service, operation, region, DEFAULT_ACCOUNT_ID, params, environ.get("PATH_INFO", "/")
        )
        headers = {name: environ[key] for key, name in _HEADERS.items() if key in environ}
        return req, self.authorize(req, headers)

    def authorize(self, req: AwsRequest, headers: dict[str, str]) -> Denial | None:
        """None when the caller may make ``req``; else the AWS error response to send."""
        match = _ACCESS_KEY_RE.search(headers.get("Authorization", ""))
        key_id = match.group(1) if match else ""
        if key_id in ROOT_ACCESS_KEYS:
            return None
        json_protocol = "X-Amz-Target" in headers
        try:
            from moto.iam.access_control import CreateAccessKeyFailure, create_access_key

            identity = create_access_key(req.account, "aws", key_id, headers)
        except CreateAccessKeyFailure:
            message = "The security token included in the request is invalid."
            return denial(req.service, "InvalidClientTokenId", message, json_protocol=json_protocol)
        needed = checks(req, self.lookups)
        refused = first_denied(_documents(identity.collect_policies()), needed) if needed else None
        if refused is None:
            return None
        check, decision = refused
        log.info("denied %s %s on %s to %s", check.action, decision.value, check.resource, identity.arn)
        return denial(
            req.service, "AccessDenied", _message(identity.arn, check, decision), json_protocol=json_protocol
        )

    def after(self, req: AwsRequest, status: int) -> None:
        """What App Runner does after a call went through: create the service-linked role it needs."""
        if status >= 300 or req.service != "apprunner" or req.operation not in SERVICE_LINKED_ROLES:
            return
        service_name, role_name = SERVICE_LINKED_ROLES[req.operation]
        if self.lookups.role_exists(service_linked_role_arn(req.account, service_name, role_name)):
            return
        from moto.iam.models import iam_backends

        trust = {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"Service": service_name}}
            ],
        }
        iam_backends[req.account]["aws"].create_role(
            role_name, json.dumps(trust), f"/aws-service-role/{service_name}/", permissions_boundary=None,
            description="service-linked role (sandbox)", tags=[], max_session_duration="3600",
            linked_service=service_name,
        )  # fmt: skip


class SandboxLookups:
    """Existing resources as the sandbox holds them: App Runner tags, EC2 tags, IAM roles (moto)."""

    def __init__(self, apprunner: Any) -> None:
        self.apprunner = apprunner

    def resource_tags(self, arn: str) -> dict[str, str]:
        parts = arn.split(":", 5)
        if len(parts) != 6:
            return {}
        service, region, account, resource = parts[2], parts[3], parts[4], parts[5]
        if service == "apprunner":
            return dict(self.apprunner.get(account, region).tags.get(arn, {}))
        if service == "ec2":
            from moto.ec2.models import ec2_backends

            found = ec2_backends[account][region].describe_tags(
                filters={"resource-id": [resource.split("/")[-1]]}
            )
            return {t["key"]: t["value"] for t in found}
        return {}

    def role_exists(self, arn: str) -> bool:
        from moto.iam.models import iam_backends

        try:
            iam_backends[arn.split(":")[4]]["aws"].get_role_by_arn(arn)
        except Exception:  # moto's NotFound types
            return False
        return True
