"""The sections of the parameters (instance, network, custom domain, ingress, autoscaling, health check,
timeouts, observability) and the API's bounds, patterns and enums they are checked against, from the App
Runner API model shipped in botocore where it has them and from docs/apprunner-behavior.md where it doesn't
(CPU/memory pairs, auto scaling bounds). ``param_source`` holds the connection and source sections;
``params.Params`` holds them together and loads the file.
"""

from __future__ import annotations

import hashlib
import re
from functools import lru_cache
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = [
    "ADOPTABLE", "ASC_NAME_MAX", "AutoscalingParams", "CPU_MEMORY_PAIRS", "CPU_UNITS", "ConnectionParams",
    "CustomDomainParams", "HealthCheckParams", "IngressParams", "InstanceParams", "MANAGED_TAG",
    "MAX_SIZE_LIMIT", "MEMORY_UNITS", "NetworkParams", "OWNER_TAG", "ObservabilityParams", "PROVIDER_HOSTS",
    "REGION", "SECRET_ARN", "TimeoutParams", "api_checks", "api_shape", "autoscaling_name", "check_api",
]  # fmt: skip

OWNER_TAG = "runbook:name"
MANAGED_TAG = "runbook:tags"  # the params' tag keys the runbook set, joined by "+" (runbook_lib.ownership)
ADOPTABLE = (
    "connection", "instance_role", "security_group", "vpc_connector", "autoscaling", "service",
    "access_role", "observability", "ingress_connection", "vpc_endpoint", "dns_record",
)  # fmt: skip
ASC_NAME_MAX = 32

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
    from runbook_lib.apimodels import botocore_session  # the process's parsed models

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


def api_checks(**shapes: str) -> Any:
    """One field validator that checks each named field against its API shape (``check_api``)."""
    return field_validator(*shapes)(lambda v, info: check_api(v, shapes[info.field_name]))


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


def _subnet_ids(v: list[str]) -> list[str]:
    return _all_match(v, r"subnet-[0-9a-f]{8,17}", "must be subnet ids like subnet-0abc1234")


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
        _subnet_ids(v)
        if not v:  # one is accepted (AWS does); the plan warns that one zone is not highly available
            raise ValueError("needs at least one subnet (two or more zones advised), or `default`")
        return v

    _groups = field_validator("security_group_ids")(
        lambda v: _all_match(v, r"sg-[0-9a-f]{8,17}", "must be security group ids like sg-0abc1234")
    )

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

    _subnets = field_validator("subnet_ids")(lambda v: _subnet_ids(v))

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

    _api = api_checks(
        name="AutoScalingConfigurationName", max_concurrency="ASConfigMaxConcurrency",
        min_size="ASConfigMinSize",
    )

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

    _api = api_checks(
        path="HealthCheckPath", interval_s="HealthCheckInterval", timeout_s="HealthCheckTimeout",
        healthy_threshold="HealthCheckHealthyThreshold", unhealthy_threshold="HealthCheckUnhealthyThreshold",
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


