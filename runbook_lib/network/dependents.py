"""Deletes that wait for their dependents: issued again while the resource is still in use (App Runner's
ENIs linger, docs/apprunner-behavior.md L11), with the waiters' backoff, up to a timeout.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Unpack

from runbook_lib.errors import ResourceNotFound, RunbookError, WaitTimeout
from runbook_lib.retry import retry
from runbook_lib.waiters import GONE, Backoff, Waits, timing

__all__ = [
    "CONNECTOR_DELETE_TIMEOUT_S", "DELETE_BACKOFF", "SG_DELETE_TIMEOUT_S", "delete_when_free",
]  # fmt: skip

log = logging.getLogger(__name__)


SG_DELETE_TIMEOUT_S = 45 * 60.0
CONNECTOR_DELETE_TIMEOUT_S = 10 * 60.0


DELETE_BACKOFF = Backoff(initial_s=5.0, factor=2.0, cap_s=60.0)


def delete_when_free(
    delete: Callable[[], None],
    *,
    busy: Callable[[RunbookError], bool],
    what: str,
    timeout: float,
    **waits: Unpack[Waits],
) -> bool:
    """Issue ``delete`` until it stops failing with an error ``busy`` accepts (the resource is still
    used), with the waiters' backoff (5 s doubling to 60 s) up to ``timeout``, then WaitTimeout.
    True when it deleted the resource, False when the resource was already gone."""
    sleep, clock = timing(waits)
    on_progress = waits.get("on_progress")
    start, tries = clock(), 0

    def report(status: str) -> None:  # the waiters' progress event, one per try
        if on_progress is not None:
            elapsed = round(clock() - start, 1)
            on_progress({"what": what, "status": status, "elapsed_s": elapsed, "polls": tries})

    def attempt() -> bool:
        nonlocal tries
        tries += 1
        try:
            delete()
        except ResourceNotFound:
            return False
        return True

    def in_use(err: Exception) -> bool:
        return isinstance(err, RunbookError) and busy(err)

    try:
        deleted = retry(
            attempt, retry_if=in_use, backoff=DELETE_BACKOFF, sleep=sleep, clock=clock, timeout=timeout,
            on_retry=lambda err: report(_code(err)),
        )  # fmt: skip
    except RunbookError as err:
        if not in_use(err):
            raise
        report(_code(err))
        hint = "It is still in use; re-run the teardown later."
        raise WaitTimeout(hint, what=what, last=_code(err), seconds=clock() - start, polls=tries) from err
    report("DELETED" if deleted else GONE)
    log.info("%s: %s", what, "done" if deleted else "already gone")
    return deleted


def _code(err: Exception) -> str:
    return str(getattr(err, "code", None) or type(err).__name__)
