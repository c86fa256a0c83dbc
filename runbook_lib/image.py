"""Container-image sources: the ImageRepository member of a service and its flat fields for diffs.

App Runner takes an image from private Amazon ECR (``ImageRepositoryType: ECR``, with an access role
that trusts ``build.apprunner.amazonaws.com``) or from ECR Public (``ECR_PUBLIC``, no access role, no
automatic deployments). The source type of a service cannot change in place: "you can't switch from
code to image or the other way around. This means that you must provide the same structure member of
SourceConfiguration that you originally included when you created the service" (API reference,
UpdateService ``SourceConfiguration``; developer guide, "Configuring an App Runner service"), so a switch
is a replacement. Terraform's ``aws_apprunner_service`` makes ``code_repository`` / ``image_repository``
``ExactlyOneOf`` (``internal/service/apprunner/service.go``).
"""

from __future__ import annotations

from typing import Any

from runbook_lib.params import Params

__all__ = [
    "CODE", "IMAGE", "build_image_source", "runtime_values", "desired_image_fields", "observed_image_fields",
    "source_type",
]  # fmt: skip

CODE, IMAGE = "CodeRepository", "ImageRepository"


def source_type(params: Params) -> str:
    """The SourceConfiguration member the params ask for."""
    return IMAGE if params.source.image is not None else CODE


def runtime_values(src: Any, **values: Any) -> dict[str, Any]:
    """What an image's ImageConfiguration and code's CodeConfigurationValues share: the port, then the
    start command and the environment (variables, secrets) when set; ``values`` come first."""
    optional = {
        "StartCommand": src.start_command,
        "RuntimeEnvironmentVariables": dict(src.env),
        "RuntimeEnvironmentSecrets": dict(src.secrets),
    }
    return {**values, "Port": str(src.port), **{key: value for key, value in optional.items() if value}}


def build_image_source(params: Params, access_role_arn: str | None) -> dict[str, Any]:
    """The complete SourceConfiguration for an image (pure)."""
    src, image = params.source, params.source.image
    assert image is not None
    values = runtime_values(src)
    source: dict[str, Any] = {
        "ImageRepository": {
            "ImageIdentifier": image.identifier,
            "ImageRepositoryType": image.type,
            "ImageConfiguration": values,
        },
        "AutoDeploymentsEnabled": src.auto_deployments,
    }
    if image.type == "ECR":
        source["AuthenticationConfiguration"] = {"AccessRoleArn": access_role_arn}
    return source


def desired_image_fields(params: Params, access_role_arn: str | None) -> dict[str, Any]:
    """The image source as flat fields (names follow the params)."""
    src, image = params.source, params.source.image
    assert image is not None
    return {
        "source.image.identifier": image.identifier,
        "source.image.type": image.type,
        "source.image.access_role_arn": access_role_arn if image.type == "ECR" else None,
        "source.auto_deployments": src.auto_deployments,
        "source.start_command": src.start_command,
        "source.port": str(src.port),
        "source.env": dict(src.env),
        "source.secrets": dict(src.secrets),
    }


def observed_image_fields(service: dict[str, Any]) -> dict[str, Any]:
    """The same flat fields from a DescribeService ``Service`` with an ImageRepository source."""
    source = service.get("SourceConfiguration") or {}
    repo = source.get(IMAGE) or {}
    values = repo.get("ImageConfiguration") or {}
    return {
        "source.image.identifier": repo.get("ImageIdentifier"),
        "source.image.type": repo.get("ImageRepositoryType"),
        "source.image.access_role_arn": (source.get("AuthenticationConfiguration") or {}).get(
            "AccessRoleArn"
        ),
        "source.auto_deployments": source.get("AutoDeploymentsEnabled", False),
        "source.start_command": values.get("StartCommand"),
        "source.port": str(values.get("Port", "8080")),
        "source.env": dict(values.get("RuntimeEnvironmentVariables") or {}),
        "source.secrets": dict(values.get("RuntimeEnvironmentSecrets") or {}),
    }
