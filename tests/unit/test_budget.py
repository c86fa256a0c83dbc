"""One timeout budget: cell and run timeouts cover the library's waits; handshake_timeout_s is honoured."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from unit_helpers import demo_params

from runbook_lib import budget, runner
from runbook_lib.params import load_params

SANDBOX = Path(__file__).resolve().parents[2] / "params" / "sandbox.yaml"
NETWORK = {"network": {"vpc_id": "default", "subnet_ids": "default"}}


def test_the_teardown_cell_covers_every_wait_of_the_teardown() -> None:
    params = demo_params(NETWORK)
    t = params.timeouts
    waits = budget.step_waits(params, "teardown")
    # the defaults are the library's own: service 1800 (settle, then delete), connector 600, group 2700
    assert sorted(waits.values()) == [600.0, 1800.0, 1800.0, 2700.0]
    assert budget.cell_timeout(params, "teardown") == budget.BASE_CELL_S + 2 * t.service_s + 600 + 2700
    assert budget.cell_timeout(params, "teardown") > 1800 + 600 + 2700  # the sum
    no_network = demo_params()
    assert budget.step_waits(no_network, "teardown") == {
        "service settling": 1800.0,
        "service deletion": 1800.0,
    }


def test_steps_without_waits_keep_the_base_and_shorter_waits_shrink_the_budget() -> None:
    params = demo_params(NETWORK, **{"timeouts.security_group_delete_s": 5, "timeouts.service_s": 60})
    assert budget.cell_timeout(params, "preflight") == budget.BASE_CELL_S
    assert budget.cell_timeout(params, "instance_role") == budget.BASE_CELL_S
    assert budget.step_waits(params, "teardown")["security group deletion"] == 5.0
    assert budget.cell_timeout(params, "service") == budget.BASE_CELL_S + 3 * 60 + 600


@pytest.mark.parametrize("seconds", [900, 86400])
def test_handshake_timeout_is_honoured_by_the_connection_cell_and_the_run(seconds: int) -> None:
    params = demo_params(**{"connection.handshake_timeout_s": seconds})
    assert budget.cell_timeout(params, "connection") == budget.BASE_CELL_S + seconds
    steps = runner.step_names("up")
    assert budget.run_timeout(params, steps) >= budget.BASE_RUN_S + seconds


class _NoKernel:
    def __init__(self, *_: Any) -> None: ...

    def start(self) -> None: ...

    def take(self, stop: Any = None) -> None:
        return None

    def close(self, reusable: bool = False, *, wait: bool = True) -> None: ...


@pytest.fixture
def recorded(monkeypatch, tmp_path: Path) -> list[dict[str, Any]]:
    """``runner.run`` with no kernel and no AWS: what it hands ``execute_notebook``, per notebook."""
    seen: list[dict[str, Any]] = []

    def execute(input_path: Any, output_path: str, parameters: Any, **kw: Any) -> runner.Executed:
        seen.append({"notebook": Path(input_path).stem, **kw})
        return runner.Executed("ok", 0.0, [], None)

    monkeypatch.setattr(runner.pipeline, "RunKernel", _NoKernel)
    monkeypatch.setattr(runner.pipeline, "_preflight", lambda *a: None)
    monkeypatch.setattr(runner.pipeline, "execute_notebook", execute)
    monkeypatch.setenv("RUNBOOK_LOCK_DIR", str(tmp_path / "locks"))
    return seen


def write_params(tmp_path: Path, **changes: Any) -> Path:
    doc = yaml.safe_load(SANDBOX.read_text())
    doc["audit_dir"] = str(tmp_path / "runs")
    for dotted, value in changes.items():
        section, key = dotted.split(".")
        doc.setdefault(section, {})[key] = value
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def test_the_runner_gives_each_notebook_a_cell_timeout_covering_its_waits(recorded, tmp_path: Path) -> None:
    path = write_params(tmp_path, **{"connection.handshake_timeout_s": 86400})
    params = load_params(path)
    assert runner.run(path, "up").ok
    timeouts = {r["notebook"]: r["cell_timeout"] for r in recorded}
    assert timeouts["01_connection"] == budget.BASE_CELL_S + 86400  # not capped at 1800 any more
    assert timeouts["05_service"] == budget.cell_timeout(params, "service")
    assert timeouts["00_preflight"] == budget.BASE_CELL_S
    deadline_left = recorded[0]["deadline"] - time.monotonic()
    assert deadline_left > 86400  # the run's own timeout does not cap the handshake either

    recorded.clear()
    assert runner.run(path, "down").ok
    teardown = next(r for r in recorded if r["notebook"] == "90_teardown")
    assert teardown["cell_timeout"] >= 1800 + 600 + 2700 + budget.BASE_CELL_S


def test_an_explicit_cell_timeout_wins(recorded, tmp_path: Path, caplog) -> None:
    path = write_params(tmp_path)
    assert runner.run(path, "down", runner.RunOptions(cell_timeout=60.0, overall_timeout=600.0)).ok
    assert {r["cell_timeout"] for r in recorded} == {60.0}
    assert "shorter than the waits of 90_teardown" in caplog.text
