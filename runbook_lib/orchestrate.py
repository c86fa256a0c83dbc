"""Cross-resource order in one place: plan (read-only), apply (in dependency order) and teardown.

Order: connection → instance_role → network (security group, VPC connector) → autoscaling → service (and,
for a private service, its VPC endpoint and ingress connection) → domains (custom domains).
Every step works alone (``only=``): it finds its inputs by name, and a missing prerequisite raises
ResourceNotFound naming the step to run first. The account guard runs before any other call.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from runbook_lib import autoscaling, connection, domains, iam, ingress, network, observability, shared_reads
from runbook_lib.clients import Clients
from runbook_lib.connection import ensure_connection, plan_connection, wait_for_handshake
from runbook_lib.connection import not_needed as connection_not_needed
from runbook_lib.errors import ParameterError, Problem, TeardownIncomplete, WaitTimeout
from runbook_lib.identity import check_account
from runbook_lib.ownership import Foreign, NotOwned
from runbook_lib.params import Params
from runbook_lib.results import Action, Result
from runbook_lib.service import delete_service, ensure_service, find_service, plan_service
from runbook_lib.service_inputs import (
    KEEPS_ARN,
    plan_network,
    planned_inputs,
    resolve_inputs,
    resolve_inputs_with,
    service_asc_arn,
)
from runbook_lib.waiters import Clock, Progress, Sleep

__all__ = [
    "Plan", "SETTLED", "STEPS", "STEP_OF", "TEARDOWN_NEEDS", "apply", "check_teardown", "plan",
    "resolve_inputs", "teardown",
]  # fmt: skip


log = logging.getLogger(__name__)

STEPS = ("connection", "instance_role", "network", "autoscaling", "service", "domains")
STEP_OF = {
    "connection": "connection", "instance_role": "instance_role", "security_group": "network",
    "vpc_connector": "network", "autoscaling": "autoscaling", "service": "service",
    "vpc_endpoint": "service", "ingress_connection": "service", "custom_domain": "domains",
}  # fmt: skip
SETTLED = {  # statuses apply would not wait on
    "connection": "AVAILABLE", "service": "RUNNING",
    "ingress_connection": "AVAILABLE", "custom_domain": "active",
}  # fmt: skip


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
            step.action is Action.UNCHANGED
            and (
                SETTLED.get(step.resource) in (None, step.extra.get("status")) or step.extra.get("not_needed")
            )
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


# ---------------------------------------------------------------------------------------------- plan


def plan(clients: Clients, params: Params, *, only: str | None = None) -> Plan:
    """What ``apply`` would do, step by step, with field-level changes. Makes no mutating call."""
    steps = _steps(only)
    with clients.read_only_scope():
        return _plan(clients, params, steps)


def _plan_private(clients: Clients, params: Params, service: Result) -> list[Result]:
    """A private service's endpoint and ingress connection, as the plan sees them."""
    if params.ingress is None:
        return []
    endpoint = ingress.plan_vpc_endpoint(clients, params)
    service_arn = service.arn if service.action in KEEPS_ARN else None
    endpoint_id = endpoint.extra.get("endpoint_id") or (
        params.ingress.vpc_endpoint_id if params.ingress.vpc_endpoint_id != "create" else None
    )
    return [endpoint, ingress.plan_ingress(clients, params, service_arn=service_arn, endpoint_id=endpoint_id)]


def _plan_domains(clients: Clients, params: Params, done: dict[str, Result]) -> list[Result]:
    service = done.get("service")
    arn = service.arn if service and service.action in KEEPS_ARN else None
    if service is None:  # `only="domains"`: the existing service, checked as the runbook's
        arn = domains.owned_service_arn(clients, params)
    return [domains.plan_custom_domain(clients, params, cd, service_arn=arn) for cd in params.custom_domains]


def _plan_step(clients: Clients, params: Params, step: str, done: dict[str, Result]) -> list[Result]:
    if step == "connection":
        return [connection_not_needed(params) or plan_connection(clients, params)]
    if step == "instance_role":
        access = params.access_role_name
        return [iam.plan_instance_role(clients, params)] + (
            [iam.plan_access_role(clients, params, access)] if access else []
        )
    if step == "network":
        return plan_network(clients, params)
    if step == "autoscaling":
        in_use = service_asc_arn(clients, params)
        traced = observability.plan_observability(clients, params)
        return [autoscaling.plan_autoscaling(clients, params, in_use_arn=in_use)] + (
            [traced] if traced else []
        )
    if step == "domains":
        return _plan_domains(clients, params, done)
    service = plan_service(clients, params, planned_inputs(clients, params, done))
    return [service, *_plan_private(clients, params, service)]


def _plan(clients: Clients, params: Params, steps: tuple[str, ...]) -> Plan:
    """Every step planned; resources of the runbook's names that it does not own are gathered from all
    steps and raised together (NotOwned) so that one run names them all."""
    check_account(clients, params)
    done: dict[str, Result] = {}
    ordered: list[Result] = []
    foreign: dict[tuple[str, str], Foreign] = {}
    for step in steps:
        try:
            results = _plan_step(clients, params, step, done)
        except NotOwned as err:
            foreign.update({(f.kind, f.name): f for f in err.foreign})
            for f in err.foreign:  # later steps plan on with a stand-in, so they are checked too
                done.setdefault(f.kind, Result(f.kind, f.name, Action.UPDATE, arn=f.arn))
            continue
        for result in results:
            done[result.resource] = result
        ordered.extend(results)
    if foreign:
        raise NotOwned(params.name, list(foreign.values()))
    return Plan(ordered)


# ---------------------------------------------------------------------------------------------- apply


def _apply_connection(
    clients: Clients, params: Params, wait: bool, on_progress: Progress | None, sleep: Sleep, clock: Clock
) -> Result:
    skipped = connection_not_needed(params)
    if skipped is not None:
        return skipped
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
    before = find_service(clients, params, max_age=shared_reads.LOOKUP_MAX_AGE_S)  # before any change here
    inputs = resolve_inputs_with(clients, params, before)
    waits: dict[str, Any] = {"on_progress": on_progress, "sleep": sleep, "clock": clock}
    service_s = params.timeouts.service_s
    results = [ensure_service(clients, params, inputs, found=before, timeout=service_s, **waits)]
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
                clients, params, arn=arn, timeout=params.timeouts.vpc_connector_delete_s, **waits
            )
        )
    results += _apply_private(clients, params, results[0], waits)
    asc_switched = asc_switched or was["autoscaling_arn"] not in (None, inputs.autoscaling_arn)
    pruned_traces = observability.prune_observability(clients, params, inputs.observability_arn)
    if pruned_traces is not None:
        results.append(pruned_traces)
    if asc_switched and inputs.autoscaling_arn:
        pruned = autoscaling.prune_autoscaling(
            clients, params, inputs.autoscaling_arn, sleep=sleep, clock=clock
        )
        if pruned.action is not Action.UNCHANGED:
            results.append(pruned)
    return results


def _apply_private(clients: Clients, params: Params, service: Result, waits: dict[str, Any]) -> list[Result]:
    """A private service's endpoint (the given one, or the owned one) and ingress connection."""
    if params.ingress is None or not service.arn:
        return []
    endpoint = ingress.ensure_vpc_endpoint(clients, params)
    connection = ingress.ensure_ingress_connection(
        clients, params, service_arn=service.arn, endpoint_id=endpoint.extra["endpoint_id"], **waits
    )
    return [endpoint, connection]


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
    """Carry out the plan in dependency order; one Result per resource touched (past tense).

    Refuses before any mutating call when a resource of the runbook's names is not its own (NotOwned):
    the whole run is planned first; a single step (``only``) checks its own resources before changing
    anything.
    """
    steps = _steps(only)
    check_account(clients, params)
    if only in (None, "network"):  # steps of more than one resource
        plan(clients, params, only=only)
    results: list[Result] = []
    old_connectors: list[str] = []
    asc_switched = False
    if "connection" in steps:
        results.append(_apply_connection(clients, params, wait_handshake, on_progress, sleep, clock))
    if "instance_role" in steps:
        results.append(iam.ensure_instance_role(clients, params))
        if params.access_role_name:
            results.append(iam.ensure_access_role(clients, params, params.access_role_name))
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
        in_use = service_asc_arn(clients, params)
        asc = autoscaling.ensure_autoscaling(clients, params, in_use_arn=in_use, sleep=sleep, clock=clock)
        results.append(asc)
        asc_switched = asc.action is not Action.UNCHANGED or (in_use is not None and asc.arn != in_use)
        traced = observability.ensure_observability(clients, params)
        results += [traced] if traced else []
    if "service" in steps:
        results += _apply_service(clients, params, old_connectors, asc_switched, on_progress, sleep, clock)
    if "domains" in steps:
        waits = {"on_progress": on_progress, "sleep": sleep, "clock": clock}
        results += [
            domains.ensure_custom_domain(clients, params, cd, **waits) for cd in params.custom_domains
        ]
    return results


# ---------------------------------------------------------------------------------------------- teardown


# What each deletion waits for: a resource is left while one it depends on remains (its wait ran out).
TEARDOWN_NEEDS: dict[str, tuple[str, ...]] = {
    "custom_domain": (), "ingress_connection": (), "service": ("ingress_connection",),
    "vpc_connector": ("service",), "security_group": ("vpc_connector",), "autoscaling": ("service",),
    "instance_role": ("service",), "access_role": ("service",), "observability": ("service",),
    "vpc_endpoint": ("ingress_connection",), "connection": ("service",),
}  # fmt: skip


def _teardown_names(params: Params) -> dict[str, str]:
    return {
        "service": params.name, "vpc_connector": network.connector_base_name(params),
        "security_group": network.security_group_name(params), "autoscaling": params.autoscaling.name,
        "instance_role": params.instance.role_name,
        "connection": params.connection.name if params.connection else "-",
        "access_role": params.access_role_name or f"{params.name}-access",
        "observability": observability.config_name(params),
        "custom_domain": ", ".join(d.domain for d in params.custom_domains),
        "ingress_connection": params.ingress.name if params.ingress else "-",
        "vpc_endpoint": params.ingress.name if params.ingress else "-",
    }  # fmt: skip


def _delete_unless_blocked(
    params: Params, resource: str, delete: Callable[[], Result], left: dict[str, Result]
) -> Result:
    """``delete()``, unless a resource it needs gone was left; a wait that runs out leaves it too."""
    blocked = next((need for need in TEARDOWN_NEEDS[resource] if need in left), None)
    if blocked is None:
        try:
            return delete()
        except WaitTimeout as err:
            log.warning("teardown of %s %s: %s", resource, params.name, err)
            detail = f"left: still in use, timed out after {err.seconds:.0f}s waiting for {err.what}"
            reason = f"last status {err.last}"
    else:
        detail = f"left: not deleted while the {blocked} {left[blocked].name} remains"
        reason = f"needs the {blocked} gone first"
    name = _teardown_names(params)[resource]
    result = Result(resource, name, Action.UNCHANGED, detail=detail, extra={"left": True, "reason": reason})
    left[resource] = result
    return result


Deletes = list[tuple[str, Callable[[], Result]]]


def _private_deletes(clients: Clients, params: Params, waits: dict[str, Any]) -> tuple[Deletes, Deletes]:
    """The custom domains, the ingress connection (both before the service) and the owned endpoint (last);
    only what the params have, so a public service without domains tears down as before."""
    deletes: Deletes = [
        ("custom_domain", lambda cd=cd: domains.delete_custom_domain(clients, params, cd, **waits))
        for cd in params.custom_domains
    ]
    if params.ingress is None:
        return deletes, []
    ingress_s = params.timeouts.ingress_s
    deletes.append(
        (
            "ingress_connection",
            lambda: ingress.delete_ingress_connection(clients, params, timeout=ingress_s, **waits),
        )
    )
    return deletes, [("vpc_endpoint", lambda: ingress.delete_vpc_endpoint(clients, params))]


def teardown(
    clients: Clients,
    params: Params,
    *,
    delete_connection: bool = False,
    raise_if_left: bool = True,
    on_progress: Progress | None = None,
    sleep: Sleep = time.sleep,
    clock: Clock = time.monotonic,
) -> list[Result]:
    """Remove everything owned, in reverse order; the connection only when asked (others may use it).

    When a wait runs out (e.g. the security group still held by App Runner's ENIs), what does not depend
    on the stuck resource is still deleted (TEARDOWN_NEEDS) and the rest is reported ``left`` (UNCHANGED,
    ``extra["left"]``); then TeardownIncomplete names it, unless ``raise_if_left=False`` (the notebook
    shows the results first, then calls ``check_teardown``).
    """
    check_account(clients, params)
    waits: dict[str, Any] = {"sleep": sleep, "clock": clock, "on_progress": on_progress}
    t = params.timeouts
    vpc_s, group_s = t.vpc_connector_delete_s, t.security_group_delete_s
    before, after = _private_deletes(clients, params, waits)
    deletes: Deletes = [
        *before,
        ("service", lambda: delete_service(clients, params, timeout=t.service_s, **waits)),
        ("vpc_connector", lambda: network.delete_vpc_connector(clients, params, timeout=vpc_s, **waits)),
        ("security_group", lambda: network.delete_security_group(clients, params, timeout=group_s, **waits)),
        ("autoscaling", lambda: autoscaling.delete_autoscaling(clients, params, sleep=sleep, clock=clock)),
        ("instance_role", lambda: iam.delete_instance_role(clients, params)),
        (
            "access_role",
            lambda: iam.delete_access_role(clients, params, _teardown_names(params)["access_role"]),
        ),
        ("observability", lambda: observability.delete_observability(clients, params)),
    ]
    deletes += after
    if delete_connection and params.connection is not None:
        deletes.append(
            ("connection", lambda: connection.delete_connection(clients, params, sleep=sleep, clock=clock))
        )
    left: dict[str, Result] = {}
    results = [_delete_unless_blocked(params, resource, delete, left) for resource, delete in deletes]
    unused = {"access_role": not params.access_role_name, "observability": params.observability is None}
    results = [r for r in results if not (unused.get(r.resource) and r.action is Action.ABSENT)]  # not shown
    if raise_if_left:
        check_teardown(results)
    return results


def check_teardown(results: list[Result]) -> None:
    """Raise TeardownIncomplete naming what a teardown left (see ``teardown``); nothing left: return."""
    left = [r for r in results if r.extra.get("left")]
    if not left:
        return
    named = "; ".join(f"{r.resource} {r.name} ({r.detail})" for r in left)
    raise TeardownIncomplete(
        f"{named}. Everything else is deleted. Re-run the teardown once it is free "
        "(`runbook down PARAMS`, or this notebook): it finds what is left by name.",
        left=[f"{r.resource} {r.name}" for r in left],
    )
