"""The sandbox's one endpoint: a WSGI app that dispatches to the App Runner emulator or to moto.

- ``X-Amz-Target: AppRunner.<Op>`` → the App Runner emulator (``apprunner.responses``).
- ``/_sandbox/…`` → the control API (handshake, domain validation, reset, config, faults, request log,
  health, the services' stand-in apps). Any call other than GET/HEAD/OPTIONS must say ``Content-Type:
  application/json`` or is refused with HTTP 415: a web page cannot send that to another origin without a
  CORS preflight (which this server never grants), so no local page can reset or fault the sandbox.
- anything else → moto's own server app (IAM, EC2 with its default VPC, STS, S3, …), with one shim:
  EC2 ``DeleteSecurityGroup`` / ``DeleteSubnet`` answer ``DependencyViolation`` while network interfaces
  still use the group / subnet (moto itself does not check), which is how App Runner's lingering ENIs
  (E20) become visible.

With ``enforce_iam`` (``--enforce-iam``) every AWS request is first authorised against the caller's IAM
policies (``iam_enforce``; docs/iam.md) and refused as AWS would.

Every AWS request is logged (``GET /_sandbox/requests``): service (from the SigV4 credential scope),
operation (``X-Amz-Target`` or the ``Action`` parameter; S3 operations are named from method and path),
HTTP status, error code, time (epoch seconds) and whether it mutates (anything that is not
Describe*/List*/Get*/Head*). Control-API and stand-in requests are not logged.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from werkzeug.serving import BaseWSGIServer, make_server

from runbook_lib.clients import is_mutating  # the one predicate, shared with the library
from runbook_lib.redact import Redactor
from runbook_lib.sandbox.apprunner import responses as apprunner_responses
from runbook_lib.sandbox.apprunner.domains import validate_domain
from runbook_lib.sandbox.apprunner.models import (
    AppRunnerBackends,
    Faults,
    InternalServiceErrorException,
    SandboxConfig,
    ThrottlingException,
)
from runbook_lib.sandbox.control import SandboxControl
from runbook_lib.sandbox.defaults import DEFAULT_ACCOUNT_ID
from runbook_lib.sandbox.ec2_shim import dependency_violation, ec2_error
from runbook_lib.sandbox.iam_enforce import Denial, Enforcer, SandboxLookups, json_object
from runbook_lib.sandbox.iam_requests import AwsRequest
from runbook_lib.sandbox.managed_policies import seed_managed_policies
from runbook_lib.sandbox.wire import (
    _error_code,
    _is_json,
    _json_body,
    _query_params,
    _read_body,
    _route53_operation,
    _s3_operation,
    _scope,
)

__all__ = [
    "RequestLog", "SAFE_METHODS", "SandboxApp", "SandboxHandle", "StartResponse", "make_sandbox_server",
    "start_in_thread",
]  # fmt: skip


log = logging.getLogger(__name__)
_BODY_REDACTOR = Redactor()  # by name: secret-named members (passwords, tokens, secret keys)

StartResponse = Callable[..., Any]
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})  # any other control call must send JSON (415 otherwise)
_NOT_JSON = json.dumps({"error": "state-changing control calls need Content-Type: application/json"}).encode()


class RequestLog:
    """Thread-safe list of served AWS requests."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: list[dict[str, Any]] = []

    def add(
        self,
        service: str,
        region: str,
        operation: str,
        status: int,
        error: str | None,
        body: dict[str, Any] | None = None,
    ) -> None:
        """Log one request; ``body`` is its parsed parameters, secret-named values redacted."""
        entry = {
            "time": time.time(),
            "service": service,
            "region": region,
            "operation": operation,
            "status": status,
            "error": error,
            "mutating": is_mutating(operation),
            "body": _BODY_REDACTOR.scrub(body) if body is not None else None,
        }
        with self._lock:
            self._items.append(entry)

    def items(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._items)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


class SandboxApp:
    """The WSGI application behind the sandbox's one URL."""

    def __init__(self, config: SandboxConfig | None = None) -> None:
        self.apprunner = AppRunnerBackends(config)
        self.log = RequestLog()
        self._moto: Any = None
        self._moto_lock = threading.Lock()
        self.enforcer = Enforcer(SandboxLookups(self.apprunner))
        self._s3_writes = threading.Lock()  # moto checks If-None-Match / If-Match, then writes: one at a time

    # ------------------------------------------------------------------ dispatch
    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "") or "/"
        with self.apprunner.lock:
            self.apprunner.tick()
        if path.startswith("/_sandbox/") or path == "/_sandbox":
            return self._control(environ, start_response, path)
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        if target.startswith("AppRunner."):
            return self._apprunner(environ, start_response, target.split(".", 1)[1])
        return self._to_moto(environ, start_response)

    def _apprunner(
        self, environ: dict[str, Any], start_response: StartResponse, operation: str
    ) -> Iterable[bytes]:
        _, region = _scope(environ)
        body = _read_body(environ)
        request, refused = self._authorize(environ, "apprunner", operation, region, json_object(body))
        if refused is not None:
            return self._refuse(start_response, "apprunner", region, operation, refused)
        with self.apprunner.lock:
            faults = self.apprunner.faults
            roll = faults.rng.random() if (faults.throttle_rate or faults.error_rate) else 1.0
            if faults.over_rate(DEFAULT_ACCOUNT_ID, time.monotonic()):
                status, headers, payload = apprunner_responses.error_response(
                    ThrottlingException("Rate exceeded (sandbox rate limit)")
                )
            elif roll < faults.throttle_rate:
                status, headers, payload = apprunner_responses.error_response(
                    ThrottlingException("Rate exceeded (sandbox fault injection)")
                )
            elif roll < faults.throttle_rate + faults.error_rate:
                status, headers, payload = apprunner_responses.error_response(
                    InternalServiceErrorException("An internal error occurred (sandbox fault injection)")
                )
            else:
                backend = self.apprunner.get(DEFAULT_ACCOUNT_ID, region)
                status, headers, payload = apprunner_responses.handle(backend, operation, body)
                if request is not None:
                    self.enforcer.after(request, status)
        error = json.loads(payload).get("__type") if status >= 400 else None
        self.log.add("apprunner", region, operation, status, error, _json_body(body))
        return _respond(start_response, status, headers, payload)

    def _moto_app(self) -> Any:
        with self._moto_lock:
            if self._moto is None:
                from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

                self._moto = DomainDispatcherApplication(create_backend_app)
            return self._moto

    def _to_moto(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        service, region = _scope(environ)
        method = environ.get("REQUEST_METHOD", "GET")
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        content_type = environ.get("CONTENT_TYPE", "")
        form = content_type.startswith("application/x-www-form-urlencoded")
        json_body = content_type.startswith("application/x-amz-json")
        body = _read_body(environ) if form or json_body else None
        params = _query_params(environ, body if form else None)
        if target:
            operation = target.split(".", 1)[-1]
        elif params.get("Action"):
            operation = params["Action"]
        elif service == "s3":
            operation = _s3_operation(method, environ.get("PATH_INFO", "/"), params)
        elif service == "route53":
            operation = _route53_operation(method, environ.get("PATH_INFO", "/"))
        else:
            operation = f"{method} {environ.get('PATH_INFO', '/')}"
        asked = {**params, **json_object(body)} if json_body and body else params  # e.g. logs' JSON members
        _, refused = self._authorize(environ, service, operation, region, asked)
        if refused is not None:
            return self._refuse(start_response, service, region, operation, refused)
        if service == "iam":
            seed_managed_policies()
        if service == "ec2":
            with self.apprunner.lock:
                message = dependency_violation(region, params)
            if message:
                self.log.add(service, region, operation, 400, "DependencyViolation")
                return _respond(
                    start_response,
                    400,
                    {"Content-Type": "text/xml"},
                    ec2_error("DependencyViolation", message),
                )
        captured: dict[str, Any] = {}

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            captured["status"] = int(status.split(" ", 1)[0])
            return start_response(status, headers, exc_info)

        conditional = service == "s3" and method in ("PUT", "POST", "DELETE")
        with self._s3_writes if conditional else contextlib.nullcontext():
            result = self._moto_app()(environ, capture)
            chunks = list(result)
        if hasattr(result, "close"):
            result.close()
        status = captured.get("status", 500)
        error = _error_code(b"".join(chunks)) if status >= 400 else None
        if operation or service != "unknown":
            sent = {k: v for k, v in params.items() if k not in ("Action", "Version")}
            if json_body:
                sent = _json_body(body or b"") or {}
            self.log.add(service, region, operation, status, error, sent)
        return chunks

    # ------------------------------------------------------------------ IAM enforcement
    def _authorize(
        self, environ: dict[str, Any], service: str, operation: str, region: str, params: dict[str, Any]
    ) -> tuple[AwsRequest | None, Denial | None]:
        """With ``enforce_iam``: the request as IAM sees it, and the refusal if the caller may not make it."""
        if not self.apprunner.config.enforce_iam:
            return None, None
        with self.apprunner.lock:
            return self.enforcer.check_environ(environ, service, operation, region, params)

    def _refuse(
        self, start_response: StartResponse, service: str, region: str, operation: str, refused: Denial
    ) -> Iterable[bytes]:
        self.log.add(service, region, operation, refused.status, refused.code)
        return _respond(start_response, refused.status, refused.headers, refused.body)

    # ------------------------------------------------------------------ control API
    def _control(self, environ: dict[str, Any], start_response: StartResponse, path: str) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD", "GET")
        parts = [urllib.parse.unquote(p) for p in path.split("/") if p][1:]
        try:
            if parts[:1] == ["services"] and len(parts) >= 3 and parts[2] == "http":
                return self._standin(start_response, parts[1], "/" + "/".join(parts[3:]))
            if method not in SAFE_METHODS and not _is_json(environ):
                return _respond(start_response, 415, {"Content-Type": "application/json"}, _NOT_JSON)
            body = _read_body(environ)
            data = json.loads(body) if body.strip() else {}
            if not isinstance(data, dict):
                raise ValueError("the request body must be a JSON object")
            status, result = self._control_call(method, parts, data)
        except ValueError as err:
            status, result = 400, {"error": str(err)}
        except KeyError as err:
            status, result = 404, {"error": f"not found: {err.args[0] if err.args else ''}"}
        payload = json.dumps(result, default=str).encode()
        return _respond(start_response, status, {"Content-Type": "application/json"}, payload)

    def _control_call(self, method: str, parts: list[str], data: dict[str, Any]) -> tuple[int, Any]:
        ar = self.apprunner
        route = (method, parts[0] if parts else "")
        if route == ("GET", "health"):
            return 200, {"ok": True, "pid": os.getpid(), "sandbox": True}
        if route == ("POST", "reset"):
            with ar.lock:
                ar.reset()
                from moto.moto_api._internal.models import moto_api_backend

                moto_api_backend.reset()
            self.log.clear()
            return 200, {"reset": True}
        if route in (("POST", "config"), ("GET", "config")):
            with ar.lock:
                if method == "POST":
                    ar.config.update(data)
                return 200, ar.config.to_dict()
        if route in (("POST", "faults"), ("GET", "faults")):
            with ar.lock:
                if method == "POST":
                    if data.pop("clear", False):
                        ar.faults = Faults()
                    maintenance = data.get("maintenance") or {}
                    ar.faults.update(data)
                    for service_id, seconds in maintenance.items():
                        found = ar.find_service(service_id)
                        if found is None:
                            raise KeyError(service_id)
                        found[0].maintenance(service_id, float(seconds))
                return 200, ar.faults.to_dict()
        if route == ("POST", "advance"):
            with ar.lock:
                if data.get("settle"):
                    fired = ar.transitions.settle()
                else:
                    ar.clock.advance(float(data.get("seconds", 0)))
                    fired = ar.tick()
                return 200, {"fired": fired, "pending": ar.transitions.pending(), "offset": ar.clock.offset}
        if route == ("GET", "requests"):
            return 200, self.log.items()
        if route == ("DELETE", "requests"):
            self.log.clear()
            return 200, {"cleared": True}
        if method == "POST" and len(parts) == 3 and parts[0] == "domains" and parts[2] == "validate":
            with ar.lock:
                validated = validate_domain(ar, parts[1])
            if not validated:
                raise KeyError(parts[1])
            return 200, {"domains": validated}
        if method == "POST" and len(parts) == 3 and parts[0] == "connections" and parts[2] == "handshake":
            status = data.get("status", "AVAILABLE")
            if status not in ("AVAILABLE", "ERROR", "PENDING_HANDSHAKE"):
                raise ValueError("status must be AVAILABLE, ERROR or PENDING_HANDSHAKE")
            with ar.lock:
                done = ar.handshake(parts[1], status, data.get("region"))
                if not done:
                    raise KeyError(parts[1])
                return 200, {"connections": [c.to_dict() for c in done]}
        raise KeyError("/".join(parts) or "/")

    def _standin(self, start_response: StartResponse, service_id: str, path: str) -> Iterable[bytes]:
        with self.apprunner.lock:
            found = self.apprunner.find_service(service_id)
            unhealthy = service_id in self.apprunner.faults.app_unhealthy
            if found is None:
                status, body = 404, {"error": f"no such service: {service_id}"}
            else:
                backend, svc = found
                healthy = svc.status == "RUNNING" and not unhealthy
                status = 200 if healthy else 503
                body = {
                    "service": svc.name,
                    "service_id": svc.id,
                    "status": svc.status,
                    "path": path,
                    "region": backend.region,
                    "env": svc.env() if healthy else {},
                    "note": "local sandbox stand-in for the App Runner service's application",
                }
        return _respond(
            start_response, status, {"Content-Type": "application/json"}, json.dumps(body).encode()
        )


def _respond(start_response: StartResponse, status: int, headers: dict[str, str], body: bytes) -> list[bytes]:
    reason = {
        200: "OK",
        400: "Bad Request",
        403: "Forbidden",
        404: "Not Found",
        409: "Conflict",
        415: "Unsupported Media Type",
        500: "Internal Server Error",
        503: "Service Unavailable",
    }.get(status, "Status")
    header_list = list(headers.items()) + [("Content-Length", str(len(body)))]
    start_response(f"{status} {reason}", header_list)
    return [body]


# ---------------------------------------------------------------------------------------- serving


def _request_handler() -> type:
    from moto.moto_server.werkzeug_app import MotoRequestHandler

    class QuietRequestHandler(MotoRequestHandler):
        """moto's handler (keeps underscore headers for S3), logging at DEBUG instead of to stderr."""

        def log_request(self, code: Any = "-", size: Any = "-") -> None:
            log.debug("%s %s %s", self.command, self.path, code)

    return QuietRequestHandler


def make_sandbox_server(
    port: int = 0, host: str = "127.0.0.1", **config: Any
) -> tuple[BaseWSGIServer, SandboxApp]:
    """A threaded werkzeug server bound to ``host:port`` (0 = any free port) serving a new SandboxApp."""
    cfg = SandboxConfig()
    cfg.update(config)
    app = SandboxApp(cfg)
    server = make_server(host, port, app, threaded=True, request_handler=_request_handler())
    return server, app


@dataclass
class SandboxHandle:
    """A sandbox running in a background thread of this process."""

    url: str
    port: int
    app: SandboxApp
    server: BaseWSGIServer
    thread: threading.Thread

    @property
    def control(self) -> SandboxControl:
        return SandboxControl(self.url)

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)


def start_in_thread(port: int = 0, **config: Any) -> SandboxHandle:
    """Start a sandbox on 127.0.0.1 in a daemon thread; returns once it accepts connections."""
    server, app = make_sandbox_server(port, **config)
    thread = threading.Thread(target=server.serve_forever, name="runbook-sandbox", daemon=True)
    thread.start()
    bound = server.server_address[1]
    url = f"http://127.0.0.1:{bound}"
    SandboxControl(url).wait_ready(timeout=10)
    return SandboxHandle(url=url, port=bound, app=app, server=server, thread=thread)
