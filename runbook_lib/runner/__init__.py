"""Executing the runbook: the notebook sequence through papermill's Python API, in-process.

Split the way papermill is: ``steps`` (the sequences, options and parameters), ``record`` (the run
record: opened and finished in one place), ``io`` (the redacting papermill I/O handler), ``kernels``
(the run's kernel and a batch's pool), ``notebook`` (execute one notebook) and ``pipeline`` (``run``,
``plan_run``, ``run_batch``). Executed notebooks go through the I/O handler, which scrubs credentials
and secret-named parameters before anything touches disk or S3, and a failed notebook is written (with
papermill's error cells) before the run reports the failure. Every public name is re-exported here;
the private ones live in their module.
"""

from __future__ import annotations

from runbook_lib.identity import caller, is_local
from runbook_lib.runner.io import REDACT_SCHEME
from runbook_lib.runner.kernels import (
    HISTORY_ARG,
    RESET,
    WARM_MODULES,
    WARM_UP,
    KernelPool,
    RunKernel,
    close_clients,
    run_silently,
    start_kernel,
    stop_kernel,
)  # fmt: skip
from runbook_lib.runner.notebook import Executed, StoppedBeforeCell, execute_notebook
from runbook_lib.runner.pipeline import NOTHING_TO_DO, NOTHING_TO_DO_NOTE, plan_run, run, run_batch
from runbook_lib.runner.record import RunRecord, RunResult, StepFailed, lock_dir
from runbook_lib.runner.steps import (
    KERNEL_NAME,
    NOTEBOOKS_DIR,
    PREFLIGHT,
    RUNNER_PARAMETERS,
    SEQUENCES,
    Event,
    RunOptions,
    Step,
    check_parameters,
    select_steps,
    step_names,
)  # fmt: skip

__all__ = [
    "HISTORY_ARG", "KERNEL_NAME", "NOTEBOOKS_DIR", "NOTHING_TO_DO", "NOTHING_TO_DO_NOTE", "PREFLIGHT",
    "REDACT_SCHEME", "RESET", "RUNNER_PARAMETERS", "SEQUENCES", "WARM_MODULES", "WARM_UP", "Event",
    "Executed", "KernelPool", "RunKernel", "RunOptions", "RunRecord", "RunResult", "Step", "StepFailed",
    "StoppedBeforeCell", "caller", "check_parameters", "close_clients", "execute_notebook", "is_local",
    "lock_dir", "plan_run", "run", "run_batch", "run_silently", "select_steps", "start_kernel", "step_names",
    "stop_kernel",
]  # fmt: skip
