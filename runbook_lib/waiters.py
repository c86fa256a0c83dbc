"""Declarative waits for App Runner (botocore ships none), run by one polling loop.

A ``WaitSpec`` is data: what is awaited, how to fetch its status, and which statuses mean success,
failure or "keep polling". ``wait_for`` polls it with backoff (×1.5 from ~1 s, capped at ~10 s, optional
downward jitter), a timeout, an injected ``sleep``/``clock`` and an ``on_progress`` callback. Success of
a service change is decided by its operation (docs/apprunner-behavior.md L3): a rolled-back update fails even
though the service is RUNNING again.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypedDict, Unpack

from runbook_lib.aws import call, pages, polled_since, shared_listing
from runbook_lib.clients import Clients
from runbook_lib.errors import RESUME_HINT, ResourceNotFound, WaitFailed, WaitTimeout
from runbook_lib.shared_reads import POLL_MAX_AGE_S, POLL_MAX_PAGES, resource_of

__all__ = [
    "Backoff", "CONNECTION_GONE_TIMEOUT_S", "Clock", "DEFAULT_BACKOFF", "DEFAULT_TIMEOUT_S", "GONE",
    "LIVE_CONNECTION", "NOT_LIVE", "OPERATION_FAILED", "OPERATION_PENDING", "Progress",
    "READABLE_TIMEOUT_S", "Sleep", "UNLISTED_TIMEOUT_S", "WaitSpec", "Waits", "await_read",
    "connection_available", "described_status", "find_operation", "listed_in_progress", "operation_finished",
    "readable", "service_deleted", "service_settled", "timing", "unlisted", "wait_for",
]  # fmt: skip


log = logging.getLogger(__name__)

Sleep = Callable[[float], None]
Clock = Callable[[], float]
Progress = Callable[[dict[str, Any]], None]


class Waits(TypedDict, total=False):
    """How a step waits (the tests inject a fake sleep and clock): passed on unchanged, ``**waits``, to
    the waiter it ends in."""

    sleep: Sleep
    clock: Clock
    on_progress: Progress | None


def timing(waits: Waits) -> tuple[Sleep, Clock]:
    """The sleep and clock of ``waits``: the real ones unless injected (as ``wait_for``'s defaults)."""
    return waits.get("sleep", time.sleep), waits.get("clock", time.monotonic)

GONE = "GONE"  # the status a fetch reports when the resource no longer exists
DEFAULT_TIMEOUT_S = 1800.0  # L2: at least 30 min for service create/update/delete
OPERATION_PENDING = frozenset({"PENDING", "IN_PROGRESS", "ROLLBACK_IN_PROGRESS"})
OPERATION_FAILED = frozenset({"FAILED", "ROLLBACK_SUCCEEDED", "ROLLBACK_FAILED"})


@dataclass(frozen=True)
class Backoff:
    """Delay between polls: ``initial_s`` × ``factor``ⁿ, capped; jitter only ever shortens a delay."""

    initial_s: float = 1.0
    factor: float = 1.5
    cap_s: float = 10.0
    jitter: float = 0.0  # fraction of the delay that may be taken off at random

    def delays(self, rng: random.Random | None = None) -> Any:
        """Endless generator of delays (deterministic when ``rng`` is seeded)."""
        delay = self.initial_s
        while True:
            cut = self.jitter * (rng or random).random() if self.jitter else 0.0
            yield min(delay, self.cap_s) * (1.0 - cut)
            delay = min(delay * self.factor, self.cap_s)


DEFAULT_BACKOFF = Backoff()


@dataclass(frozen=True)
class WaitSpec:
    """One wait as data. Statuses are compared case-insensitively (L6)."""

    what: str
    fetch: Callable[[], str]
    success: frozenset[str]
    failure: frozenset[str] = frozenset()
    retry_on: frozenset[str] = frozenset()  # empty: any status not in success/failure keeps polling
    failure_hint: str = RESUME_HINT
    timeout_hint: str = "It may still finish; re-run the step to pick it up where it is."
    fields: dict[str, Any] = field(default_factory=dict)  # extra fields for the errors


def wait_for(
    spec: WaitSpec,
    *,
    timeout: float = DEFAULT_TIMEOUT_S,
    sleep: Sleep = time.sleep,
    clock: Clock = time.monotonic,
    on_progress: Progress | None = None,
    backoff: Backoff = DEFAULT_BACKOFF,
    rng: random.Random | None = None,
) -> str:
    """Poll ``spec`` until a success status (returned), a failure (WaitFailed) or timeout (WaitTimeout)."""
    start = clock()
    delays = backoff.delays(rng)
    polls = 0
    success = {s.upper() for s in spec.success}
    failure = {s.upper() for s in spec.failure}
    retry = {s.upper() for s in spec.retry_on}
    while True:
        status = str(spec.fetch())
        polls += 1
        elapsed = clock() - start
        event = {"what": spec.what, "status": status, "elapsed_s": round(elapsed, 1), "polls": polls}
        log.debug("wait %s: %s after %.1fs (%d polls)", spec.what, status, elapsed, polls)
        if on_progress is not None:
            on_progress(event)
        norm = status.upper()
        if norm in success:
            return status
        if norm in failure:
            raise WaitFailed(spec.failure_hint, what=spec.what, last=status, polls=polls, **spec.fields)
        if retry and norm not in retry:
            raise WaitFailed(
                f"Unexpected status while waiting. {spec.failure_hint}",
                what=spec.what,
                last=status,
                polls=polls,
                **spec.fields,
            )
        remaining = timeout - elapsed
        if remaining <= 0:
            raise WaitTimeout(
                spec.timeout_hint, what=spec.what, last=status, seconds=elapsed, polls=polls, **spec.fields
            )
        sleep(min(next(delays), remaining))


# ---------------------------------------------------------------------------------------- App Runner specs


def find_operation(
    clients: Clients, service_arn: str, operation_id: str | None, operation_type: str | None = None
) -> dict[str, Any] | None:
    """The operation with ``operation_id`` (or, without an id, the newest of ``operation_type``).

    ListOperations is newest first, so the loop stops at the first match instead of reading every page.
    """
    for page in pages(
        clients, "apprunner", "ListOperations", resource=f"service {service_arn}", ServiceArn=service_arn,
        MaxResults=20,
    ):  # fmt: skip
        for summary in page.get("OperationSummaryList", []):
            if operation_id and summary.get("Id") == operation_id:
                return summary
            if not operation_id and summary.get("Type") == operation_type:
                return summary
    return None


_OPERATION_HINTS = {
    "CREATE_SERVICE": (
        "The service was not created (it is CREATE_FAILED). Look at its event log in the App Runner console, "
        "fix the cause, then re-run the `service` step: it deletes the failed service and creates it again."
    ),
    "UPDATE_SERVICE": (
        "App Runner did not apply the change (a failed update is rolled back and the service keeps running "
        "its previous configuration). Look at the service's event log in the App Runner console, fix the "
        "cause in the parameters or the repository, then re-run the `service` step."
    ),
}


def listed_in_progress(clients: Clients, service_arn: str, since: float) -> bool:
    """In a batch (``clients.shared``): a ListServices pass sent after ``since`` (and after the last
    change of the service), shared with the other environments, lists the service as
    OPERATION_IN_PROGRESS. That status means an operation runs (App Runner API reference, "Service":
    Status), so its own ListOperations can wait; any other status, or none, says nothing of *which*
    operation ended how (a rolled-back update is RUNNING too), so the caller asks ListOperations."""
    shared = getattr(clients, "shared", None)
    if shared is None:
        return False
    if shared.over_pages("ListServices", POLL_MAX_PAGES):  # a big account: each polls its own operation
        return False
    name = resource_of({"ServiceArn": service_arn})
    listed = shared_listing(
        clients, "ListServices", "ServiceSummaryList", resource=f"service {service_arn}",
        concerns=lambda r: r == name, max_age=POLL_MAX_AGE_S, since=since,
    ).items  # fmt: skip
    status = next((s.get("Status") for s in listed if s.get("ServiceArn") == service_arn), None)
    return str(status).upper() == "OPERATION_IN_PROGRESS"


def operation_finished(
    clients: Clients, service_arn: str, operation_id: str | None, *, operation_type: str, what: str
) -> WaitSpec:
    """The service operation ended SUCCEEDED; FAILED and ROLLBACK_* are failures (L3).

    In a batch, a poll first looks at a shared ListServices pass sent after the previous poll (after
    the change, for the first): while it lists the service OPERATION_IN_PROGRESS, it answers
    IN_PROGRESS without a request of its own (``listed_in_progress``); the end is always read from the
    operation itself.
    """
    in_progress = polled_since(clients, lambda since: listed_in_progress(clients, service_arn, since))

    def fetch() -> str:
        if in_progress():
            return "IN_PROGRESS"
        found = find_operation(clients, service_arn, operation_id, operation_type)
        return found.get("Status", "PENDING") if found else "PENDING"

    ident = operation_id or f"(newest {operation_type})"
    return WaitSpec(
        what=f"operation {ident} ({operation_type}) of {what}",
        fetch=fetch,
        success=frozenset({"SUCCEEDED"}),
        failure=OPERATION_FAILED,
        retry_on=OPERATION_PENDING,
        failure_hint=_OPERATION_HINTS.get(operation_type, _OPERATION_HINTS["UPDATE_SERVICE"]),
        fields={"operation_id": operation_id, "operation_type": operation_type, "service_arn": service_arn},
    )


def described_status(clients: Clients, operation: str, member: str, resource: str, **request: Any) -> str:
    """The ``Status`` an App Runner Describe* call gives its ``member`` (as written), GONE if unknown."""
    try:
        found = call(clients, "apprunner", operation, resource=resource, **request)
    except ResourceNotFound:
        return GONE
    return str(found[member].get("Status", ""))


def _service_status(clients: Clients, service_arn: str) -> str:
    what = f"service {service_arn}"
    return described_status(clients, "DescribeService", "Service", what, ServiceArn=service_arn)


def service_deleted(clients: Clients, service_arn: str, *, what: str) -> WaitSpec:
    """The service is DELETED (or already unknown: 404); DELETE_FAILED fails (re-issue the delete)."""
    return WaitSpec(
        what=f"deletion of {what}",
        fetch=lambda: _service_status(clients, service_arn),
        success=frozenset({"DELETED", GONE}),
        failure=frozenset({"DELETE_FAILED"}),
        failure_hint="Re-run the teardown; App Runner asks to retry the deletion of a DELETE_FAILED service.",
        fields={"service_arn": service_arn},
    )


def service_settled(clients: Clients, service_arn: str, *, what: str) -> WaitSpec:
    """The service left OPERATION_IN_PROGRESS (any other status, or gone)."""
    settled = {"RUNNING", "PAUSED", "CREATE_FAILED", "DELETE_FAILED", "DELETED", GONE}
    return WaitSpec(
        what=f"{what} to finish its current operation",
        fetch=lambda: _service_status(clients, service_arn),
        success=frozenset(settled),
        fields={"service_arn": service_arn},
    )


def connection_available(name: str, fetch: Callable[[], str], *, console: str) -> WaitSpec:
    """The connection finished its handshake (AVAILABLE); ERROR fails, and so does GONE (deleted)."""
    return WaitSpec(
        what=f"the handshake of connection {name}",
        fetch=fetch,
        success=frozenset({"AVAILABLE"}),
        failure=frozenset({"ERROR", GONE}),
        failure_hint=(
            f"Open {console}, select the connection {name} and complete (or redo) the handshake; "
            "if it was deleted, re-run the `connection` step to create it again."
        ),
        timeout_hint=(
            f"A person must complete the handshake: open {console}, select the connection {name}, "
            'choose "Complete handshake", then re-run the `connection` step.'
        ),
        fields={"console_url": console, "connection_name": name},
    )


# ------------------------------------------------------------------ custom domains, ingress connections

# Custom domain statuses are lowercase on the wire (Terraform's custom_domain_association.go): after
# AssociateCustomDomain it waits from ``creating`` to ``pending_certificate_dns_validation`` or
# ``binding_certificate`` (5 min), when the validation records are known; ``active`` follows DNS validation.
DOMAIN_RECORDS_KNOWN = frozenset({"pending_certificate_dns_validation", "binding_certificate", "active"})
DOMAIN_FAILED = frozenset({"create_failed", GONE})
DOMAIN_RECORDS_TIMEOUT_S = 300.0


def domain_records_known(domain: str, fetch: Callable[[], str]) -> WaitSpec:
    """The association left ``creating``: its certificate validation records can be read."""
    return WaitSpec(
        what=f"custom domain {domain} to list its validation records",
        fetch=fetch,
        success=DOMAIN_RECORDS_KNOWN,
        failure=DOMAIN_FAILED,
        failure_hint="App Runner did not associate the domain; re-run the step to associate it again.",
    )


def domain_active(domain: str, fetch: Callable[[], str], *, timeout_hint: str) -> WaitSpec:
    """The domain is ``active`` (its certificate validated by DNS and bound)."""
    return WaitSpec(
        what=f"custom domain {domain} to become active",
        fetch=fetch,
        success=frozenset({"active"}),
        failure=DOMAIN_FAILED,
        failure_hint="App Runner could not validate the domain; re-run the step to associate it again.",
        timeout_hint=timeout_hint,
        fields={"domain": domain},
    )


def domain_gone(domain: str, fetch: Callable[[], str]) -> WaitSpec:
    """A disassociated domain is no longer listed (``deleting`` until then; ``delete_failed`` fails)."""
    return WaitSpec(
        what=f"custom domain {domain} to be disassociated",
        fetch=fetch,
        success=frozenset({GONE}),
        failure=frozenset({"delete_failed"}),
        failure_hint="Re-run the teardown to disassociate the domain again.",
    )


def ingress_available(name: str, fetch: Callable[[], str]) -> WaitSpec:
    """A created or updated VPC ingress connection is AVAILABLE; FAILED_* fails."""
    return WaitSpec(
        what=f"VPC ingress connection {name} to become AVAILABLE",
        fetch=fetch,
        success=frozenset({"AVAILABLE"}),
        failure=frozenset({"FAILED_CREATION", "FAILED_UPDATE", "DELETED", GONE}),
        failure_hint="Check the VPC endpoint (an apprunner.requests interface endpoint in that VPC), then "
        "re-run the step.",
    )


def ingress_deleted(name: str, fetch: Callable[[], str]) -> WaitSpec:
    """A deleted VPC ingress connection is DELETED (or unknown); FAILED_DELETION fails."""
    return WaitSpec(
        what=f"deletion of VPC ingress connection {name}",
        fetch=fetch,
        success=frozenset({"DELETED", GONE}),
        failure=frozenset({"FAILED_DELETION"}),
        failure_hint="Re-run the teardown to delete the VPC ingress connection again.",
    )


# ------------------------------------------------------------------------------ eventual consistency

# What Terraform's App Runner resources wait for (internal/service/apprunner/): a new auto scaling
# configuration or VPC connector to be readable and ACTIVE (2 min), a deleted one to leave ACTIVE (2 min),
# a deleted connection to disappear (5 min). Reads may lag writes that long.
READABLE_TIMEOUT_S = 120.0
UNLISTED_TIMEOUT_S = 120.0
CONNECTION_GONE_TIMEOUT_S = 300.0
LIVE_CONNECTION = frozenset({"PENDING_HANDSHAKE", "AVAILABLE", "ERROR"})
NOT_LIVE = frozenset({"INACTIVE", "DELETED", GONE})


def readable(
    what: str, fetch: Callable[[], str], *, ready: frozenset[str] = frozenset({"ACTIVE"})
) -> WaitSpec:
    """A resource just created can be read back: ``fetch`` answers a ``ready`` status (GONE until then)."""
    return WaitSpec(
        what=f"{what} to become readable",
        fetch=fetch,
        success=ready,
        timeout_hint="AWS has not shown it yet; re-run the step, which finds it by name once it is visible.",
    )


def unlisted(what: str, fetch: Callable[[], str], *, gone: frozenset[str] = NOT_LIVE) -> WaitSpec:
    """A resource just deleted is no longer read back as live: ``fetch`` answers a ``gone`` status."""
    return WaitSpec(
        what=f"{what} to disappear",
        fetch=fetch,
        success=gone,
        timeout_hint="AWS still shows it; re-run the teardown, which reports it ABSENT once it is gone.",
    )


def await_read(
    what: str,
    fetch: Callable[[], str],
    *,
    deleted: bool,
    **waits: Unpack[Waits],
) -> str:
    """After a create (``deleted=False``: until ACTIVE) or a delete (until INACTIVE, DELETED or unknown),
    wait until reads agree with the write, for as long as Terraform does (2 minutes)."""
    spec = unlisted(what, fetch) if deleted else readable(what, fetch)
    return wait_for(spec, timeout=UNLISTED_TIMEOUT_S if deleted else READABLE_TIMEOUT_S, **waits)
