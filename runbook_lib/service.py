"""The App Runner service: pure request builders and diff, the L5 state machine, verify and delete.

Success of a create or update is decided by its operation (ListOperations), not by the service status:
a rolled-back update leaves the service RUNNING but is reported as a WaitFailed naming the operation.
UpdateService carries only the members whose fields changed (``BLOCK_OF``); the service is the
runbook's only when tagged ``runbook:name`` (``runbook_lib.ownership``); the tags it manages are
reconciled with Tag/UntagResource and others' tags stay; a fresh instance role is retried (IAM
propagation).
"""

from __future__ import annotations

import logging
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from runbook_lib import diagnose, image, observability
from runbook_lib.aws import call, console_url, paginate
from runbook_lib.clients import Clients
from runbook_lib.errors import InvalidRequest, InvalidState, ResourceConflict, ResourceNotFound, WaitFailed
from runbook_lib.ownership import claim, diff_owned_tags, is_owned, tag_changes, tag_list, tag_map
from runbook_lib.params import CPU_UNITS, MEMORY_UNITS, Params
from runbook_lib.results import NOT_OWNED, Action, Change, Result, diff_fields
from runbook_lib.waiters import (
    DEFAULT_TIMEOUT_S,
    Backoff,
    Clock,
    Progress,
    Sleep,
    WaitSpec,
    operation_finished,
    service_deleted,
    service_settled,
    wait_for,
)

log = logging.getLogger(__name__)

RESOURCE = "service"
ROLE_NOT_ASSUMABLE = "Error in assuming"  # L9: IAM propagation shows only in the message text
ROLE_RETRY_S = 120.0
ROLE_BACKOFF = Backoff(initial_s=2.0, factor=1.5, cap_s=15.0)
MAX_ROUNDS = 8  # state-machine rounds before giving up on a service that keeps changing state
BUSY_RETRIES = 3  # InvalidState on update/delete: wait for the service to settle, then retry
SANDBOX_HOSTS = {"127.0.0.1", "localhost", "::1"}


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
        values: dict[str, Any] = {"Runtime": src.runtime, "Port": str(src.port)}
        if src.build_command:
            values["BuildCommand"] = src.build_command
        if src.start_command:
            values["StartCommand"] = src.start_command
        if src.env:
            values["RuntimeEnvironmentVariables"] = dict(src.env)
        if src.secrets:
            values["RuntimeEnvironmentSecrets"] = dict(src.secrets)
        code["CodeConfigurationValues"] = values
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


# ------------------------------------------------------------------------------------------ reads


def _res(params: Params) -> str:
    return f"{RESOURCE} {params.name}"


def find_service(clients: Clients, params: Params) -> dict[str, Any] | None:
    """The live service of that name (ListServices, then DescribeService), or None.

    Returns ``{name, arn, id, status, url, source_type, autoscaling_arn, fields}``; a DELETED service
    counts as absent. The URL comes from ListServices when DescribeService omits it.
    """
    summaries = paginate(clients, "apprunner", "ListServices", "ServiceSummaryList", resource=_res(params))
    summary = next(
        (s for s in summaries if s.get("ServiceName") == params.name and s.get("Status") != "DELETED"), None
    )
    if summary is None:
        return None
    return describe_service(clients, params, summary["ServiceArn"], url=summary.get("ServiceUrl") or "")


def describe_service(clients: Clients, params: Params, arn: str, *, url: str = "") -> dict[str, Any] | None:
    """The service of that ARN, like ``find_service`` (``url`` when DescribeService omits it), or None."""
    try:
        service = call(clients, "apprunner", "DescribeService", resource=_res(params), ServiceArn=arn)[
            "Service"
        ]
    except ResourceNotFound:
        return None
    status = str(service.get("Status", "")).upper()
    if status == "DELETED":
        return None
    source = service.get("SourceConfiguration") or {}
    return {
        "name": service["ServiceName"],
        "arn": service["ServiceArn"],
        "id": service["ServiceId"],
        "status": status,
        "url": service.get("ServiceUrl") or url,
        "source_type": "ImageRepository" if source.get("ImageRepository") else "CodeRepository",
        "autoscaling_arn": (service.get("AutoScalingConfigurationSummary") or {}).get(
            "AutoScalingConfigurationArn"
        ),
        "fields": observed_fields(service),
    }


def observed_tags(clients: Clients, params: Params, arn: str) -> dict[str, str]:
    """The resource's tags as a mapping."""
    found = call(clients, "apprunner", "ListTagsForResource", resource=_res(params), ResourceArn=arn)
    return tag_map(found.get("Tags"))


def claimed_tags(clients: Clients, params: Params, observed: dict[str, Any]) -> dict[str, str]:
    """The found service's tags, after checking it is the runbook's (NotOwned otherwise)."""
    tags = observed_tags(clients, params, observed["arn"])
    claim(params, RESOURCE, params.name, observed["arn"], tags)
    return tags


SOURCE_SWITCH = (
    "replace required: App Runner's UpdateService cannot switch a service between a code repository and "
    "an image ({was} -> {wanted}). Delete the service (`runbook down PARAMS`, which keeps the connection) "
    "and run `runbook up PARAMS` again; the new service gets a new URL."
)


def _source_switch(params: Params, observed: dict[str, Any]) -> str | None:
    """The replace-required message when the params ask for the other source type, else None."""
    wanted = image.source_type(params)
    if observed["source_type"] == wanted:
        return None
    return SOURCE_SWITCH.format(was=observed["source_type"], wanted=wanted)


def _refuse_source_type(params: Params, observed: dict[str, Any]) -> None:
    message = _source_switch(params, observed)
    if message:
        raise ResourceConflict(
            message,
            resource=_res(params),
            operation="UpdateService",
            code="SourceTypeChange",
            aws_message=f"the existing service uses {observed['source_type']}",
        )


def _result(
    params: Params,
    action: Action,
    observed: dict[str, Any] | None,
    changes: tuple[Change, ...] = (),
    **kw: Any,
) -> Result:
    observed = observed or {}
    extra = {k: observed[k] for k in ("id", "status", "url") if observed.get(k)}
    extra.update(kw.pop("extra", {}))
    return Result(
        RESOURCE,
        params.name,
        action,
        arn=observed.get("arn"),
        changes=changes,
        detail=kw.pop("detail", "") or (f"status {observed['status']}" if observed.get("status") else ""),
        console_url=console_url(params.region, "/services"),
        extra=extra,
    )


def plan_service(clients: Clients, params: Params, inputs: ServiceInputs) -> Result:
    """What ``ensure_service`` would do (read-only): CREATE, REPLACE, UPDATE or UNCHANGED."""
    observed = find_service(clients, params)
    if observed is None:
        return _result(params, Action.CREATE, None)
    status = observed["status"]
    tags = claimed_tags(clients, params, observed)
    if status in ("CREATE_FAILED", "DELETE_FAILED"):
        return _result(params, Action.REPLACE, observed, detail=f"{status}: delete and re-create")
    switch = _source_switch(params, observed)
    if switch:
        kind = Change("source_type", observed["source_type"], image.source_type(params))
        return _result(params, Action.REPLACE, observed, (kind,), detail=switch)
    changes = diff_service(params, inputs, observed) + tag_changes(params, tags)
    if status == "PAUSED":
        changes = (Change("status", "PAUSED", "RUNNING"), *changes)
    detail = (
        "an operation is in progress; apply waits for it first" if status == "OPERATION_IN_PROGRESS" else ""
    )
    return _result(params, Action.UPDATE if changes else Action.UNCHANGED, observed, changes, detail=detail)


# ------------------------------------------------------------------------------------------ writes


@dataclass(frozen=True)
class _Waits:
    sleep: Sleep
    clock: Clock
    on_progress: Progress | None
    timeout: float

    def run(self, spec: WaitSpec) -> str:
        return wait_for(
            spec, timeout=self.timeout, sleep=self.sleep, clock=self.clock, on_progress=self.on_progress
        )


def _operation(
    clients: Clients, params: Params, arn: str, op_id: str | None, op_type: str, w: _Waits
) -> None:
    try:
        w.run(operation_finished(clients, arn, op_id, operation_type=op_type, what=_res(params)))
    except WaitFailed as err:  # App Runner gives no reason: it is in the service's log groups
        raise diagnose.with_log_tail(clients, err, arn, op_id) from err


def _busy_call(clients: Clients, params: Params, operation: str, arn: str, w: _Waits, **kw: Any) -> dict:
    """Update/Delete/Resume: on InvalidState wait for the service to settle and retry (L9)."""
    for attempt in range(BUSY_RETRIES + 1):
        try:
            return call(clients, "apprunner", operation, resource=_res(params), ServiceArn=arn, **kw)
        except InvalidState:
            if attempt == BUSY_RETRIES:
                raise
            log.info("%s on %s refused (busy); waiting for it to settle", operation, params.name)
            w.run(service_settled(clients, arn, what=_res(params)))
    raise AssertionError("unreachable")


def _create(clients: Clients, params: Params, inputs: ServiceInputs, w: _Waits) -> dict[str, Any]:
    """CreateService, retried while a fresh instance role is not yet assumable (L9, ~2 min)."""
    request = build_create_service_request(params, inputs)
    start, delays = w.clock(), ROLE_BACKOFF.delays()
    while True:
        try:
            return call(clients, "apprunner", "CreateService", resource=_res(params), **request)
        except InvalidRequest as err:
            if ROLE_NOT_ASSUMABLE not in str(err.aws_message) or w.clock() - start >= ROLE_RETRY_S:
                raise
            log.info("instance role of %s not assumable yet (IAM propagation); retrying", params.name)
            w.sleep(next(delays))


def _delete_and_wait(clients: Clients, params: Params, observed: dict[str, Any], w: _Waits) -> None:
    """DeleteService and wait for DELETED or 404; a DELETE_FAILED service gets the delete re-issued."""
    arn = observed["arn"]
    spec = service_deleted(clients, arn, what=_res(params))
    deleted_or_failed = WaitSpec(spec.what, spec.fetch, spec.success | spec.failure, fields=spec.fields)
    for _ in range(BUSY_RETRIES + 1):
        try:
            _busy_call(clients, params, "DeleteService", arn, w)
        except ResourceNotFound:
            return
        last = w.run(deleted_or_failed)
        if last.upper() != "DELETE_FAILED":
            return
        log.info("service %s ended DELETE_FAILED; re-issuing the delete", params.name)
    failed = WaitFailed(spec.failure_hint, what=spec.what, last="DELETE_FAILED", service_arn=arn)
    raise diagnose.with_log_tail(clients, failed, arn)


def _reconcile_tags(
    clients: Clients, params: Params, arn: str, observed: dict[str, str]
) -> tuple[Change, ...]:
    """Set and remove the tags the runbook manages (``observed``: the tags as read); others stay."""
    to_set, to_remove = diff_owned_tags(params, observed)
    if to_set:
        call(
            clients, "apprunner", "TagResource", resource=_res(params), ResourceArn=arn, Tags=tag_list(to_set)
        )
    if to_remove:
        call(clients, "apprunner", "UntagResource", resource=_res(params), ResourceArn=arn, TagKeys=to_remove)
    if to_set or to_remove:
        return (Change("tags", sorted(to_remove) or None, to_set or None),)
    return ()


LOOK_UP = object()  # ensure_service(found=...) not given: look the service up


def ensure_service(
    clients: Clients,
    params: Params,
    inputs: ServiceInputs,
    *,
    found: dict[str, Any] | None | object = LOOK_UP,
    on_progress: Progress | None = None,
    sleep: Sleep = time.sleep,
    clock: Clock = time.monotonic,
    timeout: float = DEFAULT_TIMEOUT_S,
) -> Result:
    """Converge the service (L5): create, wait, replace a CREATE_FAILED one, resume, update, or nothing.

    ``found``: what ``find_service`` just returned, when the caller already looked (saves the lookup).
    Returns CREATED / REPLACED / UPDATED / UNCHANGED; raises WaitFailed naming the operation when App
    Runner did not apply a change (including a rolled-back update of a RUNNING service).
    """
    w = _Waits(sleep, clock, on_progress, timeout)
    replaced = False
    prior: tuple[Change, ...] = ()
    tags: dict[str, str] | None = None  # read (and ownership checked) once, before the first change
    for round_ in range(MAX_ROUNDS):
        observed = found if round_ == 0 and found is not LOOK_UP else find_service(clients, params)
        status = observed["status"] if observed else None
        if observed is not None and tags is None:
            tags = claimed_tags(clients, params, observed)
        if observed is None:
            made = _create(clients, params, inputs, w)
            arn = made["Service"]["ServiceArn"]
            _operation(clients, params, arn, made.get("OperationId"), "CREATE_SERVICE", w)
            url = made["Service"].get("ServiceUrl") or ""
            final = describe_service(clients, params, arn, url=url) or {"arn": arn}
            action = Action.REPLACED if replaced else Action.CREATED
            return _result(params, action, final, prior, extra={"operation_id": made.get("OperationId")})
        if status == "OPERATION_IN_PROGRESS":
            w.run(service_settled(clients, observed["arn"], what=_res(params)))
        elif status in ("CREATE_FAILED", "DELETE_FAILED"):
            log.info("service %s is %s: deleting it to re-create it", params.name, status)
            _delete_and_wait(clients, params, observed, w)
            replaced, tags = True, None
            prior = (Change("status", status, "RUNNING"),)
        elif status == "PAUSED":
            made = _busy_call(clients, params, "ResumeService", observed["arn"], w)
            if made.get("OperationId"):  # none when it was RUNNING again already (as Copilot expects)
                _operation(clients, params, observed["arn"], made["OperationId"], "RESUME_SERVICE", w)
            prior = (Change("status", "PAUSED", "RUNNING"),)
        else:
            _refuse_source_type(params, observed)
            changes = diff_service(params, inputs, observed)
            op_id = None
            if changes:
                request = build_update_service_request(
                    params, inputs, observed["arn"], changed=[c.field for c in changes]
                )
                request.pop("ServiceArn")
                made = _busy_call(clients, params, "UpdateService", observed["arn"], w, **request)
                op_id = made.get("OperationId")
                _operation(clients, params, observed["arn"], op_id, "UPDATE_SERVICE", w)
            changes = prior + changes + _reconcile_tags(clients, params, observed["arn"], tags or {})
            final = (find_service(clients, params) or observed) if op_id else observed
            action = Action.UPDATED if changes else Action.UNCHANGED
            extra = {"operation_id": op_id} if op_id else {}
            return _result(params, action, final, changes, extra=extra)
    raise InvalidState(
        f"The service kept changing state over {MAX_ROUNDS} rounds; re-run the `service` step later.",
        resource=_res(params),
        operation="ensure_service",
        code="NotSettled",
    )


def delete_service(
    clients: Clients,
    params: Params,
    *,
    on_progress: Progress | None = None,
    sleep: Sleep = time.sleep,
    clock: Clock = time.monotonic,
    timeout: float = DEFAULT_TIMEOUT_S,
) -> Result:
    """Delete the service and wait for DELETED/404; ABSENT when there is none (L10), KEPT when it is not
    the runbook's."""
    observed = find_service(clients, params)
    if observed is None:
        return _result(params, Action.ABSENT, None)
    if not is_owned(params, observed_tags(clients, params, observed["arn"])):
        return _result(params, Action.KEPT, observed, detail=NOT_OWNED)
    w = _Waits(sleep, clock, on_progress, timeout)
    _delete_and_wait(clients, params, observed, w)
    return _result(
        params,
        Action.DELETED,
        {**observed, "status": "DELETED"},
        extra={"vpc_connector_arn": observed["fields"].get("network.vpc_connector_arn")},
    )


# ------------------------------------------------------------------------------------------ verify


def sandbox_endpoint(clients: Clients) -> str | None:
    """The local sandbox's URL when App Runner calls go to it (an endpoint on 127.0.0.1/localhost)."""
    endpoint = clients.endpoint_url or ""
    return endpoint if urllib.parse.urlsplit(endpoint).hostname in SANDBOX_HOSTS else None


def service_http_url(clients: Clients, params: Params, observed: dict[str, Any]) -> str | None:
    """Where the health-check path answers: ``https://<ServiceUrl><path>``, or on the sandbox its stand-in.

    This is the only place the library knows it may run on the sandbox (endpoint on 127.0.0.1/localhost).
    """
    path = params.health_check.path if params.health_check.protocol == "HTTP" else "/"
    sandbox = sandbox_endpoint(clients)
    if sandbox is not None:
        return f"{sandbox.rstrip('/')}/_sandbox/services/{observed['id']}/http/{path.lstrip('/')}"
    if not observed.get("url"):
        return None
    return f"https://{observed['url']}{path if path.startswith('/') else '/' + path}"


def _http_status(url: str, timeout: float) -> tuple[int | None, str, float, str]:
    """(HTTP status or None, error, latency in ms, first line of the body) of one GET."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    started = time.monotonic()

    def answer(code: int | None, body: bytes = b"", error: str = "") -> tuple[int | None, str, float, str]:
        first = body.decode("utf-8", "replace").strip().splitlines()[:1]
        return code, error, round((time.monotonic() - started) * 1000, 1), first[0][:200] if first else ""

    try:
        with opener.open(urllib.request.Request(url, method="GET"), timeout=timeout) as resp:
            return answer(resp.status, resp.read(4096))
    except urllib.error.HTTPError as err:
        return answer(err.code, err.read(4096))
    except (urllib.error.URLError, OSError) as err:
        return answer(None, error=str(getattr(err, "reason", err)))


def verify_service(
    clients: Clients, params: Params, *, results: Iterable[Result] = (), timeout: float = 10.0
) -> Result:
    """GET the service's health-check path once and report the HTTP status (only checks; never raises on
    an unhealthy answer: ``extra["ok"]`` says whether it answered 2xx/3xx).

    ``results``: what ``apply`` just returned; a RUNNING service among them is used as found (no lookup).
    """
    observed = next(
        (
            {"arn": r.arn, **r.extra}
            for r in results
            if r.resource == RESOURCE
            and r.name == params.name
            and r.extra.get("status") == "RUNNING"
            and r.extra.get("id")
        ),
        None,
    ) or find_service(clients, params)
    if observed is None:
        raise ResourceNotFound(
            "Run the `service` step first.",
            resource=_res(params),
            operation="ListServices",
            code="NotFound",
            aws_message="no service of that name",
        )
    if not params.public:  # nothing outside the VPC reaches it: its ingress connection is checked instead
        from runbook_lib.ingress import verify_private_service

        return verify_private_service(clients, params, observed)
    url = service_http_url(clients, params, observed)
    if url is None:
        return _result(
            params, Action.UNCHANGED, observed,
            detail="private service (no public URL); verify from inside the VPC",
            extra={"ok": None, "status_code": None, "http_url": None},
        )  # fmt: skip
    code, error, latency_ms, first_line = _http_status(url, timeout)
    ok = code is not None and 200 <= code < 400
    detail = f"GET {url} failed: {error}" if code is None else f"GET {url} -> {code} in {latency_ms:.0f} ms"
    answer = {"status_code": code, "http_url": url, "latency_ms": latency_ms, "first_line": first_line}
    return _result(params, Action.UNCHANGED, observed, detail=detail, extra={"ok": ok, **answer})
