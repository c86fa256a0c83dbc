"""The ARNs a service refers to (connection, roles, VPC connector, auto scaling and observability
revisions): found by name for ``apply``, or as a plan sees them (real ARNs, or placeholders for what
``apply`` will create). A missing prerequisite raises ResourceNotFound naming the step to run first.
"""

from __future__ import annotations

from typing import Any

from runbook_lib import autoscaling, iam, network, observability
from runbook_lib.clients import Clients
from runbook_lib.connection import connections_console, find_connection, plan_connection
from runbook_lib.errors import InvalidState, ResourceNotFound
from runbook_lib.ownership import claim
from runbook_lib.params import Params
from runbook_lib.results import Action, Result
from runbook_lib.service import ServiceInputs, find_service
from runbook_lib.shared_reads import LOOKUP_MAX_AGE_S

__all__ = [
    "KEEPS_ARN", "missing", "pending_arn", "plan_network", "planned_inputs", "resolve_inputs",
    "resolve_inputs_with", "service_asc_arn",
]  # fmt: skip

KEEPS_ARN = {Action.UNCHANGED, Action.UPDATE}  # plan actions after which a resource's ARN is still valid


def missing(step: str, what: str) -> ResourceNotFound:
    return ResourceNotFound(
        f"Run the `{step}` step first; it creates what the service needs.",
        resource=what,
        operation="resolve_inputs",
        code="NotFound",
        aws_message=f"{what} does not exist",
    )


def service_asc_arn(clients: Clients, params: Params) -> str | None:
    """The auto scaling revision the existing service uses now (preferred for reuse, never deleted)."""
    found = find_service(clients, params, max_age=LOOKUP_MAX_AGE_S)
    return found.get("autoscaling_arn") if found else None


def resolve_inputs(clients: Clients, params: Params) -> ServiceInputs:
    """The ARNs the service needs, found by name; ResourceNotFound names the step to run first.

    Refuses a connection that is not AVAILABLE (L13): a service must never be created with it.
    """
    return resolve_inputs_with(clients, params, find_service(clients, params))


def resolve_inputs_with(clients: Clients, params: Params, service: dict[str, Any] | None) -> ServiceInputs:
    conn = (  # in a batch, a shared listing after the last change of the connection (its create) serves
        {"arn": "", "status": "AVAILABLE"}
        if params.connection is None
        else find_connection(clients, params, max_age=LOOKUP_MAX_AGE_S)
    )
    if conn is None:
        raise missing("connection", f"connection {params.connection.name}")
    if conn["status"] != "AVAILABLE":
        console = connections_console(params.region)
        raise InvalidState(
            f'Complete the handshake at {console} (select {params.connection.name}, "Complete handshake"), '
            "then re-run the `connection` step and this one.",
            resource=f"connection {params.connection.name}",
            operation="resolve_inputs",
            code="ConnectionNotAvailable",
            aws_message=f"status {conn['status']}",
            console_url=console,
        )
    role = iam.find_instance_role(clients, params, policies=False)  # only its ARN is needed here
    if role is None:
        raise missing("instance_role", f"instance role {params.instance.role_name}")
    claim(params, "instance_role", role["name"], role["arn"], role["tags"])
    connector_arn = None
    if params.network is not None:
        net = network.resolve_network(clients, params)
        connector = network.find_vpc_connector(clients, params, network=net, max_age=LOOKUP_MAX_AGE_S)
        if connector is None or network.diff_vpc_connector(params, connector, net):
            raise missing("network", f"vpc connector {params.network.connector_name}")
        connector_arn = connector["arn"]
    in_use = service.get("autoscaling_arn") if service else None
    planned = autoscaling.plan_autoscaling(clients, params, in_use_arn=in_use)
    if planned.action is not Action.UNCHANGED or not planned.arn:
        raise missing(
            "autoscaling", f"auto scaling configuration {params.autoscaling.name} with these settings"
        )
    return ServiceInputs(
        conn["arn"], role["arn"], connector_arn, planned.arn, *_extra_inputs(clients, params)
    )


def _extra_inputs(clients: Clients, params: Params) -> tuple[str | None, str | None]:
    """The access role (private ECR) and the observability revision (tracing), found by name."""
    access = None
    if params.access_role_name:
        role = iam.find_role(clients, params.access_role_name, policies=False)
        if role is None:
            raise missing("instance_role", f"access role {params.access_role_name}")
        claim(params, "access_role", role["name"], role["arn"], role["tags"])
        access = role["arn"]
    traced = observability.plan_observability(clients, params)
    if traced is not None and traced.action is not Action.UNCHANGED:
        vendor = observability.wanted_vendor(params)
        raise missing("autoscaling", f"observability configuration {traced.name} with tracing {vendor}")
    return access, traced.arn if traced else None


def plan_network(clients: Clients, params: Params) -> list[Result]:
    if params.network is None:
        return []
    net = network.resolve_network(clients, params)
    results = [network.plan_security_group(clients, params)] if net["owned_security_group"] else []
    return [*results, network.plan_vpc_connector(clients, params, network=net)]


def pending_arn(result: Result | None, keeps: set[Action] = KEEPS_ARN) -> str | None:
    """The ARN a planned step leaves in place, or a readable placeholder for one apply will make."""
    if result is None:
        return None
    if result.arn and result.action in keeps:
        return result.arn
    return f"({result.resource} {result.name}: {result.action.value})"


def planned_inputs(clients: Clients, params: Params, done: dict[str, Result]) -> ServiceInputs:
    """The service's inputs as the plan sees them: real ARNs, or placeholders for what apply creates."""
    conn = done.get("connection") or plan_connection(clients, params)
    role = done.get("instance_role") or iam.plan_instance_role(clients, params)
    connector = None
    if params.network is not None:
        connector = done.get("vpc_connector") or plan_network(clients, params)[-1]
    asc = done.get("autoscaling") or autoscaling.plan_autoscaling(
        clients, params, in_use_arn=service_asc_arn(clients, params)
    )
    access = done.get("access_role") or (
        iam.plan_access_role(clients, params, params.access_role_name) if params.access_role_name else None
    )
    traced = done.get("observability") or observability.plan_observability(clients, params)
    return ServiceInputs(
        connection_arn=("" if conn.extra.get("not_needed") else pending_arn(conn)) or "",
        instance_role_arn=pending_arn(role),
        vpc_connector_arn=pending_arn(connector, {Action.UNCHANGED}),
        autoscaling_arn=pending_arn(asc, {Action.UNCHANGED}),
        access_role_arn=pending_arn(access),
        observability_arn=pending_arn(traced, {Action.UNCHANGED}),
    )
