"""App Runner emulator: state and rules (the ``models`` half of moto's models / responses split).

State lives in one :class:`AppRunnerBackend` per (account, region), held by :class:`AppRunnerBackends`
together with the shared clock, the status-transition helper, the configuration and the fault switches.
Models raise one small exception class per AWS error code; ``responses.py`` turns them into AWS JSON in
one place.

Behaviours AWS leaves undocumented (docs/apprunner-behavior.md), and the choice made here:

- CreateService with a connection that is missing or not AVAILABLE → ``InvalidRequestException`` (E14).
- Duplicate connection name / duplicate ACTIVE VPC connector name → ``InvalidRequestException``.
- Unknown subnet / security group, or subnets and groups in different VPCs → ``InvalidRequestException``.
- Invalid Cpu/Memory pair, MinSize > MaxSize → ``InvalidRequestException``.
- StartDeployment on a service that is not RUNNING → ``InvalidRequestException`` (it models no
  InvalidStateException).
- UpdateService on PAUSED is refused (``update_on_paused`` config switch); on CREATE_FAILED it rebuilds
  (``rebuild_on_create_failed``; False gives the old InvalidStateException behaviour).
- UpdateService keeps the previous ``CodeConfiguration`` when the new SourceConfiguration omits it
  (partial-update semantics are undocumented); other top-level members replace the old ones wholesale.
- ServiceQuotaExceededException and ThrottlingException are answered with HTTP 400.
- ASC revision numbers: a new revision is the highest ACTIVE revision of the name + 1, so numbers are
  reused after deletes; the account-provided ``DefaultConfiguration`` does not count against the
  10-name quota.
- ListVpcConnectors includes INACTIVE connectors until they are purged (``deleted_retention_s``).
- DeleteService / DeleteVpcConnector on something already DELETED / INACTIVE → ``ResourceNotFoundException``.
- Custom domains and VPC ingress connections live in ``domains.py`` (state in ``custom_domains`` and
  ``ingress`` here); unimplemented operations answer ``InvalidRequestException`` naming the sandbox.

Answers checked against sources outside this project (the real API, not its model, where they differ):

- ASC ``Status`` is lowercase on the wire (``active`` / ``inactive``), although the model's enum is
  uppercase: the Terraform AWS provider compares with lowercase constants and its acceptance tests assert
  ``status = "active"`` (``internal/service/apprunner/auto_scaling_configuration_version.go``, ``…_test.go``).
- A new ASC revision is the highest ACTIVE revision + 1: replacing the only revision gives revision 1
  again, replacing revision 2 of 2 gives 2 (Terraform, ``auto_scaling_configuration_version_test.go``,
  ``_complex`` and ``_updateMultipleVersions``).
- PauseService on a PAUSED service and ResumeService on a RUNNING one succeed with the Service and no
  ``OperationId`` (``OperationId`` is optional in both outputs; AWS Copilot's client returns at once in that
  case: ``internal/pkg/aws/apprunner/apprunner.go``, ``PauseService`` / ``ResumeService``).
- HealthCheckConfiguration: a request that carries it replaces the whole block; members it omits take
  App Runner's defaults, not their previous values. The API reference's defaults and the API's own differ
  (comment in Terraform's ``service_test.go``, ``ImageRepository_basic``), so clients should send all six
  members and compare with what DescribeService returns; the runbook does both.
- Consistency delay (``consistency_delay``; see ``consistency.py``): Terraform waits up to 2 min for a
  new ASC or VPC connector to be readable, 2 min for a deleted one to leave ACTIVE and 5 min for a
  deleted connection to disappear (``internal/service/apprunner/``: ``waitAutoScalingConfigurationCreated``
  / ``…Deleted`` in ``auto_scaling_configuration_version.go``, ``waitVPCConnectorCreated`` / ``…Deleted``
  in ``vpc_connector.go``, ``waitConnectionDeleted`` in ``connection.go``).
"""

from __future__ import annotations

import base64
import binascii
import heapq
import itertools
import json
import logging
import random
import secrets
import string
import threading
import time
import urllib.parse
import uuid
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from runbook_lib.sandbox.apprunner import activity

log = logging.getLogger(__name__)

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


# --------------------------------------------------------------------------------------------- errors


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


# ------------------------------------------------------------------------------- clock & transitions


class Clock:
    """Wall clock with an offset that tests can move forward (``advance``) instead of sleeping."""

    def __init__(self) -> None:
        self.offset = 0.0

    def now(self) -> float:
        return time.time() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += max(0.0, float(seconds))


@dataclass(order=True)
class _Scheduled:
    due: float
    seq: int
    fn: Callable[[], None] = field(compare=False)


class Transitions:
    """Status-transition helper: callbacks that fire at a time.

    ``run_due()`` fires what is due (the server calls it before every request, so a zero delay still
    shows the in-between state in the response that started it); ``settle()`` jumps the clock forward
    and fires everything pending, for deterministic tests.
    """

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self._heap: list[_Scheduled] = []
        self._seq = itertools.count()

    def schedule(self, delay: float, fn: Callable[[], None]) -> None:
        heapq.heappush(self._heap, _Scheduled(self.clock.now() + max(0.0, delay), next(self._seq), fn))

    def pending(self) -> int:
        return len(self._heap)

    def run_due(self) -> int:
        fired = 0
        while self._heap and self._heap[0].due <= self.clock.now():
            heapq.heappop(self._heap).fn()
            fired += 1
        return fired

    def settle(self, limit: int = 10_000) -> int:
        fired = 0
        while self._heap and fired < limit:
            item = heapq.heappop(self._heap)
            lag = item.due - self.clock.now()
            if lag > 0:
                self.clock.advance(lag)
            item.fn()
            fired += 1
        return fired

    def clear(self) -> None:
        self._heap.clear()


# ------------------------------------------------------------------------------- config & faults


@dataclass
class SandboxConfig:
    """Behaviour switches of the emulator (``POST /_sandbox/config``)."""

    op_seconds: float = 2.0
    handshake: str = "auto"
    handshake_seconds: float = 3.0
    deleted_retention_s: float = 300.0
    connection_deleted_retention_s: float = 5.0
    update_on_paused: bool = False
    rebuild_on_create_failed: bool = True
    consistency_delay: float = 0.0
    max_size_limit: int = 25
    service_quota: int = 30
    asc_name_quota: int = 10
    asc_revision_quota: int = 5
    restricted_account: bool = False
    enforce_iam: bool = False  # authorise every request against the caller's IAM policies

    def update(self, values: dict[str, Any]) -> None:
        known = {f.name: f for f in fields(self)}
        for key, value in values.items():
            if key not in known:
                raise ValueError(f"unknown config key {key!r}; known: {sorted(known)}")
            current = getattr(self, key)
            if isinstance(current, bool):
                value = bool(value)
            elif isinstance(current, float):
                value = float(value)
            elif isinstance(current, int):
                value = int(value)
            setattr(self, key, value)
        if self.handshake not in ("auto", "manual"):
            raise ValueError("handshake must be 'auto' or 'manual'")
        if self.consistency_delay < 0:
            raise ValueError("consistency_delay must be >= 0")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Faults:
    """Injected faults (``POST /_sandbox/faults``); a seed makes the random ones repeatable."""

    seed: int | None = None
    throttle_rate: float = 0.0
    error_rate: float = 0.0
    fail_next_create: int = 0
    rollback_next_update: int = 0
    fail_next_delete: int = 0
    connector_release_lag_s: float = 0.0
    eni_release_lag_s: float = 0.0
    short_pages: bool = False
    app_unhealthy: list[str] = field(default_factory=list)
    role_propagation_s: float = 0.0
    rate_limit_per_s: float = 0.0  # App Runner requests above this rate per account: ThrottlingException
    rng: random.Random = field(default_factory=random.Random, repr=False)
    _next_free: dict[str, float] = field(default_factory=dict, repr=False)  # the rate limit's buckets

    def update(self, values: dict[str, Any]) -> None:
        known = {f.name for f in fields(self)} - {"rng", "_next_free"}
        for key in values:
            if key not in known and key != "maintenance":
                raise ValueError(f"unknown fault {key!r}; known: {sorted(known | {'maintenance'})}")
        for key, value in values.items():
            if key == "maintenance":
                continue
            if key in ("fail_next_create", "rollback_next_update", "fail_next_delete"):
                value = int(value) if not isinstance(value, bool) else int(value)
            elif key in (
                "throttle_rate",
                "error_rate",
                "connector_release_lag_s",
                "eni_release_lag_s",
                "role_propagation_s",
                "rate_limit_per_s",
            ):
                value = float(value)
            elif key == "short_pages":
                value = bool(value)
            elif key == "app_unhealthy":
                value = list(value or [])
            setattr(self, key, value)
        if "seed" in values:
            self.rng = random.Random(self.seed)

    def take(self, name: str) -> bool:
        """Consume one pending one-shot fault (``fail_next_create`` …); True if there was one."""
        count = getattr(self, name)
        if count > 0:
            setattr(self, name, count - 1)
            return True
        return False

    def over_rate(self, account: str, now: float) -> bool:
        """True when a request now exceeds ``rate_limit_per_s`` for the account (a token bucket whose
        burst is one second's worth, as AWS throttles: the throttled request takes no token)."""
        if self.rate_limit_per_s <= 0:
            return False
        interval = 1.0 / self.rate_limit_per_s
        burst = max(self.rate_limit_per_s, 1.0)
        slot = max(self._next_free.get(account, 0.0), now - (burst - 1) * interval)
        if slot > now:
            return True
        self._next_free[account] = slot + interval
        return False

    def to_dict(self) -> dict[str, Any]:
        data = {f.name: getattr(self, f.name) for f in fields(self) if f.name not in ("rng", "_next_free")}
        data["app_unhealthy"] = list(self.app_unhealthy)
        return data


# ---------------------------------------------------------------------------------------- helpers


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


# ------------------------------------------------------------------------------------- resources


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
        data: dict[str, Any] = {
            "VpcConnectorName": self.name,
            "VpcConnectorArn": self.arn,
            "VpcConnectorRevision": self.revision,
            "Subnets": list(self.subnets),
            "SecurityGroups": list(self.security_groups),
            "Status": self.status,
            "CreatedAt": self.created_at,
        }
        if self.deleted_at is not None:
            data["DeletedAt"] = self.deleted_at
        return data


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
        data: dict[str, Any] = {
            "Id": self.id,
            "Type": self.type,
            "Status": self.status,
            "TargetArn": self.target_arn,
            "StartedAt": self.started_at,
            "UpdatedAt": self.updated_at or self.started_at,
        }
        if self.ended_at is not None:
            data["EndedAt"] = self.ended_at
        return data


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


# ----------------------------------------------------------------------------------------- backend


class AppRunnerBackend:
    """App Runner state of one account in one region."""

    def __init__(self, account_id: str, region: str, registry: AppRunnerBackends) -> None:
        self.account_id = account_id
        self.region = region
        self.registry = registry
        self.connections: dict[str, Connection] = {}
        self.ascs: dict[str, AutoScalingConfiguration] = {}
        self.observability: dict[str, ObservabilityConfiguration] = {}
        self.connectors: dict[str, VpcConnector] = {}
        self.services: dict[str, Service] = {}
        self.operations: dict[str, list[Operation]] = {}
        self.tags: dict[str, dict[str, str]] = {}
        self.failure_reasons: dict[str, str] = {}  # operation id -> why it failed (written to the logs)
        self.custom_domains: dict[str, dict[str, Any]] = {}  # service ARN -> domain -> domains.CustomDomain
        self.ingress: dict[str, Any] = {}  # ARN -> domains.IngressConnection
        default = AutoScalingConfiguration(
            name=DEFAULT_ASC_NAME,
            revision=1,
            arn=self._arn(f"autoscalingconfiguration/{DEFAULT_ASC_NAME}/1/{DEFAULT_SUFFIX}"),
            max_concurrency=100,
            min_size=1,
            max_size=25,
            created_at=self.now(),
            is_default=True,
        )
        self.ascs[default.arn] = default

    # ------------------------------------------------------------------ plumbing
    @property
    def config(self) -> SandboxConfig:
        return self.registry.config

    @property
    def faults(self) -> Faults:
        return self.registry.faults

    def now(self) -> float:
        return self.registry.clock.now()

    def schedule(self, delay: float, fn: Callable[[], None]) -> None:
        self.registry.transitions.schedule(delay, fn)

    def _arn(self, resource: str) -> str:
        return _arn(self.region, self.account_id, resource)

    def paginate(
        self, items: list[Any], max_results: int | None, token: str | None
    ) -> tuple[list[Any], str | None]:
        """One page of ``items`` and the NextToken; short or empty pages when the fault is on."""
        offset, served_empty = decode_token(token) if token else (0, False)
        size = max_results if max_results else max(len(items), 1)
        if self.faults.short_pages:
            rng = self.faults.rng
            if not served_empty and rng.random() < 0.5:
                return [], encode_token(offset, served_empty=True)
            size = max(1, min(size, rng.randint(1, 2)))
        page = items[offset : offset + size]
        nxt = offset + len(page)
        return page, (encode_token(nxt) if nxt < len(items) else None)

    # ------------------------------------------------------------------ moto cross-checks
    def _ec2(self) -> Any:
        from moto.ec2.models import ec2_backends

        return ec2_backends[self.account_id][self.region]

    def _iam(self) -> Any:
        from moto.iam.models import iam_backends

        return iam_backends[self.account_id]["global"]

    def _check_role(self, role_arn: str, principal: str, kind: str) -> None:
        failure = InvalidRequestException(f"Error in assuming {kind} role {role_arn}")
        try:
            role = self._iam().get_role_by_arn(role_arn)
        except Exception as err:  # moto raises its own NotFound types
            raise failure from err
        doc = role.assume_role_policy_document
        try:
            policy = json.loads(doc) if isinstance(doc, str) else doc
        except ValueError:
            policy = json.loads(urllib.parse.unquote(doc))
        if not _trusts(policy, principal):
            raise failure
        lag = self.faults.role_propagation_s
        if lag > 0:
            created = role.create_date.timestamp()
            if self.now() - created < lag:
                raise failure

    def _check_network(self, subnet_ids: list[str], group_ids: list[str]) -> list[str]:
        """Validate subnets and groups against moto's EC2; return the groups (default SG if none)."""
        ec2 = self._ec2()
        vpcs: set[str] = set()
        missing: list[str] = []
        for subnet_id in subnet_ids:
            try:
                vpcs.add(ec2.get_subnet(subnet_id).vpc_id)
            except Exception:
                missing.append(subnet_id)
        if missing:
            raise InvalidRequestException(f"The following subnets don't exist: {', '.join(missing)}")
        for group_id in group_ids:
            group = ec2.get_security_group_from_id(group_id)
            if group is None:
                missing.append(group_id)
            else:
                vpcs.add(group.vpc_id)
        if missing:
            raise InvalidRequestException(f"The following security groups don't exist: {', '.join(missing)}")
        if len(vpcs) > 1:
            raise InvalidRequestException(
                "Subnets and security groups of a VPC connector must belong to one VPC; found "
                + ", ".join(sorted(vpcs))
            )
        if not group_ids and vpcs:
            default = ec2.get_security_group_from_name("default", vpc_id=next(iter(vpcs)))
            if default is not None:
                return [default.id]
        return list(group_ids)

    def _create_enis(self, service: Service) -> None:
        arn = service.connector_arn
        connector = self.connectors.get(arn) if arn else None
        if connector is None or service.enis:
            return
        ec2 = self._ec2()
        for subnet_id in connector.subnets:
            try:
                subnet = ec2.get_subnet(subnet_id)
                eni = ec2.create_network_interface(
                    subnet,
                    None,
                    group_ids=list(connector.security_groups),
                    description=f"AWS App Runner ENI for {service.arn}",
                    tags={ENI_TAG: "true", "apprunner:service": service.name},
                )
                service.enis.append(eni.id)
            except Exception:  # the subnet vanished from moto behind our back: nothing to hold
                log.debug("could not create ENI in %s", subnet_id, exc_info=True)

    def _release_enis(self, service: Service) -> None:
        eni_ids, service.enis = list(service.enis), []
        if not eni_ids:
            return

        def release() -> None:
            ec2 = self._ec2()
            for eni_id in eni_ids:
                try:
                    ec2.delete_network_interface(eni_id)
                except Exception:
                    log.debug("ENI %s already gone", eni_id)

        lag = self.faults.eni_release_lag_s
        if lag > 0:
            self.schedule(lag, release)
        else:
            release()

    # ------------------------------------------------------------------ tags
    def _known_arn(self, arn: str) -> bool:
        if arn in self.connections or arn in self.ascs or arn in self.connectors or arn in self.observability:
            return True
        if arn in self.ingress and self.ingress[arn].status != "DELETED":
            return True
        return any(s.arn == arn for s in self.services.values())

    def tag_resource(self, arn: str, tags: list[dict[str, str]]) -> None:
        if not self._known_arn(arn):
            raise ResourceNotFoundException(f"Resource not found: {arn}")
        self.tags.setdefault(arn, {}).update(_tags_dict(tags))

    def untag_resource(self, arn: str, keys: list[str]) -> None:
        if not self._known_arn(arn):
            raise ResourceNotFoundException(f"Resource not found: {arn}")
        for key in keys:
            self.tags.get(arn, {}).pop(key, None)

    def list_tags(self, arn: str) -> list[dict[str, str]]:
        if not self._known_arn(arn):
            raise ResourceNotFoundException(f"Resource not found: {arn}")
        return [{"Key": k, "Value": v} for k, v in self.tags.get(arn, {}).items()]

    # ------------------------------------------------------------------ connections
    def _live_connections(self) -> list[Connection]:
        keep = max(self.config.connection_deleted_retention_s, self.config.consistency_delay)
        now = self.now()
        for arn, conn in list(self.connections.items()):
            if conn.deleted_at is not None and now - conn.deleted_at >= keep:
                del self.connections[arn]
                self.tags.pop(arn, None)
        return list(self.connections.values())

    def create_connection(self, name: str, provider: str, tags: list[dict[str, str]] | None) -> Connection:
        if any(c.name == name and c.status != "DELETED" for c in self._live_connections()):
            raise InvalidRequestException(f"Connection with the provided name already exists: {name}")
        conn = Connection(
            name=name,
            arn=self._arn(f"connection/{name}/{_hex32()}"),
            provider=provider,
            status="PENDING_HANDSHAKE",
            created_at=self.now(),
        )
        self.connections[conn.arn] = conn
        if tags:
            self.tags[conn.arn] = _tags_dict(tags)
        if self.config.handshake == "auto":

            def complete() -> None:
                if conn.status == "PENDING_HANDSHAKE":
                    conn.status = "AVAILABLE"

            self.schedule(self.config.handshake_seconds, complete)
        return conn

    def list_connections(self, name: str | None) -> list[Connection]:
        return [c for c in self._live_connections() if name is None or c.name == name]

    def delete_connection(self, arn: str) -> Connection:
        conn = self.connections.get(arn)
        if conn is None or conn.status == "DELETED":
            raise ResourceNotFoundException(f"Connection not found: {arn}")
        users = [s.arn for s in self.services.values() if s.status != "DELETED" and s.connection_arn == arn]
        if users:
            raise InvalidRequestException(
                f"The connection is used by one or more services and can't be deleted: {', '.join(users)}"
            )
        conn.status_before_delete = conn.status
        conn.status, conn.deleted_at = "DELETED", self.now()
        return conn

    def handshake(self, name: str, status: str) -> list[Connection]:
        done = [c for c in self._live_connections() if c.name == name and c.status != "DELETED"]
        for conn in done:
            conn.status = status
        return done

    # ------------------------------------------------------------------ auto scaling
    def asc_status(self, asc: AutoScalingConfiguration) -> str:
        """The wire value: lowercase, as the real API answers (not the model's uppercase enum)."""
        return asc.status.lower()

    def _is_latest(self, asc: AutoScalingConfiguration) -> bool:
        if asc.status != "ACTIVE":
            return False
        return asc.revision >= max(
            (a.revision for a in self.ascs.values() if a.name == asc.name and a.status == "ACTIVE"),
            default=asc.revision,  # a lagging read of a deleted revision (consistency.py)
        )

    def _asc_in_use(self, asc: AutoScalingConfiguration) -> bool:
        return any(s.asc_arn == asc.arn and s.status != "DELETED" for s in self.services.values())

    def asc_to_dict(self, asc: AutoScalingConfiguration, summary: bool = False) -> dict[str, Any]:
        data: dict[str, Any] = {
            "AutoScalingConfigurationArn": asc.arn,
            "AutoScalingConfigurationName": asc.name,
            "AutoScalingConfigurationRevision": asc.revision,
            "Status": self.asc_status(asc),
            "CreatedAt": asc.created_at,
            "HasAssociatedService": self._asc_in_use(asc),
            "IsDefault": asc.is_default,
        }
        if not summary:
            data.update(
                {
                    "Latest": self._is_latest(asc),
                    "MaxConcurrency": asc.max_concurrency,
                    "MinSize": asc.min_size,
                    "MaxSize": asc.max_size,
                }
            )
            if asc.deleted_at is not None:
                data["DeletedAt"] = asc.deleted_at
        return data

    def create_asc(
        self,
        name: str,
        max_concurrency: int | None,
        min_size: int | None,
        max_size: int | None,
        tags: list[dict[str, str]] | None,
    ) -> AutoScalingConfiguration:
        mc = 100 if max_concurrency is None else max_concurrency
        lo = 1 if min_size is None else min_size
        hi = 25 if max_size is None else max_size
        if not 1 <= mc <= 200:
            raise InvalidRequestException("MaxConcurrency must be between 1 and 200")
        if not 1 <= lo <= 25:
            raise InvalidRequestException("MinSize must be between 1 and 25")
        if not 1 <= hi <= self.config.max_size_limit:
            raise InvalidRequestException(
                f"MaxSize must be between 1 and {self.config.max_size_limit} (your account's limit)"
            )
        if lo > hi:
            raise InvalidRequestException(f"MinSize ({lo}) can't be greater than MaxSize ({hi})")
        active = [a for a in self.ascs.values() if a.status == "ACTIVE"]
        same = [a for a in active if a.name == name]
        if len(same) >= self.config.asc_revision_quota:
            raise ServiceQuotaExceededException(
                f"you exceeded your account's revision quota: {self.config.asc_revision_quota}"
            )
        names = {
            a.name for a in active if not (a.name == DEFAULT_ASC_NAME and a.arn.endswith(DEFAULT_SUFFIX))
        }
        if not same and name not in names and len(names) >= self.config.asc_name_quota:
            raise ServiceQuotaExceededException(
                f"you exceeded your account's auto scaling configuration quota: {self.config.asc_name_quota}"
            )
        revision = max((a.revision for a in same), default=0) + 1
        asc = AutoScalingConfiguration(
            name=name,
            revision=revision,
            arn=self._arn(f"autoscalingconfiguration/{name}/{revision}/{_hex32()}"),
            max_concurrency=mc,
            min_size=lo,
            max_size=hi,
            created_at=self.now(),
        )
        self.ascs[asc.arn] = asc
        if tags:
            self.tags[asc.arn] = _tags_dict(tags)
        return asc

    def resolve_asc(self, arn: str, *, allow_inactive: bool = True) -> AutoScalingConfiguration:
        """Full ARN, ``…/name`` (latest ACTIVE revision) or ``…/name/rev``."""
        if arn in self.ascs:
            asc = self.ascs[arn]
            if asc.status == "ACTIVE" or allow_inactive:
                return asc
            raise ResourceNotFoundException(f"Auto scaling configuration is inactive: {arn}")
        if not arn:
            raise InvalidRequestException(
                "The auto scaling configuration ARN you specified isn't valid. ARN: ''"
            )
        part = _resource_part(arn)
        bits = part.split("/")
        if bits[0] != "autoscalingconfiguration" or len(bits) not in (2, 3, 4):
            raise InvalidRequestException(
                f"The auto scaling configuration ARN you specified isn't valid. ARN: '{arn}'"
            )
        prefix = arn.split(":autoscalingconfiguration/")[0]
        if prefix != self._arn("")[:-1]:
            raise ResourceNotFoundException(f"Auto scaling configuration not found: {arn}")
        name = bits[1]
        candidates = [a for a in self.ascs.values() if a.name == name and a.status == "ACTIVE"]
        if len(bits) >= 3:
            try:
                rev = int(bits[2])
            except ValueError as err:
                raise InvalidRequestException(
                    f"The auto scaling configuration ARN you specified isn't valid. ARN: '{arn}'"
                ) from err
            candidates = [a for a in candidates if a.revision == rev]
        if not candidates:
            raise ResourceNotFoundException(f"Auto scaling configuration not found: {arn}")
        return max(candidates, key=lambda a: a.revision)

    def delete_asc(self, arn: str, delete_all: bool) -> AutoScalingConfiguration:
        name_only = arn not in self.ascs and len(_resource_part(arn).split("/")) == 2
        if delete_all and not name_only:
            raise InvalidRequestException(
                "DeleteAllRevisions requires an auto scaling configuration ARN without a revision "
                f"(…/autoscalingconfiguration/<name>). ARN: '{arn}'"
            )
        target = self.resolve_asc(arn)
        if target.status != "ACTIVE":
            raise ResourceNotFoundException(f"Auto scaling configuration is already inactive: {arn}")
        victims = (
            [a for a in self.ascs.values() if a.name == target.name and a.status == "ACTIVE"]
            if delete_all
            else [target]
        )
        for asc in victims:
            if asc.is_default or self._asc_in_use(asc):
                raise InvalidRequestException(ASC_IN_USE_MESSAGE)
        now = self.now()
        for asc in victims:
            asc.status, asc.deleted_at = "INACTIVE", now
        return target

    def update_default_asc(self, arn: str) -> AutoScalingConfiguration:
        target = self.resolve_asc(arn, allow_inactive=False)
        for asc in self.ascs.values():
            asc.is_default = asc is target
        return target

    def list_ascs(self, name: str | None, latest_only: bool) -> list[AutoScalingConfiguration]:
        items = [a for a in self.ascs.values() if a.status == "ACTIVE" and (name is None or a.name == name)]
        if latest_only:
            items = [a for a in items if self._is_latest(a)]
        return sorted(items, key=lambda a: (a.name, a.revision))

    def services_for_asc(self, arn: str) -> list[str]:
        asc = self.resolve_asc(arn)
        return [s.arn for s in self.services.values() if s.asc_arn == asc.arn and s.status != "DELETED"]

    def default_asc(self) -> AutoScalingConfiguration:
        return next(a for a in self.ascs.values() if a.is_default)

    # ------------------------------------------------------------------ observability
    def obs_to_dict(self, obs: ObservabilityConfiguration, summary: bool = False) -> dict[str, Any]:
        data: dict[str, Any] = {
            "ObservabilityConfigurationArn": obs.arn,
            "ObservabilityConfigurationName": obs.name,
            "ObservabilityConfigurationRevision": obs.revision,
        }
        if not summary:
            active = [
                o.revision for o in self.observability.values() if o.name == obs.name and o.status == "ACTIVE"
            ]
            data.update(
                {
                    "Latest": obs.status == "ACTIVE" and obs.revision == max(active, default=-1),
                    "Status": obs.status,
                    "CreatedAt": obs.created_at,
                }
            )
            if obs.vendor:
                data["TraceConfiguration"] = {"Vendor": obs.vendor}
            if obs.deleted_at is not None:
                data["DeletedAt"] = obs.deleted_at
        return data

    def create_observability(
        self, name: str, vendor: str | None, tags: list[dict[str, str]] | None
    ) -> ObservabilityConfiguration:
        if name == DEFAULT_ASC_NAME:
            raise InvalidRequestException("The name DefaultConfiguration is reserved")
        revision = max((o.revision for o in self.observability.values() if o.name == name), default=0) + 1
        obs = ObservabilityConfiguration(
            name=name,
            revision=revision,
            vendor=vendor,
            created_at=self.now(),
            arn=self._arn(f"observabilityconfiguration/{name}/{revision}/{_hex32()}"),
        )
        self.observability[obs.arn] = obs
        if tags:
            self.tags[obs.arn] = _tags_dict(tags)
        return obs

    def resolve_observability(self, arn: str) -> ObservabilityConfiguration:
        if arn in self.observability:
            return self.observability[arn]
        bits = _resource_part(arn).split("/")
        if bits[0] != "observabilityconfiguration" or len(bits) not in (2, 3):
            raise ResourceNotFoundException(f"Observability configuration not found: {arn}")
        found = [
            o
            for o in self.observability.values()
            if o.name == bits[1] and o.status == "ACTIVE" and (len(bits) == 2 or str(o.revision) == bits[2])
        ]
        if not found:
            raise ResourceNotFoundException(f"Observability configuration not found: {arn}")
        return max(found, key=lambda o: o.revision)

    def delete_observability(self, arn: str) -> ObservabilityConfiguration:
        obs = self.resolve_observability(arn)
        if obs.status != "ACTIVE":
            raise ResourceNotFoundException(f"Observability configuration is already inactive: {arn}")
        users = [
            s.arn
            for s in self.services.values()
            if s.status != "DELETED"
            and (s.config.get("ObservabilityConfiguration") or {}).get("ObservabilityConfigurationArn")
            == obs.arn
        ]
        if users:
            raise InvalidRequestException(
                "You can't delete the observability configuration. It's used by one or more services: "
                + ", ".join(users)
            )
        obs.status, obs.deleted_at = "INACTIVE", self.now()
        return obs

    def list_observability(self, name: str | None, latest_only: bool) -> list[ObservabilityConfiguration]:
        items = [o for o in self.observability.values() if o.status == "ACTIVE" and name in (None, o.name)]
        if latest_only:
            items = [o for o in items if o.revision == max(x.revision for x in items if x.name == o.name)]
        return sorted(items, key=lambda o: (o.name, o.revision))

    # ------------------------------------------------------------------ VPC connectors
    def _purge_connectors(self) -> None:
        keep, now = max(self.config.deleted_retention_s, self.config.consistency_delay), self.now()
        for arn, conn in list(self.connectors.items()):
            if conn.deleted_at is not None and now - conn.deleted_at >= keep:
                del self.connectors[arn]
                self.tags.pop(arn, None)

    def create_vpc_connector(
        self, name: str, subnets: list[str], groups: list[str] | None, tags: list[dict[str, str]] | None
    ) -> VpcConnector:
        self._purge_connectors()
        if any(c.name == name and c.status == "ACTIVE" for c in self.connectors.values()):
            raise InvalidRequestException(f"VPC connector with the provided name already exists: {name}")
        if not subnets:
            raise InvalidRequestException("At least one subnet is required")
        resolved_groups = self._check_network(list(subnets), list(groups or []))
        conn = VpcConnector(
            name=name,
            arn=self._arn(f"vpcconnector/{name}/1/{_hex32()}"),
            subnets=list(subnets),
            security_groups=resolved_groups,
            created_at=self.now(),
        )
        self.connectors[conn.arn] = conn
        if tags:
            self.tags[conn.arn] = _tags_dict(tags)
        return conn

    def describe_vpc_connector(self, arn: str) -> VpcConnector:
        self._purge_connectors()
        if arn not in self.connectors:
            raise ResourceNotFoundException(f"VPC connector not found: {arn}")
        return self.connectors[arn]

    def _connector_users(self, arn: str) -> list[Service]:
        lag, now = self.faults.connector_release_lag_s, self.now()
        users = []
        for svc in self.services.values():
            if svc.connector_arn != arn:
                continue
            if svc.status != "DELETED" or (svc.deleted_at is not None and now - svc.deleted_at < lag):
                users.append(svc)
        return users

    def delete_vpc_connector(self, arn: str) -> VpcConnector:
        conn = self.describe_vpc_connector(arn)
        if conn.status != "ACTIVE":
            raise ResourceNotFoundException(f"VPC connector is already inactive: {arn}")
        if self._connector_users(arn):
            raise InvalidRequestException(
                f"Provided VPC connector arn is being used by other services. ARN: {arn}"
            )
        conn.status, conn.deleted_at = "INACTIVE", self.now()
        return conn

    def list_vpc_connectors(self) -> list[VpcConnector]:
        self._purge_connectors()
        return sorted(self.connectors.values(), key=lambda c: c.created_at)

    # ------------------------------------------------------------------ services
    def _purge_services(self) -> None:
        keep, now = self.config.deleted_retention_s, self.now()
        for sid, svc in list(self.services.items()):
            if svc.status == "DELETED" and svc.deleted_at is not None and now - svc.deleted_at >= keep:
                if self._connector_users_lag_over(svc):
                    del self.services[sid]
                    self.operations.pop(svc.arn, None)
                    self.tags.pop(svc.arn, None)

    def _connector_users_lag_over(self, svc: Service) -> bool:
        lag = self.faults.connector_release_lag_s
        return svc.deleted_at is None or self.now() - svc.deleted_at >= lag

    def get_service(self, arn: str) -> Service:
        self._purge_services()
        for svc in self.services.values():
            if svc.arn == arn:
                return svc
        _resource_part(arn)
        raise ResourceNotFoundException(f"Service not found: {arn}")

    def find_service_by_id(self, service_id: str) -> Service | None:
        self._purge_services()
        return self.services.get(service_id)

    def service_to_dict(self, svc: Service) -> dict[str, Any]:
        asc = self.ascs.get(svc.asc_arn)
        asc_summary = (
            self.asc_to_dict(asc, summary=True) if asc else {"AutoScalingConfigurationArn": svc.asc_arn}
        )
        data: dict[str, Any] = {
            "ServiceName": svc.name,
            "ServiceId": svc.id,
            "ServiceArn": svc.arn,
            "CreatedAt": svc.created_at,
            "UpdatedAt": svc.updated_at,
            "Status": svc.status,
            "AutoScalingConfigurationSummary": asc_summary,
        }
        if svc.url:
            data["ServiceUrl"] = svc.url
        if svc.deleted_at is not None:
            data["DeletedAt"] = svc.deleted_at
        for key in (
            "SourceConfiguration",
            "InstanceConfiguration",
            "EncryptionConfiguration",
            "HealthCheckConfiguration",
            "NetworkConfiguration",
            "ObservabilityConfiguration",
        ):
            if key in svc.config:
                data[key] = json.loads(json.dumps(svc.config[key]))
        return data

    def service_summary(self, svc: Service) -> dict[str, Any]:
        data = {
            "ServiceName": svc.name,
            "ServiceId": svc.id,
            "ServiceArn": svc.arn,
            "CreatedAt": svc.created_at,
            "UpdatedAt": svc.updated_at,
            "Status": svc.status,
        }
        if svc.url:
            data["ServiceUrl"] = svc.url
        return data

    def _normalize_config(self, request: dict[str, Any], previous: dict[str, Any] | None) -> dict[str, Any]:
        """Validate the service configuration in ``request`` and fill in App Runner's defaults."""
        cfg: dict[str, Any] = json.loads(json.dumps(previous)) if previous else {}
        source = request.get("SourceConfiguration")
        if source is not None:
            source = json.loads(json.dumps(source))
            kinds = [k for k in ("CodeRepository", "ImageRepository") if source.get(k) is not None]
            if len(kinds) != 1:
                raise InvalidRequestException(
                    "SourceConfiguration must contain exactly one of CodeRepository or ImageRepository"
                )
            if previous is not None:
                old_kind = (
                    "CodeRepository"
                    if "CodeRepository" in previous["SourceConfiguration"]
                    else "ImageRepository"
                )
                if kinds[0] != old_kind:
                    raise InvalidRequestException(
                        f"You can't change the source type of a service (from {old_kind} to {kinds[0]})"
                    )
            auth = source.get("AuthenticationConfiguration") or {}
            if kinds[0] == "CodeRepository":
                repo = source["CodeRepository"]
                code = repo.get("CodeConfiguration")
                if code is None:
                    if previous is None:
                        raise InvalidRequestException("CodeConfiguration is required when creating a service")
                    code = previous["SourceConfiguration"]["CodeRepository"].get("CodeConfiguration")
                    repo["CodeConfiguration"] = code
                if code and code.get("ConfigurationSource") == "API":
                    values = code.get("CodeConfigurationValues")
                    if not values:
                        raise InvalidRequestException(
                            "CodeConfigurationValues is required when ConfigurationSource is API"
                        )
                    values.setdefault("Port", "8080")
                    _check_env(values)
                repo.setdefault("SourceDirectory", "/")
                if not auth.get("ConnectionArn"):
                    raise InvalidRequestException("A code repository source requires a ConnectionArn")
                if auth.get("AccessRoleArn"):
                    raise InvalidRequestException("AccessRoleArn is only used for private ECR image sources")
                source.setdefault("AutoDeploymentsEnabled", True)
            else:
                image = source["ImageRepository"]
                image.setdefault("ImageConfiguration", {}).setdefault("Port", "8080")
                _check_env(image["ImageConfiguration"])
                if auth.get("ConnectionArn"):
                    raise InvalidRequestException("ConnectionArn is only used for code repository sources")
                if image["ImageRepositoryType"] == "ECR":
                    if not auth.get("AccessRoleArn"):
                        raise InvalidRequestException(
                            "An AccessRoleArn is required for an image from a private Amazon ECR repository"
                        )
                    if f".dkr.ecr.{self.region}." not in image["ImageIdentifier"]:
                        raise InvalidRequestException(
                            "The private ECR repository must be in the service's region"
                        )
                elif auth.get("AccessRoleArn"):
                    raise InvalidRequestException("AccessRoleArn isn't used for ECR_PUBLIC images")
                source.setdefault("AutoDeploymentsEnabled", image["ImageRepositoryType"] == "ECR")
            cfg["SourceConfiguration"] = source
        inst = dict(cfg.get("InstanceConfiguration") or {"Cpu": "1024", "Memory": "2048"})
        if request.get("InstanceConfiguration") is not None:
            inst.update(request["InstanceConfiguration"])
        inst["Cpu"] = str(_CPU_UNITS.get(inst.get("Cpu", "1024"), inst.get("Cpu")))
        inst["Memory"] = str(_MEM_MB.get(inst.get("Memory", "2048"), inst.get("Memory")))
        check_cpu_memory(inst["Cpu"], inst["Memory"])
        cfg["InstanceConfiguration"] = inst
        hc = request.get("HealthCheckConfiguration")
        if hc is not None or "HealthCheckConfiguration" not in cfg:
            merged = {
                "Protocol": "TCP",
                "Path": "/",
                "Interval": 5,
                "Timeout": 2,
                "HealthyThreshold": 1,
                "UnhealthyThreshold": 5,
            }
            merged.update(hc or {})
            for key in ("Interval", "Timeout", "HealthyThreshold", "UnhealthyThreshold"):
                if not 1 <= int(merged[key]) <= 20:
                    raise InvalidRequestException(f"HealthCheckConfiguration.{key} must be between 1 and 20")
            cfg["HealthCheckConfiguration"] = merged
        net = request.get("NetworkConfiguration")
        if net is not None or "NetworkConfiguration" not in cfg:
            net = json.loads(json.dumps(net or {}))
            egress = net.setdefault("EgressConfiguration", {})
            egress.setdefault("EgressType", "DEFAULT")
            if egress["EgressType"] == "VPC":
                arn = egress.get("VpcConnectorArn")
                if not arn:
                    raise InvalidRequestException("VpcConnectorArn is required when EgressType is VPC")
                conn = self.connectors.get(arn)
                if conn is None or conn.status != "ACTIVE":
                    raise InvalidRequestException(f"The VPC connector doesn't exist or isn't active: {arn}")
            elif egress.get("VpcConnectorArn"):
                raise InvalidRequestException("VpcConnectorArn can only be set when EgressType is VPC")
            net.setdefault("IngressConfiguration", {}).setdefault("IsPubliclyAccessible", True)
            net.setdefault("IpAddressType", "IPV4")
            cfg["NetworkConfiguration"] = net
        obs = request.get("ObservabilityConfiguration")
        if obs is not None:
            if obs.get("ObservabilityEnabled"):
                arn = obs.get("ObservabilityConfigurationArn")
                if not arn:
                    raise InvalidRequestException(
                        "ObservabilityConfigurationArn is required when ObservabilityEnabled is true"
                    )
                found = self.resolve_observability(arn)
                obs = {"ObservabilityEnabled": True, "ObservabilityConfigurationArn": found.arn}
            else:
                obs = {"ObservabilityEnabled": False}
            cfg["ObservabilityConfiguration"] = obs
        cfg.setdefault("ObservabilityConfiguration", {"ObservabilityEnabled": False})
        self._check_references(cfg)
        return cfg

    def _check_references(self, cfg: dict[str, Any]) -> None:
        source = cfg["SourceConfiguration"]
        auth = source.get("AuthenticationConfiguration") or {}
        if auth.get("ConnectionArn"):
            conn = self.connections.get(auth["ConnectionArn"])
            if conn is None or conn.status == "DELETED":
                raise InvalidRequestException(f"Connection not found: {auth['ConnectionArn']}")
            if conn.status != "AVAILABLE":
                raise InvalidRequestException(
                    f"The connection {conn.name} isn't AVAILABLE (status {conn.status}). "
                    "Complete the handshake in the App Runner console first."
                )
        if auth.get("AccessRoleArn"):
            self._check_role(auth["AccessRoleArn"], APP_RUNNER_BUILD_PRINCIPAL, "access")
        role = cfg["InstanceConfiguration"].get("InstanceRoleArn")
        if role:
            self._check_role(role, APP_RUNNER_TASKS_PRINCIPAL, "instance")
        repo = source.get("CodeRepository") or {}
        values = (repo.get("CodeConfiguration") or {}).get("CodeConfigurationValues") or {}
        secrets_used = values.get("RuntimeEnvironmentSecrets") or (
            (source.get("ImageRepository") or {}).get("ImageConfiguration") or {}
        ).get("RuntimeEnvironmentSecrets")
        if secrets_used and not role:
            raise InvalidRequestException("RuntimeEnvironmentSecrets require an InstanceRoleArn")

    def _new_operation(self, svc: Service, op_type: str) -> Operation:
        now = self.now()
        op = Operation(id=str(uuid.uuid4()), type=op_type, target_arn=svc.arn, started_at=now, updated_at=now)
        self.operations.setdefault(svc.arn, []).append(op)
        svc.busy_op = op.id
        activity.started(self, svc, op)
        return op

    def _finish(self, svc: Service, op: Operation, service_status: str, op_status: str) -> None:
        now = self.now()
        svc.status, svc.updated_at, svc.busy_op = service_status, now, None
        op.status, op.ended_at, op.updated_at = op_status, now, now
        activity.finished(self, svc, op, self.failure_reasons.pop(op.id, None))

    def create_service(self, request: dict[str, Any]) -> tuple[Service, Operation]:
        name = request["ServiceName"]
        self._purge_services()
        live = [s for s in self.services.values() if s.status != "DELETED"]
        if any(s.name == name for s in live):
            raise InvalidRequestException(f"Service with the provided name already exists: {name}")
        if self.config.restricted_account and len(live) >= 2:
            raise InvalidRequestException(
                f"Account {self.account_id} is restricted and can support only two App Runner services "
                "per region at the moment"
            )
        if len(live) >= self.config.service_quota:
            raise ServiceQuotaExceededException(
                f"You have reached the maximum number of services ({self.config.service_quota}) "
                "in this region"
            )
        if request.get("EncryptionConfiguration") is not None and not request["EncryptionConfiguration"].get(
            "KmsKey"
        ):
            raise InvalidRequestException("EncryptionConfiguration.KmsKey is required")
        cfg = self._normalize_config(request, None)
        if request.get("EncryptionConfiguration"):
            cfg["EncryptionConfiguration"] = dict(request["EncryptionConfiguration"])
        asc_arn = request.get("AutoScalingConfigurationArn")
        asc = self.resolve_asc(asc_arn, allow_inactive=False) if asc_arn is not None else self.default_asc()
        public = cfg["NetworkConfiguration"]["IngressConfiguration"]["IsPubliclyAccessible"]
        sid = _hex32()
        now = self.now()
        svc = Service(
            name=name,
            id=sid,
            arn=self._arn(f"service/{name}/{sid}"),
            url=f"{_service_url_host()}.{self.region}.awsapprunner.com" if public else "",
            created_at=now,
            updated_at=now,
            config=cfg,
            asc_arn=asc.arn,
        )
        self.services[sid] = svc
        if request.get("Tags"):
            self.tags[svc.arn] = _tags_dict(request["Tags"])
        op = self._new_operation(svc, "CREATE_SERVICE")
        fail = self.faults.take("fail_next_create")

        def done() -> None:
            reason = _injected("fail_next_create") if fail else activity.image_problem(self, svc.config)
            if reason:
                self.failure_reasons[op.id] = reason
                self._finish(svc, op, "CREATE_FAILED", "FAILED")
            else:
                self._finish(svc, op, "RUNNING", "SUCCEEDED")
                self._create_enis(svc)

        self.schedule(self.config.op_seconds, done)
        return svc, op

    def _require_not_busy(self, svc: Service, verb: str) -> None:
        if svc.status == "OPERATION_IN_PROGRESS":
            raise InvalidStateException(
                f"You can't {verb} the service while it's in the OPERATION_IN_PROGRESS state. "
                f"Wait for the current operation to finish. Service Arn: {svc.arn}"
            )
        if svc.status == "DELETED":
            raise ResourceNotFoundException(f"The service has been deleted: {svc.arn}")

    def update_service(self, request: dict[str, Any]) -> tuple[Service, Operation]:
        svc = self.get_service(request["ServiceArn"])
        self._require_not_busy(svc, "update")
        if svc.status == "PAUSED" and not self.config.update_on_paused:
            raise InvalidStateException(
                f"Service status must be RUNNING to be updated. Service Arn: {svc.arn}"
            )
        if svc.status == "CREATE_FAILED" and not self.config.rebuild_on_create_failed:
            raise InvalidStateException(
                f"Service status must be RUNNING or PAUSED to be updated. Service Arn: {svc.arn}"
            )
        if svc.status == "DELETE_FAILED":
            raise InvalidStateException(
                f"A service in DELETE_FAILED can only be deleted. Service Arn: {svc.arn}"
            )
        previous_cfg, previous_asc, previous_status = svc.config, svc.asc_arn, svc.status
        cfg = self._normalize_config(request, svc.config)
        asc_arn = svc.asc_arn
        if request.get("AutoScalingConfigurationArn") is not None:
            asc_arn = self.resolve_asc(request["AutoScalingConfigurationArn"], allow_inactive=False).arn
        rollback = self.faults.take("rollback_next_update")
        problem = _injected("rollback_next_update") if rollback else activity.image_problem(self, cfg)
        rollback = problem is not None
        svc.config, svc.asc_arn = cfg, asc_arn
        svc.status, svc.updated_at = "OPERATION_IN_PROGRESS", self.now()
        op = self._new_operation(svc, "UPDATE_SERVICE")
        if problem:
            self.failure_reasons[op.id] = problem
        seconds = self.config.op_seconds

        if not rollback:

            def done() -> None:
                self._finish(svc, op, "RUNNING" if previous_status != "PAUSED" else "PAUSED", "SUCCEEDED")
                self._sync_enis(svc)

            self.schedule(seconds, done)
        elif previous_status == "CREATE_FAILED":
            self.schedule(seconds, lambda: self._finish(svc, op, "CREATE_FAILED", "FAILED"))
        else:

            def start_rollback() -> None:
                op.status, op.updated_at = "ROLLBACK_IN_PROGRESS", self.now()

            def rolled_back() -> None:
                svc.config, svc.asc_arn = previous_cfg, previous_asc
                self._finish(svc, op, previous_status, "ROLLBACK_SUCCEEDED")

            self.schedule(seconds / 2, start_rollback)
            self.schedule(seconds, rolled_back)
        return svc, op

    def _sync_enis(self, svc: Service) -> None:
        arn = svc.connector_arn
        if svc.enis and (arn is None or svc.status == "DELETED"):
            self._release_enis(svc)
        elif arn is not None and svc.status in ("RUNNING", "PAUSED"):
            self._create_enis(svc)

    def delete_service(self, arn: str) -> tuple[Service, Operation]:
        svc = self.get_service(arn)
        self._require_not_busy(svc, "delete")
        held = [c.arn for c in self.ingress.values() if c.service_arn == arn and c.status == "AVAILABLE"]
        if held:  # the message AWS gives (hashicorp/terraform-provider-aws#40896)
            raise InvalidStateException(
                "You cannot delete a Service while it has VpcIngressConnections with a status of AVAILABLE. "
                f"Service Arn: {arn} VpcIngressConnection Arn: {held[0]}"
            )
        svc.status, svc.updated_at = "OPERATION_IN_PROGRESS", self.now()
        op = self._new_operation(svc, "DELETE_SERVICE")
        fail = self.faults.take("fail_next_delete")

        def done() -> None:
            if fail:
                self.failure_reasons[op.id] = _injected("fail_next_delete")
                self._finish(svc, op, "DELETE_FAILED", "FAILED")
                return
            self._finish(svc, op, "DELETED", "SUCCEEDED")
            svc.deleted_at = self.now()
            self._release_enis(svc)

        self.schedule(self.config.op_seconds, done)
        return svc, op

    def pause_service(self, arn: str) -> tuple[Service, Operation | None]:
        """Pause a RUNNING service; a PAUSED one is answered as is, with no operation (Copilot)."""
        svc = self.get_service(arn)
        self._require_not_busy(svc, "pause")
        if svc.status == "PAUSED":
            return svc, None
        if svc.status != "RUNNING":
            raise InvalidStateException(
                f"Only a RUNNING service can be paused (status {svc.status}). Service Arn: {arn}"
            )
        svc.status, svc.updated_at = "OPERATION_IN_PROGRESS", self.now()
        op = self._new_operation(svc, "PAUSE_SERVICE")
        self.schedule(self.config.op_seconds, lambda: self._finish(svc, op, "PAUSED", "SUCCEEDED"))
        return svc, op

    def resume_service(self, arn: str) -> tuple[Service, Operation | None]:
        """Resume a PAUSED service; a RUNNING one is answered as is, with no operation (Copilot)."""
        svc = self.get_service(arn)
        self._require_not_busy(svc, "resume")
        if svc.status == "RUNNING":
            return svc, None
        if svc.status != "PAUSED":
            raise InvalidStateException(
                f"Only a PAUSED service can be resumed (status {svc.status}). Service Arn: {arn}"
            )
        svc.status, svc.updated_at = "OPERATION_IN_PROGRESS", self.now()
        op = self._new_operation(svc, "RESUME_SERVICE")
        self.schedule(self.config.op_seconds, lambda: self._finish(svc, op, "RUNNING", "SUCCEEDED"))
        return svc, op

    def start_deployment(self, arn: str) -> Operation:
        svc = self.get_service(arn)
        if svc.status != "RUNNING":
            raise InvalidRequestException(
                f"A deployment can only be started on a RUNNING service (status {svc.status}). "
                f"Service Arn: {arn}"
            )
        svc.status, svc.updated_at = "OPERATION_IN_PROGRESS", self.now()
        op = self._new_operation(svc, "START_DEPLOYMENT")
        problem = activity.image_problem(self, svc.config)  # e.g. the tag was deleted from ECR
        if problem:
            self.failure_reasons[op.id] = problem
        outcome = "ROLLBACK_SUCCEEDED" if problem else "SUCCEEDED"
        self.schedule(self.config.op_seconds, lambda: self._finish(svc, op, "RUNNING", outcome))
        return op

    def list_services(self) -> list[Service]:
        self._purge_services()
        return sorted(
            (s for s in self.services.values() if s.status != "DELETED"), key=lambda s: s.created_at
        )

    def list_operations(self, arn: str) -> list[Operation]:
        svc = self.get_service(arn)
        return sorted(self.operations.get(svc.arn, []), key=lambda o: o.started_at, reverse=True)

    def maintenance(self, service_id: str, seconds: float) -> None:
        """E12: flip a RUNNING service to OPERATION_IN_PROGRESS, with no operation, for ``seconds``."""
        svc = self.services.get(service_id)
        if svc is None or svc.status != "RUNNING":
            raise KeyError(service_id)
        svc.status = "OPERATION_IN_PROGRESS"

        def back() -> None:
            if svc.status == "OPERATION_IN_PROGRESS" and svc.busy_op is None:
                svc.status = "RUNNING"

        self.schedule(seconds, back)


def _injected(fault: str) -> str:
    """The reason the logs give for a failure injected through the control API."""
    return (
        f"Health check failed on the new instances (injected by the sandbox's fault switch {fault}); "
        "check the configured port and the application logs"
    )


def _check_env(values: dict[str, Any]) -> None:
    for key in list(values.get("RuntimeEnvironmentVariables") or {}) + list(
        values.get("RuntimeEnvironmentSecrets") or {}
    ):
        if key.upper().startswith("AWSAPPRUNNER"):
            raise InvalidRequestException(f"Environment variable names can't start with AWSAPPRUNNER: {key}")


def _trusts(policy: Any, principal: str) -> bool:
    statements = policy.get("Statement", []) if isinstance(policy, dict) else []
    if isinstance(statements, dict):
        statements = [statements]
    for stmt in statements:
        if stmt.get("Effect") != "Allow":
            continue
        actions = stmt.get("Action", [])
        actions = [actions] if isinstance(actions, str) else actions
        if not any(a in ("sts:AssumeRole", "sts:*", "*") for a in actions):
            continue
        services = (
            (stmt.get("Principal") or {}).get("Service", [])
            if isinstance(stmt.get("Principal"), dict)
            else []
        )
        services = [services] if isinstance(services, str) else services
        if principal in services:
            return True
    return False


class AppRunnerBackends:
    """All App Runner state of one sandbox, keyed by (account, region), plus clock, config and faults."""

    def __init__(self, config: SandboxConfig | None = None) -> None:
        self.lock = threading.RLock()
        self.clock = Clock()
        self.transitions = Transitions(self.clock)
        self.initial_config = config or SandboxConfig()
        self.config = SandboxConfig(**self.initial_config.to_dict())
        self.faults = Faults()
        self._backends: dict[tuple[str, str], AppRunnerBackend] = {}

    def get(self, account_id: str, region: str) -> AppRunnerBackend:
        key = (account_id, region)
        if key not in self._backends:
            self._backends[key] = AppRunnerBackend(account_id, region, self)
        return self._backends[key]

    def all(self) -> list[AppRunnerBackend]:
        return list(self._backends.values())

    def tick(self) -> int:
        return self.transitions.run_due()

    def reset(self) -> None:
        """Forget all state; config back to what the server started with; no faults; clock offset 0."""
        self._backends.clear()
        self.transitions.clear()
        self.clock.offset = 0.0
        self.config = SandboxConfig(**self.initial_config.to_dict())
        self.faults = Faults()

    def find_service(self, service_id: str) -> tuple[AppRunnerBackend, Service] | None:
        for backend in self.all():
            svc = backend.find_service_by_id(service_id)
            if svc is not None:
                return backend, svc
        return None

    def handshake(self, name: str, status: str, region: str | None = None) -> list[Connection]:
        done: list[Connection] = []
        for backend in self.all():
            if region is None or backend.region == region:
                done.extend(backend.handshake(name, status))
        return done
