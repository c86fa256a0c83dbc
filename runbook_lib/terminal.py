"""What the terminal shows (rich): the runs of a command with how to resume a failure, one summary
table, the verify card, and the resource table of a run or a plan. ``cli`` calls it; the library never
prints."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

__all__ = ["console", "present_runs", "resource_table"]


def console(stderr: bool = False) -> Any:
    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    width = None if stream.isatty() else 200  # logs and pipes: no folding of ARNs and paths
    return Console(stderr=stderr, highlight=False, width=width)


def present_runs(results: Sequence[Any]) -> int:
    """Print what each run did, the failures with how to resume, one summary table, the chain heads."""
    from rich.table import Table

    out, err = console(), console(stderr=True)
    if len(results) == 1 and results[0].resources:
        out.print(resource_table(results[0].resources))
    for r in results:
        if r.note:
            out.print(f"{r.params_path}: {r.note}")
        if r.status == "invalid":
            err.print(f"[red]{r.params_path}: invalid parameters[/]\n{r.error}")
        elif not r.ok:
            verb = "stopped" if r.status == "interrupted" else "failed"
            err.print(f"[red]{r.params_path}: {r.action} {verb}[/]: {r.error}")
            if r.resume:
                err.print(f"  to resume: {r.resume}")
    table = Table(title=f"runbook {results[0].action}" if results else "runbook")
    url_column = not results or results[0].action != "down"  # down: the URL of what it deleted is noise
    columns = ("environment", "status", "duration", *(["service URL"] if url_column else []), "run folder")
    for column in columns:
        table.add_column(column, overflow="fold")
    for r in results:
        colour = "green" if r.ok else "yellow" if r.status == "interrupted" else "red"
        cells = [r.name or r.params_path, f"[{colour}]{r.status}[/]", f"{r.duration_s:.1f}s"]
        table.add_row(*cells, *([r.service_url or ""] if url_column else []), r.run_dir or "")
    out.print(table)
    if len(results) == 1 and results[0].run_dir:
        _one_run_summary(out, results[0])
    for r in results:
        if r.chain_head:
            out.print(f"chain head of {r.name}: {r.chain_head}")
    return 0 if results and all(r.ok for r in results) else 1


def _one_run_summary(out: Any, r: Any) -> None:
    """Below the table: what the service answered (up), or what was deleted and kept (down)."""
    from runbook_lib.report import verify_card

    if r.action == "down":
        deleted = [f"{x['resource']} {x['name']}" for x in r.resources if x.get("action") == "DELETED"]
        out.print(f"deleted: {', '.join(deleted) or 'nothing (nothing owned was left)'}")
        if not any(x.get("resource") == "connection" for x in r.resources):
            name = ((r.manifest or {}).get("params") or {}).get("connection", {}).get("name", "?")
            out.print(f"kept:    connection {name} (shared by the account; --delete-connection deletes it)")
    else:
        out.print(f"service URL: {r.service_url or '-'}")
        answer = (r.manifest or {}).get("verify") or {}
        if answer.get("http_url"):
            for label, value in verify_card(answer).items():
                out.print(f"  {label + ':':<18} {value}")
            if "/_sandbox/" in str(answer["http_url"]):
                out.print("  (the sandbox's stand-in app; the service URL above is emulated)")
    out.print(f"run folder:  {r.run_dir}")


def resource_table(rows: Sequence[dict[str, Any]], title: str = "resources") -> Any:
    from rich.table import Table

    from runbook_lib.report import result_rows

    table = Table(title=title)
    shown = result_rows(rows)
    columns = ("resource", "name", "action", "changed fields", "detail")
    for column in columns:
        table.add_column(column, overflow="fold")
    table.add_column("arn (whole in the manifest)", no_wrap=True, overflow="ellipsis")
    for row in shown:
        table.add_row(*(str(row[c]) for c in columns), str(row["arn"]))
    return table
