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


class InvalidRequestException(AppRunnerError):
    code = "InvalidRequestException"
    status = 400


class InvalidStateException(AppRunnerError):
    code = "InvalidStateException"
    status = 400


class ResourceNotFoundException(AppRunnerError):
    code = "ResourceNotFoundException"
    status = 400


class ServiceQuotaExceededException(AppRunnerError):
    code = "ServiceQuotaExceededException"
    status = 400


class InternalServiceErrorException(AppRunnerError):
    code = "InternalServiceErrorException"
    status = 500


class ThrottlingException(AppRunnerError):
    """Not modeled by App Runner; botocore's retry handlers know the code."""

    code = "ThrottlingException"
    status = 400
