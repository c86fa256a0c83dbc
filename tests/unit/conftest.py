"""Unit-test fixtures: no test here may open a network connection."""

from __future__ import annotations

import socket

import pytest
from unit_helpers import FakeTime


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


@pytest.fixture
def fake_time() -> FakeTime:
    """A fresh ``FakeTime``: pass ``sleep=fake_time.sleep, clock=fake_time.clock``."""
    return FakeTime()


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Dummy credentials, no endpoint override and no profile: clients aim at AWS but Stubber/moto answer."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)


@pytest.fixture
def clients(aws_env: None):
    """Real clients for us-east-1 (for Stubber or moto)."""
    from runbook_lib.clients import make_clients

    return make_clients(region="us-east-1")


@pytest.fixture
def offline_clients(clients, no_network: list[tuple]):
    """``clients``, and any real network connection fails the test."""
    return clients
