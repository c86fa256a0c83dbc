"""The run record: the one place that opens a run (store, run folder, redactor, manifest, lock) and
finishes it however it ends (statuses, the manifest and the environment's chain head, the lock)."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runbook_lib import audit, lock, report, signals
from runbook_lib.errors import RunbookError
from runbook_lib.redact import Redactor
from runbook_lib.runner.steps import Step

__all__ = ["RunRecord", "RunResult", "StepFailed", "lock_dir"]


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


class StepFailed(Exception):
    def __init__(self, step: Step, error: dict[str, Any]) -> None:
        super().__init__(error.get("message"))
        self.step, self.error = step, error


_StepFailed = StepFailed


@dataclass
class RunRecord:
    """What a run's steps and its finishing share: opened by ``open``, finished by ``finish``."""

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

    @classmethod
    def open(
        cls, params_path: str, params: Any, action: str, *, audit_dir: str | None, sandbox: bool,
        steps: Sequence[Step] = (), extra: Mapping[str, Any] | None = None, stop: signals.StopState,
    ) -> RunRecord:  # fmt: skip
        """The run folder, its redactor, manifest and result, and the environment's lock (held)."""
        from runbook_lib.params import redacted_params

        store = audit.Store(audit_dir or params.audit_dir)
        run_name = audit.new_run(store, params.name, action)
        started = time.monotonic()
        redactor = Redactor.from_environment(extra)
        manifest = audit.Manifest(
            run_id=run_name, action=action, name=params.name, params_path=params_path,
            params_sha256=audit.sha256_file(params_path), params=redactor.scrub(redacted_params(params)),
            region=params.region, sandbox=sandbox, git_commit=audit.git_commit(),
            notebooks=[audit.NotebookRecord(s.notebook) for s in steps],
        )  # fmt: skip
        result = RunResult(params_path, action, "failed", name=params.name, run_dir=store.join(run_name))
        held = _lock(store, params, run_name, action)
        return cls(store, run_name, manifest, result, redactor, held, started, stop)

    @contextlib.contextmanager
    def recording(
        self, finish: Callable[[], None] | None = None, *, resume: str | None = None, last_word: bool = False
    ) -> Iterator[RunRecord]:
        """The run's body: its success, signal, failed step or error goes into the record, then ``finish``.

        ``finish`` (default: ``self.finish``) is also what a hard stop calls; ``resume`` is the hint for a
        RunbookError; ``last_word``: once the body is over, a signal must not cut the record short.
        """
        manifest, result, redactor = self.manifest, self.result, self.redactor
        with self.stop.finishing(finish or self.finish) as finisher:
            try:
                yield self
                manifest.status = result.status = "succeeded"
            except signals.Interrupted as err:
                self.signum = err.signum
            except StepFailed as err:
                manifest.error = {**err.error, "notebook": err.step.notebook}
                result.error = f"{err.step.notebook}: {err.error.get('type')}: {err.error.get('message')}"
                result.resume = _resume_hint(result.params_path, result.action, err.step, result.run_dir)
            except RunbookError as err:
                manifest.error = redactor.scrub(err.to_dict())
                result.error = redactor.text(str(err))
                if resume:
                    result.resume = resume
            finally:
                if last_word:
                    self.stop.raise_in_main = False
                finisher()

    def finish(self) -> None:
        _finish(self)


_RunContext = RunRecord


def _finish(ctx: RunRecord) -> None:
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


def _mark_run_interrupted(ctx: RunRecord) -> None:
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
