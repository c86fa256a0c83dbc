"""Unit-test fixtures: no test here may open a network connection."""

from __future__ import annotations

import socket

import pytest


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> list[tuple]:
    """Fail loudly on any attempt to connect anywhere; returns the attempts seen."""
    attempts: list[tuple] = []

    def refuse(self: socket.socket, address: tuple) -> None:
        attempts.append(address)
        raise AssertionError(f"unexpected network connection to {address}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    return attempts


class FakeTime:
    """An injectable clock that only moves when slept on; records every sleep."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def fake_time() -> FakeTime:
    """A fresh ``FakeTime``: pass ``sleep=fake_time.sleep, clock=fake_time.clock``."""
    return FakeTime()


@pytest.fixture
def offline_clients(monkeypatch: pytest.MonkeyPatch, no_network: list[tuple]):
    """Real clients for us-east-1 with dummy credentials and no endpoint override (for Stubber)."""
    from runbook_lib.clients import make_clients

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    return make_clients(region="us-east-1")
