"""Does the service answer? One GET of its health-check path (on the sandbox, its stand-in app); a private
service's ingress connection is checked instead (``ingress.verify_private_service``)."""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from collections.abc import Iterable
from typing import Any

from runbook_lib.clients import Clients
from runbook_lib.errors import ResourceNotFound
from runbook_lib.identity import sandbox_endpoint
from runbook_lib.params import Params
from runbook_lib.results import Action, Result
from runbook_lib.service import RESOURCE, _res, _result, find_service

__all__ = ["service_http_url", "verify_service"]


def service_http_url(clients: Clients, params: Params, observed: dict[str, Any]) -> str | None:
    """Where the health-check path answers: ``https://<ServiceUrl><path>``, or on the sandbox its stand-in.

    This is the only place the library knows it may run on the sandbox (endpoint on 127.0.0.1/localhost).
    """
    path = params.health_check.path if params.health_check.protocol == "HTTP" else "/"
    sandbox = sandbox_endpoint(clients)
    if sandbox is not None:
        return f"{sandbox.rstrip('/')}/_sandbox/services/{observed['id']}/http/{path.lstrip('/')}"
    if not observed.get("url"):
        return None
    return f"https://{observed['url']}{path if path.startswith('/') else '/' + path}"


def _http_status(url: str, timeout: float) -> tuple[int | None, str, float, str]:
    """(HTTP status or None, error, latency in ms, first line of the body) of one GET."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    started = time.monotonic()

    def answer(code: int | None, body: bytes = b"", error: str = "") -> tuple[int | None, str, float, str]:
        first = body.decode("utf-8", "replace").strip().splitlines()[:1]
        return code, error, round((time.monotonic() - started) * 1000, 1), first[0][:200] if first else ""

    try:
        with opener.open(urllib.request.Request(url, method="GET"), timeout=timeout) as resp:
            return answer(resp.status, resp.read(4096))
    except urllib.error.HTTPError as err:
        return answer(err.code, err.read(4096))
    except (urllib.error.URLError, OSError) as err:
        return answer(None, error=str(getattr(err, "reason", err)))


def verify_service(
    clients: Clients, params: Params, *, results: Iterable[Result] = (), timeout: float = 10.0
) -> Result:
    """GET the service's health-check path once and report the HTTP status (only checks; never raises on
    an unhealthy answer: ``extra["ok"]`` says whether it answered 2xx/3xx).

    ``results``: what ``apply`` just returned; a RUNNING service among them is used as found (no lookup).
    """
    observed = next(
        (
            {"arn": r.arn, **r.extra}
            for r in results
            if r.resource == RESOURCE
            and r.name == params.name
            and r.extra.get("status") == "RUNNING"
            and r.extra.get("id")
        ),
        None,
    ) or find_service(clients, params)
    if observed is None:
        raise ResourceNotFound(
            "Run the `service` step first.",
            resource=_res(params),
            operation="ListServices",
            code="NotFound",
            aws_message="no service of that name",
        )
    if not params.public:  # nothing outside the VPC reaches it: its ingress connection is checked instead
        from runbook_lib.ingress import verify_private_service

        return verify_private_service(clients, params, observed)
    url = service_http_url(clients, params, observed)
    if url is None:
        return _result(
            params, Action.UNCHANGED, observed,
            detail="private service (no public URL); verify from inside the VPC",
            extra={"ok": None, "status_code": None, "http_url": None},
        )  # fmt: skip
    code, error, latency_ms, first_line = _http_status(url, timeout)
    ok = code is not None and 200 <= code < 400
    detail = f"GET {url} failed: {error}" if code is None else f"GET {url} -> {code} in {latency_ms:.0f} ms"
    answer = {"status_code": code, "http_url": url, "latency_ms": latency_ms, "first_line": first_line}
    return _result(params, Action.UNCHANGED, observed, detail=detail, extra={"ok": ok, **answer})
