"""Deletes that wait for their dependents: issued again while the resource is still in use (App Runner's
ENIs linger, docs/apprunner-behavior.md L11), with the waiters' backoff, up to a timeout.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from runbook_lib.errors import (
    ResourceNotFound,
    RunbookError,
)
from runbook_lib.waiters import GONE, Backoff, WaitSpec, wait_for

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
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    on_progress: Callable[[dict[str, Any]], None] | None = None,
) -> bool:
    """Issue ``delete`` until it stops failing with an error ``busy`` accepts (the resource is still
    used), with the waiters' backoff (5 s doubling to 60 s) up to ``timeout``, then WaitTimeout.
    True when it deleted the resource, False when the resource was already gone."""

    def attempt() -> str:
        try:
            delete()
        except ResourceNotFound:
            return GONE
        except RunbookError as err:
            if busy(err):
                return str(getattr(err, "code", type(err).__name__))
            raise
        return "DELETED"

    spec = WaitSpec(
        what=what,
        fetch=attempt,
        success=frozenset({"DELETED", GONE}),
        timeout_hint="It is still in use; re-run the teardown later.",
    )
    status = wait_for(
        spec, timeout=timeout, sleep=sleep, clock=clock, on_progress=on_progress, backoff=DELETE_BACKOFF
    )
    log.info("%s: %s", what, "done" if status == "DELETED" else "already gone")
    return status == "DELETED"
