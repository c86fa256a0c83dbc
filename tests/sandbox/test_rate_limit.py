"""The sandbox's rate-limit fault, and the request budget that keeps a client under it."""

from __future__ import annotations

from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from runbook_lib import throttle
from runbook_lib.clients import make_clients


def throttled(sb) -> int:  # type: ignore[no-untyped-def]
    return sum(1 for r in sb.control.requests() if r.get("error") == "ThrottlingException")


def test_requests_above_the_rate_are_throttled(sandbox_env, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv(throttle.RATE_ENV, "0")  # no budget: the client goes as fast as it can
    sandbox_env.control.faults(rate_limit_per_s=5)
    assert sandbox_env.control.faults()["rate_limit_per_s"] == 5.0
    clients = make_clients(region="us-east-1", max_attempts=0)  # no retry
    errors = []
    for _ in range(12):
        try:
            clients.apprunner.list_services()
        except ClientError as err:
            errors.append(err.response["Error"]["Code"])
    assert set(errors) == {"ThrottlingException"} and throttled(sandbox_env) == len(errors)
    assert 5 <= 12 - len(errors) <= 7  # the burst (one second's worth) and what refilled meanwhile


def test_the_budget_keeps_a_client_under_the_rate(
    sandbox_env, monkeypatch: pytest.MonkeyPatch, tmp_path: Path  # type: ignore[no-untyped-def]
) -> None:
    monkeypatch.setenv(throttle.DIR_ENV, str(tmp_path))
    sandbox_env.control.faults(rate_limit_per_s=20)
    with throttle.configured(rate=15.0, burst=10):
        clients = make_clients(region="us-east-1", max_attempts=0)  # no retry
        for _ in range(40):
            clients.apprunner.list_services()
    assert throttled(sandbox_env) == 0
    assert len(sandbox_env.control.requests()) == 40
