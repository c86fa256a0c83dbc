"""The account guard, runtime secrets as ARNs only, and one run per environment.

Least privilege is shown with IAM enforced: test_iam_enforcement.py."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from runbook_lib import load_params, make_clients
from runbook_lib.cli import main
from runbook_lib.lock import acquire

from .conftest import PARAM_SECRET, SECRETS_ARN, assert_down_leaves_nothing, runs, write_params


def test_up_and_down_with_a_secret_parameter_leave_nothing(rel, tmp_path: Path) -> None:
    """A full run with a secret-named parameter (the secrets scan then checks it was written nowhere)."""
    params_path = write_params(tmp_path, "rel-policy")
    assert main(["up", str(params_path), "-p", "db_password", PARAM_SECRET]) == 0
    assert main(["down", str(params_path), "--delete-connection"]) == 0
    assert_down_leaves_nothing(params_path, rel.control, run=False)


def test_runtime_secrets_reach_app_runner_only_as_arns(rel, tmp_path: Path) -> None:
    params_path = write_params(tmp_path, "rel-secrets")
    assert main(["up", str(params_path), "--only", "preflight"]) == 0
    from runbook_lib import apply
    from runbook_lib.sandbox.control import SimulatedTime as SimTime
    from runbook_lib.service import find_service

    params = load_params(params_path)
    clients = make_clients(params)
    t = SimTime(rel.control)
    apply(clients, params, sleep=t.sleep, clock=t.clock)
    arn = find_service(clients, params)["arn"]
    config = clients.apprunner.describe_service(ServiceArn=arn)["Service"]["SourceConfiguration"]
    secrets = config["CodeRepository"]["CodeConfiguration"]["CodeConfigurationValues"]
    assert secrets["RuntimeEnvironmentSecrets"] == {"DB_PASSWORD": SECRETS_ARN}
    assert_down_leaves_nothing(params_path, rel.control)


def test_another_account_is_refused_before_any_mutating_call(rel, tmp_path: Path, capsys) -> None:
    params_path = write_params(tmp_path, "rel-guard", account_id="210987654321")
    rel.control.clear_requests()
    capsys.readouterr()
    assert main(["up", str(params_path)]) == 1
    err = " ".join(capsys.readouterr().err.split())
    assert "210987654321" in err and "123456789012" in err and "Refusing to act" in err, err
    assert rel.control.mutating_requests() == []
    assert [r["operation"] for r in rel.control.requests()] == ["GetCallerIdentity"]
    manifest = json.loads((runs(tmp_path)[-1] / "manifest.json").read_text())
    assert manifest["status"] == "failed" and manifest["error"]["type"] == "WrongAccount"


def test_a_locked_environment_is_refused_while_another_proceeds(rel, tmp_path: Path, capsys) -> None:
    busy, free = write_params(tmp_path, "rel-busy"), write_params(tmp_path, "rel-free")
    with acquire(tmp_path / "runs", name="rel-busy", run_id="20240101T000000Z_rel-busy_up", action="up"):
        capsys.readouterr()
        assert main(["up", str(busy), str(free), "--only", "preflight", "--jobs", "2"]) == 1
        out, err = capsys.readouterr()
    text = " ".join(err.split())
    assert "environment rel-busy is locked by run 20240101T000000Z_rel-busy_up since" in text, text
    assert f"pid {os.getpid()}" in text
    assert [p.name.split("_", 1)[1] for p in runs(tmp_path)] == ["rel-free_up"]  # none for the refused run
    assert main(["plan", str(busy)]) == 0  # released: the next run goes ahead


@pytest.mark.parametrize("action", ["up", "down"])
def test_a_stale_lock_of_a_killed_run_is_taken_over(rel, tmp_path: Path, action: str) -> None:
    import subprocess
    import sys

    params_path = write_params(tmp_path, f"rel-stale-{action}")
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    lock = tmp_path / "runs" / f".lock-rel-stale-{action}.json"
    lock.parent.mkdir(parents=True)
    lock.write_text(json.dumps({
        "name": f"rel-stale-{action}", "run_id": "old", "action": action, "pid": dead.pid,
        "host": os.uname().nodename, "since": "2024-01-01T00:00:00Z", "process_start": None,
    }))  # fmt: skip
    assert main([action, str(params_path), "--only", "preflight"]) == 0
    assert not lock.exists()
