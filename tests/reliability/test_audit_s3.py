"""An audit dir on S3 (the sandbox's): the lock lives there, so runs from two working directories (or
hosts) see each other's; the chain head moves with conditional writes; every object is encrypted (SSE-S3);
`runbook audit verify s3://…` checks every run and chain, and reports a deleted newest run.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import boto3
import pytest

from runbook_lib import lock, s3io
from runbook_lib.cli import main

from .conftest import RUNBOOK, write_params

AUDIT = "s3://audit/runs"


@pytest.fixture
def s3(rel, monkeypatch: pytest.MonkeyPatch):
    from papermill.s3 import S3

    monkeypatch.setattr(S3, "s3_session", (None, None, None))  # papermill caches one per process
    client = boto3.client("s3", endpoint_url=rel.url, region_name="us-east-1")
    client.create_bucket(Bucket="audit")
    return client


def _keys(s3, prefix: str = "runs/") -> list[str]:
    return [o["Key"] for o in s3.list_objects_v2(Bucket="audit", Prefix=prefix).get("Contents", [])]


def test_s3_lock_seen_from_another_working_directory_and_released_on_a_signal(
    rel, s3, tmp_path: Path, capsys
) -> None:
    rel.control.config(handshake="manual")
    params = write_params(tmp_path, "s3-lock")
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first = subprocess.Popen(
        [RUNBOOK, "up", str(params), "--audit-dir", AUDIT], cwd=tmp_path / "a", env=dict(os.environ),
        start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 90
        while "runs/.lock-s3-lock.json" not in _keys(s3) or not rel.control.requests():
            assert first.poll() is None and time.monotonic() < deadline, "the first run should hold the lock"
            time.sleep(0.1)
        second = subprocess.run(
            [RUNBOOK, "plan", str(params), "--audit-dir", AUDIT], cwd=tmp_path / "b", capture_output=True,
            text=True, timeout=60,
        )  # fmt: skip
        assert second.returncode == 1, second.stderr
        assert "environment s3-lock is locked by run" in " ".join(second.stderr.split())
        os.killpg(first.pid, signal.SIGINT)
        assert first.wait(30) == 130
    finally:
        if first.poll() is None:
            first.kill()
    assert "runs/.lock-s3-lock.json" not in _keys(s3)
    os.chdir(tmp_path / "b")
    assert main(["plan", str(params), "--audit-dir", AUDIT]) == 0
    for key in _keys(s3):
        assert s3.head_object(Bucket="audit", Key=key).get("ServerSideEncryption") == "AES256", key
    capsys.readouterr()
    assert main(["audit", "verify", AUDIT]) == 0, (capsys.readouterr().err, [
        (k, s3.get_object(Bucket="audit", Key=k)["Body"].read()[:3000]) for k in _keys(s3) if "manifest" in k
    ])
    newest = max(k.split("/")[1] for k in _keys(s3) if k.count("/") == 2)
    for key in _keys(s3, f"runs/{newest}/"):
        s3.delete_object(Bucket="audit", Key=key)
    assert main(["audit", "verify", AUDIT]) == 1
    assert newest in " ".join(capsys.readouterr().err.split())


RACE = """
import sys, time
from runbook_lib import lock
time.sleep(max(0.0, float(sys.argv[1]) - time.time()))
try:
    held = lock.acquire("s3://audit/runs", name="race", run_id=sys.argv[2], action="up")
except lock.EnvironmentLocked:
    sys.exit(3)
print(held.info.run_id, flush=True)
time.sleep(60)  # hold it (alive: a lock of a dead process on this host would be stale) until killed
"""


def test_s3_lock_one_winner_of_a_race_and_a_stale_lock_taken_over(rel, s3, tmp_path: Path) -> None:
    start = time.time() + 3.0
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", RACE, str(start), f"run-{i}"], cwd=tmp_path, env=dict(os.environ),
            stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        for i in range(4)
    ]
    deadline = time.monotonic() + 60
    while sum(p.poll() is not None for p in procs) < 3 and time.monotonic() < deadline:
        time.sleep(0.1)
    codes = [p.poll() for p in procs]
    for p in procs:
        p.kill()
        p.wait(10)
    assert sorted(codes, key=str) == [3, 3, 3, None], codes  # three refused, one holds the lock
    info = lock.LockInfo("race", "gone", "up", 1, "another-host", "2026-01-01T00:00:00Z")
    s3io.put_text("s3://audit/runs/.lock-race.json", info.to_json())  # a lock left on another host
    with pytest.raises(lock.EnvironmentLocked, match="another-host"):
        lock.acquire_s3("s3://audit/runs", name="race", run_id="mine", action="up")  # fresh: respected
    time.sleep(2.5)  # (S3 times have one-second resolution)
    held = lock.acquire_s3("s3://audit/runs", name="race", run_id="mine", action="up", stale_s=1.0)
    assert held.info.run_id == "mine"
    held.release()
    assert "runs/.lock-race.json" not in _keys(s3)
