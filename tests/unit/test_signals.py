"""The stop state a signal sets: checks, interruptible sleeps, exit codes, finishing once."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest

from runbook_lib import signals


def test_exit_codes_and_names() -> None:
    assert [signals.exit_code(s) for s in signals.SIGNALS] == [130, 143, 129]
    assert signals.signal_name(signal.SIGTERM) == "SIGTERM"


def test_a_signal_sets_the_flag_and_cuts_a_sleep_short() -> None:
    state = signals.StopState()
    state.check()  # nothing yet
    threading.Timer(0.1, state.request, args=(signal.SIGTERM,)).start()
    started = time.monotonic()
    with pytest.raises(signals.Interrupted) as info:
        state.sleep(30)
    assert time.monotonic() - started < 5 and info.value.signum == signal.SIGTERM
    with pytest.raises(signals.Interrupted):
        state.check()


def test_a_finisher_runs_once_whoever_calls_it() -> None:
    state, calls = signals.StopState(), []
    with state.finishing(lambda: calls.append(1)) as finisher:
        finisher()
        assert finisher.wait(1)
    assert calls == [1]


def test_handlers_installed_for_the_block_only() -> None:
    before = signal.getsignal(signal.SIGHUP)
    with signals.handling() as state:
        assert signals.current() is state
        os.kill(os.getpid(), signal.SIGHUP)
        deadline = time.monotonic() + 5
        while not state.requested and time.monotonic() < deadline:
            time.sleep(0.01)
        assert state.requested and state.signum == signal.SIGHUP
    assert signal.getsignal(signal.SIGHUP) is before and not signals.current().requested


def test_a_second_signal_finishes_a_stuck_run_then_exits(monkeypatch: pytest.MonkeyPatch) -> None:
    """The hard stop: a run that does not finish within the grace is finished here, then the exit."""
    exited, finished = threading.Event(), []
    monkeypatch.setattr(signals, "GRACE_S", 0.1)
    monkeypatch.setattr(signals.os, "_exit", lambda code: (finished.append(("exit", code)), exited.set()))
    state = signals.StopState()
    with state.finishing(lambda: finished.append("record and lock")):
        state.request(signal.SIGINT)
        state.request(signal.SIGINT)  # the run's thread is stuck: it never gets to its own finish
        assert exited.wait(5)
    assert finished == ["record and lock", ("exit", 130)]
