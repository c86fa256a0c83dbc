"""One exception tree for the runbook, and the one place AWS error codes are mapped onto it.

Every error carries structured fields (resource, operation, AWS code, …) and a message that says what
failed, why, and how to resume. AWS errors are classified by ``Error.Code``, never by message text.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from botocore.exceptions import (
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    ParamValidationError,
    PartialCredentialsError,
)

__all__ = [
    "AccessDenied", "AwsError", "CredentialsError", "InvalidRequest", "InvalidState", "ParameterError",
    "Problem", "QuotaExceeded", "RESUME_HINT", "ResourceConflict", "ResourceNotFound", "RunbookError",
    "ServiceUnavailable", "TeardownIncomplete", "WaitFailed", "WaitTimeout", "WrongAccount",
    "map_aws_error",
]  # fmt: skip


RESUME_HINT = "Fix the cause and re-run the same step; finished steps are found by name and left alone."


class RunbookError(Exception):
    """Root of every error the runbook raises on purpose."""

    template = "{detail}"
    exit_code = 1

    def __init__(self, detail: str = "", **fields: Any) -> None:
        self.detail = detail
        self.fields = fields
        for key, value in fields.items():
            setattr(self, key, value)
        super().__init__(self.template.format(detail=detail, **fields))

    def to_dict(self) -> dict[str, Any]:
        """The error as plain data for manifests and tables."""
        data = {"type": type(self).__name__, "message": str(self)}
        data.update({k: v for k, v in self.fields.items() if _is_plain(v)})
        return data


def _is_plain(value: Any) -> bool:
    return value is None or isinstance(value, (str, int, float, bool, list, dict))


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the parameters: where, what was given, and what is allowed."""

    field: str
    message: str
    value: Any = None

    def __str__(self) -> str:
        shown = "" if self.value is None else f" (got {self.value!r})"
        return f"{self.field}: {self.message}{shown}"


class ParameterError(RunbookError):
    """The parameters are invalid; nothing was sent to AWS."""

    exit_code = 2

    def __init__(self, source: str, problems: list[Problem]) -> None:
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        detail = f"{source}: {len(problems)} problem{'s' if len(problems) != 1 else ''}\n{lines}"
        super().__init__(detail, source=source)

    def to_dict(self) -> dict[str, Any]:
        data = super().to_dict()
        data["problems"] = [{"field": p.field, "message": p.message} for p in self.problems]
        return data


class AwsError(RunbookError):
    """An AWS call failed. Fields: resource, operation, code, aws_message."""

    template = "{operation} on {resource} failed: {code}: {aws_message}. {detail}"

    def __init__(
        self,
        detail: str = RESUME_HINT,
        *,
        resource: str = "?",
        operation: str = "?",
        code: str = "?",
        aws_message: str = "",
        **fields: Any,
    ) -> None:
        super().__init__(
            detail, resource=resource, operation=operation, code=code, aws_message=aws_message, **fields
        )


class ResourceNotFound(AwsError):
    """The resource does not exist."""


class ResourceConflict(AwsError):
    """The resource exists already, or is still used by another resource."""


class InvalidRequest(AwsError):
    """AWS refused the request as invalid (bad value, name taken, role not assumable, …)."""


class InvalidState(AwsError):
    """The resource is in a state that does not allow the operation (e.g. OPERATION_IN_PROGRESS)."""


class QuotaExceeded(AwsError):
    """An account quota was reached."""


class AccessDenied(AwsError):
    """The caller lacks a permission; `runbook policy` prints what the operator needs."""


class CredentialsError(RunbookError):
    """No usable AWS credentials or region."""

    template = "AWS credentials or region problem: {detail}"


class ServiceUnavailable(AwsError):
    """AWS (or the sandbox) kept failing or could not be reached after the retries."""


class WrongAccount(RunbookError):
    """The caller's account is not the one the parameters are meant for."""

    template = (
        "Refusing to act: the parameters are for account {expected} but the credentials belong to "
        "account {actual} ({arn}). Use credentials for {expected}, or fix account_id. {detail}"
    )


class WaitTimeout(RunbookError):
    """A wait ran out of time; the resource may still get there."""

    template = "Timed out after {seconds:.0f}s waiting for {what} (last status: {last}). {detail}"


class WaitFailed(RunbookError):
    """A wait ended in a failure state."""

    template = "{what} ended in {last}. {detail}"


class TeardownIncomplete(RunbookError):
    """A teardown deleted what it could, but a wait ran out: fields ``left`` (resource and name)."""

    template = "Teardown incomplete: {detail}"


_BY_CODE: dict[str, type[AwsError]] = {
    # App Runner (modeled codes)
    "InvalidRequestException": InvalidRequest,
    "ResourceNotFoundException": ResourceNotFound,
    "InvalidStateException": InvalidState,
    "ServiceQuotaExceededException": QuotaExceeded,
    "InternalServiceErrorException": ServiceUnavailable,
    # throttling and server faults (any service)
    "ThrottlingException": ServiceUnavailable,
    "Throttling": ServiceUnavailable,
    "TooManyRequestsException": ServiceUnavailable,
    "RequestLimitExceeded": ServiceUnavailable,
    "InternalFailure": ServiceUnavailable,
    "InternalError": ServiceUnavailable,
    "ServiceUnavailable": ServiceUnavailable,
    # IAM
    "NoSuchEntity": ResourceNotFound,
    "EntityAlreadyExists": ResourceConflict,
    "DeleteConflict": ResourceConflict,
    "LimitExceeded": QuotaExceeded,
    "MalformedPolicyDocument": InvalidRequest,
    "ValidationError": InvalidRequest,
    # EC2
    "InvalidGroup.NotFound": ResourceNotFound,
    "InvalidSubnetID.NotFound": ResourceNotFound,
    "InvalidVpcID.NotFound": ResourceNotFound,
    "InvalidGroup.Duplicate": ResourceConflict,
    "InvalidPermission.Duplicate": ResourceConflict,
    "DependencyViolation": ResourceConflict,
    "InvalidParameterValue": InvalidRequest,
    # S3
    "NoSuchBucket": ResourceNotFound,
    "NoSuchKey": ResourceNotFound,
    # auth
    "AccessDenied": AccessDenied,
    "AccessDeniedException": AccessDenied,
    "UnauthorizedOperation": AccessDenied,
}

_HINTS: dict[type[AwsError], str] = {
    InvalidState: "The resource is busy; wait for its operation to finish, then re-run the step.",
    QuotaExceeded: "Free capacity (delete unused resources) or ask AWS for a higher quota, then re-run.",
    AccessDenied: "Grant the operator the permissions printed by `runbook policy PARAMS`, then re-run.",
    ServiceUnavailable: "AWS kept failing after retries; re-run the step in a moment.",
}


def map_aws_error(err: Exception, *, resource: str = "?", operation: str | None = None) -> RunbookError:
    """Translate a botocore error into the runbook's tree (classified by code, original chained by caller)."""
    where = {"resource": resource, "operation": operation or getattr(err, "operation_name", None) or "?"}
    if isinstance(err, ClientError):
        error = err.response.get("Error", {})
        code = str(error.get("Code", "Unknown"))
        cls = _BY_CODE.get(code, AwsError)
        message = str(error.get("Message", ""))
        request_id = err.response.get("ResponseMetadata", {}).get("RequestId")
        hint = _HINTS.get(cls, RESUME_HINT)
        return cls(hint, **where, code=code, aws_message=message, request_id=request_id)
    if isinstance(err, EndpointConnectionError):
        url = err.kwargs.get("endpoint_url")
        return ServiceUnavailable(
            "Is the endpoint up (for the sandbox: `runbook sandbox start`)? Then re-run the step.", **where,
            code="EndpointConnectionError", aws_message=f"could not connect to {url or '?'}", endpoint=url,
        )  # fmt: skip
    if isinstance(err, (NoCredentialsError, PartialCredentialsError, NoRegionError)):
        return CredentialsError(
            f"{err}. Set AWS_PROFILE (or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY) and the region, "
            "or use --sandbox."
        )
    if isinstance(err, ParamValidationError):
        return InvalidRequest("This is a bug in the runbook's request builder; please report it.", **where,
                              code="ParamValidationError", aws_message=str(err))  # fmt: skip
    return RunbookError(f"{type(err).__name__}: {err}")
