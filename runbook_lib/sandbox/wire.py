"""The sandbox's wire: what a request says (service and region, operation, body, parameters) and the
error code of an answer, for the WSGI app in ``server.py``."""

from __future__ import annotations

import io
import json
import re
import urllib.parse
from typing import Any

from runbook_lib.sandbox.defaults import DEFAULT_REGION

__all__: list[str] = []  # the app's internals

_CREDENTIAL_RE = re.compile(r"Credential=([^,\s]+)")
_XML_CODE_RE = re.compile(rb"<Code>([^<]+)</Code>")
_S3_SUBRESOURCES = {
    "tagging", "policy", "versioning", "acl", "lifecycle", "encryption", "cors", "location", "uploads",
    "uploadId", "delete", "publicAccessBlock", "ownershipControls",
}  # fmt: skip


def _json_body(body: bytes) -> dict[str, Any] | None:
    try:
        parsed = json.loads(body) if body.strip() else {}
    except ValueError:
        return None
    return parsed if isinstance(parsed, dict) else None


def _is_json(environ: dict[str, Any]) -> bool:
    """True if the request says its body is JSON (``application/json``, parameters allowed)."""
    media_type = environ.get("CONTENT_TYPE", "").split(";", 1)[0].strip().lower()
    return media_type == "application/json"


def _scope(environ: dict[str, Any]) -> tuple[str, str]:
    """(service, region) from the SigV4 credential scope; ("unknown", default region) if unsigned."""
    match = _CREDENTIAL_RE.search(environ.get("HTTP_AUTHORIZATION", ""))
    if match:
        parts = match.group(1).split("/")
        if len(parts) >= 5:
            return parts[3], parts[2]
    return "unknown", DEFAULT_REGION


def _read_body(environ: dict[str, Any]) -> bytes:
    """Read the request body and put it back, so the next app can read it again."""
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    body = environ["wsgi.input"].read(length) if length > 0 else b""
    environ["wsgi.input"] = io.BytesIO(body)
    return body


def _query_params(environ: dict[str, Any], body: bytes | None) -> dict[str, str]:
    params = dict(urllib.parse.parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True))
    if body:
        params.update(urllib.parse.parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
    return params


# Route 53 is REST: its operation from the method and path (the ones the runbook and its tests call)
_ROUTE53 = {
    ("POST", "hostedzone"): "CreateHostedZone", ("GET", "hostedzone"): "ListHostedZones",
    ("GET", "hostedzone/*"): "GetHostedZone", ("DELETE", "hostedzone/*"): "DeleteHostedZone",
    ("GET", "hostedzone/*/rrset"): "ListResourceRecordSets",
    ("POST", "hostedzone/*/rrset"): "ChangeResourceRecordSets", ("GET", "change/*"): "GetChange",
}  # fmt: skip


def _route53_operation(method: str, path: str) -> str:
    parts = [p for p in path.split("/") if p][1:]  # after the API version
    shape = "/".join("*" if i % 2 else p for i, p in enumerate(parts))
    return _ROUTE53.get((method, shape), f"{method} {path}")


def _s3_operation(method: str, path: str, query: dict[str, str]) -> str:
    parts = [p for p in path.split("/") if p]
    target = "Object" if len(parts) > 1 else "Bucket"
    if not parts:
        return "ListBuckets"
    sub = next((k for k in query if k in _S3_SUBRESOURCES), None)
    verb = {"GET": "Get", "HEAD": "Head", "PUT": "Put", "DELETE": "Delete", "POST": "Post"}.get(
        method, method
    )
    if sub == "delete" and method == "POST":
        return "DeleteObjects"
    if sub:
        return f"{verb}{target}{sub[0].upper()}{sub[1:]}"
    if method == "GET" and target == "Bucket":
        return "ListObjectsV2" if query.get("list-type") == "2" else "ListObjects"
    if method == "PUT" and target == "Bucket":
        return "CreateBucket"
    return f"{verb}{target}"


def _error_code(payload: bytes) -> str | None:
    """The AWS error code of an error answer: XML ``<Code>`` or JSON ``__type``."""
    match = _XML_CODE_RE.search(payload)
    if match:
        return match.group(1).decode()
    try:
        return str(json.loads(payload).get("__type", "")).split("#")[-1] or None
    except ValueError:
        return None
