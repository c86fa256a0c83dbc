"""What App Runner writes to CloudWatch Logs while it works, written by the emulator into moto's ``logs``.

Log groups as App Runner names them (AWS Copilot, ``internal/pkg/aws/apprunner/apprunner.go``:
``/aws/apprunner/%s/%s/service`` and ``/aws/apprunner/%s/%s/application``, service name and id); in the
service group the stream ``events`` carries one line per step of every operation and
``deployment/<operation id>`` the build and deployment of that operation (the developer guide's
"Viewing App Runner logs streamed to CloudWatch Logs"); the application group carries the instances'
output (``instance/<id>``). The messages are modelled on App Runner's ``[AppRunner] …`` events, not copied
from it. Every failure the emulator makes (an injected fault, a missing private ECR image) writes its
reason here, as App Runner does: its API answers only a status.

Also the one cross-check App Runner does at deployment time: a private ECR image must exist
(moto's ``ecr``), else the create fails and the reason is in the deployment stream.
"""

from __future__ import annotations

import re
import secrets
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from runbook_lib.sandbox.apprunner.models import AppRunnerBackend, Operation, Service

__all__ = ["deployment_lines", "finished", "image_problem", "log_groups", "started"]

PRIVATE_IMAGE = re.compile(
    r"^(\d{12})\.dkr\.ecr\.([a-z0-9-]+)\.amazonaws\.com[^/]*/([^:@]+)(?::([^@]+)|@(.+))?$"
)
VERB = {
    "CREATE_SERVICE": "Service creation",
    "UPDATE_SERVICE": "Service update",
    "START_DEPLOYMENT": "Deployment",
    "PAUSE_SERVICE": "Pausing the service",
    "RESUME_SERVICE": "Resuming the service",
    "DELETE_SERVICE": "Service deletion",
}
DEPLOYS = {"CREATE_SERVICE", "UPDATE_SERVICE", "START_DEPLOYMENT", "RESUME_SERVICE"}


def log_groups(svc: Service) -> tuple[str, str]:
    """The service's two log groups: ``…/service`` (events, deployments) and ``…/application``."""
    base = f"/aws/apprunner/{svc.name}/{svc.id}"
    return f"{base}/service", f"{base}/application"


def image_problem(backend: AppRunnerBackend, config: dict[str, Any]) -> str | None:
    """Why App Runner could not pull the service's private ECR image, or None (code, public, found)."""
    image = (config.get("SourceConfiguration") or {}).get("ImageRepository") or {}
    if image.get("ImageRepositoryType") != "ECR":
        return None
    identifier = image.get("ImageIdentifier", "")
    match = PRIVATE_IMAGE.match(identifier)
    if match is None:
        return f"Failed to pull your application image. The image identifier is not valid: {identifier}"
    account, region, repo, tag, digest = match.groups()
    from moto.ecr.models import ecr_backends

    image_id = {"imageDigest": digest} if digest else {"imageTag": tag or "latest"}
    try:
        list(ecr_backends[account][region].describe_images(repo, account, [image_id]))
    except Exception:  # moto raises RepositoryNotFound / ImageNotFound
        return (
            f"Failed to pull your application image. Be sure you configure your service with a valid "
            f"access role to your ECR repository, and that the image exists: {identifier}"
        )
    return None


def _backend_logs(backend: AppRunnerBackend) -> Any:
    from moto.logs.models import logs_backends

    return logs_backends[backend.account_id][backend.region]


def _put(backend: AppRunnerBackend, group: str, stream: str, lines: list[str]) -> None:
    logs = _backend_logs(backend)
    if group not in logs.groups:
        logs.create_log_group(group, {})
    if stream not in logs.groups[group].streams:
        logs.create_log_stream(group, stream)
    now = int(backend.now() * 1000)
    logs.put_log_events(
        group, stream, [{"timestamp": now + i, "message": line} for i, line in enumerate(lines)]
    )


def _safe_put(backend: AppRunnerBackend, group: str, stream: str, lines: list[str]) -> None:
    """Logs are a side channel: a moto hiccup must never break the App Runner answer."""
    try:
        _put(backend, group, stream, lines)
    except Exception:  # noqa: BLE001 - the sandbox logs and goes on
        import logging

        logging.getLogger(__name__).exception("could not write App Runner logs for %s", group)


def _source(svc: Service) -> str:
    source = svc.config.get("SourceConfiguration") or {}
    if "ImageRepository" in source:
        image = source["ImageRepository"]
        return f"image {image.get('ImageIdentifier')} from {image.get('ImageRepositoryType')}"
    repo = source.get("CodeRepository") or {}
    branch = (repo.get("SourceCodeVersion") or {}).get("Value")
    return f"source code {repo.get('RepositoryUrl')} (branch {branch})"


def deployment_lines(svc: Service, op: Operation) -> list[str]:
    """The build and deployment steps App Runner logs for an operation that deploys."""
    source = svc.config.get("SourceConfiguration") or {}
    port = ((source.get("ImageRepository") or {}).get("ImageConfiguration") or {}).get("Port") or (
        (
            ((source.get("CodeRepository") or {}).get("CodeConfiguration") or {}).get(
                "CodeConfigurationValues"
            )
            or {}
        ).get("Port", "8080")
    )
    pull = (
        [f"[AppRunner] Pulling {_source(svc)}."]
        if "ImageRepository" in source
        else [f"[AppRunner] Building {_source(svc)}.", "[Build] Step 1/4 : FROM the managed runtime image"]
    )
    return [
        f"[AppRunner] Deployment with ID : {op.id} started. Triggering event : {op.type}",
        *pull,
        f"[AppRunner] Provisioning instances and deploying the application; health check on port '{port}'.",
    ]


def started(backend: AppRunnerBackend, svc: Service, op: Operation) -> None:
    """An operation began: the event, and for deploying operations the first deployment lines."""
    group, _ = log_groups(svc)
    _safe_put(backend, group, "events", [f"[AppRunner] {VERB.get(op.type, op.type)} started."])
    if op.type in DEPLOYS:
        _safe_put(backend, group, f"deployment/{op.id}", deployment_lines(svc, op))


def finished(backend: AppRunnerBackend, svc: Service, op: Operation, reason: str | None) -> None:
    """An operation ended: success, or failure with ``reason`` (in the events and deployment streams)."""
    group, app_group = log_groups(svc)
    verb = VERB.get(op.type, op.type)
    if op.status == "SUCCEEDED":
        _safe_put(backend, group, "events", [f"[AppRunner] {verb} completed successfully."])
        if op.type in DEPLOYS:
            _safe_put(
                backend,
                group,
                f"deployment/{op.id}",
                [f"[AppRunner] Deployment with ID : {op.id} succeeded."],
            )
            _safe_put(
                backend, app_group, f"instance/{secrets.token_hex(16)}", ["Listening on the configured port"]
            )
        return
    why = reason or "unknown (no reason recorded by the sandbox)"
    lines = [f"[AppRunner] Deployment with ID : {op.id} failed. Failure reason : {why}"]
    if op.status.startswith("ROLLBACK"):
        lines.append(f"[AppRunner] {verb} failed; the service was rolled back ({op.status}).")
    else:
        lines.append(f"[AppRunner] {verb} failed. For details, see the service logs.")
    _safe_put(backend, group, f"deployment/{op.id}", lines)
    _safe_put(backend, group, "events", lines[-1:])
