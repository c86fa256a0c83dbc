"""The one test of the sandbox endpoint: the URL's host, parsed (runbook_lib.identity)."""

from __future__ import annotations

import pytest

from runbook_lib import identity, runner


@pytest.mark.parametrize(
    ("url", "sandbox"),
    [
        ("http://127.0.0.1:4599", True),
        ("http://localhost:4599/", True),
        ("http://[::1]:4599", True),
        ("http://localhost.evil.com", False),
        ("https://apprunner.us-east-1.amazonaws.com", False),
        ("https://example.com/?next=http://127.0.0.1", False),
        (None, False),
        ("", False),
    ],
)
def test_is_sandbox_endpoint_parses_the_host(url: str | None, sandbox: bool) -> None:
    assert identity.is_sandbox_endpoint(url) is sandbox
    assert runner.is_local(url) is sandbox  # the runner's old name gives the same answer


def test_sandbox_endpoint_agrees_with_is_sandbox_endpoint() -> None:
    class Clients:
        def __init__(self, url: str) -> None:
            self.endpoint_url = url

    assert identity.sandbox_endpoint(Clients("http://[::1]:4599")) == "http://[::1]:4599"
    assert identity.sandbox_endpoint(Clients("http://localhost.evil.com")) is None
