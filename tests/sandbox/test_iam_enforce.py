"""``--enforce-iam``: refusals shaped as AWS's, root keys all-powerful, unknown keys refused, the
service-linked roles App Runner creates, and the flag of ``runbook sandbox start``."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from sandbox_helpers import TRUST_TASKS, service_request

from runbook_lib.sandbox.control import SandboxControl
from runbook_lib.sandbox.server import SandboxHandle

ACCOUNT = "123456789012"


@pytest.fixture
def enforced(sb: SandboxHandle) -> Iterator[SandboxHandle]:
    sb.control.config(enforce_iam=True, handshake="auto", handshake_seconds=0)
    yield sb
    sb.control.reset()


def client(sb: SandboxHandle, service: str, key: str = "testing", secret: str = "testing") -> Any:
    return boto3.client(
        service, endpoint_url=sb.url, region_name="us-east-1", aws_access_key_id=key,
        aws_secret_access_key=secret, config=boto3.session.Config(retries={"max_attempts": 1}),
    )  # fmt: skip


def user(sb: SandboxHandle, *statements: dict[str, Any]) -> dict[str, str]:
    iam = client(sb, "iam")
    iam.create_user(UserName="op")
    if statements:
        doc = {"Version": "2012-10-17", "Statement": list(statements)}
        iam.put_user_policy(UserName="op", PolicyName="p", PolicyDocument=json.dumps(doc))
    found = iam.create_access_key(UserName="op")["AccessKey"]
    return {"key": found["AccessKeyId"], "secret": found["SecretAccessKey"]}


def refusal(call: Any) -> tuple[int, str, str]:
    with pytest.raises(ClientError) as raised:
        call()
    error = raised.value.response
    return error["ResponseMetadata"]["HTTPStatusCode"], error["Error"]["Code"], error["Error"]["Message"]


def test_refusals_answer_as_aws_does_naming_caller_action_and_resource(enforced) -> None:
    keys = user(enforced, {"Effect": "Allow", "Action": "s3:ListAllMyBuckets", "Resource": "*"})
    arn = f"arn:aws:iam::{ACCOUNT}:user/op"
    status, code, message = refusal(lambda: client(enforced, "apprunner", **keys).list_services())
    assert (status, code) == (400, "AccessDeniedException")
    assert message.startswith(
        f"User: {arn} is not authorized to perform: apprunner:ListServices on resource: *"
    )
    status, code, message = refusal(lambda: client(enforced, "iam", **keys).get_role(RoleName="r"))
    assert (status, code) == (403, "AccessDenied") and f"iam:GetRole on resource: {arn[:-7]}role/r" in message
    status, code, message = refusal(lambda: client(enforced, "ec2", **keys).describe_vpcs())
    assert (status, code) == (403, "UnauthorizedOperation") and "ec2:DescribeVpcs" in message
    status, code, _ = refusal(lambda: client(enforced, "s3", **keys).list_objects_v2(Bucket="b"))
    assert (status, code) == (403, "AccessDenied")
    client(enforced, "s3", **keys).list_buckets()  # what the policy allows goes through
    assert client(enforced, "sts", **keys).get_caller_identity()["Arn"] == arn  # needs no permission
    logged = [(r["operation"], r["error"]) for r in enforced.control.requests() if r["status"] >= 400]
    assert ("ListServices", "AccessDeniedException") in logged and (
        "DescribeVpcs",
        "UnauthorizedOperation",
    ) in logged


def test_an_explicit_deny_is_named_and_unknown_keys_are_refused(enforced) -> None:
    keys = user(
        enforced,
        {"Effect": "Allow", "Action": "apprunner:*", "Resource": "*"},
        {"Effect": "Deny", "Action": "apprunner:ListConnections", "Resource": "*"},
    )
    assert client(enforced, "apprunner", **keys).list_services()["ServiceSummaryList"] == []
    _, _, message = refusal(lambda: client(enforced, "apprunner", **keys).list_connections())
    assert "with an explicit deny in an identity-based policy" in message
    status, code, _ = refusal(lambda: client(enforced, "iam", key="AKIAUNKNOWN", secret="x").list_roles())
    assert (status, code) == (403, "InvalidClientTokenId")
    assert client(enforced, "iam").list_roles()["Roles"] is not None  # the root keys may do anything


def test_create_service_needs_pass_role_to_apprunner_and_creates_the_service_linked_role(enforced) -> None:
    iam, ar = client(enforced, "iam"), client(enforced, "apprunner")
    role = iam.create_role(RoleName="inst", AssumeRolePolicyDocument=json.dumps(TRUST_TASKS))["Role"]["Arn"]
    made = ar.create_connection(ConnectionName="github-seed", ProviderType="GITHUB")
    conn = made["Connection"]["ConnectionArn"]
    enforced.control.handshake("github-seed")
    wrong_service = {"StringEquals": {"iam:PassedToService": "tasks.apprunner.amazonaws.com"}}
    keys = user(
        enforced,
        {"Effect": "Allow", "Action": "apprunner:CreateService", "Resource": "*"},
        {"Effect": "Allow", "Action": "iam:PassRole", "Resource": role, "Condition": wrong_service},
    )
    request = service_request("svc-one", conn, InstanceConfiguration={"InstanceRoleArn": role})
    _, _, message = refusal(lambda: client(enforced, "apprunner", **keys).create_service(**request))
    assert f"iam:PassRole on resource: {role}" in message
    right_service = {"StringEquals": {"iam:PassedToService": "apprunner.amazonaws.com"}}
    create = {"Effect": "Allow", "Action": "apprunner:CreateService", "Resource": "*"}
    pass_role = {"Effect": "Allow", "Action": "iam:PassRole", "Resource": role, "Condition": right_service}
    policy = {"Version": "2012-10-17", "Statement": [create, pass_role]}
    iam.put_user_policy(UserName="op", PolicyName="p", PolicyDocument=json.dumps(policy))
    _, _, message = refusal(lambda: client(enforced, "apprunner", **keys).create_service(**request))
    assert "iam:CreateServiceLinkedRole on resource: " in message and "AWSServiceRoleForAppRunner" in message
    ar.create_service(**request)  # root: App Runner creates its service-linked role on the way
    slr = iam.get_role(RoleName="AWSServiceRoleForAppRunner")["Role"]
    assert slr["Path"] == "/aws-service-role/apprunner.amazonaws.com/"
    second = {**request, "ServiceName": "svc-two"}
    client(enforced, "apprunner", **keys).create_service(**second)  # the role exists: PassRole is enough


def test_sandbox_start_enforce_iam_flag(tmp_path: Path) -> None:
    cli = [sys.executable, "-m", "runbook_lib.sandbox.cli"]
    start = [*cli, "start", "--port", "0", "--enforce-iam"]
    started = subprocess.run(start, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert started.returncode == 0, started.stderr
    try:
        assert SandboxControl(started.stdout.strip()).config()["enforce_iam"] is True
    finally:
        assert subprocess.run([*cli, "stop"], cwd=tmp_path, timeout=60).returncode == 0


def test_an_assumed_role_session_is_judged_by_the_role_policies(enforced) -> None:
    iam = client(enforced, "iam")
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    iam.create_role(RoleName="deployer", AssumeRolePolicyDocument=json.dumps(trust))
    allowed = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "apprunner:ListServices", "Resource": "*"}]}  # fmt: skip
    iam.put_role_policy(RoleName="deployer", PolicyName="p", PolicyDocument=json.dumps(allowed))
    role_arn = f"arn:aws:iam::{ACCOUNT}:role/deployer"
    creds = client(enforced, "sts").assume_role(RoleArn=role_arn, RoleSessionName="ci")["Credentials"]
    session = boto3.client(
        "apprunner", endpoint_url=enforced.url, region_name="us-east-1",
        aws_access_key_id=creds["AccessKeyId"], aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
    )  # fmt: skip
    assert session.list_services()["ServiceSummaryList"] == []
    _, code, message = refusal(lambda: session.list_connections())
    assert code == "AccessDeniedException"
    assert f"arn:aws:sts::{ACCOUNT}:assumed-role/deployer/ci is not authorized" in message
