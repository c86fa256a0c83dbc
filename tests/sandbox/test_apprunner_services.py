"""Service and operation lifecycle of the emulator.

Covers docs/apprunner-behavior.md "Emulator must": E5 (create → OPERATION_IN_PROGRESS → RUNNING /
CREATE_FAILED), E6 (duplicate name; name free after DELETED), E7 (Update/Delete/Pause/Resume refused while
OPERATION_IN_PROGRESS, StartDeployment InvalidRequest, reads and tags still work), E8 (pause/resume rules),
E9 (update returns the new config at once; source-type / name rules; rebuild from CREATE_FAILED; rollback
ends RUNNING with ROLLBACK_SUCCEEDED), E10 (delete → DELETED with DeletedAt, describable for a grace
period, then ResourceNotFound; DELETE_FAILED and retry), E12 (maintenance flip), E13 (role checks,
propagation delay, secrets need a role, private ECR needs an access role), E14 (connection must be
AVAILABLE), E15 (restricted account / quota). E11 is not covered: VPC ingress connections are not
emulated.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from sandbox_helpers import service_request


def _ops(ar: Any, arn: str) -> list[dict[str, Any]]:
    return ar.list_operations(ServiceArn=arn)["OperationSummaryList"]


def test_create_in_progress_then_running(ar: Any, sb: Any, make_service: Any) -> None:
    sb.control.config(op_seconds=30)
    out = make_service()
    arn = out["Service"]["ServiceArn"]
    assert out["Service"]["Status"] == "OPERATION_IN_PROGRESS"
    [op] = _ops(ar, arn)
    assert op["Id"] == out["OperationId"] and op["Type"] == "CREATE_SERVICE"
    assert op["Status"] in ("PENDING", "IN_PROGRESS") and "EndedAt" not in op
    sb.control.advance(29)
    assert ar.describe_service(ServiceArn=arn)["Service"]["Status"] == "OPERATION_IN_PROGRESS"
    sb.control.advance(2)
    assert ar.describe_service(ServiceArn=arn)["Service"]["Status"] == "RUNNING"
    [op] = _ops(ar, arn)
    assert op["Status"] == "SUCCEEDED" and op["EndedAt"] >= op["StartedAt"]


def test_create_failed_then_delete_then_reuse_name(ar: Any, sb: Any, make_service: Any) -> None:
    sb.control.faults(fail_next_create=True)
    arn = make_service()["Service"]["ServiceArn"]
    assert ar.describe_service(ServiceArn=arn)["Service"]["Status"] == "CREATE_FAILED"
    assert _ops(ar, arn)[0]["Status"] == "FAILED"
    assert [s["Status"] for s in ar.list_services()["ServiceSummaryList"]] == ["CREATE_FAILED"]
    with pytest.raises(ar.exceptions.InvalidRequestException, match="already exists: seed-go-app"):
        make_service()
    ar.delete_service(ServiceArn=arn)
    assert ar.describe_service(ServiceArn=arn)["Service"]["Status"] == "DELETED"
    again = make_service()
    assert again["Service"]["ServiceArn"] != arn
    assert ar.describe_service(ServiceArn=again["Service"]["ServiceArn"])["Service"]["Status"] == "RUNNING"


def test_duplicate_name_refused_while_running_or_in_flight(ar: Any, sb: Any, make_service: Any) -> None:
    sb.control.config(op_seconds=30)
    make_service()
    with pytest.raises(
        ar.exceptions.InvalidRequestException, match="Service with the provided name already exists"
    ):
        make_service()
    sb.control.advance()
    with pytest.raises(ar.exceptions.InvalidRequestException):
        make_service()
    make_service("other-app")


def test_mutations_refused_during_operation_in_progress(ar: Any, sb: Any, make_service: Any) -> None:
    sb.control.config(op_seconds=30)
    arn = make_service()["Service"]["ServiceArn"]
    with pytest.raises(ar.exceptions.InvalidStateException):
        ar.update_service(ServiceArn=arn, InstanceConfiguration={"Cpu": "2 vCPU", "Memory": "4 GB"})
    with pytest.raises(ar.exceptions.InvalidStateException):
        ar.delete_service(ServiceArn=arn)
    with pytest.raises(ar.exceptions.InvalidStateException):
        ar.pause_service(ServiceArn=arn)
    with pytest.raises(ar.exceptions.InvalidStateException):
        ar.resume_service(ServiceArn=arn)
    with pytest.raises(ar.exceptions.InvalidRequestException):
        ar.start_deployment(ServiceArn=arn)
    ar.describe_service(ServiceArn=arn)
    ar.list_services()
    ar.list_operations(ServiceArn=arn)
    ar.tag_resource(ResourceArn=arn, Tags=[{"Key": "k", "Value": "v"}])
    assert ar.list_tags_for_resource(ResourceArn=arn)["Tags"] == [{"Key": "k", "Value": "v"}]
    sb.control.advance()
    ar.delete_service(ServiceArn=arn)


def test_pause_resume_rules(ar: Any, sb: Any, make_service: Any) -> None:
    arn = make_service()["Service"]["ServiceArn"]
    resumed = ar.resume_service(ServiceArn=arn)  # RUNNING already: the service, no operation (Copilot)
    assert resumed["Service"]["Status"] == "RUNNING" and "OperationId" not in resumed
    assert ar.pause_service(ServiceArn=arn)["Service"]["Status"] == "OPERATION_IN_PROGRESS"
    assert ar.describe_service(ServiceArn=arn)["Service"]["Status"] == "PAUSED"
    paused = ar.pause_service(ServiceArn=arn)  # PAUSED already: the same
    assert paused["Service"]["Status"] == "PAUSED" and "OperationId" not in paused
    with pytest.raises(ar.exceptions.InvalidRequestException):
        ar.start_deployment(ServiceArn=arn)
    with pytest.raises(ar.exceptions.InvalidStateException):
        ar.update_service(ServiceArn=arn, InstanceConfiguration={"Cpu": "2 vCPU", "Memory": "4 GB"})
    sb.control.config(update_on_paused=True)
    ar.update_service(ServiceArn=arn, InstanceConfiguration={"Cpu": "2 vCPU", "Memory": "4 GB"})
    assert ar.describe_service(ServiceArn=arn)["Service"]["Status"] == "PAUSED"
    ar.resume_service(ServiceArn=arn)
    assert ar.describe_service(ServiceArn=arn)["Service"]["Status"] == "RUNNING"
    ar.pause_service(ServiceArn=arn)
    ar.delete_service(ServiceArn=arn)  # allowed from PAUSED
    assert ar.describe_service(ServiceArn=arn)["Service"]["Status"] == "DELETED"
    types = [o["Type"] for o in _ops(ar, arn)]
    assert types[0] == "DELETE_SERVICE" and types[-1] == "CREATE_SERVICE"  # newest first


def test_update_returns_new_config_and_rollback_ends_running(ar: Any, sb: Any, make_service: Any) -> None:
    sb.control.config(op_seconds=10)
    arn = make_service()["Service"]["ServiceArn"]
    sb.control.advance()
    sb.control.faults(rollback_next_update=True)
    out = ar.update_service(ServiceArn=arn, InstanceConfiguration={"Cpu": "2 vCPU", "Memory": "4 GB"})
    assert out["Service"]["Status"] == "OPERATION_IN_PROGRESS"
    assert out["Service"]["InstanceConfiguration"]["Cpu"] == "2048"
    sb.control.advance(6)
    assert [o["Status"] for o in _ops(ar, arn)][0] == "ROLLBACK_IN_PROGRESS"
    sb.control.advance(5)
    svc = ar.describe_service(ServiceArn=arn)["Service"]
    assert svc["Status"] == "RUNNING" and svc["InstanceConfiguration"]["Cpu"] == "1024"
    latest = _ops(ar, arn)[0]
    assert latest["Id"] == out["OperationId"] and latest["Status"] == "ROLLBACK_SUCCEEDED"
    # the next update succeeds
    second = ar.update_service(ServiceArn=arn, InstanceConfiguration={"Cpu": "2 vCPU", "Memory": "4 GB"})
    sb.control.advance()
    assert _ops(ar, arn)[0] == {**_ops(ar, arn)[0], "Id": second["OperationId"], "Status": "SUCCEEDED"}
    assert ar.describe_service(ServiceArn=arn)["Service"]["InstanceConfiguration"]["Memory"] == "4096"


def test_update_rules(ar: Any, sb: Any, make_service: Any, connection_arn: str) -> None:
    arn = make_service()["Service"]["ServiceArn"]
    image_source = {
        "ImageRepository": {
            "ImageIdentifier": "public.ecr.aws/nginx/nginx:latest",
            "ImageRepositoryType": "ECR_PUBLIC",
        }
    }
    with pytest.raises(ar.exceptions.InvalidRequestException, match="source type"):
        ar.update_service(ServiceArn=arn, SourceConfiguration=image_source)
    # SourceConfiguration without CodeConfiguration keeps the previous one
    src = service_request("x", connection_arn)["SourceConfiguration"]
    src["CodeRepository"].pop("CodeConfiguration")
    src["CodeRepository"]["SourceCodeVersion"]["Value"] = "release"
    out = ar.update_service(ServiceArn=arn, SourceConfiguration=src)
    repo = out["Service"]["SourceConfiguration"]["CodeRepository"]
    assert repo["SourceCodeVersion"]["Value"] == "release"
    assert repo["CodeConfiguration"]["CodeConfigurationValues"]["Runtime"] == "GO_1"


def test_update_rebuilds_create_failed(ar: Any, sb: Any, make_service: Any) -> None:
    sb.control.faults(fail_next_create=True)
    arn = make_service()["Service"]["ServiceArn"]
    ar.update_service(ServiceArn=arn, InstanceConfiguration={"Cpu": "2 vCPU", "Memory": "4 GB"})
    assert ar.describe_service(ServiceArn=arn)["Service"]["Status"] == "RUNNING"
    sb.control.faults(fail_next_create=True)
    sb.control.config(rebuild_on_create_failed=False)
    arn2 = make_service("old-api")["Service"]["ServiceArn"]
    with pytest.raises(ar.exceptions.InvalidStateException):
        ar.update_service(ServiceArn=arn2, InstanceConfiguration={"Cpu": "2 vCPU", "Memory": "4 GB"})


def test_delete_grace_period_then_not_found(ar: Any, sb: Any, make_service: Any) -> None:
    sb.control.config(deleted_retention_s=60)
    arn = make_service()["Service"]["ServiceArn"]
    out = ar.delete_service(ServiceArn=arn)
    assert out["Service"]["Status"] == "OPERATION_IN_PROGRESS" and out["OperationId"]
    svc = ar.describe_service(ServiceArn=arn)["Service"]
    assert svc["Status"] == "DELETED" and svc["DeletedAt"] >= svc["CreatedAt"]
    assert ar.list_services()["ServiceSummaryList"] == []
    with pytest.raises(ar.exceptions.ResourceNotFoundException):
        ar.delete_service(ServiceArn=arn)
    sb.control.advance(61)
    with pytest.raises(ar.exceptions.ResourceNotFoundException):
        ar.describe_service(ServiceArn=arn)


def test_delete_failed_then_retry(ar: Any, sb: Any, make_service: Any) -> None:
    arn = make_service()["Service"]["ServiceArn"]
    sb.control.faults(fail_next_delete=True)
    ar.delete_service(ServiceArn=arn)
    assert ar.describe_service(ServiceArn=arn)["Service"]["Status"] == "DELETE_FAILED"
    with pytest.raises(ar.exceptions.InvalidStateException):
        ar.update_service(ServiceArn=arn, InstanceConfiguration={"Cpu": "2 vCPU", "Memory": "4 GB"})
    ar.delete_service(ServiceArn=arn)
    assert ar.describe_service(ServiceArn=arn)["Service"]["Status"] == "DELETED"


def test_start_deployment(ar: Any, sb: Any, make_service: Any) -> None:
    arn = make_service()["Service"]["ServiceArn"]
    op_id = ar.start_deployment(ServiceArn=arn)["OperationId"]
    ops = _ops(ar, arn)
    assert ops[0]["Id"] == op_id and ops[0]["Type"] == "START_DEPLOYMENT" and ops[0]["Status"] == "SUCCEEDED"


def test_maintenance_flip(ar: Any, sb: Any, make_service: Any) -> None:
    """E12: a RUNNING service goes OPERATION_IN_PROGRESS with no new operation, then back."""
    svc = make_service()["Service"]
    ar.describe_service(ServiceArn=svc["ServiceArn"])
    sb.control.faults(maintenance={svc["ServiceId"]: 20})
    assert ar.describe_service(ServiceArn=svc["ServiceArn"])["Service"]["Status"] == "OPERATION_IN_PROGRESS"
    with pytest.raises(ar.exceptions.InvalidStateException):
        ar.delete_service(ServiceArn=svc["ServiceArn"])
    assert len(_ops(ar, svc["ServiceArn"])) == 1
    sb.control.advance(21)
    assert ar.describe_service(ServiceArn=svc["ServiceArn"])["Service"]["Status"] == "RUNNING"


def test_instance_role_checks(ar: Any, sb: Any, iam: Any, make_service: Any, role_arn: str) -> None:
    """E13: unknown role, role without the App Runner trust, propagation delay."""
    unknown = "arn:aws:iam::123456789012:role/does-not-exist"
    with pytest.raises(
        ar.exceptions.InvalidRequestException, match=f"Error in assuming instance role {unknown}"
    ):
        make_service(InstanceConfiguration={"Cpu": "1 vCPU", "Memory": "2 GB", "InstanceRoleArn": unknown})
    wrong_trust = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "ssm.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
    wrong = iam.create_role(RoleName="wrong-trust", AssumeRolePolicyDocument=json.dumps(wrong_trust))["Role"][
        "Arn"
    ]
    with pytest.raises(ar.exceptions.InvalidRequestException, match="Error in assuming instance role"):
        make_service(InstanceConfiguration={"Cpu": "1 vCPU", "Memory": "2 GB", "InstanceRoleArn": wrong})
    sb.control.faults(role_propagation_s=10_000)
    with pytest.raises(ar.exceptions.InvalidRequestException, match="Error in assuming instance role"):
        make_service(InstanceConfiguration={"Cpu": "1 vCPU", "Memory": "2 GB", "InstanceRoleArn": role_arn})
    sb.control.faults(role_propagation_s=0)
    out = make_service(InstanceConfiguration={"Cpu": "1 vCPU", "Memory": "2 GB", "InstanceRoleArn": role_arn})
    assert out["Service"]["InstanceConfiguration"]["InstanceRoleArn"] == role_arn


def test_secrets_need_instance_role_and_private_ecr_needs_access_role(ar: Any, connection_arn: str) -> None:
    request = service_request("secret-app", connection_arn)
    values = request["SourceConfiguration"]["CodeRepository"]["CodeConfiguration"]["CodeConfigurationValues"]
    values["RuntimeEnvironmentSecrets"] = {
        "TOKEN": "arn:aws:secretsmanager:us-east-1:123456789012:secret:t-AbCdEf"
    }
    with pytest.raises(ar.exceptions.InvalidRequestException, match="InstanceRoleArn"):
        ar.create_service(**request)
    image = {
        "ImageRepository": {
            "ImageIdentifier": "123456789012.dkr.ecr.us-east-1.amazonaws.com/app:latest",
            "ImageRepositoryType": "ECR",
        }
    }
    with pytest.raises(ar.exceptions.InvalidRequestException, match="AccessRoleArn"):
        ar.create_service(ServiceName="image-app", SourceConfiguration=image)


def test_connection_must_be_available(ar: Any, sb: Any) -> None:
    """E14: a PENDING_HANDSHAKE or ERROR connection, or an unknown one, is refused."""
    conn = ar.create_connection(ConnectionName="pending", ProviderType="GITHUB")["Connection"]
    with pytest.raises(ar.exceptions.InvalidRequestException, match="isn't AVAILABLE"):
        ar.create_service(**service_request("app-one", conn["ConnectionArn"]))
    sb.control.handshake("pending", status="ERROR")
    with pytest.raises(ar.exceptions.InvalidRequestException, match="isn't AVAILABLE"):
        ar.create_service(**service_request("app-one", conn["ConnectionArn"]))
    missing = conn["ConnectionArn"][:-32] + "0" * 32
    with pytest.raises(ar.exceptions.InvalidRequestException, match="Connection not found"):
        ar.create_service(**service_request("app-one", missing))
    sb.control.handshake("pending")
    ar.create_service(**service_request("app-one", conn["ConnectionArn"]))


def test_restricted_account_and_quota(ar: Any, sb: Any, make_service: Any) -> None:
    """E15."""
    sb.control.config(restricted_account=True)
    make_service("app-one")
    make_service("app-two")
    with pytest.raises(ar.exceptions.InvalidRequestException, match="is restricted"):
        make_service("app-three")
    sb.control.config(restricted_account=False, service_quota=2)
    with pytest.raises(ar.exceptions.ServiceQuotaExceededException):
        make_service("app-three")


def test_state_is_per_region(sb: Any, make_service: Any) -> None:
    from sandbox_helpers import client

    make_service()
    west = client(sb, "apprunner", region="us-west-2")
    assert west.list_services()["ServiceSummaryList"] == []
    assert west.list_connections()["ConnectionSummaryList"] == []
