"""The service's pure parts: the request builders (create, update) and the diff of desired and observed
fields. Plain data in and out, no client, no clock; ``service.py`` sends them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from runbook_lib import image, observability
from runbook_lib.ownership import tag_list
from runbook_lib.params import CPU_UNITS, MEMORY_UNITS, Params
from runbook_lib.results import Change, diff_fields

__all__ = [
    "BLOCK_OF", "ServiceInputs", "asc_key", "blocks_of", "build_create_service_request",
    "build_source_configuration", "build_update_service_request", "desired_fields", "diff_service",
    "observed_fields",
]  # fmt: skip


@dataclass(frozen=True)
class ServiceInputs:
    """ARNs the service refers to, found by name (``plan.resolve_inputs``)."""

    connection_arn: str
    instance_role_arn: str | None
    vpc_connector_arn: str | None
    autoscaling_arn: str | None
    access_role_arn: str | None = None  # private ECR images
    observability_arn: str | None = None  # tracing on


# ------------------------------------------------------------------------------------------ builders


def build_source_configuration(params: Params, inputs: ServiceInputs) -> dict[str, Any]:
    """The complete SourceConfiguration (a CodeRepository or an image), sent whenever it changed (L7)."""
    if params.source.image is not None:
        return image.build_image_source(params, inputs.access_role_arn)
    src = params.source
    code: dict[str, Any] = {"ConfigurationSource": src.configuration_source}
    if src.configuration_source == "API":
        build = {"BuildCommand": src.build_command} if src.build_command else {}
        code["CodeConfigurationValues"] = image.runtime_values(src, Runtime=src.runtime, **build)
    return {
        "CodeRepository": {
            "RepositoryUrl": src.repository_url,
            "SourceCodeVersion": {"Type": "BRANCH", "Value": src.branch},
            "SourceDirectory": src.source_directory,
            "CodeConfiguration": code,
        },
        "AutoDeploymentsEnabled": src.auto_deployments,
        "AuthenticationConfiguration": {"ConnectionArn": inputs.connection_arn},
    }


def _configuration(params: Params, inputs: ServiceInputs) -> dict[str, Any]:
    """Members shared by CreateService and UpdateService."""
    instance: dict[str, Any] = {"Cpu": params.instance.cpu, "Memory": params.instance.memory}
    if inputs.instance_role_arn:
        instance["InstanceRoleArn"] = inputs.instance_role_arn
    hc = params.health_check
    health = {
        "Protocol": hc.protocol,
        "Path": hc.path,
        "Interval": hc.interval_s,
        "Timeout": hc.timeout_s,
        "HealthyThreshold": hc.healthy_threshold,
        "UnhealthyThreshold": hc.unhealthy_threshold,
    }
    egress: dict[str, Any] = {"EgressType": "DEFAULT"}
    if inputs.vpc_connector_arn:
        egress = {"EgressType": "VPC", "VpcConnectorArn": inputs.vpc_connector_arn}
    request: dict[str, Any] = {
        "SourceConfiguration": build_source_configuration(params, inputs),
        "InstanceConfiguration": instance,
        "HealthCheckConfiguration": health,
        "NetworkConfiguration": {
            "EgressConfiguration": egress,
            "IngressConfiguration": {"IsPubliclyAccessible": params.public},
            "IpAddressType": "IPV4",
        },
    }
    if inputs.autoscaling_arn:
        request["AutoScalingConfigurationArn"] = inputs.autoscaling_arn
    request["ObservabilityConfiguration"] = observability.build_observability_member(inputs.observability_arn)
    return request


def build_create_service_request(params: Params, inputs: ServiceInputs) -> dict[str, Any]:
    """CreateService payload (pure), tagged with ``params.owned_tags``; observability only when on."""
    configuration = _configuration(params, inputs)
    if not inputs.observability_arn:
        configuration.pop("ObservabilityConfiguration")
    return {"ServiceName": params.name, **configuration, "Tags": tag_list(params.owned_tags)}


# which UpdateService member carries each diffed field (prefix match; see docs/reliability.md)
BLOCK_OF = {
    "source.": "SourceConfiguration", "connection_arn": "SourceConfiguration",
    "instance.": "InstanceConfiguration", "health_check.": "HealthCheckConfiguration",
    "network.": "NetworkConfiguration", "public": "NetworkConfiguration",
    "ip_address_type": "NetworkConfiguration", "autoscaling_configuration": "AutoScalingConfigurationArn",
    "observability": "ObservabilityConfiguration",
}  # fmt: skip


def blocks_of(fields: Iterable[str]) -> set[str]:
    """The UpdateService members that carry these changed fields."""
    return {block for field in fields for prefix, block in BLOCK_OF.items() if field.startswith(prefix)}


def build_update_service_request(
    params: Params, inputs: ServiceInputs, service_arn: str, changed: Iterable[str] | None = None
) -> dict[str, Any]:
    """UpdateService payload (pure), never tags or name: only the members whose fields are in
    ``changed`` (as Terraform's service resource sends only changed blocks), or all when None.

    Resending an unchanged SourceConfiguration can make App Runner rebuild from the branch head."""
    configuration = _configuration(params, inputs)
    if changed is not None:
        wanted = blocks_of(changed)
        configuration = {k: v for k, v in configuration.items() if k in wanted}
    return {"ServiceArn": service_arn, **configuration}


# ------------------------------------------------------------------------------------------ diff


def asc_key(arn: str | None) -> str | None:
    """``name/revision`` of an auto scaling configuration ARN (ARNs carry a random suffix, L6)."""
    if not arn or ":autoscalingconfiguration/" not in arn:
        return arn
    parts = arn.split(":autoscalingconfiguration/", 1)[1].split("/")
    return "/".join(parts[:2])


def _units(value: Any, units: dict[str, str]) -> str:
    text = str(value).strip()
    if text in units:
        return units[text]
    for canonical in units.values():
        if text.replace(" ", "").lower() == canonical.replace(" ", "").lower():
            return canonical
    return text


def desired_fields(params: Params, inputs: ServiceInputs) -> dict[str, Any]:
    """The service as flat, normalized fields (names follow the params) for diffs and plans."""
    src, hc = params.source, params.health_check
    code = {
        "source.repository_url": src.repository_url,
        "source.branch": src.branch,
        "source.source_directory": src.source_directory,
        "source.configuration_source": src.configuration_source,
        "source.auto_deployments": src.auto_deployments,
        "connection_arn": inputs.connection_arn,
    }
    fields: dict[str, Any] = {
        **(image.desired_image_fields(params, inputs.access_role_arn) if src.image else code),
        "observability": observability.observability_key(inputs.observability_arn),
        "instance.cpu": _units(params.instance.cpu, CPU_UNITS),
        "instance.memory": _units(params.instance.memory, MEMORY_UNITS),
        "instance.role_arn": inputs.instance_role_arn,
        "health_check.protocol": hc.protocol,
        "health_check.path": hc.path if hc.protocol == "HTTP" else None,
        "health_check.interval_s": hc.interval_s,
        "health_check.timeout_s": hc.timeout_s,
        "health_check.healthy_threshold": hc.healthy_threshold,
        "health_check.unhealthy_threshold": hc.unhealthy_threshold,
        "network.egress_type": "VPC" if inputs.vpc_connector_arn else "DEFAULT",
        "network.vpc_connector_arn": inputs.vpc_connector_arn,
        "public": params.public,
        "ip_address_type": "IPV4",
    }
    if inputs.autoscaling_arn:
        fields["autoscaling_configuration"] = asc_key(inputs.autoscaling_arn)
    if src.configuration_source == "API" and not src.image:
        fields.update({
            "source.runtime": src.runtime,
            "source.build_command": src.build_command,
            "source.start_command": src.start_command,
            "source.port": str(src.port),
            "source.env": dict(src.env),
            "source.secrets": dict(src.secrets),
        })  # fmt: skip
    return fields


def observed_fields(service: dict[str, Any]) -> dict[str, Any]:
    """The same flat fields from a DescribeService ``Service``, defaults filled in (L6)."""
    source = service.get("SourceConfiguration") or {}
    repo = source.get("CodeRepository") or {}
    code = repo.get("CodeConfiguration") or {}
    values = code.get("CodeConfigurationValues") or {}
    inst = service.get("InstanceConfiguration") or {}
    hc = service.get("HealthCheckConfiguration") or {}
    net = service.get("NetworkConfiguration") or {}
    egress = net.get("EgressConfiguration") or {}
    protocol = str(hc.get("Protocol", "TCP")).upper()
    asc = service.get("AutoScalingConfigurationSummary") or {}
    return {
        "source.repository_url": str(repo.get("RepositoryUrl", "")).rstrip("/"),
        "source.branch": (repo.get("SourceCodeVersion") or {}).get("Value"),
        "source.source_directory": repo.get("SourceDirectory", "/"),
        "source.configuration_source": code.get("ConfigurationSource"),
        "source.auto_deployments": source.get("AutoDeploymentsEnabled", True),
        "connection_arn": (source.get("AuthenticationConfiguration") or {}).get("ConnectionArn"),
        "instance.cpu": _units(inst.get("Cpu", "1024"), CPU_UNITS),
        "instance.memory": _units(inst.get("Memory", "2048"), MEMORY_UNITS),
        "instance.role_arn": inst.get("InstanceRoleArn"),
        "health_check.protocol": protocol,
        "health_check.path": hc.get("Path", "/") if protocol == "HTTP" else None,
        "health_check.interval_s": hc.get("Interval", 5),
        "health_check.timeout_s": hc.get("Timeout", 2),
        "health_check.healthy_threshold": hc.get("HealthyThreshold", 1),
        "health_check.unhealthy_threshold": hc.get("UnhealthyThreshold", 5),
        "network.egress_type": str(egress.get("EgressType", "DEFAULT")).upper(),
        "network.vpc_connector_arn": egress.get("VpcConnectorArn"),
        "public": (net.get("IngressConfiguration") or {}).get("IsPubliclyAccessible", True),
        "ip_address_type": str(net.get("IpAddressType", "IPV4")).upper(),
        "autoscaling_configuration": asc_key(asc.get("AutoScalingConfigurationArn")),
        "source.runtime": values.get("Runtime"),
        "source.build_command": values.get("BuildCommand"),
        "source.start_command": values.get("StartCommand"),
        "source.port": str(values.get("Port", "8080")),
        "source.env": dict(values.get("RuntimeEnvironmentVariables") or {}),
        "source.secrets": dict(values.get("RuntimeEnvironmentSecrets") or {}),
        "observability": observability.observed_key(service),
        **(image.observed_image_fields(service) if source.get(image.IMAGE) else {}),
    }


def diff_service(params: Params, inputs: ServiceInputs, observed: dict[str, Any]) -> tuple[Change, ...]:
    """Field-level changes between the params and an observed service (``find_service``'s dict)."""
    return diff_fields(desired_fields(params, inputs), observed["fields"])
