"""The dispatching server: routing to moto, the control API, the request log, fault injection and the
services' stand-in apps."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import boto3
import pytest
from botocore.config import Config
from sandbox_helpers import NO_RETRIES, TRUST_TASKS, client

from runbook_lib.sandbox.control import SandboxControl, SandboxControlError
from runbook_lib.sandbox.server import is_mutating


def _get(url: str) -> tuple[int, dict[str, Any]]:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def test_health_and_config(sb: Any) -> None:
    assert sb.control.health()["ok"] is True
    cfg = sb.control.config(op_seconds=0.5)
    assert cfg["op_seconds"] == 0.5 and cfg["handshake"] == "manual"
    with pytest.raises(SandboxControlError) as info:
        sb.control.config(no_such_setting=1)
    assert info.value.status == 400
    with pytest.raises(SandboxControlError):
        sb.control.faults(no_such_fault=1)


def test_moto_services_behind_the_same_url(sb: Any) -> None:
    ec2 = client(sb, "ec2")
    vpcs = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"]
    assert len(vpcs) == 1
    subnets = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpcs[0]["VpcId"]]}])["Subnets"]
    assert len({s["AvailabilityZone"] for s in subnets}) >= 2
    assert client(sb, "sts").get_caller_identity()["Account"] == "123456789012"
    s3 = client(sb, "s3")
    s3.create_bucket(Bucket="audit-bucket")
    s3.put_object(Bucket="audit-bucket", Key="runs/manifest.json", Body=b"{}")
    assert s3.get_object(Bucket="audit-bucket", Key="runs/manifest.json")["Body"].read() == b"{}"
    client(sb, "iam").create_role(RoleName="r-one", AssumeRolePolicyDocument=json.dumps(TRUST_TASKS))


def test_request_log(sb: Any) -> None:
    ar = client(sb, "apprunner")
    iam = client(sb, "iam")
    ar.list_services()
    ar.create_connection(ConnectionName="logged", ProviderType="GITHUB")
    with pytest.raises(ar.exceptions.InvalidRequestException):
        ar.create_connection(ConnectionName="logged", ProviderType="GITHUB")
    iam.create_role(RoleName="logged-role", AssumeRolePolicyDocument=json.dumps(TRUST_TASKS))
    with pytest.raises(iam.exceptions.NoSuchEntityException):
        iam.get_role(RoleName="missing")
    client(sb, "s3").create_bucket(Bucket="logged-bucket")
    log = sb.control.requests()
    summary = [(r["service"], r["operation"], r["status"], r["error"], r["mutating"]) for r in log]
    assert summary == [
        ("apprunner", "ListServices", 200, None, False),
        ("apprunner", "CreateConnection", 200, None, True),
        ("apprunner", "CreateConnection", 400, "InvalidRequestException", True),
        ("iam", "CreateRole", 200, None, True),
        ("iam", "GetRole", 404, "NoSuchEntity", False),
        ("s3", "CreateBucket", 200, None, True),
    ]
    assert all(isinstance(r["time"], float) and r["region"] == "us-east-1" for r in log)
    assert [r["operation"] for r in sb.control.mutating_requests()] == [
        "CreateConnection", "CreateConnection", "CreateRole", "CreateBucket",
    ]  # fmt: skip
    sb.control.clear_requests()
    assert sb.control.requests() == []


def test_is_mutating() -> None:
    assert (
        not is_mutating("DescribeService") and not is_mutating("ListServices") and not is_mutating("GetRole")
    )
    assert is_mutating("CreateService") and is_mutating("TagResource") and is_mutating("AssumeRole")


def test_reset_forgets_moto_and_app_runner_state(sb: Any) -> None:
    iam = client(sb, "iam")
    iam.create_role(RoleName="to-forget", AssumeRolePolicyDocument=json.dumps(TRUST_TASKS))
    client(sb, "apprunner").create_connection(ConnectionName="to-forget", ProviderType="GITHUB")
    sb.control.faults(throttle_rate=0.5)
    sb.control.reset()
    assert iam.list_roles()["Roles"] == []
    assert client(sb, "apprunner").list_connections()["ConnectionSummaryList"] == []
    assert sb.control.faults()["throttle_rate"] == 0.0


def _outcomes(ar: Any, n: int) -> list[str]:
    out = []
    for _ in range(n):
        try:
            ar.list_services()
            out.append("ok")
        except ar.exceptions.ClientError as err:
            meta = err.response["ResponseMetadata"]["HTTPStatusCode"]
            out.append(f"{err.response['Error']['Code']}/{meta}")
    return out


def test_throttling_and_internal_errors_are_repeatable(sb: Any) -> None:
    ar = client(sb, "apprunner", config=NO_RETRIES)
    sb.control.faults(seed=42, throttle_rate=0.3, error_rate=0.2)
    first = _outcomes(ar, 30)
    assert {"ok", "ThrottlingException/400", "InternalServiceErrorException/500"} == set(first)
    sb.control.faults(seed=42)
    assert _outcomes(ar, 30) == first
    # botocore's standard retry mode rides through them
    sb.control.faults(seed=3, throttle_rate=0.3, error_rate=0.1)
    retrying = client(sb, "apprunner", config=Config(retries={"mode": "standard", "max_attempts": 10}))
    for _ in range(5):
        retrying.list_services()
    iam = client(sb, "iam")
    for _ in range(5):  # rates apply to App Runner only
        iam.list_roles()


def test_standin_app(ar: Any, sb: Any, make_service: Any) -> None:
    sb.control.config(op_seconds=30)
    svc = make_service()["Service"]
    url = sb.control.app_url(svc["ServiceId"], "/health")
    status, body = _get(url)
    assert status == 503 and body["status"] == "OPERATION_IN_PROGRESS"
    sb.control.advance()
    status, body = _get(url)
    assert status == 200
    assert body["service"] == "seed-go-app" and body["env"] == {"ENV1": "hello"} and body["path"] == "/health"
    sb.control.faults(app_unhealthy=[svc["ServiceId"]])
    assert _get(url)[0] == 503
    sb.control.faults(app_unhealthy=[])
    assert _get(url)[0] == 200
    ar.pause_service(ServiceArn=svc["ServiceArn"])
    sb.control.advance()
    assert _get(url)[0] == 503
    assert _get(sb.control.app_url("0" * 32))[0] == 404
    assert sb.control.requests()[-1]["operation"] != "GET"  # stand-in requests are not AWS calls


def test_sandbox_env_fixture(sandbox_env: Any) -> None:
    ar = boto3.client("apprunner")
    assert ar.meta.endpoint_url == sandbox_env.url
    ar.create_connection(ConnectionName="from-env", ProviderType="GITHUB")
    assert [r["operation"] for r in sandbox_env.control.requests()] == ["CreateConnection"]


def test_unknown_control_route_is_404(sb: Any) -> None:
    assert _get(sb.url + "/_sandbox/nope")[0] == 404
    assert SandboxControl("http://127.0.0.1:9").is_up() is False


def _send(url: str, method: str, content_type: str | None, body: bytes = b"{}") -> int:
    headers = {"Content-Type": content_type} if content_type else {}
    req = urllib.request.Request(url, data=body, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            return resp.status
    except urllib.error.HTTPError as err:
        return err.code


@pytest.mark.parametrize("method, path", [("POST", "reset"), ("POST", "faults"), ("DELETE", "requests")])
def test_control_api_refuses_state_changes_that_are_not_json(sb: Any, method: str, path: str) -> None:
    """A web page can POST text/plain to 127.0.0.1 without a preflight: such calls must change nothing."""
    sb.control.faults(throttle_rate=0.5)
    url = f"{sb.url}/_sandbox/{path}"
    body = b'{"clear": true}'
    assert _send(url, method, "text/plain", body) == 415
    assert _send(url, method, "application/x-www-form-urlencoded", body) == 415
    assert _send(url, method, None, body) == 415
    assert sb.control.faults()["throttle_rate"] == 0.5  # unchanged
    assert _send(url, method, "application/json; charset=utf-8", b"{}") == 200
    assert _get(f"{sb.url}/_sandbox/health")[0] == 200  # reads need no content type
