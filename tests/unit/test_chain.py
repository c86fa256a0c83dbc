"""Chain heads per environment and the verification of a whole audit dir (local; no AWS, no kernel)."""

from __future__ import annotations

import json
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from runbook_lib import audit, chain, trail
from runbook_lib.cli import main


def _run(root: Path, name: str = "env", action: str = "up") -> Path:
    store = audit.Store(str(root))
    run = audit.new_run(store, name, action)
    store.write_text(store.join(run, "00_preflight.ipynb"), "{}")
    manifest = audit.Manifest(run_id=run, action=action, name=name, status="succeeded")
    manifest.files["00_preflight.ipynb"] = audit.sha256_text("{}")
    audit.write_manifest(store, run, manifest)
    return Path(store.join(run))


def test_the_head_names_the_newest_run_of_each_environment(tmp_path: Path, capsys) -> None:
    first, second, other = _run(tmp_path), _run(tmp_path), _run(tmp_path, "other", "plan")
    head, _ = chain.read_head(str(tmp_path), "env")
    assert head is not None and head.run == second.name and head.runs == 2
    assert head.sha256 == audit.sha256_file(second / "manifest.json")
    assert head.last_apply == {"run": second.name, "action": "up", "status": "succeeded"}
    assert json.loads((second / "manifest.json").read_text())["previous_manifest"] == first.name
    assert chain.read_head(str(tmp_path), "other")[0].run == other.name  # its own chain
    assert json.loads((other / "manifest.json").read_text())["previous_manifest"] is None
    assert main(["audit", "verify", str(tmp_path)]) == 0
    done = capsys.readouterr()
    assert "ALTERED" not in done.err and f"chain head of env: {head.sha256} (2 runs" in done.out
    assert main(["audit", "verify", str(second)]) == 0


def test_a_deleted_newest_run_is_reported_naming_it(tmp_path: Path, capsys) -> None:
    _run(tmp_path)
    newest = _run(tmp_path)
    for file in newest.iterdir():
        file.unlink()
    newest.rmdir()
    capsys.readouterr()
    assert main(["audit", "verify", str(tmp_path)]) == 1
    err = " ".join(capsys.readouterr().err.split())
    assert newest.name in err and "missing" in err and "ALTERED" not in err


def test_a_fork_and_a_run_off_the_chain_are_reported(tmp_path: Path) -> None:
    first = _run(tmp_path)
    second = _run(tmp_path)  # its folder is first's name + "-2" only when both start in the same second
    forged = tmp_path / (first.name + "-fork")
    forged.mkdir()
    data = json.loads((second / "manifest.json").read_text())
    data["run_id"] = forged.name
    data["files"] = {}
    (forged / "manifest.json").write_text(json.dumps(data))  # same predecessor as the real second run
    kinds = {p.kind for p in trail.verify_audit_dir(str(tmp_path))}
    assert {"fork", "chain"} <= kinds


def test_a_run_without_manifest_is_a_note_not_a_failure(tmp_path: Path) -> None:
    _run(tmp_path)
    (tmp_path / "20990101T000000Z_env_up").mkdir()  # a run killed before its record
    problems = trail.verify_audit_dir(str(tmp_path))
    assert [p.kind for p in problems] == ["unfinished"] and not any(p.fails for p in problems)
    assert main(["audit", "verify", str(tmp_path)]) == 0


def test_run_files_are_private(tmp_path: Path) -> None:
    run = _run(tmp_path / "runs")
    assert stat.S_IMODE(run.stat().st_mode) == 0o700
    assert stat.S_IMODE((tmp_path / "runs").stat().st_mode) == 0o700
    for file in (run / "manifest.json", run / "00_preflight.ipynb", tmp_path / "runs" / ".chain-env.json"):
        assert stat.S_IMODE(file.stat().st_mode) == 0o600, file


APPEND = """
import sys, time
from runbook_lib import audit, lock
root, n = sys.argv[1], int(sys.argv[2])
store, done = audit.Store(root), 0
while done < n:
    try:
        held = lock.acquire(root, name="env", run_id=f"p{sys.argv[3]}-{done}", action="up")
    except lock.EnvironmentLocked:
        time.sleep(0.01)
        continue
    try:
        while True:
            try:
                run = audit.new_run(store, "env", "up")
                break
            except FileExistsError:
                continue
        manifest = audit.Manifest(run_id=run, action="up", name="env", status="succeeded")
        audit.write_manifest(store, run, manifest)
        done += 1
    finally:
        held.release()
"""


@pytest.mark.timeout(120)
def test_two_processes_appending_at_once_make_one_chain(tmp_path: Path) -> None:
    procs = [
        subprocess.Popen([sys.executable, "-c", APPEND, str(tmp_path), "6", str(i)]) for i in range(2)
    ]
    assert [p.wait(100) for p in procs] == [0, 0]
    problems = trail.verify_audit_dir(str(tmp_path))
    assert problems == [], problems
    assert chain.read_head(str(tmp_path), "env")[0].runs == 12


def test_the_only_run_of_an_environment_deleted_is_reported(tmp_path: Path, capsys) -> None:
    _run(tmp_path, "other")
    only = _run(tmp_path, "env")
    for file in only.iterdir():
        file.unlink()
    only.rmdir()
    assert main(["audit", "verify", str(tmp_path)]) == 1
    assert only.name in " ".join(capsys.readouterr().err.split())
