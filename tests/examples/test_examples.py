"""The sample apps in examples/: the Python app answers ENV1 on 127.0.0.1; the Go app builds where Go is
installed (and its module cache or the network has gin); every example params file validates."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from runbook_lib.params import load_params

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url: str, timeout: float = 10.0) -> tuple[int, str]:
    deadline = time.monotonic() + timeout
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    while True:
        try:
            with opener.open(url, timeout=2) as resp:
                return resp.status, resp.read().decode()
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def test_python_app_answers_env1() -> None:
    port = free_port()
    env = {**os.environ, "HOST": "127.0.0.1", "PORT": str(port), "ENV1": "hello from ENV1"}
    proc = subprocess.Popen(
        [sys.executable, str(EXAMPLES / "python-app" / "app.py")], env=env,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        assert get(f"http://127.0.0.1:{port}/") == (200, "hello from ENV1")
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.mark.parametrize(
    "path", sorted(EXAMPLES.glob("*/params-*.yaml")), ids=lambda p: f"{p.parent.name}/{p.name}"
)
def test_example_params_validate(path: Path) -> None:
    params = load_params(path)
    assert (params.source.image is None) == path.name.endswith("code.yaml")
    if params.source.image is None:
        assert params.source.source_directory == f"/examples/{path.parent.name}"
        assert (EXAMPLES / path.parent.name / "Dockerfile").is_file()


def test_go_app_builds_where_go_is_installed(tmp_path: Path) -> None:
    go = shutil.which("go")
    if go is None:
        pytest.skip("Go is not installed on this machine: the Go sample app is not built here")
    src = tmp_path / "go-app"
    shutil.copytree(EXAMPLES / "go-app", src)
    env = {**os.environ, "GOFLAGS": "-mod=mod", "CGO_ENABLED": "0"}
    tidy = subprocess.run([go, "mod", "tidy"], cwd=src, env=env, capture_output=True, text=True, timeout=300)
    if tidy.returncode != 0:
        pytest.skip(
            f"gin is neither in the Go module cache nor downloadable (offline?): {tidy.stderr[-300:]}"
        )
    built = subprocess.run([go, "build", "-o", "app", "."], cwd=src, env=env, capture_output=True, text=True,
                           timeout=600)  # fmt: skip
    assert built.returncode == 0, built.stderr
    assert (src / "app").is_file()
