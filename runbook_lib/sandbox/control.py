"""A tiny client for the sandbox's control API (``/_sandbox/…``), stdlib only."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

__all__ = [
    "SandboxControl", "SandboxControlError", "SimulatedTime",
]  # fmt: skip



class SandboxControlError(RuntimeError):
    """The control API answered with an error (``status`` is the HTTP status)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"sandbox control API: HTTP {status}: {message}")
        self.status = status


class SandboxControl:
    """Drive a running sandbox: handshakes, reset, config, faults, the request log."""

    def __init__(self, url: str, timeout: float = 10.0) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(
            f"{self.url}/_sandbox/{path}",
            data=data,
            method=method,
            headers={"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                return json.loads(resp.read() or b"null")
        except urllib.error.HTTPError as err:
            detail = err.read().decode("utf-8", "replace")
            try:
                detail = json.loads(detail).get("error", detail)
            except (ValueError, AttributeError):
                pass
            raise SandboxControlError(err.code, str(detail)) from err

    def health(self) -> dict[str, Any]:
        return self._call("GET", "health")

    def is_up(self) -> bool:
        """True if the sandbox answers its health check."""
        try:
            return bool(self.health().get("ok"))
        except (OSError, SandboxControlError, ValueError):
            return False

    def wait_ready(self, timeout: float = 20.0, interval: float = 0.05) -> None:
        """Block until the health check answers; TimeoutError after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while not self.is_up():
            if time.monotonic() > deadline:
                raise TimeoutError(f"sandbox at {self.url} did not answer within {timeout}s")
            time.sleep(interval)

    def handshake(
        self, name: str, status: str = "AVAILABLE", region: str | None = None
    ) -> list[dict[str, Any]]:
        """Do what the console's "Complete handshake" does; returns the connections changed."""
        body: dict[str, Any] = {"status": status}
        if region:
            body["region"] = region
        quoted = urllib.parse.quote(name, safe="")
        return self._call("POST", f"connections/{quoted}/handshake", body)["connections"]

    def validate_domain(self, domain: str) -> list[dict[str, Any]]:
        """Count the custom domain's validation records as found in DNS; returns the associations changed."""
        quoted = urllib.parse.quote(domain, safe="")
        return self._call("POST", f"domains/{quoted}/validate", {})["domains"]

    def reset(self) -> None:
        """Forget all state (App Runner and moto), faults and the request log."""
        self._call("POST", "reset", {})

    def config(self, **kw: Any) -> dict[str, Any]:
        """Change behaviour switches (op_seconds, handshake, …); returns the whole config."""
        return self._call("POST", "config", kw)

    def faults(self, **kw: Any) -> dict[str, Any]:
        """Inject faults (seed, throttle_rate, fail_next_create, …); ``clear=True`` first removes all."""
        return self._call("POST", "faults", kw)

    def advance(self, seconds: float | None = None) -> dict[str, Any]:
        """Move the sandbox clock forward by ``seconds``, or (None) until nothing is pending."""
        body: dict[str, Any] = {"settle": True} if seconds is None else {"seconds": seconds}
        return self._call("POST", "advance", body)

    def requests(self) -> list[dict[str, Any]]:
        """The request log: ``{"time", "service", "region", "operation", "status", "error", "mutating"}``."""
        return self._call("GET", "requests")

    def clear_requests(self) -> None:
        self._call("DELETE", "requests")

    def mutating_requests(self) -> list[dict[str, Any]]:
        """The logged requests whose operation is not a read (Describe*/List*/Get*)."""
        return [r for r in self.requests() if r["mutating"]]

    def app_url(self, service_id: str, path: str = "/") -> str:
        """URL of the stand-in for the service's application (what ServiceUrl would serve)."""
        return f"{self.url}/_sandbox/services/{service_id}/http/{path.lstrip('/')}"


class SimulatedTime:
    """An injectable ``clock``/``sleep`` pair for library waits on the sandbox: sleeping moves this clock
    and the sandbox's (``advance``) at once, so waits that would take minutes take none."""

    def __init__(self, control: SandboxControl) -> None:
        self.control = control
        self.now = 0.0

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds
        self.control.advance(seconds)
