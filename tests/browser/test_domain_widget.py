"""JupyterLab in headless chromium: the custom domain widget lists the validation records (PENDING), the
sandbox's "Validate DNS" button stands in for the DNS provider, the records turn SUCCESS and the domain
active, and the notebook goes on past the gate with no error."""

from __future__ import annotations

import re

import pytest
import yaml
from test_handshake_widget import ARTIFACTS, _dismiss_toasts

from runbook_lib import apply, load_params, make_clients
from runbook_lib.sandbox.control import SandboxControl


@pytest.fixture
def service(jupyterlab: dict, monkeypatch: pytest.MonkeyPatch) -> dict:
    """The params' service RUNNING on the sandbox, and a custom domain without a hosted zone in the params."""
    path = jupyterlab["workdir"] / "params" / "sandbox.yaml"
    doc = yaml.safe_load(path.read_text())
    doc["custom_domains"] = [{"domain": "app.example.com"}]
    path.write_text(yaml.safe_dump(doc))
    for key, value in (("AWS_ENDPOINT_URL", jupyterlab["sandbox"]), ("AWS_ACCESS_KEY_ID", "testing"),
                       ("AWS_SECRET_ACCESS_KEY", "testing")):  # fmt: skip
        monkeypatch.setenv(key, value)
    params = load_params(path)
    clients = make_clients(params)
    apply(clients, params, only="connection", wait_handshake=False)
    SandboxControl(jupyterlab["sandbox"]).handshake(params.connection.name)
    for step in ("instance_role", "network", "autoscaling", "service"):
        apply(clients, params, only=step)
    return jupyterlab


def test_domain_widget_shows_the_records_until_active(service: dict, browser_page) -> None:
    page = browser_page
    base, token = service["base"], service["token"]
    page.goto(f"{base}/lab/tree/notebooks/06_custom_domains.ipynb?reset&token={token}")
    page.get_by_text(re.compile(r"Python 3 \(.*\) \| Idle")).first.wait_for(timeout=90_000)
    _dismiss_toasts(page)
    page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
    page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()

    page.locator('.runbook-status[data-status="pending_certificate_dns_validation"]').first.wait_for(
        timeout=60_000
    )
    pending = page.locator('.runbook-domain-widget .runbook-record-status[data-status="PENDING_VALIDATION"]')
    assert pending.count() == 1  # the domain's validation CNAME (no www)
    rows = page.locator(".runbook-domain-widget .runbook-record")
    assert rows.count() == 2 and "acm-validations.aws." in rows.first.inner_text()
    copy = page.locator(".runbook-domain-widget .runbook-records-copy").first.inner_text()
    assert "app.example.com." in copy and "CNAME" in copy
    button = page.locator(".runbook-sandbox-domain")
    assert "sandbox" in button.inner_text().lower()
    page.screenshot(path=str(ARTIFACTS / "domain-pending.png"), full_page=True)

    button.click()
    page.locator('.runbook-domain-widget .runbook-status[data-status="active"]').first.wait_for(
        timeout=20_000
    )
    success = page.locator('.runbook-domain-widget .runbook-record-status[data-status="SUCCESS"]')
    assert success.count() == 1
    page.locator(".jp-OutputArea-output table", has_text="custom_domain").first.wait_for(timeout=30_000)
    page.get_by_text(re.compile(r"Python 3 \(.*\) \| Idle")).first.wait_for(timeout=30_000)
    page.screenshot(path=str(ARTIFACTS / "domain-active.png"), full_page=True)
    errors = page.locator(
        '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"], '
        ".jp-RenderedText[data-mime-type='application/vnd.jupyter.error']"
    )
    assert errors.count() == 0, errors.all_inner_texts()
