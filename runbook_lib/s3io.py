"""The audit trail's objects on S3: writes with server-side encryption, and conditional writes.

Every object is written with ``ServerSideEncryption=AES256`` (SSE-S3). ``put_text`` can be conditional
(``If-None-Match: *`` creates only; ``If-Match: <etag>`` replaces only that version) and raises
``PreconditionFailed`` when S3 answers 412, which is what makes the chain heads and the locks atomic
across hosts. The client comes from the one clients factory, cached per endpoint.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime
from typing import Any

__all__ = [
    "Obj", "PreconditionFailed", "SSE", "client", "delete", "get", "is_url", "put_text", "split",
]  # fmt: skip


SSE = "AES256"
_CLIENTS: dict[str, Any] = {}
_CLIENT_ENV = (
    "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL", "AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_DEFAULT_REGION"
)  # fmt: skip
_CLIENTS_LOCK = threading.Lock()


class PreconditionFailed(Exception):
    """A conditional write lost: the object exists (If-None-Match) or changed (If-Match)."""


@dataclass(frozen=True)
class Obj:
    """An object's text, ETag, and the server's clock: when it was last written, and now."""

    text: str
    etag: str
    last_modified: datetime | None = None
    server_now: datetime | None = None

    @property
    def age_s(self) -> float | None:
        """Seconds since the last write, by the server's clock (no skew between hosts)."""
        if self.last_modified is None or self.server_now is None:
            return None
        return (self.server_now - self.last_modified).total_seconds()


def split(url: str) -> tuple[str, str]:
    """``s3://bucket/key`` → (bucket, key)."""
    bucket, _, key = url[len("s3://") :].partition("/")
    return bucket, key


def client() -> Any:
    """The S3 client for the current endpoint and credentials (the environment may change, as in tests)."""
    import os

    from runbook_lib.clients import make_clients

    key = "|".join(os.environ.get(n, "") for n in _CLIENT_ENV)  # a new client when any of them changes
    with _CLIENTS_LOCK:
        if key not in _CLIENTS:
            _CLIENTS[key] = make_clients(region=os.environ.get("AWS_DEFAULT_REGION") or "us-east-1").s3
        return _CLIENTS[key]


def _code(err: Exception) -> str:
    return str(getattr(err, "response", {}).get("Error", {}).get("Code", ""))


def put_text(url: str, text: str, *, if_none_match: bool = False, if_match: str | None = None) -> str:
    """Write ``text`` (SSE-S3), optionally conditional; the new ETag."""
    from botocore.exceptions import ClientError

    bucket, key = split(url)
    extra: dict[str, Any] = {"IfNoneMatch": "*"} if if_none_match else {}
    if if_match:
        extra["IfMatch"] = if_match
    try:
        reply = client().put_object(
            Bucket=bucket, Key=key, Body=text.encode("utf-8"), ServerSideEncryption=SSE, **extra
        )
    except ClientError as err:
        if _code(err) in ("PreconditionFailed", "412", "ConditionalRequestConflict"):
            raise PreconditionFailed(url) from err
        raise
    return str(reply.get("ETag", ""))


def get(url: str) -> Obj | None:
    """The object, or None when there is none."""
    from botocore.exceptions import ClientError

    bucket, key = split(url)
    try:
        reply = client().get_object(Bucket=bucket, Key=key)
    except ClientError as err:
        if _code(err) in ("NoSuchKey", "404", "NotFound"):
            return None
        raise
    from email.utils import parsedate_to_datetime

    date = reply.get("ResponseMetadata", {}).get("HTTPHeaders", {}).get("date")
    return Obj(
        reply["Body"].read().decode("utf-8"), str(reply.get("ETag", "")), reply.get("LastModified"),
        parsedate_to_datetime(date) if date else None,
    )  # fmt: skip


def delete(url: str, *, if_match: str | None = None) -> bool:
    """Delete the object (only that version with ``if_match``); False when the condition failed."""
    from botocore.exceptions import ClientError

    bucket, key = split(url)
    try:
        client().delete_object(Bucket=bucket, Key=key, **({"IfMatch": if_match} if if_match else {}))
    except ClientError as err:
        if _code(err) in ("PreconditionFailed", "412", "NoSuchKey", "404"):
            return False
        raise
    return True


def is_url(path: str | Any) -> bool:
    return str(path).startswith("s3://")
