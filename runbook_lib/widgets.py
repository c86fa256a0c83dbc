"""Notebook presentation: the live handshake widget and its gate.

The gate is the AWS state, not a click: ``gate_connection`` polls the connection's status (with
``await asyncio.sleep`` between polls, so on ipykernel 7 the widget's buttons keep working while the
cell waits) and returns only when the connection is AVAILABLE. Headless (papermill,
``interactive=False``) the same loop prints text progress instead of updating a live widget.
The sandbox's "Complete handshake" button is the sandbox's stand-in for the AWS console, and says so.
"""

from __future__ import annotations

import asyncio
import html
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import Any

from runbook_lib.aws import console_url

__all__ = [
    "HandshakeState", "HandshakeWidget", "PROVIDER_NAMES", "STYLES", "gate_connection", "wait_for",
]  # fmt: skip


STYLES = {
    "PENDING_HANDSHAKE": ("#9a6700", "#fff8c5"),
    "AVAILABLE": ("#1a7f37", "#dafbe1"),
    "ERROR": ("#cf222e", "#ffebe9"),
    "DELETED": ("#57606a", "#f6f8fa"),
}
PROVIDER_NAMES = {"GITHUB": "GitHub", "BITBUCKET": "Bitbucket"}


@dataclass(frozen=True)
class HandshakeState:
    """What the handshake widget shows; pure data, so it is testable without a browser."""

    name: str
    provider: str
    region: str
    status: str = "PENDING_HANDSHAKE"
    elapsed_s: float = 0.0
    timeout_s: float | None = None
    sandbox: bool = False
    polls: int = 0
    notes: tuple[str, ...] = field(default=())

    @property
    def console_url(self) -> str:
        return console_url(self.region, "/connections")

    @property
    def colours(self) -> tuple[str, str]:
        return STYLES.get(self.status, STYLES["DELETED"])

    @property
    def done(self) -> bool:
        return self.status == "AVAILABLE"

    @property
    def final(self) -> bool:
        """No more polling: the status will not change by itself."""
        return self.status in ("AVAILABLE", "ERROR")

    def instructions(self) -> str:
        provider = PROVIDER_NAMES.get(self.provider, self.provider)
        if self.status == "AVAILABLE":
            return "The connection is ready; the runbook goes on."
        if self.status == "ERROR":
            return (
                f"The {provider} authorization failed. In the App Runner console, delete or re-authorize "
                f"the connection {self.name}, then re-run this cell."
            )
        if self.sandbox:
            return (
                "This is the local sandbox: the button below stands in for the AWS console's "
                "'Complete handshake'."
            )
        return (
            f"Open the App Runner console (link below), select the connection {self.name}, choose "
            f"'Complete handshake' and authorize {provider}. This cell goes on by itself when it is done."
        )

    def how_to_complete(self) -> str:
        """What to do, in words that fit a headless run: the sandbox's command, or the AWS console."""
        if self.sandbox:
            return (
                f"This is the local sandbox: complete the handshake with `runbook sandbox handshake "
                f"{self.name}` (its stand-in for the console's 'Complete handshake')."
            )
        return f"Open {self.console_url}, select the connection {self.name} and choose 'Complete handshake'."

    def text(self) -> str:
        """The one-line text view (headless progress and the executed notebook's fallback)."""
        limit = f" of {self.timeout_s:.0f}s" if self.timeout_s else ""
        return f"connection {self.name} ({self.provider}): {self.status} after {self.elapsed_s:.0f}s{limit}"

    def html(self) -> str:
        """A static HTML card of this state (kept in executed notebooks)."""
        fg, bg = self.colours
        link = (
            "<i>sandbox: no console; use the sandbox button</i>"
            if self.sandbox
            else f'<a href="{html.escape(self.console_url)}" target="_blank" rel="noopener">'
            f"Open the App Runner connections page ({html.escape(self.region)})</a>"
        )
        return (
            f'<div class="runbook-handshake" style="border:1px solid {fg};border-radius:6px;padding:8px">'
            f"<b>Source connection</b> <code>{html.escape(self.name)}</code> "
            f"({html.escape(PROVIDER_NAMES.get(self.provider, self.provider))})<br>"
            f'Status: <span class="runbook-status" data-status="{self.status}" '
            f'style="color:{fg};background:{bg};padding:1px 6px;border-radius:4px;font-weight:bold">'
            f"{self.status}</span> "
            f'<span class="runbook-elapsed">elapsed {self.elapsed_s:.0f}s</span><br>'
            f"{html.escape(self.instructions())}<br>{link}</div>"
        )


class HandshakeWidget:
    """The live ipywidgets view of a HandshakeState, with 'Check now' and (sandbox) handshake buttons.

    Any state with ``html()`` and ``final`` works (the custom domain widget uses it with ``kind="domain"``).
    """

    def __init__(
        self,
        state: Any,
        *,
        complete: Callable[[], Any] | None = None,
        kind: str = "handshake",
        complete_label: str = "Complete handshake (sandbox stand-in for the AWS console)",
    ) -> None:
        import ipywidgets as w

        self.state = state
        self.check_requested = False
        self.errors: list[str] = []
        self._complete = complete
        self.card = w.HTML(state.html())
        self.check_button = w.Button(description="Check now", icon="refresh", tooltip="Poll the status now")
        self.check_button.on_click(self._on_check)
        buttons = [self.check_button]
        if complete is not None:
            self.sandbox_button = w.Button(
                description=complete_label,
                button_style="warning",
                layout=w.Layout(width="auto"),
            )
            self.sandbox_button.add_class(f"runbook-sandbox-{kind}")
            self.sandbox_button.on_click(self._on_complete)
            buttons.append(self.sandbox_button)
        self.box = w.VBox([self.card, w.HBox(buttons)])
        self.box.add_class(f"runbook-{kind}-widget")

    def _on_check(self, _button: Any = None) -> None:
        self.check_requested = True

    def _on_complete(self, _button: Any = None) -> None:
        try:
            self._complete()
        except Exception as err:  # shown in the widget; the gate still decides by the AWS state
            self.errors.append(str(err))
            self.card.value = self.state.html() + f"<br><b>sandbox action failed:</b> {html.escape(str(err))}"
            return
        self.check_requested = True

    def update(self, state: Any) -> None:
        self.state = state
        self.card.value = state.html()
        if state.final:
            for child in self.box.children[1].children:
                child.disabled = True


async def wait_for(
    poll: Callable[[], str],
    state: Any,
    *,
    show: Callable[[Any], None],
    check_requested: Callable[[], bool] = lambda: False,
    interval_s: float = 2.0,
    tick_s: float = 0.25,
    sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> Any:
    """Poll ``poll()`` every ``interval_s`` (sooner on 'Check now') until the state is ``final`` (handshake:
    AVAILABLE/ERROR) or the timeout.

    Sleeps in short awaited ticks so widget events are handled while waiting. Returns the final state;
    the caller raises on ERROR or timeout.
    """
    start = clock()
    while True:
        status = poll()
        state = replace(state, status=status, elapsed_s=clock() - start, polls=state.polls + 1)
        show(state)
        if state.final:
            return state
        if state.timeout_s is not None and state.elapsed_s >= state.timeout_s:
            return state
        next_poll = clock() + interval_s
        while clock() < next_poll and not check_requested():
            await sleep(tick_s)


async def gate_connection(
    clients: Any, params: Any, *, interactive: bool = True, timeout: float | None = None,
    interval_s: float = 2.0, sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    clock: Callable[[], float] = time.monotonic, out: Callable[[str], None] = print,
) -> Any:  # fmt: skip
    """Ensure the connection, then wait (live widget, or text headless) until it is AVAILABLE.

    Returns the connection's Result. Raises WaitFailed on ERROR and WaitTimeout (with the console URL
    and how to resume) when nobody completed the handshake in time.
    """
    from runbook_lib.connection import find_connection
    from runbook_lib.identity import sandbox_endpoint
    from runbook_lib.orchestrate import apply

    (ensured,) = apply(clients, params, only="connection", wait_handshake=False)
    if ensured.extra.get("not_needed"):
        return ensured
    sandbox = sandbox_endpoint(clients)
    state = HandshakeState(
        name=params.connection.name,
        provider=params.connection.provider,
        region=params.region,
        status=ensured.extra.get("status", "PENDING_HANDSHAKE"),
        timeout_s=params.connection.handshake_timeout_s if timeout is None else timeout,
        sandbox=sandbox is not None,
    )
    view = _make_view(state, sandbox, interactive=interactive, out=out)

    def poll() -> str:
        found = find_connection(clients, params)
        return found["status"] if found else "DELETED"

    final = state
    if state.status != "AVAILABLE":
        final = await wait_for(
            poll, state, show=view.show, check_requested=view.take_check,
            interval_s=interval_s, sleep=sleep, clock=clock,
        )  # fmt: skip
    view.finish(final)
    return _handshake_outcome(final, state, ensured, params)


class _View:
    """Where the gate shows progress: a live widget, or text lines (headless)."""

    def __init__(
        self,
        widget: HandshakeWidget | None,
        out: Callable[[str], None],
        handle: Any = None,
        kind: str = "handshake",
    ) -> None:
        self.widget = widget
        self.out = out
        self.handle = handle  # the live widget's display, replaced by its final state when done
        self.kind = kind
        self.last_status: str | None = None

    def show(self, state: Any) -> None:
        if self.widget is not None:
            self.widget.update(state)
            return
        if state.status != self.last_status or state.polls % 15 == 0:
            self.out(state.text())
        self.last_status = state.status

    def take_check(self) -> bool:
        if self.widget is not None and self.widget.check_requested:
            self.widget.check_requested = False
            return True
        return False

    def finish(self, state: Any) -> None:
        """Leave one view of the final state: the widget, with a static card where widgets do not render."""
        from IPython.display import display

        metadata = {"runbook": {self.kind: state.status}}
        widget = self.widget or HandshakeWidget(state, kind=self.kind)  # headless: one in its final state
        widget.update(state)
        bundle = {**widget.box._repr_mimebundle_(), "text/html": state.html()}
        if self.handle is not None:
            self.handle.update(bundle, raw=True, metadata=metadata)
        else:
            display(bundle, raw=True, metadata=metadata)
        if self.widget is None and state.status != self.last_status:
            self.out(state.text())


def _handshake_outcome(final: HandshakeState, state: HandshakeState, ensured: Any, params: Any) -> Any:
    """The connection's Result once AVAILABLE; WaitFailed on ERROR; WaitTimeout when nobody completed it."""
    from runbook_lib.errors import WaitFailed, WaitTimeout
    from runbook_lib.results import Result

    if final.status == "AVAILABLE":
        return Result(
            "connection",
            params.connection.name,
            ensured.action,
            arn=ensured.arn,
            detail="status AVAILABLE",
            console_url=state.console_url,
            extra={"status": "AVAILABLE"},
        )
    if final.status == "ERROR":
        raise WaitFailed(
            "Re-authorize it in the console (or delete it), then re-run this step.",
            what=f"connection {state.name}",
            last="ERROR",
            console_url=state.console_url,
        )
    raise WaitTimeout(
        f"{state.how_to_complete()} Then re-run this step: it finds the connection by name and goes on.",
        seconds=final.elapsed_s,
        what=f"the handshake of connection {state.name}",
        last=final.status,
        console_url=state.console_url,
    )


def _make_view(state: HandshakeState, sandbox: str | None, *, interactive: bool, out: Callable[[str], None]):
    if not interactive:
        if state.status != "AVAILABLE":
            out(state.how_to_complete())
        return _View(None, out)
    from IPython.display import display

    complete = None
    if sandbox is not None:
        from runbook_lib.sandbox.control import SandboxControl

        control = SandboxControl(sandbox)

        def complete() -> None:
            control.handshake(state.name, "AVAILABLE", region=state.region)

    widget = HandshakeWidget(state, complete=complete)
    return _View(widget, out, display(widget.box, display_id=True))
