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

import json
import logging
import threading
import urllib.parse
from collections.abc import Callable
from typing import Any

from runbook_lib.sandbox.apprunner.clock import Clock, Transitions
from runbook_lib.sandbox.apprunner.config import Faults, SandboxConfig
from runbook_lib.sandbox.apprunner.exceptions import (
    AppRunnerError,
    InternalServiceErrorException,
    InvalidRequestException,
    InvalidStateException,
    ResourceNotFoundException,
    ServiceQuotaExceededException,
    ThrottlingException,
)
from runbook_lib.sandbox.apprunner.resources import (
    APP_RUNNER_BUILD_PRINCIPAL,
    APP_RUNNER_TASKS_PRINCIPAL,
    ASC_IN_USE_MESSAGE,
    DEFAULT_ASC_NAME,
    DEFAULT_SUFFIX,
    ENI_TAG,
    PARTITION,
    AutoScalingConfiguration,
    Connection,
    ObservabilityConfiguration,
    Operation,
    Service,
    VpcConnector,
    _arn,
    _hex32,
    _resource_part,
    _tags_dict,
    check_cpu_memory,
    decode_token,
    encode_token,
)
from runbook_lib.sandbox.apprunner.services import ServicesMixin

log = logging.getLogger(__name__)

# (the names of the modules it was split into stay importable from here: __all__)
__all__ = [
    "APP_RUNNER_BUILD_PRINCIPAL", "APP_RUNNER_TASKS_PRINCIPAL", "PARTITION", "AppRunnerBackend",
    "AppRunnerBackends", "AppRunnerError", "AutoScalingConfiguration", "Clock", "Connection", "Faults",
    "InternalServiceErrorException", "InvalidRequestException", "InvalidStateException",
    "ObservabilityConfiguration", "Operation", "ResourceNotFoundException", "SandboxConfig", "Service",
    "ServiceQuotaExceededException", "ThrottlingException", "Transitions", "VpcConnector", "check_cpu_memory",
    "decode_token", "encode_token",
]  # fmt: skip


# ----------------------------------------------------------------------------------------- backend


class AppRunnerBackend(ServicesMixin):
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
    def _store(self, table: dict[str, Any], item: Any, tags: list[dict[str, str]] | None) -> None:
        """Keep a new resource by its ARN, with the tags it was created with."""
        table[item.arn] = item
        if tags:
            self.tags[item.arn] = _tags_dict(tags)

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
        self._store(self.connections, conn, tags)
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
        self._store(self.ascs, asc, tags)
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
        self._store(self.observability, obs, tags)
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
        self._store(self.connectors, conn, tags)
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
