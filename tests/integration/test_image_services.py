"""Image services, tracing, pause / resume / deploy and failure logs against the local sandbox, judged by
its request log: what was created and owned, and that every re-run sends no mutating call."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from runbook_lib import Action, apply, make_clients, plan, teardown
from runbook_lib.errors import InvalidState, ResourceConflict, ResourceNotFound, WaitFailed
from runbook_lib.iam import ACCESS_PRINCIPAL, ECR_ACCESS_POLICY
from runbook_lib.operations import deploy_service, pause_service, resume_service
from runbook_lib.params import parse_params, read_document
from runbook_lib.sandbox.control import SimulatedTime as SimTime

PARAMS = Path(__file__).resolve().parents[2] / "params" / "sandbox.yaml"
ACCOUNT = "123456789012"
PRIVATE = f"{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com/demo-app:1.4"
PUBLIC = "public.ecr.aws/example/demo-app:latest"
CODE_ONLY = ("repository_url", "branch", "runtime", "build_command", "start_command")


def image_params(identifier: str, **extra: Any):
    """params/sandbox.yaml with an image source instead of the repository (and no connection)."""
    doc = copy.deepcopy(read_document(PARAMS))
    doc.pop("connection")
    doc.pop("network")  # faster; VPC egress is covered elsewhere
    source = {k: v for k, v in doc["source"].items() if k not in CODE_ONLY and k != "auto_deployments"}
    doc["source"] = {**source, "image": {"identifier": identifier}}
    doc.update(extra)
    return parse_params(doc, source="image params")


def code_params():
    doc = copy.deepcopy(read_document(PARAMS))
    doc.pop("network")
    return parse_params(doc, source="code params")


@pytest.fixture
def env(sandbox_env):
    params = image_params(PRIVATE)
    return make_clients(params), params, sandbox_env.control


def push_image(clients, repository: str = "demo-app", tag: str = "1.4") -> None:
    """What `docker push` leaves in ECR, in the sandbox's (moto's) ECR."""
    ecr = clients.client("ecr")
    ecr.create_repository(repositoryName=repository)
    manifest = {"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json"}
    ecr.put_image(repositoryName=repository, imageManifest=json.dumps(manifest), imageTag=tag)


def mutating(control) -> list[str]:
    return [r["operation"] for r in control.mutating_requests()]


def apply_all(clients, params, control) -> list:
    t = SimTime(control)
    return apply(clients, params, sleep=t.sleep, clock=t.clock)


def assert_rerun_sends_nothing(clients, params, control) -> None:
    control.clear_requests()
    assert not plan(clients, params).has_changes
    again = apply_all(clients, params, control)
    assert mutating(control) == [] and {r.action for r in again} == {Action.UNCHANGED}


def described(clients, arn: str) -> dict[str, Any]:
    return clients.client("apprunner").describe_service(ServiceArn=arn)["Service"]


def test_private_ecr_image_with_an_owned_access_role_then_down_removes_it(env) -> None:
    clients, params, control = env
    push_image(clients)
    results = apply_all(clients, params, control)
    by = {r.resource: r for r in results}
    assert by["connection"].extra["not_needed"] and by["connection"].detail.startswith("not needed")
    assert by["access_role"].action is Action.CREATED and by["service"].action is Action.CREATED
    assert "CreateConnection" not in mutating(control)
    role = clients.client("iam").get_role(RoleName="demo-go-app-access")["Role"]
    assert ACCESS_PRINCIPAL in json.dumps(role["AssumeRolePolicyDocument"])
    assert {"Key": "runbook:name", "Value": "demo-go-app"} in role["Tags"]
    policies = clients.client("iam").list_attached_role_policies(RoleName="demo-go-app-access")
    assert [p["PolicyArn"] for p in policies["AttachedPolicies"]] == [ECR_ACCESS_POLICY]
    service = described(clients, by["service"].arn)
    source = service["SourceConfiguration"]
    assert source["AuthenticationConfiguration"]["AccessRoleArn"] == role["Arn"]  # passed to App Runner
    assert source["ImageRepository"]["ImageIdentifier"] == PRIVATE and source["AutoDeploymentsEnabled"]
    assert_rerun_sends_nothing(clients, params, control)

    down = {r.resource: r.action for r in teardown(clients, params)}
    assert down["access_role"] is Action.DELETED and down["service"] is Action.DELETED
    assert not clients.client("iam").list_roles()["Roles"]


def test_ecr_public_image_needs_no_access_role_and_no_auto_deployments(env) -> None:
    clients, _, control = env
    params = image_params(PUBLIC)
    assert params.source.auto_deployments is False and params.access_role_name is None
    results = apply_all(clients, params, control)
    assert "access_role" not in {r.resource for r in results}
    source = described(clients, results[-1].arn)["SourceConfiguration"]
    assert source["ImageRepository"]["ImageRepositoryType"] == "ECR_PUBLIC"
    assert "AuthenticationConfiguration" not in source or not source["AuthenticationConfiguration"]
    assert_rerun_sends_nothing(clients, params, control)


def test_tracing_on_then_off_then_down_removes_the_configuration(env) -> None:
    clients, _, control = env
    traced = image_params(PUBLIC, observability={"tracing": "AWSXRAY"})
    results = apply_all(clients, traced, control)
    obs = next(r for r in results if r.resource == "observability")
    assert obs.action is Action.CREATED
    member = described(clients, results[-1].arn)["ObservabilityConfiguration"]
    assert member == {"ObservabilityEnabled": True, "ObservabilityConfigurationArn": obs.arn}
    api = clients.client("apprunner")
    assert api.list_tags_for_resource(ResourceArn=obs.arn)["Tags"]  # owned
    assert_rerun_sends_nothing(clients, traced, control)

    untraced = image_params(PUBLIC)
    control.clear_requests()
    shown = plan(clients, untraced)
    assert [s.changed_fields for s in shown.steps if s.resource == "service"] == [["observability"]]
    apply_all(clients, untraced, control)
    assert mutating(control) == ["UpdateService", "DeleteObservabilityConfiguration"]
    service = described(clients, results[-1].arn)
    assert service["ObservabilityConfiguration"] == {"ObservabilityEnabled": False}
    assert_rerun_sends_nothing(clients, untraced, control)

    apply_all(clients, traced, control)  # on again, then down deletes the configuration
    down = {r.resource: r.action for r in teardown(clients, traced)}
    assert down["observability"] is Action.DELETED
    assert api.list_observability_configurations()["ObservabilityConfigurationSummaryList"] == []


def test_pause_resume_deploy_each_rerun_sends_nothing(env) -> None:
    clients, _, control = env
    params = image_params(PUBLIC)
    apply_all(clients, params, control)
    t = SimTime(control)
    waits = {"sleep": t.sleep, "clock": t.clock}
    for command, sent, status in (
        (pause_service, "PauseService", "PAUSED"),
        (resume_service, "ResumeService", "RUNNING"),
    ):
        control.clear_requests()
        first = command(clients, params, **waits)
        assert (first.action, first.extra["status"], mutating(control)) == (Action.UPDATED, status, [sent])
        control.clear_requests()
        assert command(clients, params, **waits).action is Action.UNCHANGED and mutating(control) == []
    control.clear_requests()
    deployed = deploy_service(clients, params, **waits)
    assert mutating(control) == ["StartDeployment"] and deployed.extra["status"] == "RUNNING"
    assert deployed.extra["operation_id"] in deployed.detail
    assert_rerun_sends_nothing(clients, params, control)  # `up` after the commands: nothing to do


def test_switching_between_code_and_image_is_planned_as_a_replace(env) -> None:
    clients, _, control = env
    code = code_params()
    apply(clients, code, only="connection", wait_handshake=False)
    control.handshake(code.connection.name, "AVAILABLE")
    apply_all(clients, code, control)
    image = image_params(PUBLIC)
    control.clear_requests()
    step = next(s for s in plan(clients, image).steps if s.resource == "service")
    assert step.action is Action.REPLACE and step.detail.startswith("replace required")
    assert step.changes[0].field == "source_type"
    with pytest.raises(ResourceConflict, match="replace required"):
        apply_all(clients, image, control)
    assert mutating(control) == []  # refused before any change


def test_failed_create_shows_the_log_tail_with_the_group_name(env) -> None:
    clients, params, control = env  # private image that was never pushed
    with pytest.raises(WaitFailed) as info:
        apply_all(clients, params, control)
    text = str(info.value)
    service = clients.client("apprunner").list_services()["ServiceSummaryList"][0]
    group = f"/aws/apprunner/demo-go-app/{service['ServiceId']}/service"
    assert service["Status"] == "CREATE_FAILED"
    assert f"Log tail of {group}:" in text and "Failed to pull your application image" in text
    assert info.value.to_dict()["log_tail"][0]["group"] == group


def test_commands_refuse_what_app_runner_would_refuse_before_any_call(env) -> None:
    clients, _, control = env
    params = image_params(PUBLIC)
    t = SimTime(control)
    with pytest.raises(ResourceNotFound, match="runbook up"):
        pause_service(clients, params, sleep=t.sleep, clock=t.clock)
    apply_all(clients, params, control)
    pause_service(clients, params, sleep=t.sleep, clock=t.clock)
    control.clear_requests()
    with pytest.raises(InvalidState, match="resume"):
        deploy_service(clients, params, sleep=t.sleep, clock=t.clock)
    assert mutating(control) == []
