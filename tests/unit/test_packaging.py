"""pyproject.toml and environment.yml list the same dependencies."""

from __future__ import annotations

from pathlib import Path

import tomllib
import yaml

ROOT = Path(__file__).resolve().parents[2]


def test_environment_yml_mirrors_pyproject() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = set(project["dependencies"]) | set(project["optional-dependencies"]["dev"])
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d)
    listed = {d for d in pip if not d.startswith("-e")}
    assert listed == wanted, (
        f"only in pyproject: {wanted - listed}; only in environment.yml: {listed - wanted}"
    )


def test_console_script_and_python_floor() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["scripts"]["runbook"] == "runbook_lib.cli:main"
    assert project["requires-python"] == ">=3.10"


def test_airflow_extra_has_its_own_virtualenv() -> None:
    """Airflow pins its own dependencies: the extra is installed only into .venv-airflow, never the conda
    environment or the main venv."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extra = project["optional-dependencies"]["airflow"]
    assert [d.split(">")[0].split("=")[0] for d in extra] == ["apache-airflow"]
    assert all("," in d for d in extra), "pin a version range"
    env_text = (ROOT / "environment.yml").read_text()
    assert "apache-airflow" not in yaml.safe_load(env_text)["dependencies"][-1]["pip"]
    makefile = (ROOT / "Makefile").read_text()
    assert "-e '.[airflow,dev]'" in makefile and "-e '.[dev]'" in makefile
