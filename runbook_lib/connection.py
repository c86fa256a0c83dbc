"""The source connection (GitHub / Bitbucket): reused by name, created when absent, handshake awaited.

There is no DescribeConnection: a connection is found with ListConnections(ConnectionName=…). It is born
PENDING_HANDSHAKE and only a person can finish it in the App Runner console (docs/apprunner-behavior.md 2.3).
Connections are immutable; a reused connection (maybe shared with other services) is left as it is.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Unpack

from runbook_lib.aws import call, console_url, polled_since, shared_listing
from runbook_lib.clients import Clients
from runbook_lib.errors import ResourceConflict, ResourceNotFound
from runbook_lib.ownership import is_owned, tag_list, tag_map
from runbook_lib.params import Params
from runbook_lib.results import NOT_OWNED, Action, Change, Result
from runbook_lib.shared_reads import LOOKUP_MAX_AGE_S
from runbook_lib.waiters import (
    CONNECTION_GONE_TIMEOUT_S,
    GONE,
    LIVE_CONNECTION,
    READABLE_TIMEOUT_S,
    Progress,
    Waits,
    connection_available,
    readable,
    unlisted,
    wait_for,
)

__all__ = [
    "RESOURCE", "build_create_connection_request", "connections_console", "delete_connection",
    "diff_connection", "ensure_connection", "find_connection", "plan_connection", "wait_for_handshake",
]  # fmt: skip


log = logging.getLogger(__name__)

RESOURCE = "connection"


def connections_console(region: str) -> str:
    """The App Runner console page where a person completes a handshake."""
    return console_url(region, "/connections")


def build_create_connection_request(params: Params) -> dict[str, Any]:
    """CreateConnection payload (pure)."""
    return {
        "ConnectionName": params.connection.name,
        "ProviderType": params.connection.provider,
        "Tags": tag_list(params.owned_tags),
    }


def find_connection(
    clients: Clients, params: Params, *, max_age: float = 0.0, since: float = 0.0
) -> dict[str, Any] | None:
    """The connection named in the params: ``{name, arn, provider, status}``, or None (DELETED = absent).

    ListConnections answering ResourceNotFoundException (outside its model) also means absent, as the
    Terraform provider reads it (``internal/service/apprunner/connection.go``). ``max_age``, ``since``:
    in a batch, an unfiltered ListConnections pass of another environment that old (and sent after
    ``since``) may serve (``aws.shared_listing``); 0, the default, asks for this name now."""
    name = params.connection.name
    try:
        items = shared_listing(
            clients, "ListConnections", "ConnectionSummaryList", resource=f"{RESOURCE} {name}",
            concerns=f"connection/{name}".__eq__, max_age=max_age, since=since,
            narrowed={"ConnectionName": name},
        ).items  # fmt: skip
    except ResourceNotFound:
        return None
    for item in items:
        if item.get("ConnectionName") == name and str(item.get("Status", "")).upper() != "DELETED":
            return {
                "name": name,
                "arn": item["ConnectionArn"],
                "provider": item.get("ProviderType"),
                "status": str(item.get("Status", "")).upper(),
            }
    return None


def diff_connection(params: Params, observed: dict[str, Any]) -> tuple[Change, ...]:
    """Connections are immutable: the only possible difference is the provider."""
    if observed.get("provider") and observed["provider"] != params.connection.provider:
        return (Change("connection.provider", observed["provider"], params.connection.provider),)
    return ()


NOT_NEEDED = "not needed: an image service uses no source connection"


def not_needed(params: Params) -> Result | None:
    """The connection step's result for an image service (no connection section), else None."""
    if params.connection is not None:
        return None
    return Result(RESOURCE, "-", Action.UNCHANGED, detail=NOT_NEEDED, extra={"not_needed": True})


def _result(params: Params, action: Action, observed: dict[str, Any] | None, **kw: Any) -> Result:
    status = (observed or {}).get("status")
    detail = kw.pop("detail", None) or (f"status {status}" if status else "")
    if status == "PENDING_HANDSHAKE":
        detail += "; a person must complete the handshake in the App Runner console"
    return Result(
        RESOURCE,
        params.connection.name,
        action,
        arn=(observed or {}).get("arn"),
        detail=detail,
        console_url=connections_console(params.region),
        extra={"status": status} if status else {},
        **kw,
    )


def _refuse_provider_change(params: Params, observed: dict[str, Any], changes: tuple[Change, ...]) -> None:
    if changes:
        raise ResourceConflict(
            "Connections cannot be changed. Use another connection.name, or delete this connection "
            "(if no service uses it) and re-run the `connection` step.",
            resource=f"{RESOURCE} {params.connection.name}",
            operation="CreateConnection",
            code="ProviderMismatch",
            aws_message=f"the existing connection is a {observed['provider']} connection",
        )


def plan_connection(clients: Clients, params: Params) -> Result:
    """CREATE when absent, else UNCHANGED (read-only)."""
    observed = find_connection(clients, params, max_age=LOOKUP_MAX_AGE_S)
    if observed is None:
        return _result(params, Action.CREATE, None, detail="will be created PENDING_HANDSHAKE")
    changes = diff_connection(params, observed)
    _refuse_provider_change(params, observed, changes)
    adopt = _adoption(clients, params, observed)
    return _result(params, Action.UPDATE if adopt else Action.UNCHANGED, observed, changes=adopt)


def _adoption(clients: Clients, params: Params, observed: dict[str, Any]) -> tuple[Change, ...]:
    """The tag change adopting the connection makes (``adopt: [connection]`` and not owned yet)."""
    if RESOURCE not in params.adopt:
        return ()
    tags = _tags(clients, params, observed["arn"])
    return () if is_owned(params, tags) else (Change("tags", tags or None, dict(params.owned_tags)),)


def _listed_status(clients: Clients, params: Params) -> Callable[[], str]:
    """A wait's fetch: the status as listed (GONE when absent). In a batch, a shared pass sent after the
    previous poll (after this process's create or delete, for the first) answers a poll as well as a
    request of its own would (``aws.shared_listing``)."""
    def status(since: float) -> str:
        found = find_connection(clients, params, max_age=LOOKUP_MAX_AGE_S, since=since)
        return found["status"] if found else GONE

    return polled_since(clients, status)


def ensure_connection(clients: Clients, params: Params, **waits: Unpack[Waits]) -> Result:
    """Reuse the connection of that name, or create it (PENDING_HANDSHAKE) and wait until it is listed
    (reads may lag the create). Never waits for the handshake."""
    observed = find_connection(clients, params, max_age=LOOKUP_MAX_AGE_S)
    if observed is not None:
        _refuse_provider_change(params, observed, diff_connection(params, observed))
        adopt = _adoption(clients, params, observed)
        if adopt:
            call(
                clients, "apprunner", "TagResource", resource=f"{RESOURCE} {params.connection.name}",
                ResourceArn=observed["arn"], Tags=tag_list(params.owned_tags),
            )  # fmt: skip
            return _result(params, Action.UPDATED, observed, changes=adopt)
        return _result(params, Action.UNCHANGED, observed)
    made = call(
        clients, "apprunner", "CreateConnection", resource=f"{RESOURCE} {params.connection.name}",
        **build_create_connection_request(params),
    )["Connection"]  # fmt: skip
    log.info("created connection %s (%s)", params.connection.name, made.get("Status"))
    fetch = _listed_status(clients, params)
    spec = readable(f"{RESOURCE} {params.connection.name}", fetch, ready=LIVE_CONNECTION)
    listed = wait_for(spec, timeout=READABLE_TIMEOUT_S, **waits)
    observed = {
        "name": params.connection.name,
        "arn": made["ConnectionArn"],
        "provider": made.get("ProviderType"),
        # as listed after the create: a handshake already completed needs no wait (and no more reads)
        "status": str(listed or made.get("Status", "")).upper(),
    }
    return _result(params, Action.CREATED, observed)


def wait_for_handshake(
    clients: Clients,
    params: Params,
    *,
    timeout: float | None = None,
    on_status: Progress | None = None,
    **waits: Unpack[Waits],
) -> Result:
    """Poll until a person completed the handshake (AVAILABLE).

    ``timeout`` defaults to ``params.connection.handshake_timeout_s``. WaitTimeout (with the console URL
    and "re-run") when it stays PENDING_HANDSHAKE; WaitFailed on ERROR; ResourceNotFound when absent.
    """
    observed = find_connection(clients, params, max_age=LOOKUP_MAX_AGE_S)
    if observed is None:
        raise ResourceNotFound(
            "Run the `connection` step first (it creates the connection).",
            resource=f"{RESOURCE} {params.connection.name}",
            operation="ListConnections",
            code="NotFound",
            aws_message="no connection of that name",
        )
    console = connections_console(params.region)
    fetch = _listed_status(clients, params)
    spec = connection_available(params.connection.name, fetch, console=console)
    limit = params.connection.handshake_timeout_s if timeout is None else timeout
    status = wait_for(spec, timeout=limit, **{**waits, "on_progress": on_status})
    return _result(params, Action.UNCHANGED, {**observed, "status": status})


def _tags(clients: Clients, params: Params, arn: str) -> dict[str, str]:
    found = call(
        clients, "apprunner", "ListTagsForResource", resource=f"{RESOURCE} {params.connection.name}",
        ResourceArn=arn,
    )  # fmt: skip
    return tag_map(found.get("Tags"))


def delete_connection(clients: Clients, params: Params, **waits: Unpack[Waits]) -> Result:
    """Delete the connection (DELETED) and wait until it is no longer listed (Terraform waits up to
    5 min), or report it ABSENT; KEPT when it is not the runbook's (it is shared per account: reused by
    name, deleted only when owned). Fails while a service uses it."""
    observed = find_connection(clients, params, max_age=LOOKUP_MAX_AGE_S)
    if observed is None:
        return _result(params, Action.ABSENT, None)
    if not is_owned(params, _tags(clients, params, observed["arn"])):
        return _result(params, Action.KEPT, observed, detail=NOT_OWNED)
    try:
        call(
            clients, "apprunner", "DeleteConnection", resource=f"{RESOURCE} {params.connection.name}",
            ConnectionArn=observed["arn"],
        )  # fmt: skip
    except ResourceNotFound:
        return _result(params, Action.ABSENT, None)
    fetch = _listed_status(clients, params)
    spec = unlisted(f"{RESOURCE} {params.connection.name}", fetch)
    wait_for(spec, timeout=CONNECTION_GONE_TIMEOUT_S, **waits)
    return _result(params, Action.DELETED, {**observed, "status": "DELETED"})
