"""The App Runner service: pure request builders and diff, the L5 state machine, verify and delete.

Success of a create or update is decided by its operation (ListOperations), not by the service status:
a rolled-back update leaves the service RUNNING but is reported as a WaitFailed naming the operation.
UpdateService carries only the members whose fields changed (``BLOCK_OF``); the service is the
runbook's only when tagged ``runbook:name`` (``runbook_lib.ownership``); the tags it manages are
reconciled with Tag/UntagResource and others' tags stay; a fresh instance role is retried (IAM
propagation).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Unpack

from runbook_lib import diagnose, image
from runbook_lib.aws import call, console_url, shared_listing
from runbook_lib.clients import Clients
from runbook_lib.errors import InvalidRequest, InvalidState, ResourceConflict, ResourceNotFound, WaitFailed
from runbook_lib.ownership import claim, diff_owned_tags, is_owned, tag_changes, tag_list, tag_map
from runbook_lib.params import Params
from runbook_lib.results import NOT_OWNED, Action, Change, Result
from runbook_lib.retry import retry
from runbook_lib.service_requests import (  # the pure parts, also importable from here (__all__)
    BLOCK_OF,
    ServiceInputs,
    asc_key,
    blocks_of,
    build_create_service_request,
    build_source_configuration,
    build_update_service_request,
    desired_fields,
    diff_service,
    observed_fields,
)
from runbook_lib.shared_reads import LOOKUP_MAX_AGE_S
from runbook_lib.waiters import (
    DEFAULT_TIMEOUT_S,
    Backoff,
    Waits,
    WaitSpec,
    operation_finished,
    service_deleted,
    service_settled,
    timing,
    wait_for,
)

__all__ = [
    "BLOCK_OF", "BUSY_RETRIES", "LOOK_UP", "MAX_ROUNDS", "RESOURCE", "ROLE_BACKOFF", "ROLE_NOT_ASSUMABLE",
    "ROLE_RETRY_S", "ServiceInputs", "asc_key", "blocks_of",
    "build_create_service_request", "build_source_configuration", "build_update_service_request",
    "claimed_tags", "delete_service", "describe_service", "desired_fields", "diff_service",
    "ensure_service", "find_service", "observed_fields", "observed_tags", "plan_service",
]  # fmt: skip

log = logging.getLogger(__name__)

RESOURCE = "service"
ROLE_NOT_ASSUMABLE = "Error in assuming"  # L9: IAM propagation shows only in the message text
ROLE_RETRY_S = 120.0
ROLE_BACKOFF = Backoff(initial_s=2.0, factor=1.5, cap_s=15.0)
MAX_ROUNDS = 8  # state-machine rounds before giving up on a service that keeps changing state
BUSY_RETRIES = 3  # InvalidState on update/delete: wait for the service to settle, then retry


# ------------------------------------------------------------------------------------------ reads


def _res(params: Params) -> str:
    return f"{RESOURCE} {params.name}"


def find_service(clients: Clients, params: Params, *, max_age: float = 0.0) -> dict[str, Any] | None:
    """The live service of that name (ListServices, then DescribeService), or None.

    Returns ``{name, arn, id, status, url, source_type, autoscaling_arn, fields}``; a DELETED service
    counts as absent. The URL comes from ListServices when DescribeService omits it. ``max_age``: in a
    batch, a ListServices pass of another environment at most that old may serve (lookups before a
    change: ``shared_reads.LOOKUP_MAX_AGE_S``); 0, the default, lists now.
    """
    name = f"service/{params.name}"
    summaries = shared_listing(
        clients, "ListServices", "ServiceSummaryList", resource=_res(params), concerns=name.__eq__,
        max_age=max_age,
    ).items  # fmt: skip
    summary = next(
        (s for s in summaries if s.get("ServiceName") == params.name and s.get("Status") != "DELETED"), None
    )
    if summary is None:
        return None
    return describe_service(clients, params, summary["ServiceArn"], url=summary.get("ServiceUrl") or "")


def describe_service(clients: Clients, params: Params, arn: str, *, url: str = "") -> dict[str, Any] | None:
    """The service of that ARN, like ``find_service`` (``url`` when DescribeService omits it), or None."""
    try:
        service = call(clients, "apprunner", "DescribeService", resource=_res(params), ServiceArn=arn)[
            "Service"
        ]
    except ResourceNotFound:
        return None
    status = str(service.get("Status", "")).upper()
    if status == "DELETED":
        return None
    source = service.get("SourceConfiguration") or {}
    return {
        "name": service["ServiceName"],
        "arn": service["ServiceArn"],
        "id": service["ServiceId"],
        "status": status,
        "url": service.get("ServiceUrl") or url,
        "source_type": "ImageRepository" if source.get("ImageRepository") else "CodeRepository",
        "autoscaling_arn": (service.get("AutoScalingConfigurationSummary") or {}).get(
            "AutoScalingConfigurationArn"
        ),
        "fields": observed_fields(service),
    }


def observed_tags(clients: Clients, params: Params, arn: str) -> dict[str, str]:
    """The resource's tags as a mapping."""
    found = call(clients, "apprunner", "ListTagsForResource", resource=_res(params), ResourceArn=arn)
    return tag_map(found.get("Tags"))


def claimed_tags(clients: Clients, params: Params, observed: dict[str, Any]) -> dict[str, str]:
    """The found service's tags, after checking it is the runbook's (NotOwned otherwise)."""
    tags = observed_tags(clients, params, observed["arn"])
    claim(params, RESOURCE, params.name, observed["arn"], tags)
    return tags


SOURCE_SWITCH = (
    "replace required: App Runner's UpdateService cannot switch a service between a code repository and "
    "an image ({was} -> {wanted}). Delete the service (`runbook down PARAMS`, which keeps the connection) "
    "and run `runbook up PARAMS` again; the new service gets a new URL."
)


def _source_switch(params: Params, observed: dict[str, Any]) -> str | None:
    """The replace-required message when the params ask for the other source type, else None."""
    wanted = image.source_type(params)
    if observed["source_type"] == wanted:
        return None
    return SOURCE_SWITCH.format(was=observed["source_type"], wanted=wanted)


def _refuse_source_type(params: Params, observed: dict[str, Any]) -> None:
    message = _source_switch(params, observed)
    if message:
        raise ResourceConflict(
            message,
            resource=_res(params),
            operation="UpdateService",
            code="SourceTypeChange",
            aws_message=f"the existing service uses {observed['source_type']}",
        )


def _result(
    params: Params,
    action: Action,
    observed: dict[str, Any] | None,
    changes: tuple[Change, ...] = (),
    **kw: Any,
) -> Result:
    observed = observed or {}
    extra = {k: observed[k] for k in ("id", "status", "url") if observed.get(k)}
    extra.update(kw.pop("extra", {}))
    return Result(
        RESOURCE,
        params.name,
        action,
        arn=observed.get("arn"),
        changes=changes,
        detail=kw.pop("detail", "") or (f"status {observed['status']}" if observed.get("status") else ""),
        console_url=console_url(params.region, "/services"),
        extra=extra,
    )


def plan_service(clients: Clients, params: Params, inputs: ServiceInputs) -> Result:
    """What ``ensure_service`` would do (read-only): CREATE, REPLACE, UPDATE or UNCHANGED."""
    observed = find_service(clients, params, max_age=LOOKUP_MAX_AGE_S)
    if observed is None:
        return _result(params, Action.CREATE, None)
    status = observed["status"]
    tags = claimed_tags(clients, params, observed)
    if status in ("CREATE_FAILED", "DELETE_FAILED"):
        return _result(params, Action.REPLACE, observed, detail=f"{status}: delete and re-create")
    switch = _source_switch(params, observed)
    if switch:
        kind = Change("source_type", observed["source_type"], image.source_type(params))
        return _result(params, Action.REPLACE, observed, (kind,), detail=switch)
    changes = diff_service(params, inputs, observed) + tag_changes(params, tags)
    if status == "PAUSED":
        changes = (Change("status", "PAUSED", "RUNNING"), *changes)
    detail = (
        "an operation is in progress; apply waits for it first" if status == "OPERATION_IN_PROGRESS" else ""
    )
    return _result(params, Action.UPDATE if changes else Action.UNCHANGED, observed, changes, detail=detail)


# ------------------------------------------------------------------------------------------ writes


@dataclass(frozen=True)
class _Waits:
    """The step's timeout and how it waits (``waiters.Waits``), for each wait and retry of the service."""

    timeout: float
    waits: Waits

    def run(self, spec: WaitSpec) -> str:
        return wait_for(spec, timeout=self.timeout, **self.waits)


def _operation(
    clients: Clients, params: Params, arn: str, op_id: str | None, op_type: str, w: _Waits
) -> None:
    try:
        w.run(operation_finished(clients, arn, op_id, operation_type=op_type, what=_res(params)))
    except WaitFailed as err:  # App Runner gives no reason: it is in the service's log groups
        raise diagnose.with_log_tail(clients, err, arn, op_id) from err


def _busy_call(clients: Clients, params: Params, operation: str, arn: str, w: _Waits, **kw: Any) -> dict:
    """Update/Delete/Resume: on InvalidState wait for the service to settle and retry (L9)."""

    def settle(err: Exception) -> None:
        log.info("%s on %s refused (busy); waiting for it to settle", operation, params.name)
        w.run(service_settled(clients, arn, what=_res(params)))

    return retry(
        lambda: call(clients, "apprunner", operation, resource=_res(params), ServiceArn=arn, **kw),
        retry_if=lambda err: isinstance(err, InvalidState), attempts=BUSY_RETRIES + 1, on_retry=settle,
    )  # fmt: skip


def _create(clients: Clients, params: Params, inputs: ServiceInputs, w: _Waits) -> dict[str, Any]:
    """CreateService, retried while a fresh instance role is not yet assumable (L9, ~2 min)."""
    request = build_create_service_request(params, inputs)

    def not_assumable(err: Exception) -> bool:
        return isinstance(err, InvalidRequest) and ROLE_NOT_ASSUMABLE in str(err.aws_message)

    def retrying(err: Exception) -> None:
        log.info("instance role of %s not assumable yet (IAM propagation); retrying", params.name)

    sleep, clock = timing(w.waits)
    return retry(
        lambda: call(clients, "apprunner", "CreateService", resource=_res(params), **request),
        retry_if=not_assumable, backoff=ROLE_BACKOFF, sleep=sleep, clock=clock, timeout=ROLE_RETRY_S,
        on_retry=retrying,
    )  # fmt: skip


def _delete_and_wait(clients: Clients, params: Params, observed: dict[str, Any], w: _Waits) -> None:
    """DeleteService and wait for DELETED or 404; a DELETE_FAILED service gets the delete re-issued."""
    arn = observed["arn"]
    spec = service_deleted(clients, arn, what=_res(params))
    deleted_or_failed = WaitSpec(spec.what, spec.fetch, spec.success | spec.failure, fields=spec.fields)
    for _ in range(BUSY_RETRIES + 1):
        try:
            _busy_call(clients, params, "DeleteService", arn, w)
        except ResourceNotFound:
            return
        last = w.run(deleted_or_failed)
        if last.upper() != "DELETE_FAILED":
            return
        log.info("service %s ended DELETE_FAILED; re-issuing the delete", params.name)
    failed = WaitFailed(spec.failure_hint, what=spec.what, last="DELETE_FAILED", service_arn=arn)
    raise diagnose.with_log_tail(clients, failed, arn)


def _reconcile_tags(
    clients: Clients, params: Params, arn: str, observed: dict[str, str]
) -> tuple[Change, ...]:
    """Set and remove the tags the runbook manages (``observed``: the tags as read); others stay."""
    to_set, to_remove = diff_owned_tags(params, observed)
    if to_set:
        call(
            clients, "apprunner", "TagResource", resource=_res(params), ResourceArn=arn, Tags=tag_list(to_set)
        )
    if to_remove:
        call(clients, "apprunner", "UntagResource", resource=_res(params), ResourceArn=arn, TagKeys=to_remove)
    if to_set or to_remove:
        return (Change("tags", sorted(to_remove) or None, to_set or None),)
    return ()


LOOK_UP = object()  # ensure_service(found=...) not given: look the service up


def ensure_service(
    clients: Clients, params: Params, inputs: ServiceInputs, *,
    found: dict[str, Any] | None | object = LOOK_UP, timeout: float = DEFAULT_TIMEOUT_S,
    **waits: Unpack[Waits],
) -> Result:  # fmt: skip
    """Converge the service (L5): create, wait, replace a CREATE_FAILED one, resume, update, or nothing.

    ``found``: what ``find_service`` just returned, when the caller already looked (saves the lookup).
    Returns CREATED / REPLACED / UPDATED / UNCHANGED; raises WaitFailed naming the operation when App
    Runner did not apply a change (including a rolled-back update of a RUNNING service).
    """
    w = _Waits(timeout, waits)
    replaced = False
    prior: tuple[Change, ...] = ()
    tags: dict[str, str] | None = None  # read (and ownership checked) once, before the first change
    for round_ in range(MAX_ROUNDS):
        observed = found if round_ == 0 and found is not LOOK_UP else find_service(clients, params)
        status = observed["status"] if observed else None
        if observed is not None and tags is None:
            tags = claimed_tags(clients, params, observed)
        if observed is None:
            made = _create(clients, params, inputs, w)
            arn = made["Service"]["ServiceArn"]
            _operation(clients, params, arn, made.get("OperationId"), "CREATE_SERVICE", w)
            url = made["Service"].get("ServiceUrl") or ""
            final = describe_service(clients, params, arn, url=url) or {"arn": arn}
            action = Action.REPLACED if replaced else Action.CREATED
            return _result(params, action, final, prior, extra={"operation_id": made.get("OperationId")})
        if status == "OPERATION_IN_PROGRESS":
            w.run(service_settled(clients, observed["arn"], what=_res(params)))
        elif status in ("CREATE_FAILED", "DELETE_FAILED"):
            log.info("service %s is %s: deleting it to re-create it", params.name, status)
            _delete_and_wait(clients, params, observed, w)
            replaced, tags = True, None
            prior = (Change("status", status, "RUNNING"),)
        elif status == "PAUSED":
            made = _busy_call(clients, params, "ResumeService", observed["arn"], w)
            if made.get("OperationId"):  # none when it was RUNNING again already (as Copilot expects)
                _operation(clients, params, observed["arn"], made["OperationId"], "RESUME_SERVICE", w)
            prior = (Change("status", "PAUSED", "RUNNING"),)
        else:
            return _update(clients, params, inputs, observed, prior, tags, w)
    raise InvalidState(
        f"The service kept changing state over {MAX_ROUNDS} rounds; re-run the `service` step later.",
        resource=_res(params),
        operation="ensure_service",
        code="NotSettled",
    )


def _update(
    clients: Clients, params: Params, inputs: ServiceInputs, observed: dict[str, Any],
    prior: tuple[Change, ...], tags: dict[str, str] | None, w: _Waits,
) -> Result:  # fmt: skip
    """A settled service: UpdateService with the blocks that changed (if any), then its tags."""
    _refuse_source_type(params, observed)
    changes = diff_service(params, inputs, observed)
    op_id = None
    if changes:
        request = build_update_service_request(
            params, inputs, observed["arn"], changed=[c.field for c in changes]
        )
        request.pop("ServiceArn")
        made = _busy_call(clients, params, "UpdateService", observed["arn"], w, **request)
        op_id = made.get("OperationId")
        _operation(clients, params, observed["arn"], op_id, "UPDATE_SERVICE", w)
    changes = prior + changes + _reconcile_tags(clients, params, observed["arn"], tags or {})
    final = (find_service(clients, params) or observed) if op_id else observed
    action = Action.UPDATED if changes else Action.UNCHANGED
    extra = {"operation_id": op_id} if op_id else {}
    return _result(params, action, final, changes, extra=extra)


def delete_service(
    clients: Clients, params: Params, *, timeout: float = DEFAULT_TIMEOUT_S, **waits: Unpack[Waits]
) -> Result:
    """Delete the service and wait for DELETED/404; ABSENT when there is none (L10), KEPT when it is not
    the runbook's."""
    observed = find_service(clients, params)
    if observed is None:
        return _result(params, Action.ABSENT, None)
    if not is_owned(params, observed_tags(clients, params, observed["arn"])):
        return _result(params, Action.KEPT, observed, detail=NOT_OWNED)
    w = _Waits(timeout, waits)
    _delete_and_wait(clients, params, observed, w)
    return _result(
        params,
        Action.DELETED,
        {**observed, "status": "DELETED"},
        extra={"vpc_connector_arn": observed["fields"].get("network.vpc_connector_arn")},
    )
