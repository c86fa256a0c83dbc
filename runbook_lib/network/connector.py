"""The VPC connector: pure naming, request builder and diff, then the readers and senders (connectors are
immutable: a changed one is replaced under a hashed name, docs/apprunner-behavior.md L14).
"""

from __future__ import annotations

import functools
import hashlib
import logging
import re
from dataclasses import replace
from typing import Any, Unpack

from runbook_lib.aws import call, remember_tags, resource_tags, shared_listing
from runbook_lib.clients import Clients
from runbook_lib.errors import (
    InvalidRequest,
    InvalidState,
    RunbookError,
)
from runbook_lib.network.dependents import CONNECTOR_DELETE_TIMEOUT_S, delete_when_free
from runbook_lib.network.resolve import NO_NETWORK, _require_network, _resolve_subnets, network_warnings
from runbook_lib.network.security_group import find_security_group, security_group_name
from runbook_lib.ownership import claim, is_owned, tag_list
from runbook_lib.params import Params
from runbook_lib.results import NOT_OWNED, Action, Change, Result
from runbook_lib.shared_reads import LOOKUP_MAX_AGE_S
from runbook_lib.waiters import Waits, await_read, described_status

__all__ = [
    "NAME_PREFIX_MAX", "await_connector", "build_create_vpc_connector_request", "connector_base_name",
    "delete_vpc_connector", "diff_vpc_connector", "ensure_vpc_connector", "find_vpc_connector",
    "in_connector_family", "list_vpc_connectors", "plan_vpc_connector", "replacement_connector_name",
    "resolve_network",
]  # fmt: skip

log = logging.getLogger(__name__)


def resolve_network(clients: Clients, params: Params, *, owned_group_id: str | None = None) -> dict[str, Any]:
    """{vpc_id, subnet_ids, security_group_ids, owned_security_group, warnings}: ``default`` resolved,
    the VPC taken from explicit subnets; the owned security group's id when ``security_group_ids`` is
    empty ([] while it does not exist yet); ``warnings`` for the plan (see ``network_warnings``).

    ``owned_group_id``: the owned group's id as ``ensure_security_group`` just returned it (no lookup,
    which on EC2 may lag behind a fresh group's tags).
    """
    net = _require_network(params)
    vpc_id, subnets = _resolve_subnets(clients, params)
    if net.security_group_ids:
        groups, owned = sorted(net.security_group_ids), False
    elif owned_group_id:
        groups, owned = [owned_group_id], True
    else:
        found = find_security_group(clients, params, vpc_id=vpc_id)
        groups, owned = ([found["group_id"]] if found else []), True
    return {
        "vpc_id": vpc_id,
        "subnet_ids": [s["id"] for s in subnets],
        "security_group_ids": groups,
        "owned_security_group": owned,
        "warnings": network_warnings(params, subnets),
    }


NAME_PREFIX_MAX = 33  # 33 + "-" + 6 hex = 40, the VpcConnectorName maximum


def connector_base_name(params: Params) -> str:
    """The configured connector name (the service name when there is no network section)."""
    return params.network.connector_name if params.network else params.name


def replacement_connector_name(base: str, subnet_ids: list[str], security_group_ids: list[str]) -> str:
    """``<base[:33]>-<6 hex of sha256(sorted subnets | sorted SGs)>``: deterministic, 4-40 characters."""
    key = ",".join(sorted(subnet_ids)) + "|" + ",".join(sorted(security_group_ids))
    return f"{base[:NAME_PREFIX_MAX]}-{hashlib.sha256(key.encode()).hexdigest()[:6]}"


def in_connector_family(base: str, name: str) -> bool:
    """Whether ``name`` is ``base`` or one of its replacement names."""
    return name == base or re.fullmatch(re.escape(base[:NAME_PREFIX_MAX]) + r"-[0-9a-f]{6}", name) is not None


def build_create_vpc_connector_request(
    params: Params, network: dict[str, Any], name: str | None = None
) -> dict[str, Any]:
    """CreateVpcConnector for the resolved network (subnets and SGs sorted), tagged."""
    return {
        "VpcConnectorName": name or connector_base_name(params),
        "Subnets": sorted(network["subnet_ids"]),
        "SecurityGroups": sorted(network["security_group_ids"]),
        "Tags": tag_list(params.owned_tags),
    }


def diff_vpc_connector(
    params: Params, observed: dict[str, Any], network: dict[str, Any]
) -> tuple[Change, ...]:
    """Subnet and security group differences, compared as sets."""
    changes: list[Change] = []
    for field, key in (("subnets", "subnet_ids"), ("security_groups", "security_group_ids")):
        if set(observed[field]) != set(network[key]):
            changes.append(Change(field, sorted(observed[field]), sorted(network[key])))
    return tuple(changes)


# ---------------------------------------------------------------- VPC connector: readers and senders


def _connector(item: dict[str, Any], tags: dict[str, str], owned: bool) -> dict[str, Any]:
    created = item.get("CreatedAt")
    return {
        "name": item["VpcConnectorName"],
        "arn": item["VpcConnectorArn"],
        "revision": item.get("VpcConnectorRevision"),
        "status": str(item.get("Status", "")).upper(),
        "subnets": sorted(item.get("Subnets", [])),
        "security_groups": sorted(item.get("SecurityGroups", [])),
        "created_at": created.isoformat() if hasattr(created, "isoformat") else str(created or ""),
        "owned": owned,
        "tags": tags,
    }


def _connector_tags(clients: Clients, arn: str) -> dict[str, str]:
    """Its tags; those of a connector this run created, without a request (``aws.resource_tags``)."""
    return resource_tags(clients, arn, resource=f"vpc connector {arn}")


def list_vpc_connectors(clients: Clients, params: Params, *, max_age: float = 0.0) -> list[dict[str, Any]]:
    """ACTIVE connectors of the name family, oldest first, ``owned`` saying whose: the configured name
    whoever owns it, replacement names only when owned. ``max_age``: as ``service.find_service``'s."""
    base = connector_base_name(params)

    def concerns(resource: str) -> bool:
        kind, _, name = resource.partition("/")
        return kind == "vpcconnector" and in_connector_family(base, name)

    items = shared_listing(
        clients, "ListVpcConnectors", "VpcConnectors", resource=f"vpc connectors {base}",
        concerns=concerns, max_age=max_age,
    ).items  # fmt: skip
    found = []
    for item in items:
        if str(item.get("Status", "")).upper() != "ACTIVE" or not in_connector_family(
            base, item["VpcConnectorName"]
        ):
            continue
        tags = _connector_tags(clients, item["VpcConnectorArn"])
        owned = is_owned(params, tags)
        if owned or item["VpcConnectorName"] == base:
            found.append(_connector(item, tags, owned))
    return sorted(found, key=lambda c: (c["created_at"], c["name"]))


def find_vpc_connector(
    clients: Clients, params: Params, *, network: dict[str, Any] | None = None, max_age: float = 0.0
) -> dict[str, Any] | None:
    """The current connector: the ACTIVE family member matching ``network`` if given, else the newest."""
    connectors = list_vpc_connectors(clients, params, max_age=max_age)
    return _current(params, connectors, network)


def _current(
    params: Params, connectors: list[dict[str, Any]], network: dict[str, Any] | None
) -> dict[str, Any] | None:
    if network is not None:
        matching = [c for c in connectors if not diff_vpc_connector(params, c, network)]
        if matching:
            return matching[-1]
    return connectors[-1] if connectors else None


def _connector_result(params: Params, action: Action, **kwargs: Any) -> Result:
    return Result("vpc_connector", connector_base_name(params), action, **kwargs)


def _with_warnings(result: Result, network: dict[str, Any]) -> Result:
    """The network's warnings (unsupported zone, one zone) as the result's detail, for plan tables."""
    warnings = list(network.get("warnings") or [])
    if not warnings:
        return result
    detail = "; ".join(["warning: " + w for w in warnings] + ([result.detail] if result.detail else []))
    return replace(result, detail=detail, extra={**result.extra, "warnings": warnings})


def _plan_connector(
    clients: Clients, params: Params, network: dict[str, Any]
) -> tuple[Result, list[dict[str, Any]], dict[str, Any] | None]:
    connectors = list_vpc_connectors(clients, params, max_age=LOOKUP_MAX_AGE_S)  # before any change
    for connector in connectors:
        if not connector["owned"]:  # NotOwned unless adopted
            claim(params, "vpc_connector", connector["name"], connector["arn"], connector["tags"])
    current = _current(params, connectors, network)
    if current is None:
        desired = build_create_vpc_connector_request(params, network)
        changes = (
            Change("subnets", None, desired["Subnets"]),
            Change("security_groups", None, desired["SecurityGroups"]),
        )
        return _connector_result(params, Action.CREATE, changes=changes), connectors, None
    changes = diff_vpc_connector(params, current, network)
    stale = [c["arn"] for c in connectors if c["arn"] != current["arn"]]
    if not changes:
        extra = {"stale_arns": stale} if stale else {}
        adopted = [c["name"] for c in connectors if not c["owned"]]
        if adopted:
            adopt = (Change("tags", f"{', '.join(adopted)} not tagged", dict(params.owned_tags)),)
            result = _connector_result(params, Action.UPDATE, arn=current["arn"], changes=adopt, extra=extra)
        else:
            result = _connector_result(params, Action.UNCHANGED, arn=current["arn"], extra=extra)
        return result, connectors, current
    extra = {"old_arn": current["arn"]}
    return _connector_result(params, Action.REPLACE, changes=changes, extra=extra), connectors, current


def plan_vpc_connector(clients: Clients, params: Params, *, network: dict[str, Any] | None = None) -> Result:
    """Read-only: CREATE, REPLACE (subnets/SGs drifted; connectors are immutable) or UNCHANGED."""
    if params.network is None:
        return _connector_result(params, Action.UNCHANGED, detail=NO_NETWORK)
    network = network or resolve_network(clients, params)
    if network["owned_security_group"] and not network["security_group_ids"]:
        network = {**network, "security_group_ids": [f"({security_group_name(params)}, to be created)"]}
    return _with_warnings(_plan_connector(clients, params, network)[0], network)


def ensure_vpc_connector(
    clients: Clients,
    params: Params,
    *,
    network: dict[str, Any] | None = None,
    **waits: Unpack[Waits],
) -> Result:
    """Create the connector, or on drift a new one (REPLACED, ``extra["old_arn"]``); the old one is
    deleted by ``delete_vpc_connector(..., arn=old_arn)`` once the service uses the new one."""
    if params.network is None:
        return _connector_result(params, Action.UNCHANGED, detail=NO_NETWORK)
    network = network or resolve_network(clients, params)
    base = connector_base_name(params)
    if not network["security_group_ids"]:
        raise InvalidState(
            "Run ensure_security_group first (the plan does: security group, then connector).",
            resource=f"vpc connector {base}",
            operation="CreateVpcConnector",
            code="SecurityGroupMissing",
            aws_message=f"the owned security group {security_group_name(params)} does not exist",
        )
    planned, connectors, current = _plan_connector(clients, params, network)
    for connector in connectors:
        if not connector["owned"]:  # adopted (claim refused any other): tag it as owned
            call(clients, "apprunner", "TagResource", resource=f"vpc connector {connector['name']}",
                 ResourceArn=connector["arn"], Tags=tag_list(params.owned_tags))  # fmt: skip
    if planned.action is Action.UPDATE:
        return replace(planned, action=Action.UPDATED)
    if planned.action is Action.UNCHANGED:
        return _with_warnings(planned, network)
    name = base
    if connectors:  # the first connector takes the configured name; replacements a derived one
        name = replacement_connector_name(base, network["subnet_ids"], network["security_group_ids"])
    request = build_create_vpc_connector_request(params, network, name)
    created = call(clients, "apprunner", "CreateVpcConnector", resource=f"vpc connector {name}", **request)
    arn = created["VpcConnector"]["VpcConnectorArn"]
    remember_tags(clients, arn, request["Tags"])
    await_connector(clients, arn, deleted=False, **waits)
    extra: dict[str, Any] = {"connector_name": name}
    action = Action.CREATED
    if current is None:
        log.info("created vpc connector %s", name)
    else:
        action = Action.REPLACED
        extra.update(old_arn=current["arn"], stale_arns=[c["arn"] for c in connectors])
        log.info(
            "replaced vpc connector %s by %s (%s)", current["name"], name, ", ".join(planned.changed_fields)
        )
    made = _connector_result(params, action, arn=arn, changes=planned.changes, extra=extra)
    return _with_warnings(made, network)


def _is_in_use(err: RunbookError) -> bool:
    # App Runner has no distinct code for this: InvalidRequestException "... is being used by other
    # services" (docs/apprunner-behavior.md 2.4) is the only signal, so the message is inspected here.
    return isinstance(err, InvalidRequest) and "being used" in str(getattr(err, "aws_message", ""))


def _connector_status(clients: Clients, arn: str) -> str:
    """The connector's status as DescribeVpcConnector tells it (upper case), GONE if unknown."""
    status = described_status(
        clients, "DescribeVpcConnector", "VpcConnector", f"vpc connector {arn}", VpcConnectorArn=arn
    )
    return status.upper()


def _still_active(clients: Clients, arn: str) -> bool:
    return _connector_status(clients, arn) == "ACTIVE"


def await_connector(
    clients: Clients,
    arn: str,
    *,
    deleted: bool,
    **waits: Unpack[Waits],
) -> None:
    """Wait until reads show the connector created (ACTIVE) or ``deleted`` (INACTIVE or unknown), as
    Terraform does for up to 2 minutes each way: reads may lag the write."""
    fetch = functools.partial(_connector_status, clients, arn)
    await_read(f"vpc connector {arn}", fetch, deleted=deleted, **waits)


def delete_vpc_connector(
    clients: Clients,
    params: Params,
    *,
    arn: str | None = None,
    timeout: float = CONNECTOR_DELETE_TIMEOUT_S,
    **waits: Unpack[Waits],
) -> Result:
    """Delete connector ``arn``, or every owned ACTIVE connector of the name family; retries
    "being used by other services" with backoff up to ``timeout``; ABSENT if there is nothing to delete."""
    foreign: list[str] = []
    if arn is not None:
        targets = [arn] if _still_active(clients, arn) else []
    else:
        family = list_vpc_connectors(clients, params)
        targets = [c["arn"] for c in family if c["owned"]]
        foreign = [c["arn"] for c in family if not c["owned"]]
    deleted = [
        target
        for target in targets
        if delete_when_free(
            lambda target=target: call(clients, "apprunner", "DeleteVpcConnector",
                                       resource=f"vpc connector {target}", VpcConnectorArn=target),
            busy=_is_in_use, what=f"deletion of vpc connector {target}", timeout=timeout, **waits,
        )  # fmt: skip
    ]
    if not deleted and foreign:
        return _connector_result(params, Action.KEPT, arn=foreign[0], detail=NOT_OWNED)
    if not deleted:
        return _connector_result(params, Action.ABSENT, arn=arn)
    for target in deleted:
        await_connector(clients, target, deleted=True, **waits)
    return _connector_result(params, Action.DELETED, arn=deleted[0], extra={"arns": deleted})
