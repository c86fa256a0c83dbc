"""The connection and source sections of the parameters: a code repository (GitHub/Bitbucket through a
connection) or an image (private ECR with an access role, or ECR Public)."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from runbook_lib.param_sections import SECRET_ARN, _Model, check_api

__all__ = [
    "CODE_ONLY", "ECR_PRIVATE", "ECR_PUBLIC", "ImageParams", "SourceParams", "image_type"
]  # fmt: skip


ECR_PRIVATE = re.compile(r"^\d{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com(\.cn)?/[a-z0-9][\w./-]*([:@].+)?$")
ECR_PUBLIC = re.compile(r"^public\.ecr\.aws/[a-z0-9][\w./-]*([:@].+)?$")


def image_type(identifier: str) -> str:
    """ECR_PUBLIC for ``public.ecr.aws/…``, else ECR (App Runner's ImageRepositoryType)."""
    return "ECR_PUBLIC" if identifier.startswith("public.ecr.aws/") else "ECR"


class ImageParams(_Model):
    """A container image in Amazon ECR (private, with an access role) or ECR Public."""

    identifier: str
    type: Literal["ECR", "ECR_PUBLIC"]
    access_role_name: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _infer_type(cls, data: Any) -> Any:
        if isinstance(data, dict) and "type" not in data and isinstance(data.get("identifier"), str):
            data = {**data, "type": image_type(data["identifier"].strip())}
        return data

    @field_validator("identifier")
    @classmethod
    def _identifier(cls, v: str) -> str:
        if not (ECR_PRIVATE.match(v) or ECR_PUBLIC.match(v)):
            raise ValueError(
                "must be a private ECR image (<account>.dkr.ecr.<region>.amazonaws.com/<repo>[:tag|@digest]) "
                "or an ECR Public one (public.ecr.aws/<alias>/<repo>[:tag])"
            )
        return check_api(v, "ImageIdentifier")  # the API model's pattern, as App Runner checks it

    @model_validator(mode="after")
    def _consistent(self) -> ImageParams:
        if image_type(self.identifier) != self.type:
            raise ValueError(f"type: {self.type} does not match the identifier's registry")
        if self.type == "ECR_PUBLIC" and self.access_role_name:
            raise ValueError("access_role_name: ECR Public images need no access role; remove it")
        return self


CODE_ONLY = ("repository_url", "branch", "runtime", "build_command")


class SourceParams(_Model):
    """The code repository (or the container image) and how App Runner builds and starts it."""

    repository_url: str | None = None
    branch: str | None = Field(None, min_length=1)
    image: ImageParams | None = None
    source_directory: str = "/"
    configuration_source: Literal["API", "REPOSITORY"] = "API"
    runtime: str | None = None
    build_command: str | None = None
    start_command: str | None = None
    port: int = Field(8080, ge=1, le=65535)
    env: dict[str, str] = Field(default_factory=dict)
    secrets: dict[str, str] = Field(default_factory=dict)
    auto_deployments: bool = True

    @model_validator(mode="before")
    @classmethod
    def _image_defaults(cls, data: Any) -> Any:
        """ECR Public images default to no automatic deployments (App Runner supports none for them)."""
        image = data.get("image") if isinstance(data, dict) else None
        ident = image.get("identifier") if isinstance(image, dict) else None
        if isinstance(ident, str) and "auto_deployments" not in data:
            public = image.get("type", image_type(ident.strip())) == "ECR_PUBLIC"
            data = {**data, "auto_deployments": not public}
        return data

    @field_validator("repository_url")
    @classmethod
    def _url(cls, v: str | None) -> str | None:
        if v is None:
            return v
        if not re.fullmatch(r"https://[A-Za-z0-9.-]+/\S+", v):
            raise ValueError("must be an https:// URL of the repository, e.g. https://github.com/org/app")
        return v.rstrip("/")

    _dir = field_validator("source_directory")(lambda v: check_api(v, "SourceDirectory"))

    @field_validator("runtime")
    @classmethod
    def _runtime(cls, v: str | None) -> str | None:
        return None if v is None else check_api(v, "Runtime")

    @field_validator("build_command", "start_command")
    @classmethod
    def _command(cls, v: str | None) -> str | None:
        return None if v is None else check_api(v, "StartCommand")

    @field_validator("env")
    @classmethod
    def _env(cls, v: dict[str, str]) -> dict[str, str]:
        bad = [k for k in v if k.upper().startswith("AWSAPPRUNNER")]
        if bad:
            raise ValueError(
                f"keys may not start with AWSAPPRUNNER (reserved by App Runner): {', '.join(bad)}"
            )
        return v

    @field_validator("secrets")
    @classmethod
    def _secrets(cls, v: dict[str, str]) -> dict[str, str]:
        bad = [k for k, arn in v.items() if not SECRET_ARN.match(arn)]
        if bad:
            raise ValueError(
                f"{', '.join(bad)}: values must be Secrets Manager (arn:aws:secretsmanager:…:secret:…) "
                "or SSM parameter (arn:aws:ssm:…:parameter/…) ARNs, never the secret itself"
            )
        return v

    @model_validator(mode="after")
    def _configuration(self) -> SourceParams:
        if self.image is not None:
            return self._image_source()
        if not self.repository_url:
            raise ValueError("repository_url: give exactly one of repository_url (code) or image")
        if not self.branch:
            raise ValueError("branch: is required for a code repository source")
        given = [f for f in ("runtime", "build_command", "start_command") if getattr(self, f)]
        if self.configuration_source == "REPOSITORY" and given:
            raise ValueError(
                f"{given[0]}: configuration_source REPOSITORY takes build and run settings from "
                f"apprunner.yaml in the repository; remove {', '.join(given)}"
            )
        if self.configuration_source == "API" and not self.runtime:
            raise ValueError("runtime: is required when configuration_source is API")
        return self._no_overlap()

    def _no_overlap(self) -> SourceParams:
        overlap = sorted(set(self.env) & set(self.secrets))
        if overlap:
            raise ValueError(f"secrets: names used both in env and secrets: {', '.join(overlap)}")
        return self

    def _image_source(self) -> SourceParams:
        """An image source: no code-repository settings; ECR Public without automatic deployments
        (App Runner answers "App Runner doesn't support automatic deployments for an image in an ECR
        Public repository": hashicorp/terraform-provider-aws#24631)."""
        problems = [f"{f} (a code-repository setting)" for f in CODE_ONLY if getattr(self, f)]
        if self.configuration_source != "API" or self.source_directory != "/":
            problems.append("configuration_source / source_directory (code-repository settings)")
        if problems:
            raise ValueError(
                f"image: give exactly one of repository_url or image; remove {', '.join(problems)}"
            )
        if self.image and self.image.type == "ECR_PUBLIC" and self.auto_deployments:
            raise ValueError(
                "auto_deployments: App Runner supports automatic deployments only for private ECR images "
                "in the same account, not for ECR Public"
            )
        return self._no_overlap()


