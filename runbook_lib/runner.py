"""Executing the runbook: the notebook sequence through papermill's Python API, in-process.

``run(params_path, "up"|"down", options)`` reads like a pipeline: load params → open a run folder →
check the account → execute each notebook (stop at the first failure) → collect the results each
notebook displayed (``report.MIMETYPE``) → write the manifest. Executed notebooks go through a papermill
I/O handler that scrubs credentials and secret-named parameters before anything touches disk or S3, and
a failed notebook is written (with papermill's error cells) before the run reports the failure.
``run_batch`` runs several parameter files, each in its own run folder, at most ``jobs`` at once.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from runbook_lib import audit, budget, lock, report, signals
from runbook_lib.errors import ParameterError, Problem, RunbookError
from runbook_lib.redact import Redactor

log = logging.getLogger(__name__)

NOTEBOOKS_DIR = Path(__file__).resolve().parent.parent / "notebooks"
KERNEL_NAME = "python3"
REDACT_SCHEME = "runbook-redacted::"
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


@dataclass
class RunResult:
    """The outcome of one run of one parameter file."""

    params_path: str
    action: str
    status: str  # succeeded | failed | interrupted | invalid
    name: str | None = None
    run_dir: str | None = None
    duration_s: float = 0.0
    service_url: str | None = None
    error: str | None = None
    failed_notebook: str | None = None
    resume: str | None = None
    note: str | None = None
    resources: list[dict[str, Any]] = field(default_factory=list)
    manifest: dict[str, Any] | None = None
    chain_head: str | None = None  # the sha256 of the manifest written: the environment's chain head

    @property
    def ok(self) -> bool:
        return self.status == "succeeded"


# --------------------------------------------------------------------------------- redacting I/O


class _RedactingIO:
    """A papermill I/O handler: scrubs each notebook papermill writes, then writes it for real."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._targets: dict[str, tuple[audit.Store, Redactor]] = {}
        self.written: dict[str, Any] = {}
        self.digests: dict[str, str] = {}

    def target(self, store: audit.Store, real_path: str, redactor: Redactor) -> str:
        with self._lock:
            self._targets[real_path] = (store, redactor)
        return REDACT_SCHEME + real_path

    def release(self, real_path: str) -> None:
        with self._lock:
            self._targets.pop(real_path, None)
            self.written.pop(real_path, None)
            self.digests.pop(real_path, None)

    def write(self, buf: str, path: str) -> None:
        import nbformat

        real = path[len(REDACT_SCHEME) :]
        store, redactor = self._targets[real]
        nb = nbformat.reads(buf, as_version=4)
        nb.metadata.setdefault("papermill", {})["output_path"] = real
        nb = redactor.notebook(nb)
        text = nbformat.writes(nb)
        store.write_text(real, text)
        with self._lock:
            self.written[real] = nb
            self.digests[real] = audit.sha256_text(text)

    def read(self, path: str) -> str:
        real = path[len(REDACT_SCHEME) :]
        return self._targets[real][0].read_text(real)

    def listdir(self, path: str) -> list[str]:
        raise NotImplementedError("listdir is not supported for redacted outputs")

    def pretty_path(self, path: str) -> str:
        return path[len(REDACT_SCHEME) :]


_IO: _RedactingIO | None = None
_IO_LOCK = threading.Lock()


def _redacting_io() -> _RedactingIO:
    """The handler, registered with papermill on first use (never at import)."""
    global _IO
    with _IO_LOCK:
        if _IO is None:
            from papermill.iorw import papermill_io

            _IO = _RedactingIO()
            papermill_io.register(REDACT_SCHEME, _IO)
        return _IO


# ------------------------------------------------------------------------------- the run's kernel


HISTORY_ARG = "--HistoryManager.hist_file=:memory:"  # what nbclient passes to its own kernels


def _kernel_manager_class() -> type:
    from jupyter_client.manager import AsyncKernelManager

    class _TrackedKernelManager(AsyncKernelManager):  # type: ignore[misc]
        """Remembers the clients nbclient opens, so whoever started the kernel can close them."""

        def format_kernel_cmd(self, extra_arguments: list[str] | None = None) -> list[str]:
            """ipykernel through runbook_lib.kernel, which exits when the runner is gone, even mid-start."""
            cmd = super().format_kernel_cmd(extra_arguments)
            return ["runbook_lib.kernel" if part == "ipykernel_launcher" else part for part in cmd]

        def client(self, **kwargs: Any) -> Any:
            kc = super().client(**kwargs)
            self.__dict__.setdefault("_runbook_clients", []).append(kc)
            return kc

    return _TrackedKernelManager


# Kernels starting at once (start-up is CPU-bound: 32 at once on 2 cores took over 60 s each).
_STARTS = threading.BoundedSemaphore(2 * (os.cpu_count() or 1))
# Imported silently (no output, no execution count, no name bound) once the kernel answers.
WARM_MODULES = ("runbook_lib.plan", "runbook_lib.report", "runbook_lib.widgets")
# Then gc.freeze(): what is alive (modules, API models, clients) leaves the collector's sight, so the
# full collection of each reset (IPython's) and the automatic ones no longer walk it (~0.06 s a reset).
FREEZE = "__import__('gc').freeze()"
WARM_UP = "; ".join([*(f"__import__({m!r})" for m in WARM_MODULES), FREEZE])
# Between two notebooks: an empty namespace and execution count 1, as in a new kernel; imports stay.
RESET = f"get_ipython().reset(new_session=True); {FREEZE}"


def start_kernel(kernel_name: str = KERNEL_NAME, *, warm_up: str = WARM_UP, timeout: float = 60.0) -> Any:
    """Start a kernel as nbclient would (same kernelspec, in-memory history), ready to hand to papermill.

    ``warm_up`` runs silently once the kernel answers: the library's imports, which every notebook makes
    first, so they are done before the notebook needs them. A failure there is left to the notebook's
    own import cell to report.
    """
    from jupyter_core.utils import run_sync

    km = _kernel_manager_class()(kernel_name=kernel_name)
    with _STARTS:  # a batch starts its kernels a few at a time: each is then ready in ~1 s, none times out
        run_sync(km.start_kernel)(extra_arguments=[HISTORY_ARG])
        if warm_up:
            run_silently(km, warm_up, timeout, wait_ready=True)
    return km


def run_silently(km: Any, code: str, timeout: float = 60.0, *, wait_ready: bool = False) -> bool:
    """Run code in the kernel without output or history; True when it answered ``ok`` in time.

    ``wait_ready`` first waits for the kernel to answer (a kernel just started); a running kernel
    queues the request on its shell channel without that handshake (~0.2 s saved).
    """
    from jupyter_core.utils import run_sync

    try:
        return bool(run_sync(_run_silently)(km, code, timeout, wait_ready))
    except Exception:  # dead or deaf kernel: the caller starts another
        log.debug("silent code in kernel %s failed", getattr(km, "kernel_id", "?"), exc_info=True)
        return False


async def _run_silently(km: Any, code: str, timeout: float, wait_ready: bool) -> bool:
    kc = km.client()
    kc.start_channels(iopub=wait_ready, stdin=False, hb=False, control=False)
    try:
        if wait_ready:
            await kc.wait_for_ready(timeout=timeout)
        msg_id = kc.execute(code, silent=True, store_history=False)
        while True:
            reply = await kc.get_shell_msg(timeout=timeout)
            if reply.get("parent_header", {}).get("msg_id") == msg_id:
                return reply.get("content", {}).get("status") == "ok"
    finally:
        kc.stop_channels()
        close_clients(km)


def close_clients(km: Any) -> None:
    """Close the clients opened so far on a kernel from ``start_kernel`` (nbclient leaves them open)."""
    clients = km.__dict__.get("_runbook_clients", [])
    while clients:
        try:
            clients.pop().stop_channels()
        except Exception:  # already closed
            log.debug("closing a kernel client failed", exc_info=True)


def stop_kernel(km: Any) -> None:
    """Close the clients opened on a kernel started by ``start_kernel``, then kill it (its work is done)."""
    from jupyter_core.utils import run_sync

    close_clients(km)
    try:
        if run_sync(km.is_alive)():
            run_sync(km.shutdown_kernel)(now=True)
        else:
            run_sync(km.cleanup_resources)()
    except Exception:
        log.debug("stopping kernel %s failed", getattr(km, "kernel_id", "?"), exc_info=True)


class KernelPool:
    """Idle kernels a batch hands from one finished run to the next (reset like between notebooks)."""

    def __init__(self) -> None:
        self._idle: list[Any] = []
        self._lock = threading.Lock()

    def get(self) -> Any:
        with self._lock:
            return self._idle.pop() if self._idle else None

    def put(self, km: Any) -> None:
        with self._lock:
            self._idle.append(km)

    def close(self) -> None:
        while (km := self.get()) is not None:
            stop_kernel(km)


class RunKernel:
    """The one kernel the notebooks of a run execute in, one after another.

    It starts in the background as the run begins (while the account is checked and papermill is
    imported), or comes from a batch's ``KernelPool``. Before each notebook but the first of a new
    kernel, the namespace is reset to a new session, so every notebook starts from nothing, as in a
    kernel of its own, but the library's imports, botocore's models and the kernel's start-up are paid
    once per kernel instead of once per notebook. A kernel that does not answer the reset is replaced.
    """

    def __init__(self, kernel_name: str, start_timeout: float = 60.0, pool: KernelPool | None = None) -> None:
        self.kernel_name, self.start_timeout, self.pool = kernel_name, start_timeout, pool
        self._starter = ThreadPoolExecutor(max_workers=1, thread_name_prefix="runbook-kernel")
        self._future: Any = None
        self._km: Any = None
        self._used = False

    def start(self) -> None:
        if self._future is None and self._km is None:
            self._km = self.pool.get() if self.pool else None
            self._used = self._km is not None  # a kernel that ran another environment's notebooks
            if self._km is None:
                self._future = self._starter.submit(
                    start_kernel, self.kernel_name, timeout=self.start_timeout
                )

    def take(self, stop: signals.StopState | None = None) -> Any:
        """The kernel for the next notebook (reset if it ran one before), or None: papermill starts one.

        While the kernel starts, a signal (``stop``) ends the wait: Interrupted.
        """
        if self._future is not None:
            while stop is not None and not self._future.done():
                stop.sleep(0.05)
            future, self._future = self._future, None
            try:
                self._km = future.result()
            except Exception:
                log.debug("starting the run's kernel failed; papermill starts one", exc_info=True)
                self._km = None
        if self._km is not None and self._used and not run_silently(self._km, RESET, self.start_timeout):
            stop_kernel(self._km)
            self._km = start_kernel(self.kernel_name, timeout=self.start_timeout)
        self._used = self._km is not None
        return self._km

    def close(self, reusable: bool = False, *, wait: bool = True) -> None:
        """Stop the kernel, or give it back to the pool when the run went well (``reusable``).

        ``wait=False`` (a signal): a kernel still starting is stopped once it has started, in the
        background; the run does not wait for it (nor does it outlive the runner: ``runbook_lib.kernel``).
        """
        if self._future is not None:
            future, self._future = self._future, None
            if not wait and not future.done():
                future.add_done_callback(lambda done: done.exception() or stop_kernel(done.result()))
                self._starter.shutdown(wait=False)
                return
            with contextlib.suppress(Exception):
                self._km = future.result()
        if self._km is not None:
            if reusable and self.pool is not None:
                self.pool.put(self._km)
            else:
                stop_kernel(self._km)
            self._km = None
        self._starter.shutdown(wait=True)


# -------------------------------------------------------------------------------- one notebook


@dataclass
class Executed:
    """One executed notebook: status, duration, what it displayed, and the error if any."""

    status: str
    duration_s: float
    payloads: list[dict[str, Any]]
    sha256: str | None
    error: dict[str, Any] | None = None


def execute_notebook(
    input_path: str | Path,
    output_path: str,
    parameters: Mapping[str, Any],
    *,
    store: audit.Store,
    redactor: Redactor,
    kernel_name: str = KERNEL_NAME,
    cell_timeout: float | None = None,
    deadline: float | None = None,
    start_timeout: float = 60.0,
    on_event: Callable[[Event], None] | None = None,
    km: Any = None,
    stop: signals.StopState | None = None,
) -> Executed:
    """Execute one notebook with papermill; the scrubbed output is written even when it fails.

    ``km``: a kernel from ``start_kernel`` to run it on (left running, its clients closed); None
    starts one as usual. ``stop``: once it is requested, no further cell starts.
    """
    import papermill
    from nbclient.exceptions import CellTimeoutError, DeadKernelError
    from papermill.exceptions import PapermillExecutionError

    io = _redacting_io()
    target = io.target(store, output_path, redactor)
    started = time.monotonic()
    name = Path(input_path).stem
    emit = on_event or (lambda event: None)

    def timeout_for(cell: Any) -> int | None:
        limits = [t for t in (cell_timeout, None if deadline is None else deadline - time.monotonic()) if t]
        return max(1, int(min(limits))) if limits else None

    def cell_done(cell: Any, cell_index: int, execute_reply: Any = None, **_: Any) -> None:
        emit({"event": "cell", "notebook": name, "cell_index": cell_index})

    error: dict[str, Any] | None = None
    try:
        papermill.execute_notebook(
            str(input_path),
            target,
            parameters=dict(parameters),
            kernel_name=kernel_name,
            progress_bar=False,
            start_timeout=int(start_timeout),
            timeout_func=timeout_for,
            on_cell_executed=cell_done,
            on_cell_start=_refuse_cells_once(stop),
            shutdown_kernel="immediate",  # every cell has finished and its output is in: no grace needed
            **({"km": km} if km is not None else {}),
        )
    except PapermillExecutionError as err:
        error = {"type": err.ename, "message": redactor.text(err.evalue), "cell_index": err.cell_index}
    except (CellTimeoutError, DeadKernelError, StoppedBeforeCell) as err:
        error = _mark_interrupted(io, output_path, target, err, redactor)
    except Exception as err:  # kernel start, I/O: the notebook never ran to an error cell
        error = {"type": type(err).__name__, "message": redactor.text(str(err))}
        log.debug("notebook %s failed outside a cell: %s", name, traceback.format_exc())
    finally:
        if km is not None:
            close_clients(km)
    nb = io.written.get(output_path)
    executed = Executed(
        status="failed" if error else "ok",
        duration_s=round(time.monotonic() - started, 3),
        payloads=report.extract(nb) if nb is not None else [],
        sha256=io.digests.get(output_path),
        error=error,
    )
    io.release(output_path)
    return executed


class StoppedBeforeCell(Exception):
    """Raised (by the cell-start hook) instead of running a cell once a signal came."""


def _refuse_cells_once(stop: signals.StopState | None) -> Callable[..., None] | None:
    """nbclient's cell-start hook: once a signal came, the next cell does not start."""
    if stop is None:
        return None

    def cell_start(cell: Any, cell_index: int, **_: Any) -> None:
        if stop.requested:
            raise StoppedBeforeCell(f"stopped by {signals.signal_name(stop.signum)} before this cell ran")

    return cell_start


def _mark_interrupted(
    io: _RedactingIO, output_path: str, target: str, err: Exception, redactor: Redactor
) -> dict[str, Any]:
    """A timed-out or dead kernel: add an error output to the cell that was running, as papermill would."""
    import nbformat
    from papermill.exceptions import PapermillExecutionError
    from papermill.execute import raise_for_execution_errors

    kind = type(err).__name__
    message = redactor.text(str(err).splitlines()[0] if str(err) else kind)
    nb = io.written.get(output_path)
    if nb is None:
        return {"type": kind, "message": message}
    started = [
        i for i, c in enumerate(nb.cells)
        if c.cell_type == "code" and c.get("metadata", {}).get("papermill", {}).get("start_time")
    ]  # fmt: skip
    index = started[-1] if started else 0
    nb.cells[index].setdefault("outputs", []).append(
        nbformat.v4.new_output("error", ename=kind, evalue=message, traceback=[f"{kind}: {message}"])
    )
    try:
        raise_for_execution_errors(nb, target)
    except PapermillExecutionError:
        pass
    return {"type": kind, "message": message, "cell_index": index}


# ------------------------------------------------------------------------------------ one run


def run(params_path: str | Path, action: str = "up", options: RunOptions | None = None) -> RunResult:
    """Run ``up`` or ``down`` for one parameter file; bad params raise ParameterError (no folder).

    A signal (``signals``) stops it before the next notebook or cell, interrupts the running one, and
    ends it ``interrupted``; the record is written and the lock released however it ends.
    """
    from runbook_lib.params import load_params, redacted_params

    opts = options or RunOptions()
    emit = opts.on_event or (lambda event: None)
    stop = signals.current()
    steps = select_steps(action, opts.only)
    params_path = str(params_path)
    params = load_params(params_path)  # nothing happens before the params pass
    check_parameters(opts.parameters)
    store = audit.Store(opts.audit_dir or params.audit_dir)
    run_name = audit.new_run(store, params.name, action)
    started = time.monotonic()
    extra = dict(opts.parameters)
    redactor = Redactor.from_environment(extra)
    manifest = audit.Manifest(
        run_id=run_name, action=action, name=params.name, params_path=params_path,
        params_sha256=audit.sha256_file(params_path), params=redactor.scrub(redacted_params(params)),
        region=params.region, sandbox=opts.sandbox, git_commit=audit.git_commit(),
        notebooks=[audit.NotebookRecord(s.notebook) for s in steps],
    )  # fmt: skip
    result = RunResult(params_path, action, "failed", name=params.name, run_dir=store.join(run_name))
    held = _lock(store, params, run_name, action)
    emit({"event": "run_start", "params_path": params_path, "run_dir": result.run_dir, "steps": len(steps)})
    kernel = RunKernel(opts.kernel_name, opts.start_timeout, opts.kernel_pool)
    ctx = _RunContext(store, run_name, manifest, result, redactor, held, started, stop)

    worker = threading.current_thread()

    def finish() -> None:
        if threading.current_thread() is worker:  # (the hard stop killed the kernel already)
            stopped = stop.requested
            kernel.close(reusable=result.status == "succeeded" and not stopped, wait=not stopped)
        _finish(ctx)
        emit({"event": "run_end", "params_path": params_path, "status": result.status})

    with stop.finishing(finish) as finisher:
        try:
            _execute_steps(ctx, params, steps, kernel, opts, extra)
            manifest.status = result.status = "succeeded"
        except signals.Interrupted as err:
            ctx.signum = err.signum
        except _StepFailed as err:
            manifest.error = {**err.error, "notebook": err.step.notebook}
            result.error = f"{err.step.notebook}: {err.error.get('type')}: {err.error.get('message')}"
            result.resume = _resume_hint(params_path, action, err.step, result.run_dir)
        except RunbookError as err:
            manifest.error = redactor.scrub(err.to_dict())
            result.error = redactor.text(str(err))
            result.resume = f"fix the cause, then re-run: runbook {action} {params_path}"
        finally:
            finisher()
    return result


@dataclass
class _RunContext:
    """What a run's steps and its finishing share."""

    store: audit.Store
    run_name: str
    manifest: audit.Manifest
    result: RunResult
    redactor: Redactor
    held: Any
    started: float
    stop: signals.StopState
    step: str | None = None  # the notebook running (or about to)
    signum: int | None = None


def _execute_steps(
    ctx: _RunContext, params: Any, steps: tuple[Step, ...], kernel: RunKernel, opts: RunOptions,
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
            raise _StepFailed(step, executed.error)


def _finish(ctx: _RunContext) -> None:
    """The end of every run, however it ended: statuses, the manifest (and chain head), the lock."""
    manifest, result = ctx.manifest, ctx.result
    if result.status != "succeeded" and (ctx.signum or ctx.stop.requested):
        _mark_run_interrupted(ctx)
    stopped = result.status == "interrupted"
    for record in manifest.notebooks:
        if record.status == "pending":
            record.status = "interrupted" if record.started_at and stopped else "skipped"
        if record.file and record.file not in manifest.files:  # cut short before its digest was taken
            with contextlib.suppress(Exception):
                manifest.files[record.file] = ctx.store.digest(ctx.store.join(ctx.run_name, record.file))
    manifest.status = result.status
    manifest.ended_at = audit.iso(audit.utc_now())
    manifest.duration_s = result.duration_s = round(time.monotonic() - ctx.started, 3)
    result.service_url = manifest.service_url
    result.resources = manifest.resources
    try:
        result.chain_head = audit.write_manifest(
            ctx.store, ctx.run_name, manifest, scrub=ctx.redactor.scrub
        )
        result.manifest = ctx.redactor.scrub(manifest.to_dict())
    finally:
        ctx.held.release()


def _mark_run_interrupted(ctx: _RunContext) -> None:
    signum = ctx.signum or ctx.stop.signum
    name = signals.signal_name(signum)
    where = ctx.step or ctx.result.action
    result = ctx.result
    result.status = "interrupted"
    result.failed_notebook = ctx.step
    result.error = f"interrupted by {name} in {where}"
    result.resume = f"runbook {result.action} {result.params_path}  (finished steps are left alone)"
    ctx.manifest.error = {
        "type": "Interrupted", "signal": name, "notebook": ctx.step,
        "message": f"stopped by {name} in {where}",
        "cell_error": next((n.error for n in ctx.manifest.notebooks if n.notebook == ctx.step), None),
    }  # fmt: skip


def lock_dir(store: audit.Store) -> str:
    """Where the environments' locks live: with the audit dir (local or S3), unless RUNBOOK_LOCK_DIR says."""
    return os.environ.get("RUNBOOK_LOCK_DIR") or store.root


def _lock(store: audit.Store, params: Any, run_name: str, action: str) -> lock.EnvLock | lock.S3Lock:
    """One run per environment at a time; a refused run leaves no (empty) run folder behind."""
    try:
        return lock.acquire(lock_dir(store), name=params.name, run_id=run_name, action=action)
    except lock.EnvironmentLocked:
        if not audit.is_s3(store.root):
            with contextlib.suppress(OSError):
                Path(store.join(run_name)).rmdir()
        raise


class _StepFailed(Exception):
    def __init__(self, step: Step, error: dict[str, Any]) -> None:
        super().__init__(error.get("message"))
        self.step, self.error = step, error


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


def _preflight(params: Any, manifest: audit.Manifest, redactor: Redactor) -> Any:
    """Who and where: the account guard runs here, before any notebook. Returns the clients."""
    from runbook_lib.clients import make_clients

    clients = make_clients(params)
    redactor.add_values(_session_credentials(clients))
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
    from runbook_lib.plan import STEP_OF, plan
    from runbook_lib.service import verify_service

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


def _session_credentials(clients: Any) -> list[str]:
    """The resolved credentials (profile, SSO, …) of the session, to scrub them wherever they appear."""
    try:
        creds = clients.session.get_credentials()
    except Exception:  # no credentials: the identity call reports it
        return []
    if creds is None:
        return []
    frozen = creds.get_frozen_credentials()
    return [v for v in (frozen.access_key, frozen.secret_key, frozen.token) if v]


def caller(clients: Any, params: Any) -> dict[str, Any]:
    """Account, ARN, region and endpoint of the caller; raises WrongAccount outside the params' account."""
    from runbook_lib.clients import check_account

    identity = check_account(clients, params)
    endpoint = clients.endpoint_url
    return {
        "Account": identity["Account"],
        "Arn": identity["Arn"],
        "UserId": identity["UserId"],
        "Region": clients.region,
        "Endpoint": endpoint,
        "Sandbox": is_local(endpoint),
    }


def is_local(endpoint: str | None) -> bool:
    return bool(endpoint) and any(h in str(endpoint) for h in ("://127.0.0.1", "://localhost"))


def _collect(manifest: audit.Manifest, payloads: Sequence[Mapping[str, Any]]) -> None:
    """Fold what a notebook displayed into the manifest: resources (last word per resource), plan, URL."""
    for payload in payloads:
        kind, data = payload.get("kind"), payload.get("data")
        if kind == "results":
            for item in data or []:
                key = (item.get("resource"), item.get("name"))
                manifest.resources = [r for r in manifest.resources if (r["resource"], r["name"]) != key]
                manifest.resources.append({**item, "step": payload.get("step")})
        elif kind == "plan":
            manifest.plan = list(data or [])
        elif kind == "verify":
            for item in data or []:
                extra = item.get("extra") or {}
                manifest.verify = {k: extra.get(k) for k in report.VERIFY_FIELDS}
        elif kind == "identity" and not manifest.identity:
            manifest.identity = dict(data or {})
    for item in manifest.resources:
        host = (item.get("extra") or {}).get("url")
        if item.get("resource") == "service" and host:
            manifest.service_url = host if "://" in host else f"https://{host}"


def _resume_hint(params_path: str, action: str, step: Step, run_dir: str | None) -> str:
    return (
        f"the executed notebook {run_dir}/{step.notebook}.ipynb shows where it failed. Fix the cause, then "
        f"re-run `runbook {action} {params_path}` (finished steps are found by name and left alone), "
        f"or only this step: `runbook {action} {params_path} --only {step.name}`"
    )


# ------------------------------------------------------------------------------------ plan, batch


def plan_run(params_path: str | Path, options: RunOptions | None = None) -> tuple[Any, RunResult]:
    """``runbook plan``: the plan from the library (no kernel), recorded as a run of action ``plan``."""
    from runbook_lib.clients import make_clients
    from runbook_lib.params import load_params, redacted_params
    from runbook_lib.plan import plan as make_plan

    opts = options or RunOptions()
    params_path = str(params_path)
    params = load_params(params_path)
    store = audit.Store(opts.audit_dir or params.audit_dir)
    run_name = audit.new_run(store, params.name, "plan")
    started = time.monotonic()
    redactor = Redactor.from_environment()
    manifest = audit.Manifest(
        run_id=run_name, action="plan", name=params.name, params_path=params_path,
        params_sha256=audit.sha256_file(params_path), params=redactor.scrub(redacted_params(params)),
        region=params.region, sandbox=opts.sandbox, git_commit=audit.git_commit(),
    )  # fmt: skip
    result = RunResult(params_path, "plan", "failed", name=params.name, run_dir=store.join(run_name))
    found = None
    held = _lock(store, params, run_name, "plan")
    ctx = _RunContext(store, run_name, manifest, result, redactor, held, started, signals.current())
    with ctx.stop.finishing(lambda: _finish(ctx)) as finisher:
        try:
            clients = make_clients(params)
            redactor.add_values(_session_credentials(clients))
            manifest.identity = caller(clients, params)
            manifest.endpoint = manifest.identity.get("Endpoint")
            found = make_plan(clients, params, only=opts.only)
            manifest.plan = [report.plain(r) for r in found.steps]
            manifest.status = result.status = "succeeded"
        except signals.Interrupted as err:
            ctx.signum, found = err.signum, None
        except RunbookError as err:
            manifest.error = redactor.scrub(err.to_dict())
            result.error = redactor.text(str(err))
        finally:
            ctx.stop.raise_in_main = False  # a signal now must not cut the record short
            finisher()
    return found, result


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

    try:
        with ThreadPoolExecutor(max_workers=max(1, jobs), thread_name_prefix="runbook") as pool:
            return list(pool.map(one, paths))
    finally:
        opts.kernel_pool.close()
