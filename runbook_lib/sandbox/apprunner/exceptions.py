"""The emulator's AWS errors: one small class per App Runner error code (``responses.py`` serializes them)."""

from __future__ import annotations

__all__ = [
    "AppRunnerError", "InternalServiceErrorException", "InvalidRequestException", "InvalidStateException",
    "ResourceNotFoundException", "ServiceQuotaExceededException", "ThrottlingException",
]  # fmt: skip


class AppRunnerError(Exception):
    """Base of the emulator's AWS errors: ``code`` is the wire ``__type``, ``status`` the HTTP status."""

    code = "InternalServiceErrorException"
    status = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _error(code: str, status: int = 400, doc: str = "") -> type[AppRunnerError]:
    return type(code, (AppRunnerError,), {"code": code, "status": status, "__doc__": doc or None})


InvalidRequestException = _error("InvalidRequestException")
InvalidStateException = _error("InvalidStateException")
ResourceNotFoundException = _error("ResourceNotFoundException")
ServiceQuotaExceededException = _error("ServiceQuotaExceededException")
InternalServiceErrorException = _error("InternalServiceErrorException", 500)
# not modeled by App Runner; botocore's retry handlers know the code
ThrottlingException = _error("ThrottlingException")
