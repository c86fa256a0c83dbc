"""Running environments as Airflow tasks, through the runner.

``run_environment`` runs one parameter file with ``runbook_lib.runner.run`` — the environment's lock,
redaction, the run folder, its manifest and the hash chain all hold, as with ``runbook up`` (a bare
``PapermillOperator`` would skip them) — and raises ``RunFailed`` when the run did not succeed, so the
task fails. ``make_dag`` builds a DAG of one mapped task instance per parameter file (dynamic task
mapping, ``.expand``), one mapped task per account and region, each in that account and region's Airflow
pool (``pool_name``), with ``retries=0``: a failed run is resumed by running it again, which the runbook
does itself from where it stopped, never by an automatic retry of a mutating step. Give every worker the
same ``audit_dir`` (``s3://bucket/prefix``) so they write one trail.

Airflow is imported only inside these functions: ``runbook_lib`` itself never needs it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from runbook_lib.errors import RunbookError

__all__ = [
    "POOL_PREFIX", "RunFailed", "group_by_target", "make_dag", "pool_name", "pools", "run_environment",
    "target",
]  # fmt: skip

POOL_PREFIX = "runbook"


class RunFailed(RunbookError):
    """A run of the runbook under Airflow did not succeed."""

    template = "{action} of {params_path} {status}: {error} {detail}"


def run_environment(
    params_path: str,
    action: str = "up",
    audit_dir: str | None = None,
    parameters: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Run one environment through the runner; its summary (an XCom), or RunFailed."""
    from runbook_lib.runner import RunOptions, run

    options = RunOptions(audit_dir=audit_dir, parameters=dict(parameters or {}))
    result = run(params_path, action, options)
    summary = {
        "params_path": params_path, "name": result.name, "status": result.status,
        "run_dir": result.run_dir, "service_url": result.service_url, "duration_s": result.duration_s,
    }  # fmt: skip
    if not result.ok:
        raise RunFailed(
            result.resume or "",
            action=action,
            params_path=params_path,
            status=result.status,
            error=result.error or "no error recorded",
        )
    return summary


def pool_name(account: str, region: str) -> str:
    """The Airflow pool of one account and region: its slots bound the runs that act there at once."""
    return f"{POOL_PREFIX}-{account}-{region}"


def target(params_path: str | Path) -> tuple[str, str]:
    """(account, region) a parameter file names, read without validating it (validation is the run's)."""
    import yaml

    try:
        doc = yaml.safe_load(Path(params_path).read_text()) or {}
    except (OSError, yaml.YAMLError):
        doc = {}
    doc = doc if isinstance(doc, dict) else {}
    return str(doc.get("account_id") or "unknown"), str(doc.get("region") or "unknown")


def group_by_target(params_files: Iterable[str | Path]) -> dict[tuple[str, str], list[str]]:
    """Parameter files grouped by (account, region), in the order given."""
    groups: dict[tuple[str, str], list[str]] = {}
    for path in params_files:
        groups.setdefault(target(path), []).append(str(path))
    return groups


def pools(params_files: Iterable[str | Path]) -> list[str]:
    """The pools a DAG of these files uses (create them first: ``airflow pools set NAME SLOTS DESC``)."""
    return [pool_name(*key) for key in group_by_target(params_files)]


def make_dag(
    dag_id: str,
    params_files: Sequence[str | Path],
    *,
    action: str = "up",
    audit_dir: str | None = None,
    parameters: dict[str, Any] | None = None,
    **dag_kwargs: Any,
) -> Any:
    """A DAG running ``action`` for every parameter file: one mapped task per account and region."""
    from airflow.sdk import DAG, task

    dag_kwargs.setdefault("schedule", None)
    dag_kwargs.setdefault("catchup", False)
    with DAG(dag_id, **dag_kwargs) as dag:
        for (account, region), files in group_by_target(params_files).items():
            step = task(
                task_id=re.sub(r"[^A-Za-z0-9_.-]", "_", f"{action}_{account}_{region}"),
                pool=pool_name(account, region),
                retries=0,  # the runbook resumes itself: re-run the task, never retry a mutating step
                map_index_template="{{ task.op_kwargs['params_path'] }}",
            )(run_environment)
            step.partial(action=action, audit_dir=audit_dir, parameters=parameters or {}).expand(
                params_path=files
            )
    return dag
