"""Headless (papermill) 01_connection: text progress, and the widget's final state saved in the notebook."""

from __future__ import annotations

from pathlib import Path

import papermill as pm

from runbook_lib.report import MIMETYPE

ROOT = Path(__file__).resolve().parents[2]
SANDBOX_PARAMS = ROOT / "params" / "sandbox.yaml"


def test_headless_connection_keeps_widget_state_and_text(runbook_env, tmp_path) -> None:
    out = tmp_path / "01.ipynb"
    nb = pm.execute_notebook(
        str(ROOT / "notebooks/01_connection.ipynb"), str(out), cwd=str(ROOT / "notebooks"),
        parameters={"params_path": str(SANDBOX_PARAMS), "interactive": False}, progress_bar=False,
    )  # fmt: skip
    states = nb.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
    html_values = [m["state"].get("value", "") for m in states.values() if m["model_name"] == "HTMLModel"]
    assert any('data-status="AVAILABLE"' in v for v in html_values)
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    text = "".join(o.get("text", "") for o in outputs if o.get("output_type") == "stream")
    assert "PENDING_HANDSHAKE" in text or "AVAILABLE" in text
    cards = [o["data"]["text/html"] for o in outputs if "text/html" in o.get("data", {})]
    assert any("runbook-handshake" in c and "AVAILABLE" in c for c in cards)
    assert any(MIMETYPE in o.get("data", {}) for o in outputs)
