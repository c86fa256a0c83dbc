"""The one mapping from AWS error codes to the runbook's exception tree."""

from __future__ import annotations

import botocore.session
import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, NoCredentialsError

from runbook_lib import errors
from runbook_lib.errors import map_aws_error


def modeled_apprunner_codes() -> list[str]:
    model = botocore.session.get_session().get_service_model("apprunner")
    return sorted(model.error_shapes and {s.name for s in model.error_shapes})


EXPECTED = {
    "InvalidRequestException": errors.InvalidRequest,
    "InvalidStateException": errors.InvalidState,
    "ResourceNotFoundException": errors.ResourceNotFound,
    "ServiceQuotaExceededException": errors.QuotaExceeded,
    "InternalServiceErrorException": errors.ServiceUnavailable,
}


def client_error(code: str, message: str = "boom", op: str = "CreateService") -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"RequestId": "req-1"}}, op
    )


def test_every_modeled_apprunner_code_is_mapped() -> None:
    assert modeled_apprunner_codes() == sorted(EXPECTED)


@pytest.mark.parametrize("code", sorted(EXPECTED))
def test_modeled_code_maps_to_class_with_fields(code: str) -> None:
    err = map_aws_error(client_error(code, "it broke"), resource="service demo")
    assert type(err) is EXPECTED[code]
    assert isinstance(err, errors.RunbookError)
    assert (err.code, err.aws_message, err.operation, err.resource) == (
        code,
        "it broke",
        "CreateService",
        "service demo",
    )
    assert err.request_id == "req-1"
    text = str(err)
    assert "service demo" in text and code in text and "it broke" in text and "re-run" in text.lower()


@pytest.mark.parametrize(
    ("code", "cls"),
    [
        ("NoSuchEntity", errors.ResourceNotFound),
        ("EntityAlreadyExists", errors.ResourceConflict),
        ("DependencyViolation", errors.ResourceConflict),
        ("InvalidGroup.NotFound", errors.ResourceNotFound),
        ("ThrottlingException", errors.ServiceUnavailable),
        ("AccessDenied", errors.AccessDenied),
        ("SomethingNew", errors.AwsError),
    ],
)
def test_other_services_codes(code: str, cls: type) -> None:
    assert type(map_aws_error(client_error(code))) is cls


def test_classified_by_code_not_message() -> None:
    err = map_aws_error(
        client_error("InvalidRequestException", "Resource not found, already exists, throttled")
    )
    assert type(err) is errors.InvalidRequest


def test_connection_and_credential_errors() -> None:
    err = map_aws_error(EndpointConnectionError(endpoint_url="http://127.0.0.1:1/"), resource="service demo")
    assert isinstance(err, errors.ServiceUnavailable) and "http://127.0.0.1:1/" in str(err)
    assert isinstance(map_aws_error(NoCredentialsError()), errors.CredentialsError)


def test_error_tree_and_dicts() -> None:
    for cls in (
        errors.ParameterError,
        errors.ResourceNotFound,
        errors.ResourceConflict,
        errors.InvalidState,
        errors.QuotaExceeded,
        errors.WaitTimeout,
        errors.WaitFailed,
        errors.WrongAccount,
    ):
        assert issubclass(cls, errors.RunbookError)
    wrong = errors.WrongAccount(
        "Nothing was changed.", expected="111122223333", actual="123456789012", arn="arn:x"
    )
    assert "111122223333" in str(wrong) and "123456789012" in str(wrong)
    assert wrong.to_dict()["type"] == "WrongAccount"
    timeout = errors.WaitTimeout("Re-run.", seconds=12.0, what="service demo", last="OPERATION_IN_PROGRESS")
    assert "12s" in str(timeout)
