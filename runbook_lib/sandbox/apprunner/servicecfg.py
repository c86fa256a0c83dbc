"""A service's configuration in the emulator: one normaliser per section (source, instance, health check,
network, observability) filling in App Runner's defaults, and the check of what it refers to."""

from __future__ import annotations

import json
from typing import Any

from runbook_lib.sandbox.apprunner.exceptions import InvalidRequestException
from runbook_lib.sandbox.apprunner.resources import (
    _CPU_UNITS,
    _MEM_MB,
    APP_RUNNER_BUILD_PRINCIPAL,
    APP_RUNNER_TASKS_PRINCIPAL,
    check_cpu_memory,
)

__all__ = [
    "ServiceConfigMixin",
]  # fmt: skip



class ServiceConfigMixin:
    """The configuration part of :class:`~runbook_lib.sandbox.apprunner.models.AppRunnerBackend`."""

    def _normalize_config(self, request: dict[str, Any], previous: dict[str, Any] | None) -> dict[str, Any]:
        """Validate the service configuration in ``request`` and fill in App Runner's defaults."""
        cfg: dict[str, Any] = json.loads(json.dumps(previous)) if previous else {}
        self._normalize_source(cfg, request, previous)
        self._normalize_instance(cfg, request)
        self._normalize_health_check(cfg, request)
        self._normalize_network(cfg, request)
        self._normalize_observability(cfg, request)
        self._check_references(cfg)
        return cfg

    def _normalize_source(
        self, cfg: dict[str, Any], request: dict[str, Any], previous: dict[str, Any] | None
    ) -> None:
        """SourceConfiguration: one source kind, kept across updates; the code or image settings checked."""
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
                _normalize_code_repository(source, auth, previous)
            else:
                self._normalize_image_repository(source, auth)
            cfg["SourceConfiguration"] = source

    def _normalize_image_repository(self, source: dict[str, Any], auth: dict[str, Any]) -> None:
        """An image source: its port and variables; an access role only for (same-region) private ECR."""
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

    def _normalize_instance(self, cfg: dict[str, Any], request: dict[str, Any]) -> None:
        """InstanceConfiguration: CPU and memory in App Runner's units, as a valid pair."""
        inst = dict(cfg.get("InstanceConfiguration") or {"Cpu": "1024", "Memory": "2048"})
        if request.get("InstanceConfiguration") is not None:
            inst.update(request["InstanceConfiguration"])
        inst["Cpu"] = str(_CPU_UNITS.get(inst.get("Cpu", "1024"), inst.get("Cpu")))
        inst["Memory"] = str(_MEM_MB.get(inst.get("Memory", "2048"), inst.get("Memory")))
        check_cpu_memory(inst["Cpu"], inst["Memory"])
        cfg["InstanceConfiguration"] = inst

    def _normalize_health_check(self, cfg: dict[str, Any], request: dict[str, Any]) -> None:
        """HealthCheckConfiguration: App Runner's defaults, each count and interval between 1 and 20."""
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

    def _normalize_network(self, cfg: dict[str, Any], request: dict[str, Any]) -> None:
        """NetworkConfiguration: egress (an ACTIVE connector for VPC), public ingress, IPv4 by default."""
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

    def _normalize_observability(self, cfg: dict[str, Any], request: dict[str, Any]) -> None:
        """ObservabilityConfiguration: off unless enabled with an existing configuration."""
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



def _check_env(values: dict[str, Any]) -> None:
    for key in list(values.get("RuntimeEnvironmentVariables") or {}) + list(
        values.get("RuntimeEnvironmentSecrets") or {}
    ):
        if key.upper().startswith("AWSAPPRUNNER"):
            raise InvalidRequestException(f"Environment variable names can't start with AWSAPPRUNNER: {key}")


def _normalize_code_repository(
    source: dict[str, Any], auth: dict[str, Any], previous: dict[str, Any] | None
) -> None:
    """A code source: its configuration (kept across updates), a connection, automatic deployments on."""
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
