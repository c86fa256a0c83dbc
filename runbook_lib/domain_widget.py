"""The custom domain's live widget and its gate: the handshake widget's pieces, for DNS validation.

``gate_domains`` associates each domain (and, with a hosted zone, writes its records), then shows the
validation records and the DNS target — status per record, a zone-file block easy to copy, "Check now" —
and waits until the domain is ``active``. The gate is the AWS state: it polls DescribeCustomDomains with
``await asyncio.sleep`` between polls (``widgets.wait_for``). Headless it prints progress text, and on
timeout the records with what to do. On the sandbox a button stands in for your DNS provider
(``POST /_sandbox/domains/<domain>/validate``), and says so.
"""

from __future__ import annotations

import asyncio
import html
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any

from runbook_lib.domains import find_custom_domains, pending_hint, records_table
from runbook_lib.widgets import HandshakeWidget, _View, wait_for

__all__ = ["DomainState", "gate_domains"]

STYLES = {
    "active": ("#1a7f37", "#dafbe1"),
    "SUCCESS": ("#1a7f37", "#dafbe1"),
    "create_failed": ("#cf222e", "#ffebe9"),
    "FAILED": ("#cf222e", "#ffebe9"),
}
PENDING = ("#9a6700", "#fff8c5")


def _badge(status: str, css: str) -> str:
    fg, bg = STYLES.get(status, PENDING)
    return (
        f'<span class="{css}" data-status="{html.escape(status)}" style="color:{fg};background:{bg};'
        f'padding:1px 6px;border-radius:4px;font-weight:bold">{html.escape(status)}</span>'
    )


@dataclass(frozen=True)
class DomainState:
    """What the domain widget shows; pure data, testable without a browser."""

    domain: str
    dns_target: str
    records: tuple[dict[str, Any], ...]  # Name, Type, Value, Status (validation records) or Status "target"
    hosted_zone_id: str | None = None
    status: str = "creating"
    elapsed_s: float = 0.0
    timeout_s: float | None = None
    sandbox: bool = False
    polls: int = 0

    @property
    def final(self) -> bool:
        return self.status in ("active", "create_failed", "GONE")

    def instructions(self) -> str:
        if self.status == "active":
            return "The domain is active; the runbook goes on."
        if self.hosted_zone_id:
            return (
                f"The runbook wrote these records in the hosted zone {self.hosted_zone_id}; App Runner "
                "validates them by itself (DNS propagation can take a while). This cell goes on when the "
                "domain is active."
            )
        if self.sandbox:
            return (
                "This is the local sandbox: the button below stands in for creating the records at your "
                "DNS provider."
            )
        return (
            "Create these records at your DNS provider (copy the block below). This cell goes on by itself "
            "when App Runner has validated them and the domain is active."
        )

    def text(self) -> str:
        limit = f" of {self.timeout_s:.0f}s" if self.timeout_s else ""
        return f"custom domain {self.domain}: {self.status} after {self.elapsed_s:.0f}s{limit}"

    def html(self) -> str:
        cells = (
            (html.escape(r["Name"]), html.escape(r["Type"]), html.escape(r["Value"]), r["Status"])
            for r in self.records
        )
        rows = "".join(
            f'<tr class="runbook-record"><td><code>{name}</code></td><td>{kind}</td>'
            f"<td><code>{value}</code></td><td>{_badge(status, 'runbook-record-status')}</td></tr>"
            for name, kind, value, status in cells
        )
        fg, _ = STYLES.get(self.status, PENDING)
        return (
            f'<div class="runbook-domain" style="border:1px solid {fg};border-radius:6px;padding:8px">'
            f"<b>Custom domain</b> <code>{html.escape(self.domain)}</code> → DNS target "
            f"<code>{html.escape(self.dns_target)}</code><br>Status: {_badge(self.status, 'runbook-status')} "
            f'<span class="runbook-elapsed">elapsed {self.elapsed_s:.0f}s</span><br>'
            f"{html.escape(self.instructions())}"
            f"<table><tr><th>Name</th><th>Type</th><th>Value</th><th>Status</th></tr>{rows}</table>"
            f'<pre class="runbook-records-copy">{html.escape(records_table(list(self.records)))}</pre></div>'
        )


def _rows(desired: list[dict[str, Any]], observed: list[dict[str, Any]]) -> tuple[dict[str, Any], ...]:
    """The desired records with the status App Runner reports for each validation record."""
    status = {r["Name"].rstrip(".").lower() + ".": r.get("Status", "PENDING_VALIDATION") for r in observed}
    return tuple({**r, "Status": status.get(r["Name"], "points to the service")} for r in desired)


def _make_view(
    state: DomainState, sandbox: str | None, *, interactive: bool, out: Callable[[str], None]
) -> _View:
    if not interactive:
        out(f"{state.instructions()}\n{records_table(list(state.records))}")
        return _View(None, out, kind="domain")
    from IPython.display import display

    complete = None
    if sandbox is not None:
        from runbook_lib.sandbox.control import SandboxControl

        control = SandboxControl(sandbox)

        def complete() -> None:
            control.validate_domain(state.domain)

    widget = HandshakeWidget(
        state,
        complete=complete,
        kind="domain",
        complete_label="Validate DNS (sandbox stand-in for your DNS provider)",
    )
    return _View(widget, out, display(widget.box, display_id=True), kind="domain")


def _outcome(cd: Any, ensured: Any, final: DomainState, out: Callable[[str], None]) -> Any:
    """The domain's Result when active; WaitFailed when it failed; WaitTimeout (records printed) otherwise."""
    from runbook_lib.errors import WaitFailed, WaitTimeout
    from runbook_lib.results import Result

    if final.status == "active":
        extra = {**ensured.extra, "status": final.status}
        return Result(
            "custom_domain",
            cd.domain,
            ensured.action,
            changes=ensured.changes,
            detail="status active",
            extra=extra,
        )
    if final.status in ("create_failed", "GONE"):
        raise WaitFailed(
            "Re-run this step to associate the domain again.",
            what=f"custom domain {cd.domain}",
            last=final.status,
        )
    hint = pending_hint(cd.domain, ensured.extra["records"])
    out(hint)
    raise WaitTimeout(
        hint, seconds=final.elapsed_s, what=f"custom domain {cd.domain} to become active", last=final.status
    )


async def gate_domain(
    clients: Any,
    params: Any,
    cd: Any,
    *,
    interactive: bool = True,
    timeout: float | None = None,
    interval_s: float = 2.0,
    sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    clock: Callable[[], float] = time.monotonic,
    out: Callable[[str], None] = print,
) -> Any:
    """Associate one domain (and write its records), then wait in the widget until it is active."""
    from runbook_lib.domains import ensure_custom_domain, require_service_arn
    from runbook_lib.identity import sandbox_endpoint

    arn = require_service_arn(clients, params)
    ensured = ensure_custom_domain(clients, params, cd, service_arn=arn, wait=False)
    desired = ensured.extra["records"]
    latest = {"observed": find_custom_domains(clients, arn)["domains"].get(cd.domain) or {}}

    def poll() -> str:
        latest["observed"] = find_custom_domains(clients, arn)["domains"].get(cd.domain) or {}
        return latest["observed"].get("status", "GONE")

    def with_records(s: DomainState) -> DomainState:
        return replace(s, records=_rows(desired, latest["observed"].get("records", [])))

    sandbox = sandbox_endpoint(clients)
    state = with_records(
        DomainState(
            cd.domain,
            ensured.extra["dns_target"],
            (),
            hosted_zone_id=cd.hosted_zone_id,
            status=ensured.extra.get("status") or "creating",
            sandbox=sandbox is not None,
            timeout_s=params.timeouts.domain_validation_s if timeout is None else timeout,
        )
    )
    view = _make_view(state, sandbox, interactive=interactive, out=out)
    final = state
    if not state.final:
        final = await wait_for(
            poll,
            state,
            show=lambda s: view.show(with_records(s)),
            check_requested=view.take_check,
            interval_s=interval_s,
            sleep=sleep,
            clock=clock,
        )
    final = with_records(final)
    view.finish(final)
    return _outcome(cd, ensured, final, out)


async def gate_domains(clients: Any, params: Any, **kw: Any) -> list[Any]:
    """Every custom domain of the params, one after another (see ``gate_domain``); their Results."""
    return [await gate_domain(clients, params, cd, **kw) for cd in params.custom_domains]
