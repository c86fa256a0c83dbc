"""Display helpers: tables for people, the structured mimetype for the audit trail."""

from __future__ import annotations

import nbformat

from runbook_lib import report
from runbook_lib.results import Action, Change, Result

RESULTS = [
    Result(
        "instance_role", "demo-instance", Action.CREATED, arn="arn:aws:iam::123456789012:role/demo-instance"
    ),
    Result("service", "demo", Action.UPDATED, changes=(Change("port", 8080, 8000),), console_url="https://c"),
]


def test_results_table_columns_and_changed_fields() -> None:
    table = report.results_table(RESULTS)
    assert list(table.columns) == list(report.COLUMNS)
    assert table.to_dict("records")[1] == {
        "resource": "service", "name": "demo", "action": "UPDATED", "changed fields": "port",
        "detail": "", "arn": "", "console": "https://c",
    }  # fmt: skip


def test_bundle_carries_json_payload_and_extract_reads_it_back() -> None:
    data = report.bundle(
        "results", [report.plain(r) for r in RESULTS], report.results_table(RESULTS), step="x"
    )
    assert "<table" in data["text/html"] and "CREATED" in data["text/plain"]
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("")
    cell.outputs = [nbformat.v4.new_output("display_data", data=data)]
    nb.cells = [cell]
    again = nbformat.reads(nbformat.writes(nb), as_version=4)
    (payload,) = report.extract(again)
    assert payload["kind"] == "results" and payload["step"] == "x"
    assert payload["data"][1]["changes"] == [{"field": "port", "observed": 8080, "desired": 8000}]


def test_show_displays_one_raw_bundle(monkeypatch) -> None:
    shown = []
    monkeypatch.setattr("IPython.display.display", lambda obj, raw=False: shown.append((obj, raw)))
    report.show_results(RESULTS[0], step="instance_role")
    report.show_identity({"Account": "123456789012", "Endpoint": "http://127.0.0.1:1"})
    (first, raw), (second, _) = shown
    assert raw and first[report.MIMETYPE]["data"][0]["action"] == "CREATED"
    assert second[report.MIMETYPE]["kind"] == "identity" and "123456789012" in second["text/plain"]


def test_styled_table_colours_actions_escapes_names_and_links_console() -> None:
    from runbook_lib.report import ACTION_COLOURS, results_table, styled_html
    from runbook_lib.results import Action, Result

    table = results_table([
        Result("service", "a<b", Action.CREATED, console_url="https://x?y=1&z=2"),
        Result("autoscaling", "asc", Action.UNCHANGED),
    ])  # fmt: skip
    page = styled_html(table)
    assert ACTION_COLOURS["CREATED"] in page and ACTION_COLOURS["UNCHANGED"] in page
    assert "a&lt;b" in page and "a<b" not in page
    assert '<a href="https://x?y=1&amp;z=2" target="_blank">console</a>' in page
