"""The papermill I/O handler that scrubs each executed notebook before it is written (disk or S3)."""

from __future__ import annotations

import threading
from typing import Any

from runbook_lib import audit
from runbook_lib.redact import Redactor

__all__ = ["REDACT_SCHEME"]

REDACT_SCHEME = "runbook-redacted::"



class _RedactingIO:
    """A papermill I/O handler: scrubs each notebook papermill writes, then writes it for real."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._targets: dict[str, tuple[audit.Store, Redactor]] = {}
        self.written: dict[str, Any] = {}
        self.digests: dict[str, str] = {}

    def target(self, store: audit.Store, real_path: str, redactor: Redactor) -> str:
        with self._lock:
            self._targets[real_path] = (store, redactor)
        return REDACT_SCHEME + real_path

    def release(self, real_path: str) -> None:
        with self._lock:
            self._targets.pop(real_path, None)
            self.written.pop(real_path, None)
            self.digests.pop(real_path, None)

    def write(self, buf: str, path: str) -> None:
        import nbformat

        real = path[len(REDACT_SCHEME) :]
        store, redactor = self._targets[real]
        nb = nbformat.reads(buf, as_version=4)
        nb.metadata.setdefault("papermill", {})["output_path"] = real
        nb = redactor.notebook(nb)
        text = nbformat.writes(nb)
        store.write_text(real, text)
        with self._lock:
            self.written[real] = nb
            self.digests[real] = audit.sha256_text(text)

    def read(self, path: str) -> str:
        real = path[len(REDACT_SCHEME) :]
        return self._targets[real][0].read_text(real)

    def listdir(self, path: str) -> list[str]:
        raise NotImplementedError("listdir is not supported for redacted outputs")

    def pretty_path(self, path: str) -> str:
        return path[len(REDACT_SCHEME) :]


_IO: _RedactingIO | None = None
_IO_LOCK = threading.Lock()


def _redacting_io() -> _RedactingIO:
    """The handler, registered with papermill on first use (never at import)."""
    global _IO
    with _IO_LOCK:
        if _IO is None:
            from papermill.iorw import papermill_io

            _IO = _RedactingIO()
            papermill_io.register(REDACT_SCHEME, _IO)
        return _IO
