"""The one retry helper: a checker, a backoff, an injected sleep and clock (runbook_lib.retry)."""

from __future__ import annotations

import pytest

from runbook_lib.retry import retry
from runbook_lib.waiters import Backoff


class Busy(Exception):
    pass


def failing(times: int, error: type[Exception] = Busy):
    calls = []

    def call() -> str:
        calls.append(1)
        if len(calls) <= times:
            raise error("not yet")
        return "done"

    return call, calls


def test_it_retries_what_retry_if_accepts_with_the_backoffs_delays() -> None:
    call, calls = failing(3)
    slept: list[float] = []
    seen: list[Exception] = []
    got = retry(
        call, retry_if=lambda e: isinstance(e, Busy), backoff=Backoff(initial_s=2, factor=2, cap_s=5),
        sleep=slept.append, on_retry=seen.append,
    )  # fmt: skip
    assert got == "done" and len(calls) == 4
    assert slept == [2, 4, 5] and len(seen) == 3


def test_an_error_it_does_not_accept_is_raised_at_once() -> None:
    call, calls = failing(1, ValueError)
    with pytest.raises(ValueError):
        retry(call, retry_if=lambda e: isinstance(e, Busy), sleep=lambda s: None)
    assert len(calls) == 1


def test_attempts_bound_the_tries_and_no_backoff_means_no_sleep() -> None:
    call, calls = failing(10)
    slept: list[float] = []
    with pytest.raises(Busy):
        retry(call, retry_if=lambda e: True, attempts=4, sleep=slept.append)
    assert len(calls) == 4 and slept == []


def test_the_timeout_is_measured_on_the_injected_clock() -> None:
    now = [0.0]
    call, calls = failing(100)

    def sleep(seconds: float) -> None:
        now[0] += seconds

    with pytest.raises(Busy):
        retry(call, retry_if=lambda e: True, backoff=Backoff(initial_s=10, factor=1, cap_s=10), sleep=sleep,
              clock=lambda: now[0], timeout=35)  # fmt: skip
    assert len(calls) == 5 and now[0] == 35  # tries at 0, 10, 20, 30 and 35: the last one at the deadline
