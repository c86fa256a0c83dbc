"""What the emulator writes to the sandbox's CloudWatch Logs for each operation (with the reason of each
failure), the private ECR image check, and observability configurations in use."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sandbox_helpers import client

TRUST_BUILD = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "build.apprunner.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    ],
}
IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/demo:1"


def lines(sb: Any, svc: dict[str, Any], group: str = "service") -> dict[str, list[str]]:
    logs = client(sb, "logs")
    name = f"/aws/apprunner/{svc['ServiceName']}/{svc['ServiceId']}/{group}"
    streams = [s["logStreamName"] for s in logs.describe_log_streams(logGroupName=name)["logStreams"]]
    return {
        s: [e["message"] for e in logs.get_log_events(logGroupName=name, logStreamName=s)["events"]]
        for s in streams
    }


def image_service(ar: Any, iam: Any, identifier: str = IMAGE) -> dict[str, Any]:
    role = iam.create_role(RoleName="demo-access", AssumeRolePolicyDocument=json.dumps(TRUST_BUILD))["Role"]
    source = {
        "ImageRepository": {"ImageIdentifier": identifier, "ImageRepositoryType": "ECR"},
        "AuthenticationConfiguration": {"AccessRoleArn": role["Arn"]},
    }
    return ar.create_service(ServiceName="demo-image", SourceConfiguration=source)["Service"]


def test_every_operation_is_logged_in_the_service_log_group(ar: Any, sb: Any, make_service: Any) -> None:
    svc = make_service()["Service"]
    ar.pause_service(ServiceArn=svc["ServiceArn"])
    ar.resume_service(ServiceArn=svc["ServiceArn"])
    op = ar.start_deployment(ServiceArn=svc["ServiceArn"])["OperationId"]
    written = lines(sb, svc)
    events = written["events"]
    assert events[0] == "[AppRunner] Service creation started." and "completed successfully" in events[1]
    assert any("Pausing" in e for e in events) and any("Resuming" in e for e in events)
    assert any(f"Deployment with ID : {op} succeeded" in e for e in written[f"deployment/{op}"])
    assert any("Building source code https://github.com/example/app" in e for e in sum(written.values(), []))
    assert lines(sb, svc, "application")  # the instances' output


def test_injected_failures_log_their_reason(ar: Any, sb: Any, make_service: Any) -> None:
    sb.control.faults(fail_next_create=True)
    svc = make_service()["Service"]
    (op,) = ar.list_operations(ServiceArn=svc["ServiceArn"])["OperationSummaryList"]
    failed = lines(sb, svc)[f"deployment/{op['Id']}"]
    assert any("failed. Failure reason" in e and "fail_next_create" in e for e in failed)


def test_private_image_must_exist_in_the_sandbox_ecr(ar: Any, sb: Any, iam: Any) -> None:
    svc = image_service(ar, iam)
    assert ar.describe_service(ServiceArn=svc["ServiceArn"])["Service"]["Status"] == "CREATE_FAILED"
    written = sum(lines(sb, svc).values(), [])
    assert any("Failed to pull your application image" in e and IMAGE in e for e in written)


def test_private_image_that_exists_runs(ar: Any, sb: Any, iam: Any) -> None:
    ecr = client(sb, "ecr")
    ecr.create_repository(repositoryName="demo")
    manifest = {"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json"}
    ecr.put_image(repositoryName="demo", imageManifest=json.dumps(manifest), imageTag="1")
    svc = image_service(ar, iam)
    assert ar.describe_service(ServiceArn=svc["ServiceArn"])["Service"]["Status"] == "RUNNING"
    assert any("Pulling image" in e for e in sum(lines(sb, svc).values(), []))


def test_observability_configuration_in_use_cannot_be_deleted(ar: Any, make_service: Any) -> None:
    obs = ar.create_observability_configuration(
        ObservabilityConfigurationName="tracing", TraceConfiguration={"Vendor": "AWSXRAY"}
    )["ObservabilityConfiguration"]
    member = {
        "ObservabilityEnabled": True,
        "ObservabilityConfigurationArn": obs["ObservabilityConfigurationArn"],
    }
    svc = make_service(ObservabilityConfiguration=member)["Service"]
    with pytest.raises(ar.exceptions.InvalidRequestException, match="used by one or more services"):
        ar.delete_observability_configuration(
            ObservabilityConfigurationArn=obs["ObservabilityConfigurationArn"]
        )
    ar.update_service(
        ServiceArn=svc["ServiceArn"], ObservabilityConfiguration={"ObservabilityEnabled": False}
    )
    gone = ar.delete_observability_configuration(
        ObservabilityConfigurationArn=obs["ObservabilityConfigurationArn"]
    )
    assert gone["ObservabilityConfiguration"]["Status"] == "INACTIVE"


def test_a_deployment_of_a_deleted_image_rolls_back_with_the_reason(ar: Any, sb: Any, iam: Any) -> None:
    ecr = client(sb, "ecr")
    ecr.create_repository(repositoryName="demo")
    manifest = {"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json"}
    ecr.put_image(repositoryName="demo", imageManifest=json.dumps(manifest), imageTag="1")
    svc = image_service(ar, iam)
    ecr.batch_delete_image(repositoryName="demo", imageIds=[{"imageTag": "1"}])
    op = ar.start_deployment(ServiceArn=svc["ServiceArn"])["OperationId"]
    (latest, *_) = ar.list_operations(ServiceArn=svc["ServiceArn"])["OperationSummaryList"]
    assert (latest["Id"], latest["Status"]) == (op, "ROLLBACK_SUCCEEDED")
    assert ar.describe_service(ServiceArn=svc["ServiceArn"])["Service"]["Status"] == "RUNNING"
    assert any("Failed to pull" in e for e in lines(sb, svc)[f"deployment/{op}"])
