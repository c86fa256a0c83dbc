"""Fixtures for executing the notebooks headless on the sandbox."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
SANDBOX_PARAMS = ROOT / "params" / "sandbox.yaml"


@pytest.fixture
def runbook_env(sandbox_env, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """The reset sandbox with an auto handshake and instant operations; cwd is a temp folder."""
    sandbox_env.control.config(handshake="auto", handshake_seconds=0, op_seconds=0)
    monkeypatch.chdir(tmp_path)
    return sandbox_env


@pytest.fixture
def write_params():
    """``write_params(folder, name)``: a parameter file for one more environment."""
    return _write_params


def _write_params(folder: Path, name: str, **changes: object) -> Path:
    """A copy of params/sandbox.yaml with another service name (and owned-resource names)."""
    doc = yaml.safe_load(SANDBOX_PARAMS.read_text())
    doc["name"] = name
    doc["connection"]["name"] = f"gh-{name}"
    doc["audit_dir"] = str(folder / "runs")
    doc.update(changes)
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path
