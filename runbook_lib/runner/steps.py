"""The steps of a run: the notebook sequences, the run's options, the notebook parameters and timeouts."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runbook_lib import budget
from runbook_lib.errors import ParameterError, Problem

if TYPE_CHECKING:
    from runbook_lib.runner.kernels import KernelPool

__all__ = [
    "KERNEL_NAME", "NOTEBOOKS_DIR", "PREFLIGHT", "RUNNER_PARAMETERS", "SEQUENCES", "Event", "RunOptions",
    "Step", "check_parameters", "select_steps", "step_names",
]  # fmt: skip

log = logging.getLogger(__name__)

NOTEBOOKS_DIR = Path(__file__).resolve().parent.parent.parent / "notebooks"
KERNEL_NAME = "python3"
Event = dict[str, Any]

@dataclass(frozen=True)
class Step:
    """One notebook of a sequence, and the step name ``--only`` selects it by."""

    name: str
    notebook: str
    parameters: tuple[str, ...] = ()


PREFLIGHT = Step("preflight", "00_preflight")
SEQUENCES: dict[str, tuple[Step, ...]] = {
    "up": (
        PREFLIGHT,
        Step("connection", "01_connection"),
        Step("instance_role", "02_instance_role"),
        Step("network", "03_vpc_connector"),
        Step("autoscaling", "04_autoscaling"),
        Step("service", "05_service"),
        Step("domains", "06_custom_domains"),
    ),
    "down": (PREFLIGHT, Step("teardown", "90_teardown", ("delete_connection",))),
    # commands on the running service: one operations notebook, its `operation` parameter the step name
    **{op: (PREFLIGHT, Step(op, "50_operations", ("operation",))) for op in ("pause", "resume", "deploy")},
}


def step_names(action: str = "up") -> list[str]:
    return [s.name for s in SEQUENCES[action]]


def select_steps(action: str, only: str | None = None) -> tuple[Step, ...]:
    """The notebooks to run; ``only`` is a step name (``service``) or a notebook (``05_service``)."""
    steps = SEQUENCES[action]
    if not only:
        return steps
    chosen = tuple(s for s in steps if only in (s.name, s.notebook, f"{s.notebook}.ipynb"))
    if not chosen:
        allowed = ", ".join(f"{s.name} ({s.notebook})" for s in steps)
        raise ParameterError("--only", [Problem("--only", f"no such step; one of {allowed}", only)])
    return chosen


@dataclass
class RunOptions:
    """How to run: where the notebooks and the audit trail are, timeouts, extra notebook parameters."""

    notebooks_dir: Path = NOTEBOOKS_DIR
    audit_dir: str | None = None  # default: the params' audit_dir
    only: str | None = None
    cell_timeout: float | None = None  # None: from the params, covering the step's waits (budget.py)
    overall_timeout: float | None = None  # None: from the params, covering every step's waits
    start_timeout: float = 60.0
    kernel_name: str = KERNEL_NAME
    parameters: dict[str, Any] = field(default_factory=dict)  # extra papermill parameters (-p)
    delete_connection: bool = False
    sandbox: bool = False
    every_step: bool = False  # execute the notebooks even when the environment is already as specified
    on_event: Callable[[Event], None] | None = None
    kernel_pool: KernelPool | None = None  # a batch's idle kernels, handed from run to run


# notebook parameters the runner sets itself: `-p` may not override them (they would make the notebooks
# act on another environment than the one locked and recorded, or contradict a command-line flag)
RUNNER_PARAMETERS = {
    "params_path": "the PARAMS argument",
    "interactive": "False when run headless",
    "delete_connection": "the --delete-connection flag",
    "operation": "the command (pause, resume or deploy)",
}


def check_parameters(parameters: dict[str, Any]) -> None:
    """Refuse extra notebook parameters that the runner owns (ParameterError, exit 2)."""
    problems = [
        Problem(name, f"is set by the runner ({RUNNER_PARAMETERS[name]}); it cannot be passed with -p")
        for name in sorted(parameters)
        if name in RUNNER_PARAMETERS
    ]
    if problems:
        raise ParameterError("-p", problems)



def _cell_timeout(opts: RunOptions, params: Any, step: Step) -> float:
    """``--cell-timeout`` if given, else one that covers the waits the step may do (``budget``)."""
    needed = budget.cell_timeout(params, step.name)
    if opts.cell_timeout is None:
        return needed
    if opts.cell_timeout < needed:
        log.warning(
            "--cell-timeout %.0fs is shorter than the waits of %s (%.0fs): a long wait is interrupted",
            opts.cell_timeout, step.notebook, needed,
        )  # fmt: skip
    return opts.cell_timeout


def _step_parameters(step: Step, opts: RunOptions) -> dict[str, Any]:
    known = {"delete_connection": opts.delete_connection, "operation": step.name}
    return {name: known[name] for name in step.parameters}
