"""JupyterLab in headless chromium: the handshake widget renders PENDING, the sandbox button completes the
handshake, the widget turns AVAILABLE and the notebook goes on past the gate with no error."""

from __future__ import annotations

import re
from pathlib import Path

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "browser"


def test_handshake_widget_gates_run_all(jupyterlab: dict, browser_page) -> None:
    page = browser_page
    base, token = jupyterlab["base"], jupyterlab["token"]
    page.goto(f"{base}/lab/tree/notebooks/01_connection.ipynb?reset&token={token}")
    # a kernel must be attached before Run All, or a "Select Kernel" dialog opens
    page.get_by_text(re.compile(r"Python 3 \(.*\) \| Idle")).first.wait_for(timeout=90_000)
    _dismiss_toasts(page)

    page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
    page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()

    pending = page.locator('.runbook-status[data-status="PENDING_HANDSHAKE"]')
    pending.first.wait_for(timeout=60_000)
    button = page.locator(".runbook-sandbox-handshake")
    button.wait_for(timeout=10_000)
    assert "sandbox" in button.inner_text().lower()
    page.screenshot(path=str(ARTIFACTS / "handshake-pending.png"), full_page=True)

    button.click()
    available = page.locator('.runbook-status[data-status="AVAILABLE"]')
    available.first.wait_for(timeout=10_000)  # within a few seconds of the click

    # the cell after the gate ran: the result table names the connection
    result_table = page.locator(".jp-OutputArea-output table", has_text="connection")
    result_table.first.wait_for(timeout=30_000)
    page.get_by_text(re.compile(r"Python 3 \(.*\) \| Idle")).first.wait_for(timeout=30_000)
    page.screenshot(path=str(ARTIFACTS / "handshake-available.png"), full_page=True)

    errors = page.locator(
        '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"], '
        ".jp-RenderedText[data-mime-type='application/vnd.jupyter.error']"
    )
    assert errors.count() == 0, errors.all_inner_texts()


def _dismiss_toasts(page) -> None:
    for label in ("No", "Dismiss"):
        found = page.locator(".jp-toast-button, .Toastify button", has_text=label)
        if found.count():
            found.first.click()
