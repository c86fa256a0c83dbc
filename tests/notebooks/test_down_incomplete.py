"""`runbook down` whose security-group wait runs out (App Runner's ENIs linger on the sandbox): the rest is
deleted, the table and the manifest say what is left, and the command exits 1 saying how to finish."""

from __future__ import annotations

import json
from pathlib import Path

from runbook_lib.cli import main


def test_down_with_a_stuck_security_group_deletes_the_rest_and_exits_1(
    runbook_env, write_params, tmp_path: Path, capsys
) -> None:
    params = write_params(tmp_path, "demo-left", timeouts={"security_group_delete_s": 5})
    assert main(["up", str(params)]) == 0
    runbook_env.control.faults(eni_release_lag_s=3600)
    capsys.readouterr()

    assert main(["down", str(params)]) == 1
    err = capsys.readouterr().err
    assert "security_group demo-left-apprunner-egress" in err and "TeardownIncomplete" in err
    assert f"runbook down {params}" in err  # the command to finish
    run = sorted(p for p in (tmp_path / "runs").iterdir() if p.is_dir())[-1]
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["status"] == "failed" and manifest["error"]["notebook"] == "90_teardown"
    actions = {r["resource"]: (r["action"], r["detail"]) for r in manifest["resources"]}
    assert actions["autoscaling"][0] == actions["instance_role"][0] == "DELETED"
    assert actions["security_group"][0] == "UNCHANGED"
    assert actions["security_group"][1].startswith("left: still in use, timed out after")

    runbook_env.control.advance(3600)  # the ENIs are released: the next down finishes
    assert main(["down", str(params)]) == 0
