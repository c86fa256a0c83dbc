"""JupyterLab in headless chromium: 05_service's verify card shows, in the page, the URL checked, its HTTP
status, the latency and the first line of the body (not only the hidden structured mimetype)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from runbook_lib.sandbox.control import SandboxControl

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "browser"


def _provision(workdir: Path, url: str) -> None:
    """Everything 05_service needs, headless (the handshake completes by itself for this)."""
    SandboxControl(url).config(handshake="auto", handshake_seconds=0)
    env = {**os.environ, "AWS_ENDPOINT_URL": url, "AWS_ACCESS_KEY_ID": "testing",
           "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}  # fmt: skip
    env.pop("AWS_PROFILE", None)
    for step in ("connection", "instance_role", "network", "autoscaling"):
        subprocess.run(
            [sys.executable, "-m", "runbook_lib.cli", "up", "params/sandbox.yaml", "--only", step],
            cwd=workdir, env=env, check=True, capture_output=True, timeout=300,
        )  # fmt: skip


def test_service_notebook_shows_the_verify_card(jupyterlab: dict, browser_page) -> None:
    page = browser_page
    base, token = jupyterlab["base"], jupyterlab["token"]
    _provision(jupyterlab["workdir"], jupyterlab["sandbox"])
    page.goto(f"{base}/lab/tree/notebooks/05_service.ipynb?reset&token={token}")
    page.get_by_text(re.compile(r"Python 3 \(.*\) \| Idle")).first.wait_for(timeout=90_000)
    for label in ("No", "Dismiss"):
        found = page.locator(".jp-toast-button, .Toastify button", has_text=label)
        if found.count():
            found.first.click()
    page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
    page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()

    card = page.locator(".jp-OutputArea-output table", has_text="HTTP status")
    card.first.wait_for(timeout=120_000)
    text = " ".join(card.first.inner_text().split())
    card.first.scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / "verify-card.png"), full_page=True)
    assert "URL" in text and "/_sandbox/services/" in text, text
    assert re.search(r"HTTP status 200\b", text), text
    assert re.search(r"latency \d+ ms", text), text
    assert "body (first line)" in text and "demo-go-app" in text, text
