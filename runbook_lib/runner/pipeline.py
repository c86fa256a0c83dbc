"""The run pipeline: ``run`` (up/down), ``plan_run``, ``run_batch`` and the nothing-to-do check.

``run(params_path, "up"|"down", options)`` reads like a pipeline: load params → open the run record →
check the account → execute each notebook (stop at the first failure) → collect the results each
notebook displayed (``report.MIMETYPE``) → finish the record (manifest, chain head, lock).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

from runbook_lib import audit, budget, lock, report, shared_reads, signals
from runbook_lib.errors import ParameterError, RunbookError
from runbook_lib.identity import caller, session_credentials
from runbook_lib.redact import Redactor
from runbook_lib.runner.kernels import KernelPool, RunKernel
from runbook_lib.runner.notebook import execute_notebook
from runbook_lib.runner.record import RunRecord, RunResult, StepFailed, _collect
from runbook_lib.runner.steps import (
    PREFLIGHT,
    RunOptions,
    Step,
    _cell_timeout,
    _step_parameters,
    check_parameters,
    select_steps,
)  # fmt: skip

__all__ = ["NOTHING_TO_DO", "NOTHING_TO_DO_NOTE", "plan_run", "run", "run_batch"]

log = logging.getLogger(__name__)


def run(params_path: str | Path, action: str = "up", options: RunOptions | None = None) -> RunResult:
    """Run ``up`` or ``down`` for one parameter file; bad params raise ParameterError (no folder).

    A signal (``signals``) stops it before the next notebook or cell, interrupts the running one, and
    ends it ``interrupted``; the record is written and the lock released however it ends.
    """
    from runbook_lib.params import load_params

    opts = options or RunOptions()
    emit = opts.on_event or (lambda event: None)
    stop = signals.current()
    steps = select_steps(action, opts.only)
    params_path = str(params_path)
    params = load_params(params_path)  # nothing happens before the params pass
    check_parameters(opts.parameters)
    extra = dict(opts.parameters)
    rec = RunRecord.open(
        params_path, params, action, audit_dir=opts.audit_dir, sandbox=opts.sandbox, steps=steps, extra=extra,
        stop=stop,
    )  # fmt: skip
    result = rec.result
    emit({"event": "run_start", "params_path": params_path, "run_dir": result.run_dir, "steps": len(steps)})
    kernel = RunKernel(opts.kernel_name, opts.start_timeout, opts.kernel_pool)
    worker = threading.current_thread()

    def finish() -> None:
        if threading.current_thread() is worker:  # (the hard stop killed the kernel already)
            stopped = stop.requested
            kernel.close(reusable=result.status == "succeeded" and not stopped, wait=not stopped)
        rec.finish()
        emit({"event": "run_end", "params_path": params_path, "status": result.status})

    with rec.recording(finish, resume=f"fix the cause, then re-run: runbook {action} {params_path}"):
        _execute_steps(rec, params, steps, kernel, opts, extra)
    return result


def _execute_steps(
    ctx: RunRecord, params: Any, steps: tuple[Step, ...], kernel: RunKernel, opts: RunOptions,
    extra: dict[str, Any],
) -> None:  # fmt: skip
    """The account check, the no-op check, then each notebook in the run's kernel; stops on a signal."""
    emit = opts.on_event or (lambda event: None)
    manifest, stop, params_path = ctx.manifest, ctx.stop, ctx.result.params_path
    deadline = ctx.started + (opts.overall_timeout or budget.run_timeout(params, [s.name for s in steps]))
    maybe_unchanged = ctx.result.action == "up" and not (opts.only or opts.every_step) and _provisioned(
        ctx.store, params.name
    )  # the last up succeeded: first check, without a kernel, whether there is anything to do
    if not maybe_unchanged:
        kernel.start()  # starts while the account is checked
    ctx.step = PREFLIGHT.notebook
    clients = _preflight(params, manifest, ctx.redactor)
    stop.check()
    if maybe_unchanged and _unchanged(clients, params, manifest):
        for record in manifest.notebooks:
            record.status, record.reason = "skipped", NOTHING_TO_DO
            emit({"event": "notebook_end", "params_path": params_path, "notebook": record.notebook,
                  "status": "skipped"})  # fmt: skip
        ctx.result.note = NOTHING_TO_DO_NOTE
        return
    kernel.start()  # (already started unless the trail suggested nothing to do)
    base = {"params_path": str(Path(params_path).resolve()), "interactive": False}
    for step, record in zip(steps, manifest.notebooks[: len(steps)], strict=True):
        stop.check()
        ctx.step = step.notebook
        file = record.file = f"{step.notebook}.ipynb"
        record.started_at = audit.iso(audit.utc_now())
        emit({"event": "notebook_start", "params_path": params_path, "notebook": step.notebook})
        km = kernel.take(stop)
        with stop.watching(km):
            executed = execute_notebook(
                opts.notebooks_dir / file, ctx.store.join(ctx.run_name, file),
                {**base, **_step_parameters(step, opts), **extra}, store=ctx.store, redactor=ctx.redactor,
                kernel_name=opts.kernel_name, cell_timeout=_cell_timeout(opts, params, step),
                deadline=deadline, start_timeout=opts.start_timeout, on_event=opts.on_event, km=km, stop=stop,
            )  # fmt: skip
        record.status, record.duration_s = executed.status, executed.duration_s
        record.error = executed.error
        if executed.sha256:
            manifest.files[file] = executed.sha256
        _collect(manifest, executed.payloads)
        emit({"event": "notebook_end", "params_path": params_path, "notebook": step.notebook,
              "status": executed.status})  # fmt: skip
        if executed.error and stop.requested:
            record.status = "interrupted"
        stop.check()
        if executed.error:
            ctx.result.failed_notebook = step.notebook
            raise StepFailed(step, executed.error)


def _preflight(params: Any, manifest: audit.Manifest, redactor: Redactor) -> Any:
    """Who and where: the account guard runs here, before any notebook. Returns the clients."""
    from runbook_lib.clients import make_clients

    clients = make_clients(params)
    redactor.add_values(session_credentials(clients))
    manifest.identity = caller(clients, params)
    manifest.endpoint = manifest.identity.get("Endpoint")
    return clients


NOTHING_TO_DO_NOTE = "nothing to change, the service answers: no notebook executed (--every-step runs them)"
NOTHING_TO_DO = (
    "the plan found every resource as specified (the connection AVAILABLE, the service RUNNING) and the "
    "service answered, so no notebook was executed"
)


def _provisioned(store: audit.Store, name: str) -> bool:
    """Whether the last ``up``/``down`` of this environment is a successful ``up`` (from the chain head)."""
    from runbook_lib import chain

    head, _ = chain.read_head(store.root, name)
    last = head.last_apply if head else {}
    return last.get("action") == "up" and last.get("status") == "succeeded"


def _unchanged(clients: Any, params: Any, manifest: audit.Manifest) -> bool:
    """Plan (reads only) and, when nothing is to do, check the service answers; record both.

    True when the run can end here, as ``terraform apply`` or ``sam deploy`` end on an empty change:
    the plan, the resources and the answer of the service go into the manifest. Otherwise (a change,
    a status to wait on, a service that does not answer) the notebooks run as usual.
    """
    from runbook_lib.orchestrate import STEP_OF, plan
    from runbook_lib.verify import verify_service

    try:
        found = plan(clients, params)
        if not found.nothing_to_do:
            return False
        checked = verify_service(clients, params, results=found.steps)
    except RunbookError:  # the notebooks will show it, in an executed notebook
        log.debug("checking for an unchanged environment failed", exc_info=True)
        return False
    if not checked.extra.get("ok"):
        return False
    rows = [report.plain(step) for step in found.steps]
    _collect(manifest, [
        {"kind": "plan", "data": rows},
        *({"kind": "results", "step": STEP_OF[row["resource"]], "data": [row]} for row in rows),
        {"kind": "verify", "data": [report.plain(checked)]},
    ])  # fmt: skip
    return True


def plan_run(params_path: str | Path, options: RunOptions | None = None) -> tuple[Any, RunResult]:
    """``runbook plan``: the plan from the library (no kernel), recorded as a run of action ``plan``."""
    from runbook_lib.orchestrate import plan as make_plan
    from runbook_lib.params import load_params

    opts = options or RunOptions()
    params_path = str(params_path)
    params = load_params(params_path)
    rec = RunRecord.open(
        params_path, params, "plan", audit_dir=opts.audit_dir, sandbox=opts.sandbox, stop=signals.current()
    )
    found = None
    with rec.recording(last_word=True):
        clients = _preflight(params, rec.manifest, rec.redactor)
        found = make_plan(clients, params, only=opts.only)
        rec.manifest.plan = [report.plain(r) for r in found.steps]
    return (None if rec.signum is not None else found), rec.result


def run_batch(
    paths: Sequence[str | Path], action: str = "up", options: RunOptions | None = None, *, jobs: int = 1
) -> list[RunResult]:
    """Run several parameter files, at most ``jobs`` at once; a bad file is reported, not fatal."""
    opts = replace(options or RunOptions(), kernel_pool=KernelPool())

    stop = signals.current()

    def one(path: str | Path) -> RunResult:
        if stop.requested:  # a signal came before this environment's turn: it does not start
            why = f"not started: interrupted by {signals.signal_name(stop.signum)}"
            return RunResult(str(path), action, "interrupted", error=why)
        try:
            return run(path, action, opts)
        except ParameterError as err:
            return RunResult(str(path), action, "invalid", error=str(err))
        except lock.EnvironmentLocked as err:
            return RunResult(str(path), action, "failed", name=err.name, error=str(err))
        except Exception as err:  # one environment's crash must not stop the others
            log.exception("run of %s crashed", path)
            return RunResult(str(path), action, "failed", error=f"{type(err).__name__}: {err}")

    try:  # environments side by side share their listings (runbook_lib.shared_reads)
        with shared_reads.batch_folder(jobs > 1 and len(paths) > 1), ThreadPoolExecutor(
            max_workers=max(1, jobs), thread_name_prefix="runbook"
        ) as pool:
            return list(pool.map(one, paths))
    finally:
        opts.kernel_pool.close()
