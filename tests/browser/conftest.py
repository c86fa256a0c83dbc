"""Browser tests: JupyterLab on 127.0.0.1 with a token, driven by Playwright in Debian's chromium.

Skipped, with how to get it, when /usr/bin/chromium is missing (`.ci/run` installs it).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("RUNBOOK_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = ROOT / "test-artifacts" / "browser"
CHROMIUM_ARGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage",
]  # fmt: skip


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if Path(CHROMIUM).exists():
        return
    skip = pytest.mark.skip(
        reason=f"{CHROMIUM} not found: `sudo apt-get install chromium` (Debian) to run them"
    )
    for item in items:
        if "tests/browser" in str(item.fspath):
            item.add_marker(skip)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, proc: subprocess.Popen, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except Exception:
            if proc.poll() is not None:
                raise RuntimeError(f"JupyterLab exited with {proc.returncode}; see jupyterlab.log") from None
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """A copy of the notebooks and params, so running them never touches the committed files."""
    shutil.copytree(ROOT / "notebooks", tmp_path / "notebooks")
    shutil.copytree(ROOT / "params", tmp_path / "params")
    return tmp_path


@pytest.fixture
def manual_sandbox(workdir: Path) -> Iterator[str]:
    """`runbook sandbox start --handshake manual` in the work folder; stopped afterwards."""
    cli = [sys.executable, "-m", "runbook_lib.sandbox.cli"]
    started = subprocess.run(
        [*cli, "start", "--port", "0", "--handshake", "manual", "--op-seconds", "0"],
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    status = json.loads(
        subprocess.run(
            [*cli, "status", "--json"], cwd=workdir, capture_output=True, text=True, timeout=30
        ).stdout
    )
    assert status["running"], started.stderr
    yield status["url"]
    subprocess.run([*cli, "stop"], cwd=workdir, capture_output=True, timeout=60)


@pytest.fixture
def jupyterlab(workdir: Path, manual_sandbox: str) -> Iterator[dict]:
    """JupyterLab serving the work folder, its kernels pointed at the sandbox."""
    port, token = free_port(), "runbook-browser-test-token"
    settings = workdir / ".jupyter-settings" / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True)
    (settings / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False})
    )
    env = {
        **os.environ,
        "AWS_ENDPOINT_URL": manual_sandbox,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "JUPYTERLAB_SETTINGS_DIR": str(workdir / ".jupyter-settings"),
        "JUPYTERLAB_WORKSPACES_DIR": str(workdir / ".jupyter-workspaces"),
        "JUPYTER_RUNTIME_DIR": str(workdir / ".jupyter-runtime"),
    }
    env.pop("AWS_PROFILE", None)
    log = (workdir / "jupyterlab.log").open("w")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jupyterlab",
            "--no-browser",
            "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.port={port}",
            f"--IdentityProvider.token={token}",
            f"--ServerApp.root_dir={workdir}",
            "--ServerApp.open_browser=False",
            "--ServerApp.allow_root=True",
        ],
        cwd=workdir,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_http(f"{base}/api/status?token={token}", proc)
        yield {"base": base, "token": token, "sandbox": manual_sandbox, "workdir": workdir}
    finally:
        # shut every kernel down, then the server
        try:
            req = urllib.request.Request(f"{base}/api/kernels?token={token}")
            for kernel in json.loads(urllib.request.urlopen(req, timeout=5).read()):
                urllib.request.urlopen(
                    urllib.request.Request(
                        f"{base}/api/kernels/{kernel['id']}?token={token}", method="DELETE"
                    ),
                    timeout=10,
                )
        except Exception:
            pass
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.fixture
def browser_page() -> Iterator:
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        try:
            yield page
        finally:
            browser.close()
