"""Presenting results: tables for people, a structured mimetype for the audit trail.

Notebooks call ``show(...)``; it displays one bundle with ``text/html`` and ``text/plain`` (the table)
and ``application/vnd.runbook.results+json`` (the same data as JSON), so the runner reads what a
notebook did from the executed notebook without parsing text. The library never displays; this
module is where IPython is used.
"""

from __future__ import annotations

import html
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

__all__ = [
    "ACTION_COLOURS", "COLUMNS", "MIMETYPE", "VERIFY_FIELDS", "bundle", "extract", "mapping_table", "plain",
    "progress", "result_rows", "results_table", "short_arn", "show", "show_identity", "show_params",
    "show_plan", "show_results", "show_verify", "styled_html", "verify_card",
]  # fmt: skip


MIMETYPE = "application/vnd.runbook.results+json"
COLUMNS = ("resource", "name", "action", "changed fields", "detail", "arn", "console")


def plain(data: Any) -> Any:
    """JSON-safe plain data (enums, tuples, dataclasses via ``to_dict``)."""
    if hasattr(data, "to_dict"):
        data = data.to_dict()
    return json.loads(json.dumps(data, default=str))


def result_rows(results: Iterable[Any]) -> list[dict[str, Any]]:
    """Results (``Result`` objects or their dicts) as table rows."""
    rows = []
    for item in results:
        data = plain(item)
        changes = data.get("changes") or []
        rows.append(
            {
                "resource": data.get("resource"),
                "name": data.get("name"),
                "action": data.get("action"),
                "changed fields": ", ".join(c["field"] for c in changes) if changes else "",
                "detail": data.get("detail") or "",  # warnings, what a teardown left
                "arn": short_arn(data.get("arn") or ""),
                "console": data.get("console_url") or "",
            }
        )
    return rows


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def short_arn(arn: str, width: int = 32) -> str:
    """An ARN for a table: its resource part (no partition, service, region, account), the middle of a
    long one elided. Manifests and the structured payload keep the whole ARN."""
    resource = arn.split(":", 5)[-1] if arn.startswith("arn:") else arn
    if len(resource) <= width:
        return resource
    keep = (width - 1) // 2
    return f"{resource[:keep]}…{resource[-(width - 1 - keep):]}"


def results_table(results: Iterable[Any]) -> Any:
    """A pandas DataFrame of results: resource, name, action, changed fields, detail, ARN, console link."""
    import pandas as pd

    return pd.DataFrame(result_rows(results), columns=list(COLUMNS))


def mapping_rows(data: Mapping[str, Any]) -> list[dict[str, str]]:
    """A flat mapping as (field, value) rows."""
    return [{"field": str(k), "value": str(v)} for k, v in data.items()]


def mapping_table(data: Mapping[str, Any]) -> Any:
    """A two-column DataFrame (field, value) of a flat mapping."""
    import pandas as pd

    return pd.DataFrame(mapping_rows(data), columns=["field", "value"])


ACTION_COLOURS = {
    "CREATE": "#0969da", "CREATED": "#0969da", "UPDATE": "#9a6700", "UPDATED": "#9a6700",
    "REPLACE": "#bc4c00", "REPLACED": "#bc4c00", "DELETE": "#cf222e", "DELETED": "#cf222e",
    "UNCHANGED": "#57606a", "ABSENT": "#57606a", "KEPT": "#8250df",
}  # fmt: skip


def styled_html(table: Any) -> str:
    """A DataFrame as HTML, the action column coloured (blue create, amber update, red delete, grey no-op)."""
    return html_table(list(table.columns), table.to_dict("records"))


def html_table(columns: Sequence[str], rows: Sequence[Mapping[str, Any]]) -> str:
    """Rows as an HTML table: values escaped, the action coloured, the console URL a link.

    Built without pandas, so a headless kernel never imports it (~40 MB per kernel of a batch)."""

    def cell(column: str, value: Any) -> str:
        text = "" if value is None else str(value)
        if column == "console" and text:
            return f'<td><a href="{html.escape(text)}" target="_blank">console</a></td>'
        fg = ACTION_COLOURS.get(text) if column == "action" else None
        style = f' style="color: {fg}; font-weight: bold"' if fg else ""
        return f"<td{style}>{html.escape(text)}</td>"

    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = "".join("<tr>" + "".join(cell(c, row.get(c)) for c in columns) + "</tr>" for row in rows)
    return f'<table class="runbook-table"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def text_table(columns: Sequence[str], rows: Sequence[Mapping[str, Any]]) -> str:
    """Rows as fixed-width text, one line per row under a header line."""
    if not rows:
        return "(nothing)"
    cells = [[str(c) for c in columns]]
    cells += [["" if row.get(c) is None else str(row.get(c)) for c in columns] for row in rows]
    widths = [max(len(line[i]) for line in cells) for i in range(len(columns))]
    lines = ("  ".join(v.ljust(w) for v, w in zip(line, widths, strict=True)).rstrip() for line in cells)
    return "\n".join(lines)


def bundle(kind: str, payload: Any, table: Any, *, step: str | None = None) -> dict[str, Any]:
    """The display bundle of a DataFrame: the table as HTML and text, the payload under ``MIMETYPE``."""
    return rows_bundle(kind, payload, list(table.columns), table.to_dict("records"), step=step)


def rows_bundle(
    kind: str, payload: Any, columns: Sequence[str], rows: Sequence[Mapping[str, Any]], *, step: str | None
) -> dict[str, Any]:
    """The display bundle of rows: HTML and text tables, the payload under ``MIMETYPE``."""
    return {
        "text/html": html_table(columns, rows),
        "text/plain": text_table(columns, rows),
        MIMETYPE: {"kind": kind, "step": step, "data": plain(payload)},
    }


def show(kind: str, payload: Any, *, step: str | None = None) -> None:
    """Display a payload as a table with its structured data.

    ``kind`` is ``results`` (a list of Result), ``plan`` (a Plan or list of Result), ``identity``
    (caller identity and endpoint) or ``verify`` (a Result).
    """
    from IPython.display import display

    if kind in ("results", "plan", "verify"):
        items = _results_of(payload)
        columns, rows, payload = list(COLUMNS), result_rows(items), [plain(r) for r in items]
        if kind == "verify":
            card = verify_card((payload[0].get("extra") or {}) if payload else {})
            columns, rows = ["field", "value"], mapping_rows(card)
    else:
        columns, rows = ["field", "value"], mapping_rows(plain(payload))
    display(rows_bundle(kind, payload, columns, rows, step=step), raw=True)


VERIFY_FIELDS = ("http_url", "status_code", "latency_ms", "first_line", "ok")


def verify_card(answer: Mapping[str, Any]) -> dict[str, str]:
    """What the service's URL answered, for people: URL, HTTP status, latency, first line of the body."""
    if not answer.get("http_url"):
        return {"URL": "(private service: verify from inside the VPC)"}
    latency = answer.get("latency_ms")
    return {
        "URL": str(answer["http_url"]),
        "HTTP status": str(answer.get("status_code") or "no answer"),
        "latency": f"{latency:.0f} ms" if isinstance(latency, (int, float)) else "-",
        "body (first line)": _cut(str(answer.get("first_line") or ""), 72),
    }


def show_results(results: Any, *, step: str | None = None) -> None:
    """Display what a step did (a list of Result, or one)."""
    show("results", results, step=step)


def show_plan(plan: Any) -> None:
    """Display a plan (``Plan`` or a list of Result)."""
    show("plan", plan, step="plan")


def show_identity(identity: Mapping[str, Any]) -> None:
    """Display who runs the runbook, where (account, ARN, region, endpoint)."""
    show("identity", dict(identity), step="preflight")


def show_verify(result: Any) -> None:
    """Display the check of the service URL; raise if the URL answered with an error.

    A private service (``extra["ok"]`` None) cannot be checked from here and passes.
    """
    show("verify", result, step="service")
    data = plain(result)
    if (data.get("extra") or {}).get("ok") is False:
        from runbook_lib.errors import RunbookError

        raise RunbookError(f"the service does not answer: {data.get('detail')}. Re-run this step to retry.")


def show_params(params: Any, path: str) -> None:
    """Display the validated parameters (flattened), as applied."""
    flat = _flatten(plain(params.model_dump(mode="json")))
    show("params", {"params_path": path, **flat}, step="preflight")


def _flatten(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, Mapping) and value:
            out.update(_flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def progress(interactive: bool = False) -> Any:
    """A progress callback for waits: one line per status change (``interactive``: elapsed time too)."""
    last: dict[str, Any] = {}

    def on_progress(event: Mapping[str, Any]) -> None:
        what, status = event.get("what", "wait"), event.get("status")
        if last.get(what) == status and not interactive:
            return
        last[what] = status
        print(f"{what}: {status} after {event.get('elapsed_s', 0)}s", flush=True)

    return on_progress


def _results_of(payload: Any) -> list[Any]:
    if hasattr(payload, "steps"):
        return list(payload.steps)
    if isinstance(payload, (list, tuple)):
        return list(payload)
    return [payload]


def extract(nb: Any) -> list[dict[str, Any]]:
    """Every structured payload displayed in an executed notebook, in order."""
    found = []
    for cell in nb.get("cells", []):
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if MIMETYPE in data:
                payload = data[MIMETYPE]
                found.append(json.loads(payload) if isinstance(payload, str) else dict(payload))
    return found
