"""Signals stop a run: SIGINT, SIGTERM or SIGHUP to `runbook up|down` (its process group, as a terminal's
Ctrl-C or a CI runner's cancel sends them) mid-handshake, mid-service-operation, mid-teardown and in a
batch. Each time: the command exits within ``BOUND_S`` with 128 + the signal number, the manifest says
``interrupted`` naming the notebook, the executed notebook shows where it stopped, no lock is left, the
sandbox's request log has no mutating call after the signal, and the next run finishes the job.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from runbook_lib import load_params, make_clients
from runbook_lib.cli import main

from .conftest import RUNBOOK, assert_converged, runs, write_params

# The behaviour asked for is "within 2 s"; the bound leaves room for a loaded 2-core machine.
BOUND_S = float(os.environ.get("RUNBOOK_SIGNAL_BOUND_S", "2.0"))


def _start(args: list[str], cwd: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [RUNBOOK, *args], cwd=cwd, env=dict(os.environ), start_new_session=True,
        stdout=(cwd / "out.log").open("w"), stderr=subprocess.STDOUT,
    )  # fmt: skip


def _wait_for(predicate: Any, timeout: float, what: str, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if proc.poll() is not None:
            pytest.fail(f"the runner ended (exit {proc.returncode}) before {what}")
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.1)


def _service_status(params: Any) -> str | None:
    listed = make_clients(params).apprunner.list_services()["ServiceSummaryList"]
    found = [s for s in listed if s["ServiceName"] == params.name]
    return found[-1]["Status"] if found else None


def _pending_connections(params: Any) -> list[str]:
    listed = make_clients(params).apprunner.list_connections()["ConnectionSummaryList"]
    return [c["ConnectionName"] for c in listed if c["Status"] == "PENDING_HANDSHAKE"]


def _signal(proc: subprocess.Popen, *signums: int, gap_s: float = 0.05) -> tuple[float, float]:
    """Send the signals to the command's process group; (time sent, seconds until it exited)."""
    sent, start = time.time(), time.monotonic()
    for i, signum in enumerate(signums):
        if i:
            time.sleep(gap_s)
        os.killpg(proc.pid, signum)
    try:
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
    return sent, time.monotonic() - start


def _check_stopped(folder: Path, control: Any, sent: float, elapsed: float, notebook: str) -> dict:
    """The checks every scenario shares; returns the newest manifest."""
    assert elapsed < BOUND_S, f"the command took {elapsed:.2f}s to stop ({(folder / 'out.log').read_text()})"
    late = [r for r in control.requests() if r["mutating"] and r["time"] > sent]
    assert not late, f"mutating calls after the signal: {late}"
    assert not list((folder / "runs").glob(".lock-*")), "a lock was left behind"
    manifest = json.loads((runs(folder)[-1] / "manifest.json").read_text())
    assert manifest["status"] == "interrupted", manifest["status"]
    assert manifest["error"]["type"] == "Interrupted" and manifest["error"]["notebook"] == notebook
    statuses = {n["notebook"]: n["status"] for n in manifest["notebooks"]}
    assert statuses[notebook] == "interrupted", statuses
    executed = json.loads((runs(folder)[-1] / f"{notebook}.ipynb").read_text())
    errors = [o for c in executed["cells"] for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert errors, "the executed notebook should show where it stopped"
    return manifest


def test_sigint_mid_handshake_then_the_next_up_finishes(rel, tmp_path: Path) -> None:
    rel.control.config(handshake="manual")
    params_path = write_params(tmp_path, "sig-hand")
    params = load_params(params_path)
    proc = _start(["up", str(params_path)], tmp_path)
    _wait_for(lambda: _pending_connections(params), 90, "the handshake wait", proc)
    time.sleep(0.5)  # into the wait's sleep between polls
    sent, elapsed = _signal(proc, signal.SIGINT)
    assert proc.returncode == 130, (tmp_path / "out.log").read_text()
    _check_stopped(tmp_path, rel.control, sent, elapsed, "01_connection")
    rel.control.handshake(params.connection.name)
    assert main(["up", str(params_path)]) == 0
    assert_converged(params_path, rel.control)


def _stop_mid_operation(
    rel, tmp_path: Path, params_path: Path, command: str, signum: int, notebook: str
) -> None:
    """Run ``command`` with 30 s service operations, send ``signum`` once the service's operation runs,
    check the stop (exit 128+N, the record), then let operations finish at once."""
    rel.control.config(op_seconds=30)
    params = load_params(params_path)
    proc = _start([command, str(params_path)], tmp_path)
    running = lambda: _service_status(params) == "OPERATION_IN_PROGRESS"  # noqa: E731
    _wait_for(running, 90, f"the service's operation ({command})", proc)
    sent, elapsed = _signal(proc, signum)
    assert proc.returncode == 128 + signum, (tmp_path / "out.log").read_text()
    _check_stopped(tmp_path, rel.control, sent, elapsed, notebook)
    rel.control.config(op_seconds=0)
    rel.control.advance()


def test_sigterm_mid_service_operation_then_the_next_up_finishes(rel, tmp_path: Path) -> None:
    params_path = write_params(tmp_path, "sig-svc")
    _stop_mid_operation(rel, tmp_path, params_path, "up", signal.SIGTERM, "05_service")
    assert main(["up", str(params_path)]) == 0
    assert_converged(params_path, rel.control)


def test_sighup_mid_teardown_then_the_next_down_finishes(rel, tmp_path: Path) -> None:
    params_path = write_params(tmp_path, "sig-down")
    assert main(["up", str(params_path)]) == 0
    _stop_mid_operation(rel, tmp_path, params_path, "down", signal.SIGHUP, "90_teardown")
    assert main(["down", str(params_path)]) == 0


def test_two_signals_stop_harder_and_still_leave_the_record(rel, tmp_path: Path) -> None:
    rel.control.config(op_seconds=30)
    params_path = write_params(tmp_path, "sig-two")
    params = load_params(params_path)
    proc = _start(["up", str(params_path)], tmp_path)
    _wait_for(lambda: _service_status(params) == "OPERATION_IN_PROGRESS", 90, "the service create", proc)
    sent, elapsed = _signal(proc, signal.SIGINT, signal.SIGINT)
    assert proc.returncode == 130, (tmp_path / "out.log").read_text()
    assert elapsed < BOUND_S
    late = [r for r in rel.control.requests() if r["mutating"] and r["time"] > sent]
    assert not late, late
    assert not list((tmp_path / "runs").glob(".lock-*")), "a lock was left behind"
    manifest = json.loads((runs(tmp_path)[-1] / "manifest.json").read_text())
    assert manifest["status"] == "interrupted" and manifest["error"]["notebook"] == "05_service"


def test_sigint_in_a_batch_stops_every_environment(rel, tmp_path: Path) -> None:
    rel.control.config(handshake="manual")
    paths = [write_params(tmp_path, name) for name in ("sig-b1", "sig-b2")]
    names = [load_params(p).connection.name for p in paths]
    proc = _start(["up", *map(str, paths), "--jobs", "2"], tmp_path)
    both = lambda: set(names) <= set(_pending_connections(load_params(paths[0])))  # noqa: E731
    _wait_for(both, 120, "both handshake waits", proc)
    time.sleep(0.5)
    sent, elapsed = _signal(proc, signal.SIGINT)
    assert proc.returncode == 130, (tmp_path / "out.log").read_text()
    assert elapsed < BOUND_S
    late = [r for r in rel.control.requests() if r["mutating"] and r["time"] > sent]
    assert not late, late
    assert not list((tmp_path / "runs").glob(".lock-*"))
    manifests = [json.loads((run / "manifest.json").read_text()) for run in runs(tmp_path)]
    assert sorted(m["name"] for m in manifests) == ["sig-b1", "sig-b2"]
    assert {m["status"] for m in manifests} == {"interrupted"}
    for name in names:
        rel.control.handshake(name)
    assert main(["up", *map(str, paths), "--jobs", "2"]) == 0


def test_sigint_two_seconds_into_a_fresh_run(rel, tmp_path: Path) -> None:
    """The case first reported: Ctrl-C while the run starts (its kernel starting, the account checked)."""
    params_path = write_params(tmp_path, "sig-early")
    proc = _start(["up", str(params_path)], tmp_path)
    time.sleep(2.0)
    assert proc.poll() is None, (tmp_path / "out.log").read_text()
    sent, elapsed = _signal(proc, signal.SIGINT)
    assert proc.returncode == 130, (tmp_path / "out.log").read_text()
    assert elapsed < BOUND_S, f"{elapsed:.2f}s"
    late = [r for r in rel.control.requests() if r["mutating"] and r["time"] > sent]
    assert not late, late
    assert not list((tmp_path / "runs").glob(".lock-*"))
    manifest = json.loads((runs(tmp_path)[-1] / "manifest.json").read_text())
    assert manifest["status"] == "interrupted", manifest["notebooks"]
    assert main(["up", str(params_path)]) == 0


def test_sigint_during_plan(rel, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    """`plan` runs in the main thread: the signal interrupts it there; the record and the lock follow."""
    import runbook_lib.orchestrate

    def slow_plan(*args: Any, **kwargs: Any) -> Any:
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(30)

    params_path = write_params(tmp_path, "sig-plan")
    monkeypatch.setattr(runbook_lib.orchestrate, "plan", slow_plan)
    started = time.monotonic()
    assert main(["plan", str(params_path)]) == 130
    assert time.monotonic() - started < 10
    assert not list((tmp_path / "runs").glob(".lock-*"))
    manifest = json.loads((runs(tmp_path)[-1] / "manifest.json").read_text())
    assert manifest["status"] == "interrupted" and manifest["error"]["signal"] == "SIGINT"
    assert "interrupted by SIGINT" in capsys.readouterr().err
