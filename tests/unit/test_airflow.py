"""runbook_lib.airflow without Airflow: grouping by account and region, pools, the run's outcome."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from runbook_lib import airflow, runner


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text)
    return path


def test_files_are_grouped_by_account_and_region_without_validation(tmp_path: Path) -> None:
    a = write(tmp_path, "a.yaml", 'account_id: "111122223333"\nregion: us-east-1\nname: a\n')
    b = write(tmp_path, "b.yaml", 'account_id: "111122223333"\nregion: eu-west-1\n')
    c = write(tmp_path, "c.yaml", 'account_id: "111122223333"\nregion: us-east-1\nbad: [\n')
    d = write(tmp_path, "d.yaml", 'account_id: "111122223333"\nregion: us-east-1\n')
    groups = airflow.group_by_target([a, b, c, d])
    assert groups == {
        ("111122223333", "us-east-1"): [str(a), str(d)],
        ("111122223333", "eu-west-1"): [str(b)],
        ("unknown", "unknown"): [str(c)],  # unreadable: its run reports the problem
    }
    assert airflow.pools([a, b]) == ["runbook-111122223333-us-east-1", "runbook-111122223333-eu-west-1"]


def test_importing_it_does_not_import_airflow() -> None:
    assert "airflow" not in sys.modules or not hasattr(sys.modules["airflow"], "sdk")


def test_a_failed_run_fails_the_task(monkeypatch: pytest.MonkeyPatch) -> None:
    got = runner.RunResult("p.yaml", "up", "failed", name="app", error="05_service: WaitFailed: boom",
                           resume="re-run: runbook up p.yaml")  # fmt: skip
    monkeypatch.setattr(runner, "run", lambda path, action, options: got)
    with pytest.raises(airflow.RunFailed, match="up of p.yaml failed: 05_service: WaitFailed: boom re-run"):
        airflow.run_environment("p.yaml", audit_dir="s3://b/p")


def test_a_run_that_succeeded_returns_its_summary(monkeypatch: pytest.MonkeyPatch) -> None:
    seen = {}

    def fake(path: str, action: str, options: runner.RunOptions) -> runner.RunResult:
        seen.update(path=path, action=action, audit_dir=options.audit_dir)
        return runner.RunResult(path, action, "succeeded", name="app", run_dir="s3://b/p/r", service_url="u")

    monkeypatch.setattr(runner, "run", fake)
    summary = airflow.run_environment("p.yaml", "down", audit_dir="s3://b/p")
    assert seen == {"path": "p.yaml", "action": "down", "audit_dir": "s3://b/p"}
    assert summary["status"] == "succeeded" and summary["run_dir"] == "s3://b/p/r"
