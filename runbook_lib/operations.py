"""Commands on a running service: pause, resume and a manual deployment (``runbook pause|resume|deploy``).

Each finds the service by name, checks it is the runbook's (``ownership.claim``), waits for an operation
in progress to end, then acts only when needed and waits for its operation (ListOperations):

- ``pause_service``: RUNNING → PauseService → PAUSED. Already PAUSED: UNCHANGED, no call.
- ``resume_service``: PAUSED → ResumeService → RUNNING. Already RUNNING: UNCHANGED, no call.
- ``deploy_service``: StartDeployment on a RUNNING service (App Runner deploys the image tag or the branch
  head again; the way to redeploy when ``auto_deployments`` is off). A deployment already in progress is
  waited for instead of starting another. PAUSED refuses: resume first (App Runner accepts
  StartDeployment only on RUNNING services; the developer guide's "Pausing and resuming").

PauseService on PAUSED and ResumeService on RUNNING answer with no OperationId (AWS Copilot,
``internal/pkg/aws/apprunner/apprunner.go``, ``PauseService`` / ``ResumeService``), so a race with another
caller is success too. A failed operation raises WaitFailed with the log tail (``diagnose``).
"""

from __future__ import annotations

from typing import Any, Unpack

from runbook_lib.aws import call
from runbook_lib.clients import Clients
from runbook_lib.errors import InvalidState, ParameterError, Problem, ResourceNotFound
from runbook_lib.params import Params
from runbook_lib.results import Action, Change, Result
from runbook_lib.service import _busy_call, _operation, _res, _result, _Waits, claimed_tags, find_service
from runbook_lib.waiters import (
    DEFAULT_TIMEOUT_S,
    OPERATION_PENDING,
    Waits,
    service_settled,
)

__all__ = ["COMMANDS", "deploy_service", "pause_service", "resume_service", "run_command"]


def _settled(clients: Clients, params: Params, w: _Waits) -> dict[str, Any]:
    """The owned service, after any operation in progress has ended; ResourceNotFound if there is none."""
    observed = find_service(clients, params)
    if observed is None:
        raise ResourceNotFound(
            "Run `runbook up PARAMS` first.", resource=_res(params), operation="ListServices",
            code="NotFound", aws_message="no service of that name",
        )  # fmt: skip
    claimed_tags(clients, params, observed)
    if observed["status"] == "OPERATION_IN_PROGRESS":
        w.run(service_settled(clients, observed["arn"], what=_res(params)))
        observed = find_service(clients, params) or observed
    return observed


_SWITCHES = {"PAUSE": ("RUNNING", "PAUSED"), "RESUME": ("PAUSED", "RUNNING")}  # verb: (from, to)


def _switch(clients: Clients, params: Params, verb: str, timeout: float, waits: Waits) -> Result:
    """PauseService / ResumeService from one status to the other; UNCHANGED when already there."""
    w, (src, dst) = _Waits(timeout, waits), _SWITCHES[verb]
    api, op_type = f"{verb.title()}Service", f"{verb}_SERVICE"
    observed = _settled(clients, params, w)
    if observed["status"] == dst:
        return _result(params, Action.UNCHANGED, observed, detail=f"already {dst}")
    if observed["status"] != src:
        raise InvalidState(
            f"Only a {src} service can be {dst.lower()}; fix it with `runbook up PARAMS` first.",
            resource=_res(params), operation=api, code="WrongStatus",
            aws_message=f"status {observed['status']}",
        )  # fmt: skip
    made = _busy_call(clients, params, api, observed["arn"], w)
    if made.get("OperationId"):
        _operation(clients, params, observed["arn"], made["OperationId"], op_type, w)
    final = find_service(clients, params) or observed
    extra = {"operation_id": made.get("OperationId")}
    return _result(params, Action.UPDATED, final, (Change("status", src, dst),), extra=extra)


def pause_service(
    clients: Clients, params: Params, *, timeout: float = DEFAULT_TIMEOUT_S, **waits: Unpack[Waits]
) -> Result:
    """Pause the service (UPDATED), or UNCHANGED when it is PAUSED already."""
    return _switch(clients, params, "PAUSE", timeout, waits)


def resume_service(
    clients: Clients, params: Params, *, timeout: float = DEFAULT_TIMEOUT_S, **waits: Unpack[Waits]
) -> Result:
    """Resume the service (UPDATED), or UNCHANGED when it is RUNNING already."""
    return _switch(clients, params, "RESUME", timeout, waits)


def _deployment_in_progress(clients: Clients, params: Params, arn: str) -> str | None:
    ops = call(clients, "apprunner", "ListOperations", resource=_res(params), ServiceArn=arn, MaxResults=5)
    latest = (ops.get("OperationSummaryList") or [None])[0]
    if latest and latest.get("Type") == "START_DEPLOYMENT" and latest.get("Status") in OPERATION_PENDING:
        return latest["Id"]
    return None


def deploy_service(
    clients: Clients, params: Params, *, timeout: float = DEFAULT_TIMEOUT_S, **waits: Unpack[Waits]
) -> Result:
    """StartDeployment and wait for it (UPDATED, ``extra["operation_id"]``); one in progress is awaited."""
    w = _Waits(timeout, waits)
    observed = find_service(clients, params)
    running = _deployment_in_progress(clients, params, observed["arn"]) if observed else None
    if running is None:
        observed = _settled(clients, params, w)
        if observed["status"] != "RUNNING":
            raise InvalidState(
                "App Runner deploys only a RUNNING service: `runbook resume PARAMS` (or `up`) first.",
                resource=_res(params), operation="StartDeployment", code="WrongStatus",
                aws_message=f"status {observed['status']}",
            )  # fmt: skip
        running = call(
            clients, "apprunner", "StartDeployment", resource=_res(params), ServiceArn=observed["arn"]
        )["OperationId"]
    else:
        claimed_tags(clients, params, observed)
    _operation(clients, params, observed["arn"], running, "START_DEPLOYMENT", w)
    final = find_service(clients, params) or observed
    detail = f"deployment {running} succeeded"
    return _result(params, Action.UPDATED, final, (Change("deployment", None, running),), detail=detail,
                   extra={"operation_id": running})  # fmt: skip


COMMANDS = {"pause": pause_service, "resume": resume_service, "deploy": deploy_service}


def run_command(
    clients: Clients,
    params: Params,
    operation: str,
    **waits: Unpack[Waits],
) -> list[Result]:
    """One of COMMANDS by name (the operations notebook's parameter), with the params' service timeout."""
    if operation not in COMMANDS:
        raise ParameterError(
            "operation", [Problem("operation", f"must be one of {', '.join(COMMANDS)}", operation)]
        )
    timeout = float(params.timeouts.service_s)
    return [COMMANDS[operation](clients, params, timeout=timeout, **waits)]
