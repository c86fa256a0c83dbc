"""runbook_lib.lock: one run per environment; stale locks of dead runs are taken over, once."""

from __future__ import annotations

import json
import multiprocessing
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from runbook_lib import lock
from runbook_lib.lock import EnvironmentLocked, LockInfo


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def _plant(folder: Path, name: str, **changes: object) -> Path:
    info = {
        "name": name, "run_id": "20240101T000000Z_old_up", "action": "up", "pid": _dead_pid(),
        "host": socket.gethostname(), "since": "2024-01-01T00:00:00Z", "process_start": None,
    }  # fmt: skip
    info.update(changes)
    path = lock.lock_path(folder, name)
    path.write_text(json.dumps(info))
    return path


def test_acquire_writes_who_holds_it_and_release_removes_it(tmp_path: Path) -> None:
    held = lock.acquire(tmp_path, name="env-a", run_id="r1", action="up")
    data = json.loads(lock.lock_path(tmp_path, "env-a").read_text())
    assert data["run_id"] == "r1" and data["pid"] == os.getpid() and data["host"] == socket.gethostname()
    assert data["since"].endswith("Z") and data["action"] == "up"
    held.release()
    assert not lock.lock_path(tmp_path, "env-a").exists()
    assert [p.name for p in tmp_path.iterdir()] == []  # no temp files left


def test_a_second_run_on_the_same_environment_is_refused_naming_run_and_time(tmp_path: Path) -> None:
    with lock.acquire(tmp_path, name="env-a", run_id="r1", action="up") as held:
        with pytest.raises(EnvironmentLocked) as info:
            lock.acquire(tmp_path, name="env-a", run_id="r2", action="down")
        assert f"environment env-a is locked by run r1 since {held.info.since}" in str(info.value)
        assert info.value.exit_code == 1
        other = lock.acquire(tmp_path, name="env-b", run_id="r3", action="up")  # another environment
        other.release()
    lock.acquire(tmp_path, name="env-a", run_id="r2", action="down").release()


def test_release_leaves_a_lock_that_is_not_ours(tmp_path: Path) -> None:
    held = lock.acquire(tmp_path, name="env-a", run_id="r1", action="up")
    path = lock.lock_path(tmp_path, "env-a")
    path.write_text(LockInfo("env-a", "r9", "up", 1, "h", "t").to_json())
    held.release()
    assert path.exists()


@pytest.mark.parametrize(
    "changes",
    [{}, {"pid": os.getpid(), "process_start": "1"}],  # dead pid; our pid but another process start
    ids=["dead-pid", "reused-pid"],
)
def test_a_stale_lock_is_taken_over(tmp_path: Path, changes: dict) -> None:
    path = _plant(tmp_path, "env-a", **changes)
    held = lock.acquire(tmp_path, name="env-a", run_id="new", action="up")
    assert json.loads(path.read_text())["run_id"] == "new"
    held.release()


def test_a_zombie_holder_is_stale(tmp_path: Path) -> None:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    try:
        for _ in range(200):  # not reaped yet: a zombie
            if Path(f"/proc/{proc.pid}/stat").read_text().rpartition(")")[2].split()[0] == "Z":
                break
            time.sleep(0.01)
        assert not lock.pid_alive(proc.pid)
    finally:
        proc.wait()


def test_a_lock_held_on_another_host_is_never_taken_over(tmp_path: Path) -> None:
    _plant(tmp_path, "env-a", host="some-other-host")
    with pytest.raises(EnvironmentLocked, match="on some-other-host"):
        lock.acquire(tmp_path, name="env-a", run_id="new", action="up")


def test_an_unreadable_lock_is_refused_with_its_path(tmp_path: Path) -> None:
    lock.lock_path(tmp_path, "env-a").write_text("{not json")
    with pytest.raises(EnvironmentLocked, match="unreadable"):
        lock.acquire(tmp_path, name="env-a", run_id="new", action="up")


def _contend(folder: str, n: int, results: Any, done: object) -> None:
    try:
        lock.acquire(folder, name="env-a", run_id=f"run-{n}", action="up")
        results.put(f"run-{n}")
    except EnvironmentLocked:
        results.put("refused")
    done.wait(20)  # type: ignore[attr-defined]  # alive (its lock not stale) until all have tried


def test_only_one_of_several_runs_takes_over_a_stale_lock(tmp_path: Path) -> None:
    _plant(tmp_path, "env-a")
    ctx = multiprocessing.get_context("fork")
    results, done = ctx.Queue(), ctx.Event()
    procs = [ctx.Process(target=_contend, args=(str(tmp_path), n, results, done)) for n in range(6)]
    for p in procs:
        p.start()
    outcomes = [results.get(timeout=20) for _ in procs]
    held = json.loads(lock.lock_path(tmp_path, "env-a").read_text())["run_id"]
    done.set()
    for p in procs:
        p.join(10)
    winners = [o for o in outcomes if o != "refused"]
    assert len(winners) == 1, outcomes
    assert held == winners[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == [lock.lock_path(tmp_path, "env-a").name]
