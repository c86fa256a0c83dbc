"""One retry helper: call until it succeeds, an error is not worth retrying, or the tries run out.

Composed as botocore composes its retries: a checker (``retry_if``) and a delay (``backoff``), with the
sleep and the clock injected so that tests run without waiting.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

__all__ = ["retry"]

T = TypeVar("T")


def retry(
    call: Callable[[], T],
    *,
    retry_if: Callable[[Exception], bool],
    backoff: Any = None,
    sleep: Callable[[float], Any] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    attempts: int | None = None,
    timeout: float | None = None,
    on_retry: Callable[[Exception], Any] | None = None,
) -> T:
    """``call()``; on an exception ``retry_if`` accepts, ``on_retry(err)``, ``sleep(next delay)`` and again.

    ``backoff``: a ``waiters.Backoff`` (anything with ``delays()``); None: no sleep (``on_retry`` waits,
    e.g. for a resource to settle). It gives up, re-raising the last error, after ``attempts`` tries or
    once ``timeout`` seconds (``clock``) have passed since the first.
    """
    delays: Iterator[float] | None = backoff.delays() if backoff is not None else None
    start = clock()
    for attempt in itertools.count(1):
        try:
            return call()
        except Exception as err:
            spent = attempts is not None and attempt >= attempts
            late = timeout is not None and clock() - start >= timeout
            if spent or late or not retry_if(err):
                raise
            if on_retry is not None:
                on_retry(err)
            if delays is not None:  # never past the deadline: the last try is at the timeout
                delay = next(delays)
                sleep(delay if timeout is None else max(0.0, min(delay, timeout - (clock() - start))))
    raise AssertionError("unreachable")
