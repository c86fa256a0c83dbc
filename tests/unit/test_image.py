"""Image-source params and the pure parts of image services and tracing (image.py, observability.py)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import botocore.session
import pytest
from botocore.validate import validate_parameters

from runbook_lib.errors import ParameterError
from runbook_lib.image import build_image_source, desired_image_fields, observed_image_fields
from runbook_lib.observability import build_observability_member, observability_key, observed_key
from runbook_lib.params import parse_params, read_document
from runbook_lib.service import ServiceInputs, build_create_service_request, build_update_service_request

PARAMS = Path(__file__).resolve().parents[2] / "params" / "sandbox.yaml"
MODEL = botocore.session.get_session().get_service_model("apprunner")
PRIVATE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/app:1.4"
PUBLIC = "public.ecr.aws/example/app:latest"
ACCESS = "arn:aws:iam::123456789012:role/demo-go-app-access"
OBS = "arn:aws:apprunner:us-east-1:123456789012:observabilityconfiguration/demo-go-app/2/" + "a" * 32


def doc(image: dict[str, Any] | None = None, **source: Any) -> dict[str, Any]:
    data = copy.deepcopy(read_document(PARAMS))
    data.pop("connection")
    data["source"] = {"port": 8080, "env": {"ENV1": "hi"}, **source}
    if image is not None:
        data["source"]["image"] = image
    return data


def problems(data: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(ParameterError) as caught:
        parse_params(data)
    return {p.field: p.message for p in caught.value.problems}


def test_type_inferred_and_access_role_defaulted_for_private_ecr() -> None:
    params = parse_params(doc({"identifier": PRIVATE}))
    assert params.source.image.type == "ECR" and params.access_role_name == "demo-go-app-access"
    assert params.source.auto_deployments is True and params.connection is None
    public = parse_params(doc({"identifier": PUBLIC}))
    assert public.source.image.type == "ECR_PUBLIC" and public.access_role_name is None
    assert public.source.auto_deployments is False  # App Runner offers none for ECR Public


def test_bad_image_sources_are_refused_naming_the_field() -> None:
    assert (
        "private ECR image"
        in problems(doc({"identifier": "docker.io/library/nginx:1"}))["source.image.identifier"]
    )
    assert (
        "ECR Public"
        in problems(doc({"identifier": PUBLIC}, auto_deployments=True))["source.auto_deployments"]
    )
    found = problems(doc({"identifier": PUBLIC, "access_role_name": "x-access"}))
    assert "need no access role" in found["source.image.access_role_name"]
    found = problems(doc({"identifier": PRIVATE}, repository_url="https://github.com/x/y", branch="main"))
    assert "exactly one" in found["source.image"] and "repository_url" in found["source.image"]
    assert "exactly one" in problems(doc())["source.repository_url"]
    assert (
        "does not match" in problems(doc({"identifier": PRIVATE, "type": "ECR_PUBLIC"}))["source.image.type"]
    )


def test_code_source_still_needs_its_connection() -> None:
    data = copy.deepcopy(read_document(PARAMS))
    data.pop("connection")
    assert "required for a code repository" in problems(data)["connection"]


def test_every_problem_of_a_file_at_once() -> None:
    data = doc({"identifier": "nope"}, auto_deployments="maybe")
    data["observability"] = {"tracing": "DATADOG"}
    assert {"source.image.identifier", "source.auto_deployments", "observability.tracing"} <= set(
        problems(data)
    )


@pytest.mark.parametrize("identifier", [PRIVATE, PUBLIC])
def test_image_requests_validate_against_the_api_model(identifier: str) -> None:
    data = doc({"identifier": identifier})
    data["observability"] = {"tracing": "AWSXRAY"}
    params = parse_params(data)
    access = ACCESS if params.access_role_name else None
    inputs = ServiceInputs("", "arn:aws:iam::123456789012:role/demo-go-app-instance", None, None, access, OBS)
    create = build_create_service_request(params, inputs)
    validate_parameters(create, MODEL.operation_model("CreateService").input_shape)
    source = create["SourceConfiguration"]
    assert source["ImageRepository"]["ImageRepositoryType"] == params.source.image.type
    assert ("AuthenticationConfiguration" in source) is (access is not None)
    assert create["ObservabilityConfiguration"] == {
        "ObservabilityEnabled": True,
        "ObservabilityConfigurationArn": OBS,
    }
    update = build_update_service_request(
        params, inputs, "arn:aws:apprunner:us-east-1:1:service/x/y", ["observability"]
    )
    assert set(update) == {"ServiceArn", "ObservabilityConfiguration"}
    validate_parameters(update, MODEL.operation_model("UpdateService").input_shape)


def test_observed_image_fields_round_trip_and_observability_keys() -> None:
    params = parse_params(doc({"identifier": PRIVATE}))
    service = {"SourceConfiguration": build_image_source(params, ACCESS)}
    assert observed_image_fields(service) == desired_image_fields(params, ACCESS)
    assert observability_key(OBS) == "demo-go-app/2" and observability_key(None) is None
    assert observed_key({"ObservabilityConfiguration": build_observability_member(OBS)}) == "demo-go-app/2"
    assert observed_key({"ObservabilityConfiguration": build_observability_member(None)}) is None
