"""The runner killed (SIGKILL) mid-operation, and the sandbox going away mid-run.

- kill -9 of `runbook up` while 05_service waits on an OPERATION_IN_PROGRESS service, and of `runbook down`
  while 90_teardown waits on the deletion: no kernel outlives the runner (ipykernel's parent poller,
  JPY_PARENT_PID), a concurrent run is refused while the runner lives, the dead run's lock is taken
  over, and the next `up` / `down` finishes the job.
- the sandbox stopped mid-run (connection refused): exit 1, a message naming the endpoint, and the
  executed notebooks and the manifest are still written.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

import psutil
import pytest

from runbook_lib import load_params, make_clients
from runbook_lib.cli import main
from runbook_lib.sandbox.control import SandboxControl

from .conftest import RUNBOOK, assert_converged, assert_down_leaves_nothing, runs, write_params


def _service_status(params: Any) -> str | None:
    ar = make_clients(params).apprunner
    found = [s for s in ar.list_services()["ServiceSummaryList"] if s["ServiceName"] == params.name]
    return found[-1]["Status"] if found else None


def _start(args: list[str], cwd: Path, log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [RUNBOOK, *args], cwd=cwd, env=dict(os.environ), start_new_session=True,
        stdout=log.open("w"), stderr=subprocess.STDOUT,
    )  # fmt: skip


def _wait_for(predicate: Any, timeout: float, what: str, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if proc is not None and proc.poll() is not None:
            pytest.fail(f"the runner ended (exit {proc.returncode}) before {what}")
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.1)


def _kernels(proc: subprocess.Popen) -> list[psutil.Process]:
    children = psutil.Process(proc.pid).children(recursive=True)
    return [
        p for p in children if any(k in " ".join(p.cmdline()) for k in ("ipykernel", "runbook_lib.kernel"))
    ]


def _kill_and_check_kernels(proc: subprocess.Popen) -> None:
    kernels = _kernels(proc)
    assert kernels, "the runner should be executing a notebook in a kernel"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(10)
    gone, alive = psutil.wait_procs(kernels, timeout=8)
    for p in alive:
        p.kill()
    assert not alive, f"kernels outlived the runner: {[p.pid for p in alive]}"


def _locked_refusal(params_path: Path, capsys: Any) -> None:
    capsys.readouterr()
    assert main(["down", str(params_path)]) == 1
    err = capsys.readouterr().err
    assert f"environment {load_params(params_path).name} is locked by run" in " ".join(err.split()), err


def test_sigkill_mid_service_and_mid_teardown_then_the_next_run_finishes(rel, tmp_path: Path, capsys) -> None:
    params_path = write_params(tmp_path, "rel-kill")
    params = load_params(params_path)
    rel.control.config(op_seconds=30)  # long enough to be seen in flight on a loaded machine

    proc = _start(["up", str(params_path)], tmp_path, tmp_path / "up.log")
    try:
        _wait_for(lambda: _service_status(params) == "OPERATION_IN_PROGRESS", 90, "the service create", proc)
        _locked_refusal(params_path, capsys)  # a second run on the same environment, at the same time
        _kill_and_check_kernels(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert not (runs(tmp_path)[-1] / "manifest.json").exists()  # it really died mid-run
    rel.control.advance()  # AWS finishes the operation the dead run started
    rel.control.config(op_seconds=0)

    assert main(["up", str(params_path)]) == 0  # takes the dead run's lock over, waits, converges
    assert main(["history", "--audit-dir", str(tmp_path / "runs")]) == 0  # the manifest-less folder is fine
    assert_converged(params_path, rel.control)

    rel.control.config(op_seconds=30)
    proc = _start(["down", str(params_path)], tmp_path, tmp_path / "down.log")
    try:
        _wait_for(lambda: _service_status(params) == "OPERATION_IN_PROGRESS", 60, "the service delete", proc)
        _kill_and_check_kernels(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
    rel.control.advance()
    rel.control.config(op_seconds=0)
    assert_down_leaves_nothing(params_path, rel.control)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_sandbox_stopped_mid_run_is_a_clear_failure_with_notebook_and_manifest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    port, state = _free_port(), str(tmp_path / "sandbox-state")
    url = f"http://127.0.0.1:{port}"
    start = [RUNBOOK, "sandbox", "start", "--port", str(port), "--state-dir", state, "--handshake", "auto",
             "--handshake-seconds", "0", "--op-seconds", "3"]  # fmt: skip
    subprocess.run(start, check=True, capture_output=True, timeout=60)
    try:
        control = SandboxControl(url)
        env = {**os.environ, "AWS_ENDPOINT_URL": url, "AWS_ACCESS_KEY_ID": "testing",
               "AWS_SECRET_ACCESS_KEY": "testing"}  # fmt: skip
        env.pop("AWS_SESSION_TOKEN", None)
        params_path = write_params(tmp_path, "rel-restart")
        proc = subprocess.Popen(
            [RUNBOOK, "up", str(params_path)], cwd=tmp_path, env=env,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
        )  # fmt: skip
        creating = lambda: any(r["operation"] == "CreateService" for r in control.requests())  # noqa: E731
        _wait_for(creating, 90, "CreateService", proc)
        subprocess.run([RUNBOOK, "sandbox", "stop", "--state-dir", state], check=True, timeout=30)
        out, err = proc.communicate(timeout=150)
    finally:
        subprocess.run([RUNBOOK, "sandbox", "stop", "--state-dir", state], capture_output=True, timeout=30)
    text = " ".join((out + err).split())
    assert proc.returncode == 1, text
    assert f"127.0.0.1:{port}" in text and "05_service" in text, text
    (run,) = runs(tmp_path)
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["status"] == "failed" and manifest["error"]["notebook"] == "05_service"
    assert f"127.0.0.1:{port}" in json.dumps(manifest["error"])
    assert (run / "05_service.ipynb").exists()
    assert [n["status"] for n in manifest["notebooks"]] == ["ok"] * 5 + ["failed", "skipped"]
