"""The emulator's resources (connections, auto scaling and observability configurations, VPC connectors,
operations, services), their ARNs and names, and the paging tokens."""

from __future__ import annotations

import base64
import binascii
import json
import secrets
import string
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from runbook_lib.sandbox.apprunner.exceptions import InvalidRequestException

__all__ = [
    "APP_RUNNER_BUILD_PRINCIPAL", "APP_RUNNER_TASKS_PRINCIPAL", "ASC_IN_USE_MESSAGE",
    "AutoScalingConfiguration", "Connection", "DEFAULT_ASC_NAME", "DEFAULT_SUFFIX", "ENI_TAG",
    "ObservabilityConfiguration", "Operation", "PARTITION", "Service", "VpcConnector", "check_cpu_memory",
    "decode_token", "encode_token", "without_none",
]  # fmt: skip

PARTITION = "aws"
APP_RUNNER_TASKS_PRINCIPAL = "tasks.apprunner.amazonaws.com"
APP_RUNNER_BUILD_PRINCIPAL = "build.apprunner.amazonaws.com"
DEFAULT_ASC_NAME = "DefaultConfiguration"
DEFAULT_SUFFIX = "0" * 31 + "1"
ENI_TAG = "AWSAppRunnerManaged"
ASC_IN_USE_MESSAGE = (
    "You can't delete the auto scaling configuration. It's used by one or more services. "
    "To delete it, update the services to use other auto scaling configurations."
)


def without_none(data: dict[str, Any]) -> dict[str, Any]:
    """An answer's members without the unset ones (AWS leaves out what a resource does not have yet)."""
    return {key: value for key, value in data.items() if value is not None}


def _hex32() -> str:
    return uuid.uuid4().hex


def _service_url_host() -> str:
    alphabet = string.ascii_lowercase + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(10))


def _arn(region: str, account: str, resource: str) -> str:
    return f"arn:{PARTITION}:apprunner:{region}:{account}:{resource}"


def _resource_part(arn: str) -> str:
    parts = arn.split(":", 5)
    if len(parts) != 6 or parts[2] != "apprunner":
        raise InvalidRequestException(f"The ARN you specified isn't valid. ARN: '{arn}'")
    return parts[5]


def _tags_dict(tags: Iterable[dict[str, str]] | None) -> dict[str, str]:
    return {t["Key"]: t.get("Value", "") for t in (tags or [])}


_CPU_UNITS = {
    "256": 256,
    "512": 512,
    "1024": 1024,
    "2048": 2048,
    "4096": 4096,
    "0.25 vCPU": 256,
    "0.5 vCPU": 512,
    "1 vCPU": 1024,
    "2 vCPU": 2048,
    "4 vCPU": 4096,
}
_MEM_MB = {
    "512": 512,
    "1024": 1024,
    "2048": 2048,
    "3072": 3072,
    "4096": 4096,
    "6144": 6144,
    "8192": 8192,
    "10240": 10240,
    "12288": 12288,
    "0.5 GB": 512,
    "1 GB": 1024,
    "2 GB": 2048,
    "3 GB": 3072,
    "4 GB": 4096,
    "6 GB": 6144,
    "8 GB": 8192,
    "10 GB": 10240,
    "12 GB": 12288,
}
_VALID_PAIRS = {
    256: {512, 1024},
    512: {1024},
    1024: {2048, 3072, 4096},
    2048: {4096, 6144},
    4096: {8192, 10240, 12288},
}


def check_cpu_memory(cpu: str, memory: str) -> None:
    """Raise InvalidRequestException unless (cpu, memory) is a pair App Runner accepts."""
    units, mb = _CPU_UNITS.get(cpu), _MEM_MB.get(memory)
    if units is None or mb is None or mb not in _VALID_PAIRS[units]:
        raise InvalidRequestException(
            f"The combination of CPU ({cpu}) and memory ({memory}) isn't supported. "
            "Supported: 0.25 vCPU with 0.5|1 GB, 0.5 vCPU with 1 GB, 1 vCPU with 2|3|4 GB, "
            "2 vCPU with 4|6 GB, 4 vCPU with 8|10|12 GB."
        )


def encode_token(offset: int, served_empty: bool = False) -> str:
    raw = json.dumps({"o": offset, "e": int(served_empty)}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_token(token: str) -> tuple[int, bool]:
    try:
        padded = token + "=" * (-len(token) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode()))
        return int(data["o"]), bool(data.get("e"))
    except (ValueError, KeyError, TypeError, binascii.Error) as err:
        raise InvalidRequestException(f"The pagination token isn't valid: {token}") from err


@dataclass
class Connection:
    name: str
    arn: str
    provider: str
    status: str
    created_at: float
    deleted_at: float | None = None
    status_before_delete: str | None = None  # what reads show while the delete is not visible yet

    def to_dict(self) -> dict[str, Any]:
        return {
            "ConnectionName": self.name,
            "ConnectionArn": self.arn,
            "ProviderType": self.provider,
            "Status": self.status,
            "CreatedAt": self.created_at,
        }


@dataclass
class AutoScalingConfiguration:
    name: str
    revision: int
    arn: str
    max_concurrency: int
    min_size: int
    max_size: int
    created_at: float
    status: str = "ACTIVE"
    deleted_at: float | None = None
    is_default: bool = False


@dataclass
class ObservabilityConfiguration:
    name: str
    revision: int
    arn: str
    vendor: str | None
    created_at: float
    status: str = "ACTIVE"
    deleted_at: float | None = None


@dataclass
class VpcConnector:
    name: str
    arn: str
    subnets: list[str]
    security_groups: list[str]
    created_at: float
    revision: int = 1
    status: str = "ACTIVE"
    deleted_at: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return without_none({
            "VpcConnectorName": self.name, "VpcConnectorArn": self.arn,
            "VpcConnectorRevision": self.revision, "Subnets": list(self.subnets),
            "SecurityGroups": list(self.security_groups), "Status": self.status, "CreatedAt": self.created_at,
            "DeletedAt": self.deleted_at,
        })  # fmt: skip


@dataclass
class Operation:
    id: str
    type: str
    target_arn: str
    started_at: float
    status: str = "IN_PROGRESS"
    ended_at: float | None = None
    updated_at: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return without_none({
            "Id": self.id, "Type": self.type, "Status": self.status, "TargetArn": self.target_arn,
            "StartedAt": self.started_at, "UpdatedAt": self.updated_at or self.started_at,
            "EndedAt": self.ended_at,
        })  # fmt: skip


@dataclass
class Service:
    name: str
    id: str
    arn: str
    url: str
    created_at: float
    updated_at: float
    config: dict[str, Any]
    asc_arn: str
    status: str = "OPERATION_IN_PROGRESS"
    deleted_at: float | None = None
    busy_op: str | None = None
    enis: list[str] = field(default_factory=list)

    @property
    def connector_arn(self) -> str | None:
        egress = self.config.get("NetworkConfiguration", {}).get("EgressConfiguration", {})
        return egress.get("VpcConnectorArn") if egress.get("EgressType") == "VPC" else None

    @property
    def connection_arn(self) -> str | None:
        auth = self.config["SourceConfiguration"].get("AuthenticationConfiguration") or {}
        return auth.get("ConnectionArn")

    def env(self) -> dict[str, str]:
        src = self.config["SourceConfiguration"]
        if "CodeRepository" in src:
            values = src["CodeRepository"].get("CodeConfiguration", {}).get("CodeConfigurationValues", {})
        else:
            values = src["ImageRepository"].get("ImageConfiguration", {})
        return dict(values.get("RuntimeEnvironmentVariables") or {})
