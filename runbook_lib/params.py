"""The parameter file: pydantic models for every field (params/example-go.yaml), and ``load_params``.

Bounds, patterns and enums come from the App Runner API model shipped in botocore where it has them,
and from docs/apprunner-behavior.md where it doesn't (CPU/memory pairs, auto scaling bounds). Every problem
in a file is reported at once, each naming its field path, the bad value and what is allowed.
"""

from __future__ import annotations

import difflib
import hashlib
import re
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from runbook_lib.errors import ParameterError, Problem

OWNER_TAG = "runbook:name"
MANAGED_TAG = "runbook:tags"  # the params' tag keys the runbook set, joined by "+" (runbook_lib.ownership)
ADOPTABLE = (
    "connection", "instance_role", "security_group", "vpc_connector", "autoscaling", "service",
    "access_role", "observability", "ingress_connection", "vpc_endpoint", "dns_record",
)  # fmt: skip
ASC_NAME_MAX = 32
SANDBOX_ACCOUNT = "123456789012"

# docs/apprunner-behavior.md 5.2: the API's two spellings, and the valid CPU -> memory pairs.
CPU_UNITS = {"256": "0.25 vCPU", "512": "0.5 vCPU", "1024": "1 vCPU", "2048": "2 vCPU", "4096": "4 vCPU"}
MEMORY_UNITS = {
    "512": "0.5 GB", "1024": "1 GB", "2048": "2 GB", "3072": "3 GB", "4096": "4 GB",
    "6144": "6 GB", "8192": "8 GB", "10240": "10 GB", "12288": "12 GB",
}  # fmt: skip
CPU_MEMORY_PAIRS = {
    "0.25 vCPU": ("0.5 GB", "1 GB"),
    "0.5 vCPU": ("1 GB",),
    "1 vCPU": ("2 GB", "3 GB", "4 GB"),
    "2 vCPU": ("4 GB", "6 GB"),
    "4 vCPU": ("8 GB", "10 GB", "12 GB"),
}
# docs/apprunner-behavior.md 2.5: MaxSize's upper bound is the account limit, 25 by default.
MAX_SIZE_LIMIT = 25
SECRET_ARN = re.compile(
    r"^arn:aws[\w-]*:(secretsmanager:[a-z0-9-]+:\d{12}:secret:.+|ssm:[a-z0-9-]+:\d{12}:parameter/.+)$"
)
REGION = re.compile(r"^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d$")
PROVIDER_HOSTS = {"GITHUB": "github.com", "BITBUCKET": "bitbucket.org"}


@lru_cache(maxsize=1)
def _apprunner_model() -> Any:
    from runbook_lib.clients import botocore_session  # the process's parsed models

    return botocore_session().get_service_model("apprunner")


def api_shape(name: str) -> dict[str, Any]:
    """Constraints of one App Runner API shape (min, max, pattern, enum) from botocore's model."""
    shape = _apprunner_model().shape_for(name)
    meta = dict(shape.metadata)
    if getattr(shape, "enum", None):
        meta["enum"] = list(shape.enum)
    return meta


def check_api(value: Any, shape_name: str) -> Any:
    """Validate a value against an App Runner API shape; raise ValueError saying what is allowed."""
    meta = api_shape(shape_name)
    if "enum" in meta and value not in meta["enum"]:
        raise ValueError(f"must be one of {', '.join(sorted(meta['enum']))}")
    if isinstance(value, str):
        lo, hi = meta.get("min", 0), meta.get("max")
        if len(value) < lo or (hi is not None and len(value) > hi):
            raise ValueError(f"must be {lo} to {hi} characters long" if hi else f"needs {lo}+ characters")
        if "pattern" in meta and not re.fullmatch(meta["pattern"], value):
            raise ValueError(f"must match the pattern {meta['pattern']}")
    elif isinstance(value, int):
        lo, hi = meta.get("min"), meta.get("max")
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            raise ValueError(f"must be between {lo} and {hi}")
    return value


def _all_match(values: list[str], pattern: str, message: str) -> list[str]:
    """``values`` unchanged if each matches ``pattern``; else ValueError: ``message`` and the bad ones."""
    bad = [v for v in values if not re.fullmatch(pattern, v)]
    if bad:
        raise ValueError(f"{message}: {', '.join(bad)}")
    return values


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class ConnectionParams(_Model):
    """The source connection (GitHub / Bitbucket), reused by name."""

    name: str
    provider: Literal["GITHUB", "BITBUCKET"] = "GITHUB"
    handshake_timeout_s: int = Field(900, ge=0, le=86400)

    _name = field_validator("name")(lambda v: check_api(v, "ConnectionName"))


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


def _normalize_units(value: Any, units: dict[str, str], suffix: str) -> str:
    text = str(value).strip()
    if text in units:
        return units[text]
    match = re.fullmatch(rf"([0-9.]+)\s*{suffix}", text, re.IGNORECASE)
    if match:
        canonical = f"{match.group(1)} {suffix}"
        if canonical in units.values():
            return canonical
    allowed = list(units.values()) + list(units)
    raise ValueError(f"must be one of {', '.join(allowed)}")


class InstanceParams(_Model):
    """CPU, memory and the instance role the application assumes."""

    cpu: str = "1 vCPU"
    memory: str = "2 GB"
    role_name: str
    policy_arns: list[str] = Field(default_factory=list)

    @field_validator("cpu", mode="before")
    @classmethod
    def _cpu(cls, v: Any) -> str:
        return _normalize_units(v, CPU_UNITS, "vCPU")

    @field_validator("memory", mode="before")
    @classmethod
    def _memory(cls, v: Any) -> str:
        return _normalize_units(v, MEMORY_UNITS, "GB")

    @field_validator("role_name")
    @classmethod
    def _role(cls, v: str) -> str:
        if not re.fullmatch(r"[\w+=,.@-]{1,64}", v):
            raise ValueError("must be 1-64 characters of letters, digits and +=,.@_-")
        return v

    @field_validator("policy_arns")
    @classmethod
    def _policies(cls, v: list[str]) -> list[str]:
        pattern = r"arn:aws[\w-]*:iam::(aws|\d{12}):policy/[\w+=,.@/-]+"
        return _all_match(v, pattern, "must be IAM policy ARNs (arn:aws:iam::<account|aws>:policy/…)")

    @model_validator(mode="after")
    def _pair(self) -> InstanceParams:
        allowed = CPU_MEMORY_PAIRS[self.cpu]
        if self.memory not in allowed:
            raise ValueError(
                f"memory: {self.memory} does not go with cpu {self.cpu}; allowed: {', '.join(allowed)}"
            )
        return self


def _check_vpc(v: str) -> str:
    if v != "default" and not re.fullmatch(r"vpc-[0-9a-f]{8,17}", v):
        raise ValueError("must be `default` or a VPC id like vpc-0abc1234")
    return v


class NetworkParams(_Model):
    """VPC egress through a VPC connector."""

    vpc_id: str = "default"
    subnet_ids: Literal["default"] | list[str] = "default"
    security_group_ids: list[str] = Field(default_factory=list)
    connector_name: str

    _vpc = field_validator("vpc_id")(_check_vpc)

    @field_validator("subnet_ids", mode="before")
    @classmethod
    def _subnets(cls, v: Any) -> Any:
        if v == "default":
            return v
        if not isinstance(v, list) or not all(isinstance(s, str) for s in v):
            raise ValueError("must be `default` or a list of subnet ids")
        _all_match(v, r"subnet-[0-9a-f]{8,17}", "must be subnet ids like subnet-0abc1234")
        if not v:  # one is accepted (AWS does); the plan warns that one zone is not highly available
            raise ValueError("needs at least one subnet (two or more zones advised), or `default`")
        return v

    @field_validator("security_group_ids")
    @classmethod
    def _groups(cls, v: list[str]) -> list[str]:
        return _all_match(v, r"sg-[0-9a-f]{8,17}", "must be security group ids like sg-0abc1234")

    _name = field_validator("connector_name")(lambda v: check_api(v, "VpcConnectorName"))


class CustomDomainParams(_Model):
    """A custom domain of the service; with ``hosted_zone_id`` the runbook writes its DNS records."""

    domain: str
    www: bool = False  # EnableWWWSubdomain (the API's default is true; the runbook asks only when told)
    hosted_zone_id: str | None = None

    @field_validator("domain")
    @classmethod
    def _domain(cls, v: str) -> str:
        check_api(v, "DomainName")
        if "*" in v or not re.fullmatch(r"([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}", v.lower()):
            raise ValueError("must be a fully qualified domain name like app.example.com (no wildcard)")
        return v.lower().rstrip(".")

    @field_validator("hosted_zone_id")
    @classmethod
    def _zone(cls, v: str | None) -> str | None:
        if v is not None and not re.fullmatch(r"[A-Z0-9]{1,32}", v.removeprefix("/hostedzone/")):
            raise ValueError("must be a Route 53 hosted zone id like Z0123456789ABCDEFGHIJ")
        return None if v is None else v.removeprefix("/hostedzone/")


class IngressParams(_Model):
    """How a private service is reached: a VPC ingress connection to an apprunner.requests endpoint."""

    vpc_id: str = "default"
    vpc_endpoint_id: str  # vpce-…, or `create` for an endpoint the runbook owns
    subnet_ids: list[str] = Field(default_factory=list)  # for a created endpoint (default: the VPC's own)
    name: str

    _vpc = field_validator("vpc_id")(_check_vpc)
    _name = field_validator("name")(lambda v: check_api(v, "VpcIngressConnectionName"))

    @field_validator("vpc_endpoint_id")
    @classmethod
    def _endpoint(cls, v: str) -> str:
        if v != "create" and not re.fullmatch(r"vpce-[0-9a-f]{8,17}", v):
            raise ValueError("must be `create` or an interface endpoint id like vpce-0abc1234")
        return v

    @field_validator("subnet_ids")
    @classmethod
    def _subnets(cls, v: list[str]) -> list[str]:
        return _all_match(v, r"subnet-[0-9a-f]{8,17}", "must be subnet ids like subnet-0abc1234")

    @model_validator(mode="after")
    def _subnets_only_when_created(self) -> IngressParams:
        if self.subnet_ids and self.vpc_endpoint_id != "create":
            raise ValueError("subnet_ids: only used when vpc_endpoint_id is `create`")
        return self


def autoscaling_name(name: str) -> str:
    """The default auto scaling configuration name: ``name`` when it fits the API's 32 characters, else
    its first 25 characters, ``-`` and 6 hex of its sha256, so two long names never share one."""
    if len(name) <= ASC_NAME_MAX:
        return name
    return f"{name[:25].rstrip('-_')}-{hashlib.sha256(name.encode()).hexdigest()[:6]}"


class AutoscalingParams(_Model):
    """The auto scaling configuration, versioned by revision under one name."""

    name: str
    max_concurrency: int = 100
    min_size: int = 1
    max_size: int = 25

    _name = field_validator("name")(lambda v: check_api(v, "AutoScalingConfigurationName"))
    _concurrency = field_validator("max_concurrency")(lambda v: check_api(v, "ASConfigMaxConcurrency"))
    _min = field_validator("min_size")(lambda v: check_api(v, "ASConfigMinSize"))

    @field_validator("max_size")
    @classmethod
    def _max(cls, v: int) -> int:
        if not 1 <= v <= MAX_SIZE_LIMIT:
            raise ValueError(f"must be between 1 and {MAX_SIZE_LIMIT} (the default account limit)")
        return v

    @model_validator(mode="after")
    def _order(self) -> AutoscalingParams:
        if self.min_size > self.max_size:
            raise ValueError(f"min_size: {self.min_size} must not exceed max_size ({self.max_size})")
        return self


class HealthCheckParams(_Model):
    """How App Runner decides an instance is healthy (the API's defaults)."""

    protocol: Literal["TCP", "HTTP"] = "TCP"
    path: str = "/"
    interval_s: int = 5
    timeout_s: int = 2
    healthy_threshold: int = 1
    unhealthy_threshold: int = 5

    _path = field_validator("path")(lambda v: check_api(v, "HealthCheckPath"))
    _interval = field_validator("interval_s")(lambda v: check_api(v, "HealthCheckInterval"))
    _timeout = field_validator("timeout_s")(lambda v: check_api(v, "HealthCheckTimeout"))
    _healthy = field_validator("healthy_threshold")(lambda v: check_api(v, "HealthCheckHealthyThreshold"))
    _unhealthy = field_validator("unhealthy_threshold")(
        lambda v: check_api(v, "HealthCheckUnhealthyThreshold")
    )


class TimeoutParams(_Model):
    """How long the library waits on AWS, in seconds (the defaults are the library's own). The runner
    derives each notebook's cell timeout from these and ``connection.handshake_timeout_s``."""

    service_s: int = Field(1800, ge=1, le=86400)  # each wait on a service: its operation, settling, deletion
    vpc_connector_delete_s: int = Field(600, ge=1, le=86400)  # while App Runner still uses the connector
    security_group_delete_s: int = Field(2700, ge=1, le=86400)  # while App Runner's ENIs hold the group
    domain_validation_s: int = Field(3600, ge=1, le=172800)  # a custom domain: DNS validation until active
    ingress_s: int = Field(600, ge=1, le=86400)  # each wait on a VPC ingress connection or its endpoint


class ObservabilityParams(_Model):
    """Tracing through an owned observability configuration (revisioned by name, like auto scaling)."""

    tracing: Literal["AWSXRAY"] | None = None
    name: str

    _name = field_validator("name")(lambda v: check_api(v, "ObservabilityConfigurationName"))


class Params(_Model):
    """One environment: everything the runbook provisions, named after ``name``."""

    name: str
    account_id: str
    region: str
    tags: dict[str, str] = Field(default_factory=dict)
    connection: ConnectionParams | None = None  # not needed for an image source
    source: SourceParams
    instance: InstanceParams
    network: NetworkParams | None = None
    public: bool = True
    ingress: IngressParams | None = None  # required when public is false
    custom_domains: list[CustomDomainParams] = Field(default_factory=list)
    autoscaling: AutoscalingParams
    health_check: HealthCheckParams = Field(default_factory=HealthCheckParams)
    observability: ObservabilityParams | None = None
    timeouts: TimeoutParams = Field(default_factory=TimeoutParams)
    audit_dir: str = "runs"
    adopt: list[Literal[ADOPTABLE]] = Field(default_factory=list)  # type: ignore[valid-type]

    @model_validator(mode="before")
    @classmethod
    def _derived_defaults(cls, data: Any) -> Any:
        """Names of owned resources default to the service name."""
        if not isinstance(data, dict) or not isinstance(data.get("name"), str):
            return data
        data = dict(data)
        name = data["name"]
        for section, key, default in (
            ("instance", "role_name", f"{name}-instance"),
            ("network", "connector_name", name),
            ("autoscaling", "name", autoscaling_name(name)),
            ("observability", "name", autoscaling_name(name)),
            ("ingress", "name", name),
        ):
            optional = ("network", "observability", "ingress")
            value = data.get(section, {} if section not in optional else None)
            if isinstance(value, dict) and key not in value:
                data[section] = {**value, key: default}
            elif value is None and section not in optional:
                data[section] = {key: default}
        image = (data.get("source") or {}).get("image") if isinstance(data.get("source"), dict) else None
        ident = image.get("identifier") if isinstance(image, dict) else None
        if isinstance(ident, str) and "access_role_name" not in image:
            if image.get("type", image_type(ident.strip())) == "ECR":
                data["source"] = {**data["source"], "image": {**image, "access_role_name": f"{name}-access"}}
        return data

    _name = field_validator("name")(lambda v: check_api(v, "ServiceName"))

    @field_validator("account_id", mode="before")
    @classmethod
    def _account(cls, v: Any) -> str:
        if not isinstance(v, str) or not re.fullmatch(r"\d{12}", v):
            raise ValueError('must be the 12-digit AWS account id as a quoted string, e.g. "123456789012"')
        return v

    @field_validator("region")
    @classmethod
    def _region(cls, v: str) -> str:
        if not REGION.fullmatch(v):
            raise ValueError("must be an AWS region code like us-east-1")
        return v

    @field_validator("tags")
    @classmethod
    def _tags(cls, v: dict[str, str]) -> dict[str, str]:
        for key, value in v.items():
            check_api(key, "TagKey")
            check_api(value, "TagValue")
        problems = []
        reserved = sorted(k for k in v if k.startswith("runbook:"))
        if reserved:
            problems.append(f"{', '.join(reserved)}: runbook:* tags are set by the runbook itself")
        joined = sorted(k for k in v if "+" in k)
        if joined:
            problems.append(f"{', '.join(joined)}: tag keys may not contain '+' ({MANAGED_TAG} uses it)")
        if len("+".join(sorted(v))) > 256:
            problems.append(f"the tag keys joined by '+' must fit in 256 characters ({MANAGED_TAG})")
        if problems:
            raise ValueError("; ".join(problems))
        return v

    @model_validator(mode="after")
    def _provider_host(self) -> Params:
        if self.source.image is not None or self.source.repository_url is None:
            return self
        if self.connection is None:
            raise ValueError("connection: is required for a code repository source")
        host = PROVIDER_HOSTS[self.connection.provider]
        if f"//{host}/" not in self.source.repository_url + "/":
            raise ValueError(
                f"source.repository_url: must be on {host} for connection.provider {self.connection.provider}"
            )
        return self

    @model_validator(mode="after")
    def _private(self) -> Params:
        if not self.public and self.ingress is None:
            raise ValueError("ingress: is required when public is false (vpc_id and vpc_endpoint_id)")
        if self.public and self.ingress is not None:
            raise ValueError("ingress: is only for a private service; set public: false or remove it")
        seen = [d.domain for d in self.custom_domains]
        twice = sorted({d for d in seen if seen.count(d) > 1})
        if twice:
            raise ValueError(f"custom_domains: listed more than once: {', '.join(twice)}")
        return self

    @property
    def owned_tags(self) -> dict[str, str]:
        """The tags every owned resource carries: the params', runbook:name, and (when the params have
        tags) runbook:tags listing their keys, so that a key later removed from the params is removed."""
        managed = {MANAGED_TAG: "+".join(sorted(self.tags))} if self.tags else {}
        return {**self.tags, OWNER_TAG: self.name, **managed}

    @property
    def access_role_name(self) -> str | None:
        """The private ECR access role the runbook owns, or None (code source or ECR Public)."""
        return self.source.image.access_role_name if self.source.image else None

    @property
    def is_sandbox_account(self) -> bool:
        return self.account_id == SANDBOX_ACCOUNT


def _loc(loc: tuple[Any, ...]) -> str:
    parts: list[str] = []
    for item in loc:
        if isinstance(item, int):
            parts.append(f"[{item}]")
        else:
            parts.append(("." if parts else "") + str(item))
    return "".join(parts) or "(document)"


def _model_at(loc: tuple[Any, ...]) -> type[BaseModel] | None:
    model: Any = Params
    for item in loc:
        field = model.model_fields.get(item) if isinstance(item, str) else None
        if field is None:
            return None
        candidates = [field.annotation, *getattr(field.annotation, "__args__", ())]
        model = next((c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)), None)
        if model is None:
            return None
    return model


def _problem(error: Mapping[str, Any]) -> Problem:
    loc = tuple(error["loc"])
    # drop pydantic's union/literal branch tags from the path
    loc = tuple(
        i for i in loc if not (isinstance(i, str) and (i.startswith("literal[") or i in {"list[str]"}))
    )
    message = str(error["msg"]).removeprefix("Value error, ")
    value = error.get("input")
    relative = re.match(r"^([a-z_][\w.]*): (.*)$", message, re.DOTALL)
    if error["type"] == "value_error" and relative and isinstance(value, dict):
        # a cross-field rule names the field it is about, relative to the model it checks
        loc, message = (*loc, *relative.group(1).split(".")), relative.group(2)
        value = value.get(relative.group(1)) if "." not in relative.group(1) else None
    if error["type"] == "extra_forbidden":
        parent = _model_at(loc[:-1])
        known = list(parent.model_fields) if parent else []
        guess = difflib.get_close_matches(str(loc[-1]), known, n=1)
        hint = f"; did you mean `{guess[0]}`?" if guess else ""
        message = f"unknown key{hint} Allowed keys: {', '.join(known)}"
        value = None
    elif error["type"] == "missing":
        message = "is required"
        value = None
    if isinstance(value, (dict, list)):
        value = None
    return Problem(_loc(loc), message, value)


def _dedupe(problems: list[Problem]) -> list[Problem]:
    """One line per field: a union (e.g. `default` | list) reports each branch's failure."""
    seen: dict[str, Problem] = {}
    for p in problems:
        seen.setdefault(p.field, p)
    return list(seen.values())


def _set_dotted(doc: dict[str, Any], dotted: str, value: Any) -> None:
    node = doc
    *parents, last = dotted.split(".")
    for key in parents:
        node = node.setdefault(key, {})
        if not isinstance(node, dict):
            raise ParameterError("overrides", [Problem(dotted, f"{key} is not a mapping")])
    node[last] = value


def read_document(path: str | Path) -> dict[str, Any]:
    """Read a parameter file as a YAML mapping; file and syntax problems become ParameterError."""
    path = Path(path)
    source = str(path)
    if path.is_dir():
        raise ParameterError(source, [Problem("(file)", "is a directory; give the path of a YAML file")])
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ParameterError(source, [Problem("(file)", "no such file")]) from None
    except (OSError, UnicodeDecodeError) as err:
        raise ParameterError(source, [Problem("(file)", f"cannot be read: {err}")]) from None
    try:
        doc = yaml.safe_load(text)
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "unknown position"
        raise ParameterError(source, [Problem("(yaml)", f"syntax error at {where}: {err.problem}")]) from None
    except yaml.YAMLError as err:
        raise ParameterError(source, [Problem("(yaml)", f"not valid YAML: {err}")]) from None
    if doc is None:
        raise ParameterError(
            source, [Problem("(document)", "the file is empty; expected a mapping of fields")]
        )
    if not isinstance(doc, dict):
        raise ParameterError(
            source, [Problem("(document)", f"expected a mapping of fields, got a {type(doc).__name__}")]
        )
    return doc


def parse_params(
    doc: Mapping[str, Any], *, source: str = "params", overrides: Mapping[str, Any] | None = None
):
    """Validate a parameter mapping (plus dotted overrides) into ``Params``; raise ParameterError."""
    data = dict(doc)
    for dotted, value in (overrides or {}).items():
        _set_dotted(data, dotted, value)
    try:
        return Params.model_validate(data)
    except ValidationError as err:
        raise ParameterError(source, _dedupe([_problem(e) for e in err.errors()])) from None


def load_params(path: str | Path, overrides: Mapping[str, Any] | None = None) -> Params:
    """Read, merge overrides into and validate a parameter file. Makes no AWS call."""
    return parse_params(read_document(path), source=str(path), overrides=overrides)


def redacted_params(params: Params) -> dict[str, Any]:
    """The resolved parameters as plain data (runtime secrets are ARNs, kept; nothing else is secret)."""
    return params.model_dump(mode="json")
