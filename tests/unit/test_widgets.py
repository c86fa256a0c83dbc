"""The handshake widget's logic, without a browser: status drives what is shown; buttons do their job."""

from __future__ import annotations

import asyncio

import pytest

from runbook_lib.widgets import HandshakeState, HandshakeWidget, wait_for


def state(**kw) -> HandshakeState:
    return HandshakeState(**{"name": "gh-conn", "provider": "GITHUB", "region": "eu-west-1", **kw})


def test_pending_state_tells_what_to_do_and_links_the_region_console() -> None:
    s = state()
    assert (
        s.console_url
        == "https://eu-west-1.console.aws.amazon.com/apprunner/home?region=eu-west-1#/connections"
    )
    assert "Complete handshake" in s.instructions() and "GitHub" in s.instructions()
    page = s.html()
    assert 'data-status="PENDING_HANDSHAKE"' in page and s.console_url.replace("&", "&amp;") in page
    assert "#9a6700" in page  # amber while pending


@pytest.mark.parametrize(
    ("status", "colour", "words"),
    [
        ("AVAILABLE", "#1a7f37", "ready"),
        ("ERROR", "#cf222e", "failed"),
    ],
)
def test_status_changes_colour_and_instructions(status: str, colour: str, words: str) -> None:
    s = state(status=status, elapsed_s=42)
    assert colour in s.html() and words in s.instructions()
    assert s.text() == f"connection gh-conn (GITHUB): {status} after 42s"


def test_sandbox_state_is_labelled_as_stand_in() -> None:
    s = state(sandbox=True)
    assert "sandbox" in s.instructions() and "stand" in s.instructions()
    assert "console.aws.amazon.com" not in s.html()


def test_widget_updates_and_disables_buttons_when_done() -> None:
    calls = []
    widget = HandshakeWidget(state(sandbox=True), complete=lambda: calls.append("handshake"))
    assert "PENDING_HANDSHAKE" in widget.card.value
    assert "sandbox stand-in" in widget.sandbox_button.description
    widget.sandbox_button.click()
    assert calls == ["handshake"] and widget.check_requested
    widget.update(state(status="AVAILABLE", elapsed_s=3))
    assert 'data-status="AVAILABLE"' in widget.card.value
    assert widget.check_button.disabled and widget.sandbox_button.disabled


def test_widget_without_sandbox_has_no_handshake_button() -> None:
    widget = HandshakeWidget(state())
    assert not hasattr(widget, "sandbox_button")
    widget.check_button.click()
    assert widget.check_requested


def test_failed_sandbox_call_is_shown_not_raised() -> None:
    def broken() -> None:
        raise OSError("connection refused")

    widget = HandshakeWidget(state(sandbox=True), complete=broken)
    widget.sandbox_button.click()
    assert "connection refused" in widget.card.value and not widget.check_requested


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_wait_polls_until_available_and_shows_each_state() -> None:
    statuses = iter(["PENDING_HANDSHAKE", "PENDING_HANDSHAKE", "AVAILABLE"])
    shown: list[HandshakeState] = []
    t = FakeTime()
    final = asyncio.run(
        wait_for(
            lambda: next(statuses),
            state(timeout_s=60),
            show=shown.append,
            interval_s=2,
            sleep=t.sleep,
            clock=t.clock,
        )
    )
    assert final.status == "AVAILABLE" and final.polls == 3
    assert [s.status for s in shown] == ["PENDING_HANDSHAKE", "PENDING_HANDSHAKE", "AVAILABLE"]
    assert final.elapsed_s == pytest.approx(4.0)


def test_wait_gives_up_at_the_timeout() -> None:
    t = FakeTime()
    final = asyncio.run(
        wait_for(
            lambda: "PENDING_HANDSHAKE",
            state(timeout_s=10),
            show=lambda s: None,
            interval_s=2,
            sleep=t.sleep,
            clock=t.clock,
        )
    )
    assert final.status == "PENDING_HANDSHAKE" and final.elapsed_s >= 10 and final.polls <= 7


def test_check_now_polls_early() -> None:
    t = FakeTime()
    statuses = iter(["PENDING_HANDSHAKE", "AVAILABLE"])
    requested = iter([True])
    final = asyncio.run(
        wait_for(
            lambda: next(statuses),
            state(timeout_s=600),
            show=lambda s: None,
            check_requested=lambda: next(requested, False),
            interval_s=30,
            sleep=t.sleep,
            clock=t.clock,
        )
    )
    assert final.status == "AVAILABLE" and t.now < 1.0


def test_sandbox_button_completes_the_handshake_through_the_control_api(sandbox_env) -> None:
    from runbook_lib.clients import make_clients
    from runbook_lib.sandbox.control import SandboxControl

    clients = make_clients(region="us-east-1")
    clients.apprunner.create_connection(ConnectionName="gh-conn", ProviderType="GITHUB")
    control = SandboxControl(sandbox_env.url)
    widget = HandshakeWidget(
        state(region="us-east-1", sandbox=True),
        complete=lambda: control.handshake("gh-conn", "AVAILABLE", region="us-east-1"),
    )
    widget.sandbox_button.click()
    found = clients.apprunner.list_connections(ConnectionName="gh-conn")["ConnectionSummaryList"]
    assert found[0]["Status"] == "AVAILABLE"


def sandbox_params():
    from pathlib import Path

    from runbook_lib.params import load_params

    return load_params(
        Path(__file__).resolve().parents[2] / "params/sandbox.yaml",
        overrides={"connection.handshake_timeout_s": 30},
    )


def test_gate_headless_waits_for_the_aws_state_then_returns(sandbox_env) -> None:
    from runbook_lib.clients import make_clients
    from runbook_lib.sandbox.control import SandboxControl
    from runbook_lib.widgets import gate_connection

    params, lines, t = sandbox_params(), [], FakeTime()
    control = SandboxControl(sandbox_env.url)
    polls = {"n": 0}

    async def sleep(seconds: float) -> None:  # a person completes the handshake after ~6 s
        t.now += seconds
        polls["n"] += 1
        if t.now >= 6 and not polls.get("done"):
            control.handshake(params.connection.name, "AVAILABLE", region="us-east-1")
            polls["done"] = True

    result = asyncio.run(
        gate_connection(
            make_clients(params),
            params,
            interactive=False,
            interval_s=2,
            sleep=sleep,
            clock=t.clock,
            out=lines.append,
        )
    )
    assert result.resource == "connection" and result.extra["status"] == "AVAILABLE" and result.arn
    assert any("PENDING_HANDSHAKE" in line for line in lines) and "AVAILABLE" in lines[-1]
    assert any("Complete handshake" in line or "sandbox" in line for line in lines)


def test_gate_times_out_with_the_way_to_complete_it_and_resume_hint(sandbox_env) -> None:
    from runbook_lib.clients import make_clients
    from runbook_lib.errors import WaitTimeout
    from runbook_lib.widgets import gate_connection

    params, t = sandbox_params(), FakeTime()
    with pytest.raises(WaitTimeout) as info:
        asyncio.run(
            gate_connection(
                make_clients(params),
                params,
                interactive=False,
                timeout=10,
                sleep=t.sleep,
                clock=t.clock,
                out=lambda s: None,
            )
        )
    text = str(info.value)
    assert f"`runbook sandbox handshake {params.connection.name}`" in text and "re-run" in text  # sandbox
    on_aws = HandshakeState(params.connection.name, "GITHUB", "us-east-1").how_to_complete()
    assert "#/connections" in on_aws and "Complete handshake" in on_aws and "sandbox" not in on_aws


def test_gate_fails_on_error_status(sandbox_env) -> None:
    from runbook_lib.clients import make_clients
    from runbook_lib.errors import WaitFailed
    from runbook_lib.sandbox.control import SandboxControl
    from runbook_lib.widgets import gate_connection

    params, t = sandbox_params(), FakeTime()
    clients = make_clients(params)
    from runbook_lib import apply

    apply(clients, params, only="connection", wait_handshake=False)
    SandboxControl(sandbox_env.url).handshake(params.connection.name, "ERROR", region="us-east-1")
    with pytest.raises(WaitFailed, match="ERROR"):
        asyncio.run(
            gate_connection(
                clients, params, interactive=False, sleep=t.sleep, clock=t.clock, out=lambda s: None
            )
        )


def test_gate_live_widget_button_completes_on_sandbox(sandbox_env, monkeypatch) -> None:
    """Interactive: the widget is displayed; its sandbox button (clicked while waiting) ends the wait."""
    from runbook_lib import widgets
    from runbook_lib.clients import make_clients

    params, t, shown = sandbox_params(), FakeTime(), []
    monkeypatch.setattr("IPython.display.display", lambda *a, **k: shown.append(a[0]))
    made: list[widgets.HandshakeWidget] = []
    real = widgets.HandshakeWidget

    class Spy(real):
        def __init__(self, *a, **k):
            super().__init__(*a, **k)
            made.append(self)

    monkeypatch.setattr(widgets, "HandshakeWidget", Spy)

    async def sleep(seconds: float) -> None:
        t.now += seconds
        if t.now >= 3 and made and not made[0].sandbox_button.disabled and not made[0].check_requested:
            made[0].sandbox_button.click()  # what the person does in the page

    result = asyncio.run(
        widgets.gate_connection(
            make_clients(params),
            params,
            interactive=True,
            interval_s=30,
            sleep=sleep,
            clock=t.clock,
            out=lambda s: None,
        )
    )
    assert result.extra["status"] == "AVAILABLE"
    assert t.now < 30  # the click triggered an early poll
    assert 'data-status="AVAILABLE"' in made[0].card.value and made[0].sandbox_button.disabled
    assert shown[0] is made[0].box
