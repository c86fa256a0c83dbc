"""Helpers for the sandbox tests: clients over HTTP, the botocore shape check, request builders."""

from __future__ import annotations

import json
from typing import Any

import boto3
from botocore.config import Config
from botocore.model import OperationModel, Shape

from runbook_lib.sandbox.server import SandboxHandle

TRUST_TASKS = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "tasks.apprunner.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    ],
}
# Enums the real API answers in lowercase although the model lists them uppercase (Terraform's App Runner
# resources compare with lowercase constants and its acceptance tests assert ``status = "active"``; the
# custom domain association's constants in custom_domain_association.go are lowercase too).
LOWERCASE_ON_THE_WIRE = frozenset({"AutoScalingConfigurationStatus", "CustomDomainAssociationStatus"})
NO_RETRIES = Config(retries={"mode": "standard", "total_max_attempts": 1})
MODELED_ERROR_STATUS = {
    "InvalidRequestException": 400,
    "InvalidStateException": 400,
    "ResourceNotFoundException": 400,
    "ServiceQuotaExceededException": 400,
    "InternalServiceErrorException": 500,
}


def check_shape(shape: Shape, value: Any, path: str = "$") -> list[str]:
    """Problems of a wire value against a botocore output shape: required members, types, enums, and
    members the model does not declare (another SDK would not parse them the same way)."""
    problems: list[str] = []
    kind = shape.type_name
    if kind == "structure":
        if not isinstance(value, dict):
            return [f"{path}: expected object, got {type(value).__name__}"]
        for name in shape.required_members:
            if name not in value or value[name] is None:
                problems.append(f"{path}.{name}: required member missing")
        for name, item in value.items():
            if name not in shape.members:
                problems.append(f"{path}.{name}: not in the model")
            elif item is not None:
                problems.extend(check_shape(shape.members[name], item, f"{path}.{name}"))
    elif kind == "list":
        if not isinstance(value, list):
            return [f"{path}: expected list, got {type(value).__name__}"]
        for index, item in enumerate(value):
            problems.extend(check_shape(shape.member, item, f"{path}[{index}]"))
    elif kind == "map":
        if not isinstance(value, dict):
            return [f"{path}: expected map, got {type(value).__name__}"]
        for key, item in value.items():
            problems.extend(check_shape(shape.key, key, f"{path}<key>"))
            problems.extend(check_shape(shape.value, item, f"{path}.{key}"))
    elif kind == "string":
        if not isinstance(value, str):
            return [f"{path}: expected string, got {type(value).__name__}"]
        enum = getattr(shape, "enum", None) or []
        if shape.name in LOWERCASE_ON_THE_WIRE:  # the real API answers these in lowercase
            enum = [e.lower() for e in enum]
        if enum and value not in enum:
            problems.append(f"{path}: {value!r} not in enum {enum}")
    elif kind in ("integer", "long"):
        if isinstance(value, bool) or not isinstance(value, int):
            problems.append(f"{path}: expected integer, got {value!r}")
    elif kind in ("float", "double"):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            problems.append(f"{path}: expected number, got {value!r}")
    elif kind == "boolean":
        if not isinstance(value, bool):
            problems.append(f"{path}: expected boolean, got {value!r}")
    elif kind == "timestamp":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            problems.append(f"{path}: expected epoch-seconds number, got {value!r}")
    return problems


def check_wire_response(model: OperationModel, status: int, content: bytes) -> list[str]:
    """Problems of one raw App Runner response against the model (output shape or an AWS JSON error)."""
    try:
        body = json.loads(content) if content else {}
    except ValueError:
        return ["body is not JSON"]
    if status == 200:
        return check_shape(model.output_shape, body) if model.output_shape is not None else []
    problems = []
    code = body.get("__type")
    modeled = {shape.name for shape in model.error_shapes}
    if code not in modeled and code != "ThrottlingException":
        problems.append(f"error code {code!r} is not modeled for {model.name} ({sorted(modeled)})")
    if not isinstance(body.get("Message"), str):
        problems.append("error without a Message string")
    expected = MODELED_ERROR_STATUS.get(code, 400)
    if status != expected:
        problems.append(f"{code} answered with HTTP {status}, expected {expected}")
    return problems


def client(sb: SandboxHandle, service: str, region: str = "us-east-1", config: Config = NO_RETRIES) -> Any:
    """A boto3 client for ``service`` talking to the sandbox over HTTP."""
    return boto3.client(
        service,
        endpoint_url=sb.url,
        region_name=region,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=config,
    )


def conformant(ar: Any) -> Any:
    """Make every App Runner response of ``ar`` fail the call unless it matches the botocore model."""

    def check(http_response: Any, model: Any, **_: Any) -> None:
        problems = check_wire_response(model, http_response.status_code, http_response.content)
        assert not problems, f"{model.name}: response does not conform: {problems}"

    ar.meta.events.register("after-call.apprunner", check)
    return ar


def service_request(name: str, connection_arn: str, **overrides: Any) -> dict[str, Any]:
    """A CreateService request for a Go app from GitHub (the classic case)."""
    request: dict[str, Any] = {
        "ServiceName": name,
        "SourceConfiguration": {
            "CodeRepository": {
                "RepositoryUrl": "https://github.com/example/app",
                "SourceCodeVersion": {"Type": "BRANCH", "Value": "main"},
                "CodeConfiguration": {
                    "ConfigurationSource": "API",
                    "CodeConfigurationValues": {
                        "Runtime": "GO_1",
                        "BuildCommand": "go build -o app .",
                        "StartCommand": "./app",
                        "Port": "8080",
                        "RuntimeEnvironmentVariables": {"ENV1": "hello"},
                    },
                },
            },
            "AutoDeploymentsEnabled": True,
            "AuthenticationConfiguration": {"ConnectionArn": connection_arn},
        },
        "InstanceConfiguration": {"Cpu": "1 vCPU", "Memory": "2 GB"},
    }
    request.update(overrides)
    return request
