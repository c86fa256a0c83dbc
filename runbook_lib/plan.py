"""Cross-resource order in one place: plan (read-only), apply (in dependency order) and teardown.

Order: connection → instance_role → network (security group, VPC connector) → autoscaling → service.
Every step works alone (``only=``): it finds its inputs by name, and a missing prerequisite raises
ResourceNotFound naming the step to run first. The account guard runs before any other call.
"""

from __future__ import annotations

import logging
import sys
import time
import types
from dataclasses import dataclass, field, replace
from typing import Any

from runbook_lib import autoscaling, connection, iam, network
from runbook_lib.clients import Clients, check_account
from runbook_lib.connection import (
    connections_console,
    ensure_connection,
    find_connection,
    plan_connection,
    wait_for_handshake,
)
from runbook_lib.errors import InvalidState, ParameterError, Problem, ResourceNotFound
from runbook_lib.params import Params
from runbook_lib.results import Action, Result
from runbook_lib.service import ServiceInputs, delete_service, ensure_service, find_service, plan_service
from runbook_lib.waiters import Clock, Progress, Sleep

log = logging.getLogger(__name__)

STEPS = ("connection", "instance_role", "network", "autoscaling", "service")
STEP_OF = {
    "connection": "connection", "instance_role": "instance_role", "security_group": "network",
    "vpc_connector": "network", "autoscaling": "autoscaling", "service": "service",
}  # fmt: skip
SETTLED = {"connection": "AVAILABLE", "service": "RUNNING"}  # statuses apply would not wait on
_KEEPS_ARN = {Action.UNCHANGED, Action.UPDATE}  # plan actions after which a resource's ARN is still valid


@dataclass(frozen=True)
class Plan:
    """The ordered steps ``apply`` would carry out, each a Result in present tense (or UNCHANGED)."""

    steps: list[Result] = field(default_factory=list)

    @property
    def has_changes(self) -> bool:
        return any(step.action is not Action.UNCHANGED for step in self.steps)

    @property
    def nothing_to_do(self) -> bool:
        """Apply would neither change nor wait: all UNCHANGED, connection AVAILABLE, service RUNNING."""
        resources = {step.resource for step in self.steps}
        return {"connection", "service"} <= resources and all(
            step.action is Action.UNCHANGED and SETTLED.get(step.resource) in (None, step.extra.get("status"))
            for step in self.steps
        )

    def to_records(self) -> list[dict[str, Any]]:
        """One flat row per step, for tables (pandas, rich)."""
        return [
            {
                "resource": s.resource,
                "name": s.name,
                "action": s.action.value,
                "changes": "; ".join(str(c) for c in s.changes),
                "detail": s.detail,
            }
            for s in self.steps
        ]


def _steps(only: str | None) -> tuple[str, ...]:
    if only is None:
        return STEPS
    if only not in STEPS:
        raise ParameterError("only", [Problem("only", f"must be one of {', '.join(STEPS)}", only)])
    return (only,)


def _missing(step: str, what: str) -> ResourceNotFound:
    return ResourceNotFound(
        f"Run the `{step}` step first; it creates what the service needs.",
        resource=what,
        operation="resolve_inputs",
        code="NotFound",
        aws_message=f"{what} does not exist",
    )


def _service_asc_arn(clients: Clients, params: Params) -> str | None:
    """The auto scaling revision the existing service uses now (preferred for reuse, never deleted)."""
    found = find_service(clients, params)
    return found.get("autoscaling_arn") if found else None


def resolve_inputs(clients: Clients, params: Params) -> ServiceInputs:
    """The ARNs the service needs, found by name; ResourceNotFound names the step to run first.

    Refuses a connection that is not AVAILABLE (L13): a service must never be created with it.
    """
    return _resolve_inputs(clients, params, find_service(clients, params))


def _resolve_inputs(clients: Clients, params: Params, service: dict[str, Any] | None) -> ServiceInputs:
    conn = find_connection(clients, params)
    if conn is None:
        raise _missing("connection", f"connection {params.connection.name}")
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
        raise _missing("instance_role", f"instance role {params.instance.role_name}")
    connector_arn = None
    if params.network is not None:
        net = network.resolve_network(clients, params)
        connector = network.find_vpc_connector(clients, params, network=net)
        if connector is None or network.diff_vpc_connector(params, connector, net):
            raise _missing("network", f"vpc connector {params.network.connector_name}")
        connector_arn = connector["arn"]
    in_use = service.get("autoscaling_arn") if service else None
    planned = autoscaling.plan_autoscaling(clients, params, in_use_arn=in_use)
    if planned.action is not Action.UNCHANGED or not planned.arn:
        raise _missing(
            "autoscaling", f"auto scaling configuration {params.autoscaling.name} with these settings"
        )
    return ServiceInputs(conn["arn"], role["arn"], connector_arn, planned.arn)


# ---------------------------------------------------------------------------------------------- plan


def _plan_network(clients: Clients, params: Params) -> list[Result]:
    if params.network is None:
        return []
    net = network.resolve_network(clients, params)
    results = [network.plan_security_group(clients, params)] if net["owned_security_group"] else []
    return [*results, network.plan_vpc_connector(clients, params, network=net)]


def _pending(result: Result | None, keeps: set[Action] = _KEEPS_ARN) -> str | None:
    """The ARN a planned step leaves in place, or a readable placeholder for one apply will make."""
    if result is None:
        return None
    if result.arn and result.action in keeps:
        return result.arn
    return f"({result.resource} {result.name}: {result.action.value})"


def _planned_inputs(clients: Clients, params: Params, done: dict[str, Result]) -> ServiceInputs:
    """The service's inputs as the plan sees them: real ARNs, or placeholders for what apply creates."""
    conn = done.get("connection") or plan_connection(clients, params)
    role = done.get("instance_role") or iam.plan_instance_role(clients, params)
    connector = None
    if params.network is not None:
        connector = done.get("vpc_connector") or _plan_network(clients, params)[-1]
    asc = done.get("autoscaling") or autoscaling.plan_autoscaling(
        clients, params, in_use_arn=_service_asc_arn(clients, params)
    )
    return ServiceInputs(
        connection_arn=_pending(conn) or "",
        instance_role_arn=_pending(role),
        vpc_connector_arn=_pending(connector, {Action.UNCHANGED}),
        autoscaling_arn=_pending(asc, {Action.UNCHANGED}),
    )


def plan(clients: Clients, params: Params, *, only: str | None = None) -> Plan:
    """What ``apply`` would do, step by step, with field-level changes. Makes no mutating call."""
    steps = _steps(only)
    with clients.read_only_scope():
        return _plan(clients, params, steps)


def _plan(clients: Clients, params: Params, steps: tuple[str, ...]) -> Plan:
    check_account(clients, params)
    done: dict[str, Result] = {}
    ordered: list[Result] = []
    for step in steps:
        if step == "connection":
            results = [plan_connection(clients, params)]
        elif step == "instance_role":
            results = [iam.plan_instance_role(clients, params)]
        elif step == "network":
            results = _plan_network(clients, params)
        elif step == "autoscaling":
            in_use = _service_asc_arn(clients, params)
            results = [autoscaling.plan_autoscaling(clients, params, in_use_arn=in_use)]
        else:
            results = [plan_service(clients, params, _planned_inputs(clients, params, done))]
        for result in results:
            done[result.resource] = result
        ordered.extend(results)
    return Plan(ordered)


# ---------------------------------------------------------------------------------------------- apply


def _apply_connection(
    clients: Clients, params: Params, wait: bool, on_progress: Progress | None, sleep: Sleep, clock: Clock
) -> Result:
    result = ensure_connection(clients, params, sleep=sleep, clock=clock)
    if not wait or result.extra.get("status") == "AVAILABLE":
        return result
    waited = wait_for_handshake(
        clients, params, timeout=params.connection.handshake_timeout_s,
        on_status=on_progress, sleep=sleep, clock=clock,
    )  # fmt: skip
    return replace(result, detail=waited.detail, extra={**result.extra, **waited.extra})


def _previous_inputs(service: dict[str, Any] | None) -> dict[str, str | None]:
    """The connector and auto scaling revision the service used before this apply (to clean up after)."""
    service = service or {}
    return {
        "vpc_connector_arn": (service.get("fields") or {}).get("network.vpc_connector_arn"),
        "autoscaling_arn": service.get("autoscaling_arn"),
    }


def _apply_service(
    clients: Clients,
    params: Params,
    old_connectors: list[str],
    asc_switched: bool,
    on_progress: Progress | None,
    sleep: Sleep,
    clock: Clock,
) -> list[Result]:
    """Ensure the service, then delete the connector and prune the auto scaling revisions it left.

    Works alone (``only="service"``, e.g. after the network and autoscaling notebooks): what the service
    used before is compared with what it uses now.
    """
    before = find_service(clients, params)
    inputs = _resolve_inputs(clients, params, before)
    results = [
        ensure_service(
            clients, params, inputs, found=before, on_progress=on_progress, sleep=sleep, clock=clock
        )
    ]
    was = _previous_inputs(before)
    if was["vpc_connector_arn"] and was["vpc_connector_arn"] != inputs.vpc_connector_arn:
        owned = {c["arn"] for c in network.list_vpc_connectors(clients, params) if c["owned"]}
        old_connectors = old_connectors + (
            [was["vpc_connector_arn"]] if was["vpc_connector_arn"] in owned else []
        )
    for arn in dict.fromkeys(a for a in old_connectors if a != inputs.vpc_connector_arn):
        # L14: only once the service has switched away from it
        results.append(
            network.delete_vpc_connector(
                clients, params, arn=arn, sleep=sleep, clock=clock, on_progress=on_progress
            )
        )
    asc_switched = asc_switched or was["autoscaling_arn"] not in (None, inputs.autoscaling_arn)
    if asc_switched and inputs.autoscaling_arn:
        pruned = autoscaling.prune_autoscaling(
            clients, params, inputs.autoscaling_arn, sleep=sleep, clock=clock
        )
        if pruned.action is not Action.UNCHANGED:
            results.append(pruned)
    return results


def apply(
    clients: Clients,
    params: Params,
    *,
    only: str | None = None,
    wait_handshake: bool = True,
    on_progress: Progress | None = None,
    sleep: Sleep = time.sleep,
    clock: Clock = time.monotonic,
) -> list[Result]:
    """Carry out the plan in dependency order; one Result per resource touched (past tense)."""
    steps = _steps(only)
    check_account(clients, params)
    results: list[Result] = []
    old_connectors: list[str] = []
    asc_switched = False
    if "connection" in steps:
        results.append(_apply_connection(clients, params, wait_handshake, on_progress, sleep, clock))
    if "instance_role" in steps:
        results.append(iam.ensure_instance_role(clients, params))
    if "network" in steps and params.network is not None:
        owned_group = None
        if not params.network.security_group_ids:
            group = network.ensure_security_group(clients, params)
            results.append(group)
            owned_group = group.extra.get("group_id")
        connector = network.ensure_vpc_connector(
            clients,
            params,
            network=network.resolve_network(clients, params, owned_group_id=owned_group),
            sleep=sleep,
            clock=clock,
        )
        results.append(connector)
        old_connectors = [a for a in connector.extra.get("stale_arns", []) if a != connector.arn]
    if "autoscaling" in steps:
        in_use = _service_asc_arn(clients, params)
        asc = autoscaling.ensure_autoscaling(clients, params, in_use_arn=in_use, sleep=sleep, clock=clock)
        results.append(asc)
        asc_switched = asc.action is not Action.UNCHANGED or (in_use is not None and asc.arn != in_use)
    if "service" in steps:
        results += _apply_service(clients, params, old_connectors, asc_switched, on_progress, sleep, clock)
    return results


# ---------------------------------------------------------------------------------------------- teardown


def teardown(
    clients: Clients,
    params: Params,
    *,
    delete_connection: bool = False,
    on_progress: Progress | None = None,
    sleep: Sleep = time.sleep,
    clock: Clock = time.monotonic,
) -> list[Result]:
    """Remove everything owned, in reverse order; the connection only when asked (others may use it)."""
    check_account(clients, params)
    waits: dict[str, Any] = {"sleep": sleep, "clock": clock, "on_progress": on_progress}
    results = [
        delete_service(clients, params, **waits),
        network.delete_vpc_connector(clients, params, **waits),
        network.delete_security_group(clients, params, **waits),
        autoscaling.delete_autoscaling(clients, params, sleep=sleep, clock=clock),
        iam.delete_instance_role(clients, params),
    ]
    if delete_connection:
        results.append(connection.delete_connection(clients, params, sleep=sleep, clock=clock))
    return results


class _CallableModule(types.ModuleType):
    """``runbook_lib.plan`` is both this module and the exported function ``plan``.

    Python binds a submodule to its package attribute after the first import, which would shadow the
    lazily exported function; calling the module therefore calls ``plan`` so that
    ``from runbook_lib import plan; plan(clients, params)`` works whatever was imported first.
    """

    def __call__(self, clients: Clients, params: Params, *, only: str | None = None) -> Plan:
        return plan(clients, params, only=only)


sys.modules[__name__].__class__ = _CallableModule
