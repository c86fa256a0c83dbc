"""Shared fixtures.

Sandbox: ``sandbox`` (one per session), ``sb`` (reset per test), ``sandbox_env`` (AWS_* env vars).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import settings

from runbook_lib.sandbox.server import SandboxHandle, start_in_thread

# Property-based tests draw the same examples on every run, so CI is repeatable (a failure found once
# is found again); explore further locally with `--hypothesis-seed=N` or a larger max_examples.
settings.register_profile("runbook", derandomize=True, deadline=None)
settings.load_profile("runbook")


@pytest.fixture(scope="session", autouse=True)
def _own_request_budget(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """This test session's App Runner request budget (runbook_lib.throttle) is its own, not the machine's:
    test sessions running side by side do not slow each other down."""
    mp = pytest.MonkeyPatch()
    mp.setenv("RUNBOOK_BUDGET_DIR", str(tmp_path_factory.mktemp("request-budget")))
    # The sandbox does not throttle unless a test asks it to (those tests set their own budget): the
    # default 10 requests/s would turn a test's simulated-time polls into real seconds of waiting.
    mp.setenv("RUNBOOK_APPRUNNER_RATE", "1000")
    mp.setenv("RUNBOOK_APPRUNNER_BURST", "1000")
    yield
    mp.undo()


@pytest.fixture(scope="session")
def sandbox() -> Iterator[SandboxHandle]:
    """A local sandbox in a background thread of the test process (nothing global is set)."""
    handle = start_in_thread(port=0, op_seconds=0, handshake="manual")
    yield handle
    handle.stop()


@pytest.fixture
def sb(sandbox: SandboxHandle) -> SandboxHandle:
    """The session sandbox, reset (App Runner, moto, faults, request log); op_seconds 0, manual handshake."""
    sandbox.control.reset()
    sandbox.control.config(op_seconds=0, handshake="manual")
    return sandbox


@pytest.fixture
def sandbox_env(sb: SandboxHandle, monkeypatch: pytest.MonkeyPatch) -> SandboxHandle:
    """Point the standard AWS environment variables at the (reset) sandbox."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", sb.url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    return sb
