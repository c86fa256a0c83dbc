"""Image services through the runner and the CLI on the sandbox: a failed create shows the log tail (with
the log group's name) in the executed notebook, on the terminal and in the manifest; `runbook pause`,
`resume` and `deploy` are runs of the audit trail, and a re-run of pause makes no mutating call."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import yaml

from runbook_lib.cli import main

SANDBOX_PARAMS = Path(__file__).resolve().parents[2] / "params" / "sandbox.yaml"

PRIVATE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/never-pushed:1"
PUBLIC = "public.ecr.aws/example/demo:latest"


def image_params(folder: Path, identifier: str) -> Path:
    doc = yaml.safe_load(SANDBOX_PARAMS.read_text())
    for key in ("connection", "network"):
        doc.pop(key)
    doc["name"] = "demo-image"
    doc["audit_dir"] = str(folder / "runs")
    doc["source"] = {"image": {"identifier": identifier}, "port": 8080, "env": {"ENV1": "hello"}}
    path = folder / "image.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def runs(folder: Path) -> list[Path]:
    return sorted(p for p in (folder / "runs").iterdir() if p.is_dir())


def test_failed_create_shows_the_log_tail_in_notebook_terminal_and_manifest(
    runbook_env, tmp_path, capsys
) -> None:
    params = image_params(tmp_path, PRIVATE)
    assert main(["up", str(params)]) == 1
    out, err = capsys.readouterr()
    group = "/aws/apprunner/demo-image/"
    terminal = out + err
    assert f"Log tail of {group}" in terminal and "Failed to pull your application image" in terminal
    (run,) = runs(tmp_path)
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["status"] == "failed" and manifest["error"]["notebook"] == "05_service"
    assert f"Log tail of {group}" in manifest["error"]["message"]
    assert "Failed to pull your application image" in manifest["error"]["message"]
    executed = nbformat.read(run / "05_service.ipynb", as_version=4)
    shown = json.dumps([o for c in executed.cells for o in c.get("outputs", [])])
    assert f"Log tail of {group}" in shown and "Failed to pull your application image" in shown
    connection = nbformat.read(run / "01_connection.ipynb", as_version=4)
    assert "not needed" in json.dumps([o for c in connection.cells for o in c.get("outputs", [])])


def test_pause_resume_deploy_are_runs_of_the_audit_trail(runbook_env, tmp_path, capsys) -> None:
    params = image_params(tmp_path, PUBLIC)
    assert main(["up", str(params)]) == 0
    for command in ("pause", "pause", "resume", "deploy"):
        runbook_env.control.clear_requests()
        assert main([command, str(params)]) == 0, capsys.readouterr().err
        sent = [r["operation"] for r in runbook_env.control.mutating_requests()]
        expected = {"pause": ["PauseService"], "resume": ["ResumeService"], "deploy": ["StartDeployment"]}
        if command == "pause" and len(runs(tmp_path)) == 3:  # the second pause: already PAUSED
            expected = {"pause": []}
        assert sent == expected[command], (command, sent)
    manifests = [json.loads((r / "manifest.json").read_text()) for r in runs(tmp_path)]
    assert [m["action"] for m in manifests] == ["up", "pause", "pause", "resume", "deploy"]
    assert all(m["status"] == "succeeded" for m in manifests)
    assert [m["resources"][0]["action"] for m in manifests[1:]] == [
        "UPDATED",
        "UNCHANGED",
        "UPDATED",
        "UPDATED",
    ]
    assert manifests[-1]["notebooks"][-1]["notebook"] == "50_operations"
