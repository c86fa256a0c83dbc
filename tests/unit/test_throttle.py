"""The request budget: a token bucket in a file, shared by threads and processes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from runbook_lib import throttle
from runbook_lib.clients import make_clients


def budget(folder: Path, now: list[float], rate: float = 10.0, burst: int = 3) -> throttle.Budget:
    return throttle.Budget("apprunner-1-us-east-1", rate, burst, folder, clock=lambda: now[0])


def test_burst_then_one_token_per_interval(tmp_path: Path) -> None:
    now = [1000.0]
    b = budget(tmp_path, now)
    waits = [round(b.reserve(), 3) for _ in range(5)]
    assert waits == [0.0, 0.0, 0.0, 0.1, 0.2]
    now[0] += 10.0  # a quiet spell refills the burst, no more
    assert [round(b.reserve(), 3) for _ in range(4)] == [0.0, 0.0, 0.0, 0.1]


def test_acquire_sleeps_for_its_slot(tmp_path: Path) -> None:
    now, slept = [50.0], []
    b = throttle.Budget("k", 2.0, 1, tmp_path, clock=lambda: now[0], sleep=slept.append)
    assert b.acquire() == 0.0
    assert b.acquire() == pytest.approx(0.5)
    assert slept == [pytest.approx(0.5)]


def test_another_process_shares_the_bucket(tmp_path: Path) -> None:
    code = (
        "import sys; from pathlib import Path; from runbook_lib.throttle import Budget;"
        "b = Budget('apprunner-1-us-east-1', 10.0, 3, Path(sys.argv[1]), clock=lambda: 1000.0);"
        "[b.reserve() for _ in range(4)]"
    )
    subprocess.run([sys.executable, "-c", code, str(tmp_path)], check=True)
    assert budget(tmp_path, [1000.0]).reserve() == pytest.approx(0.2)  # 4 taken: the 5th waits 0.2 s


def test_keys_are_separate(tmp_path: Path) -> None:
    now = [0.0]
    a = throttle.Budget("apprunner-1-us-east-1", 1.0, 1, tmp_path, clock=lambda: now[0])
    b = throttle.Budget("apprunner-1-eu-west-1", 1.0, 1, tmp_path, clock=lambda: now[0])
    assert (a.reserve(), b.reserve()) == (0.0, 0.0)


def test_configuration_from_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(throttle.DIR_ENV, str(tmp_path))
    monkeypatch.delenv(throttle.RATE_ENV, raising=False)
    monkeypatch.delenv(throttle.BURST_ENV, raising=False)
    found = throttle.from_environment("123456789012", "us-east-1")
    assert found is not None
    assert (found.rate, found.burst) == (throttle.DEFAULT_RATE, throttle.DEFAULT_BURST)
    assert found.folder == tmp_path
    assert found.key == "apprunner-123456789012-us-east-1"
    with throttle.configured(rate=0.0):
        assert throttle.from_environment("1", "r") is None
    with throttle.configured(rate=2.5, burst=4):
        got = throttle.from_environment("1", "r")
        assert got is not None and (got.rate, got.burst) == (2.5, 4)
    assert throttle.RATE_ENV not in __import__("os").environ


def test_the_factory_gives_apprunner_clients_the_budget(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv(throttle.DIR_ENV, str(tmp_path))
    clients = make_clients(region="us-east-1")
    assert clients.budget is not None and clients.budget.key == "apprunner-any-us-east-1"
    clients.apprunner.meta.events.emit("before-send.apprunner.ListServices", request=None)
    assert clients.budget.path.exists()  # the request took a token
    clients.iam.meta.events.emit("before-send.iam.GetRole", request=None)
    assert list(tmp_path.iterdir()) == [clients.budget.path]  # IAM is not App Runner's budget
