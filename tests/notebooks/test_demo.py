"""`make demo` from a fresh clone ends with a RUNNING service on the sandbox and a run folder.

The clone reuses this checkout's .venv (there is no network here to build a new one): ``STAMP`` points
at a file newer than the clone's pyproject.toml, so `make` skips the install; its sandbox takes a free
port.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import boto3
import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_make_demo_from_a_fresh_clone(tmp_path: Path) -> None:
    venv = ROOT / ".venv"
    if not (venv / "bin" / "runbook").exists() or shutil.which("make") is None:
        pytest.skip("needs make and this checkout's installed .venv")
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
    stamp = tmp_path / "installed-stamp"
    stamp.touch()
    runbook = str(venv / "bin" / "runbook")
    try:
        done = subprocess.run(
            ["make", "demo", f"VENV={venv}", f"STAMP={stamp}", "SANDBOX_PORT=0"],
            cwd=clone, capture_output=True, text=True, timeout=600,
        )  # fmt: skip
        assert done.returncode == 0, done.stdout + done.stderr
        assert "service URL" in done.stdout and "runs/" in done.stdout
        assert re.search(r"URL: +http://127\.0\.0\.1:\d+/_sandbox/", done.stdout), done.stdout  # the verify card
        assert "HTTP status:" in done.stdout and "sandbox's stand-in" in done.stdout
        (run,) = [p for p in (clone / "runs").iterdir() if p.is_dir()]
        assert json.loads((run / "manifest.json").read_text())["status"] == "succeeded"
        state = json.loads((clone / ".runbook" / "sandbox.json").read_text())
        client = boto3.client(
            "apprunner", endpoint_url=state["url"], region_name="us-east-1",
            aws_access_key_id="testing", aws_secret_access_key="testing",
        )  # fmt: skip
        (service,) = client.list_services()["ServiceSummaryList"]
        assert service["ServiceName"] == "demo-go-app" and service["Status"] == "RUNNING"
    finally:
        subprocess.run([runbook, "sandbox", "stop"], cwd=clone, capture_output=True, timeout=60)
