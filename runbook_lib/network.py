"""VPC egress: the resolved VPC/subnets, the owned egress-only security group, and the VPC connector.

Resolution (``resolve_network``): explicit ``subnet_ids`` decide the VPC (DescribeSubnets): the owned
security group goes in the subnets' VPC; subnets spanning VPCs, or in another VPC than an explicit
``vpc_id``, are a ParameterError before any mutating call. ``vpc_id: default`` (with ``subnet_ids:
default``) is the account's default VPC; ``subnet_ids: default`` are its default-for-az subnets in
Availability Zones App Runner supports, ordered by AZ ID (the same zone in every account, unlike AZ
names), of which the first ``MAX_DEFAULT_SUBNETS`` (3) are used, returned sorted by id. One subnet is
accepted (AWS accepts it); the plan warns about it, and about subnets in unsupported zones.

Security group: named ``<name>-apprunner-egress``, in the resolved VPC, no ingress rules, the default
allow-all egress, tagged with the owned tags plus ``Name``. Only created when ``security_group_ids`` is
empty. Deleting it retries ``DependencyViolation`` (App Runner's ENIs linger, docs/apprunner-behavior.md L11).

VPC connector naming (connectors are immutable, docs/apprunner-behavior.md L14): the first connector is named
``connector_name``. When subnets or security groups drift, a NEW connector is created, named
``<connector_name[:33]>-<6 hex>``, the hex being the start of sha256("<sorted subnets>|<sorted SGs>"), so
the same configuration always gets the same name and the name stays within the 4-40 character pattern.
The "family" of a connector name is ``connector_name`` itself plus those hashed names; hashed names only
count when tagged ``runbook:name=<name>``. ``find_vpc_connector`` returns the ACTIVE family member that
matches the desired configuration, else the newest one.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import re
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from runbook_lib.aws import call, paginate
from runbook_lib.clients import Clients
from runbook_lib.errors import (
    InvalidRequest,
    InvalidState,
    ParameterError,
    Problem,
    ResourceConflict,
    ResourceNotFound,
    RunbookError,
)
from runbook_lib.ownership import claim, is_owned, tag_list, tag_map
from runbook_lib.params import Params
from runbook_lib.results import NOT_OWNED, Action, Change, Result
from runbook_lib.waiters import GONE, Backoff, WaitSpec, await_read, wait_for

log = logging.getLogger(__name__)

MAX_DEFAULT_SUBNETS = 3
SG_DELETE_TIMEOUT_S = 45 * 60.0
CONNECTOR_DELETE_TIMEOUT_S = 10 * 60.0
NAME_PREFIX_MAX = 33  # 33 + "-" + 6 hex = 40, the VpcConnectorName maximum
NO_NETWORK = "no network section in the params: the service uses default public egress"


# ---------------------------------------------------------------- deletes that wait for dependents

DELETE_BACKOFF = Backoff(initial_s=5.0, factor=2.0, cap_s=60.0)


def delete_when_free(
    delete: Callable[[], None],
    *,
    busy: Callable[[RunbookError], bool],
    what: str,
    timeout: float,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    on_progress: Callable[[dict[str, Any]], None] | None = None,
) -> bool:
    """Issue ``delete`` until it stops failing with an error ``busy`` accepts (the resource is still
    used), with the waiters' backoff (5 s doubling to 60 s) up to ``timeout``, then WaitTimeout.
    True when it deleted the resource, False when the resource was already gone."""

    def attempt() -> str:
        try:
            delete()
        except ResourceNotFound:
            return GONE
        except RunbookError as err:
            if busy(err):
                return str(getattr(err, "code", type(err).__name__))
            raise
        return "DELETED"

    spec = WaitSpec(
        what=what,
        fetch=attempt,
        success=frozenset({"DELETED", GONE}),
        timeout_hint="It is still in use; re-run the teardown later.",
    )
    status = wait_for(
        spec, timeout=timeout, sleep=sleep, clock=clock, on_progress=on_progress, backoff=DELETE_BACKOFF
    )
    log.info("%s: %s", what, "done" if status == "DELETED" else "already gone")
    return status == "DELETED"


# ---------------------------------------------------------------- resolution

# Availability Zone IDs (the same physical zone in every account, unlike AZ names) where App Runner cannot
# place a VPC connector's ENIs. The developer guide (docs.aws.amazon.com/apprunner/latest/dg/network-vpc.html)
# says only that "a few Availability Zones in some AWS Regions" are unsupported and that a service create or
# update on such subnets fails naming them; it publishes no list we could find. What is encoded here is what
# is reported: use1-az3 in us-east-1 (the legacy zone many services exclude). Add zones as AWS names them.
UNSUPPORTED_AZ_IDS: dict[str, frozenset[str]] = {"us-east-1": frozenset({"use1-az3"})}
ONE_ZONE_WARNING = (
    "one Availability Zone only ({zones}): AWS accepts it, but the service's outbound traffic then depends "
    "on that zone; give subnets in two or more zones for availability"
)


def _require_network(params: Params) -> Any:
    if params.network is None:
        raise ParameterError("params", [Problem("network", "is not set; there is no VPC egress to resolve")])
    return params.network


def _subnet(item: dict[str, Any]) -> dict[str, str]:
    zone = item.get("AvailabilityZone", "")
    return {"id": item["SubnetId"], "vpc_id": item.get("VpcId", ""), "zone": zone,
            "zone_id": item.get("AvailabilityZoneId") or zone}  # fmt: skip


def supported_zone(region: str, zone_id: str) -> bool:
    """Whether App Runner can use subnets in this Availability Zone ID (see ``UNSUPPORTED_AZ_IDS``)."""
    return zone_id not in UNSUPPORTED_AZ_IDS.get(region, frozenset())


def _default_vpc_id(clients: Clients, params: Params) -> str:
    vpcs = paginate(
        clients, "ec2", "DescribeVpcs", "Vpcs", resource="default VPC",
        Filters=[{"Name": "isDefault", "Values": ["true"]}],
    )  # fmt: skip
    if not vpcs:
        raise ParameterError(
            "params",
            [Problem("network.vpc_id", f"`default`, but {params.region} has no default VPC; give a VPC id")],
        )
    return vpcs[0]["VpcId"]


def _explicit_subnets(clients: Clients, params: Params) -> tuple[str, list[dict[str, str]]]:
    """The given subnets as described by EC2, and their one VPC (checked against an explicit vpc_id)."""
    net = _require_network(params)
    ids = sorted(set(net.subnet_ids))
    found = paginate(
        clients, "ec2", "DescribeSubnets", "Subnets", resource=f"subnets {', '.join(ids)}", SubnetIds=ids
    )
    subnets = sorted((_subnet(s) for s in found), key=lambda s: s["id"])
    vpcs = sorted({s["vpc_id"] for s in subnets})
    where = ", ".join(f"{s['id']} in {s['vpc_id']}" for s in subnets)
    if len(vpcs) > 1:
        message = f"the subnets span {len(vpcs)} VPCs ({where}); a VPC connector's subnets must share one VPC"
        raise ParameterError("params", [Problem("network.subnet_ids", message)])
    if net.vpc_id != "default" and vpcs and vpcs[0] != net.vpc_id:
        message = f"is {net.vpc_id}, but the subnets are in {vpcs[0]} ({where}); fix one or omit vpc_id"
        raise ParameterError("params", [Problem("network.vpc_id", message)])
    return (vpcs[0] if vpcs else net.vpc_id), subnets


def _default_subnets(clients: Clients, params: Params, vpc_id: str) -> list[dict[str, str]]:
    """Up to 3 default-for-az subnets of ``vpc_id`` in supported zones, by Availability Zone ID."""
    found = paginate(
        clients, "ec2", "DescribeSubnets", "Subnets", resource=f"default subnets of {vpc_id}",
        Filters=[{"Name": "vpc-id", "Values": [vpc_id]}, {"Name": "default-for-az", "Values": ["true"]}],
    )  # fmt: skip
    subnets = sorted((_subnet(s) for s in found), key=lambda s: (s["zone_id"], s["id"]))
    chosen = [s for s in subnets if supported_zone(params.region, s["zone_id"])][:MAX_DEFAULT_SUBNETS]
    if not chosen:
        skipped = ", ".join(f"{s['id']} ({s['zone_id']})" for s in subnets) or "none"
        message = (
            f"`default`, but {vpc_id} has no default subnet in an Availability Zone App Runner supports "
            f"(default subnets: {skipped}); list the subnet ids"
        )
        raise ParameterError("params", [Problem("network.subnet_ids", message)])
    return sorted(chosen, key=lambda s: s["id"])


def _resolve_subnets(clients: Clients, params: Params) -> tuple[str, list[dict[str, str]]]:
    """(VPC id, subnets): explicit subnets decide the VPC; ``default`` picks the VPC's default subnets."""
    net = _require_network(params)
    if net.subnet_ids != "default":
        return _explicit_subnets(clients, params)
    vpc_id = _default_vpc_id(clients, params) if net.vpc_id == "default" else net.vpc_id
    return vpc_id, _default_subnets(clients, params, vpc_id)


def network_warnings(params: Params, subnets: list[dict[str, str]]) -> list[str]:
    """What the plan should show about the subnets: unsupported zones, a single zone. Pure."""
    warnings = [
        f"{s['id']} is in {s['zone_id']}, an Availability Zone where App Runner does not support VPC "
        "connectors: creating or updating the service will fail; choose subnets in other zones"
        for s in subnets
        if not supported_zone(params.region, s["zone_id"])
    ]
    zones = sorted({s["zone_id"] for s in subnets})
    if len(zones) == 1:
        warnings.append(ONE_ZONE_WARNING.format(zones=zones[0]))
    return warnings


def resolve_vpc_id(clients: Clients, params: Params) -> str:
    """The VPC: explicit subnets' VPC, else ``vpc_id`` (``default``: the account's default VPC)."""
    net = _require_network(params)
    if net.subnet_ids != "default":
        return _explicit_subnets(clients, params)[0]
    return _default_vpc_id(clients, params) if net.vpc_id == "default" else net.vpc_id


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


# ---------------------------------------------------------------- security group: pure parts


def security_group_name(params: Params) -> str:
    """The owned security group's name."""
    return f"{params.name}-apprunner-egress"


def security_group_tags(params: Params) -> dict[str, str]:
    """The owned tags plus a Name tag."""
    return {**params.owned_tags, "Name": security_group_name(params)}


def build_create_security_group_request(params: Params, vpc_id: str) -> dict[str, Any]:
    """CreateSecurityGroup: egress-only (EC2 adds the allow-all egress rule itself), tagged."""
    return {
        "GroupName": security_group_name(params),
        "Description": f"App Runner VPC connector egress for {params.name} (managed by runbook)",
        "VpcId": vpc_id,
        "TagSpecifications": [
            {"ResourceType": "security-group", "Tags": tag_list(security_group_tags(params))}
        ],
    }


def build_allow_all_egress_request(group_id: str) -> dict[str, Any]:
    """AuthorizeSecurityGroupEgress restoring the allow-all IPv4 egress rule."""
    return {
        "GroupId": group_id,
        "IpPermissions": [{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}],
    }


def build_tag_security_group_request(params: Params, group_id: str) -> dict[str, Any]:
    """CreateTags with the owned tags and Name."""
    return {"Resources": [group_id], "Tags": tag_list(security_group_tags(params))}


def security_group_arn(region: str, account_id: str, group_id: str) -> str:
    """The ARN of a security group (older EC2 responses carry no SecurityGroupArn)."""
    return f"arn:aws:ec2:{region}:{account_id}:security-group/{group_id}"


def _allows_all_egress(rules: list[dict[str, Any]]) -> bool:
    return any(
        r.get("IpProtocol") == "-1" and any(ip.get("CidrIp") == "0.0.0.0/0" for ip in r.get("IpRanges", []))
        for r in rules
    )


def diff_security_group(params: Params, observed: dict[str, Any]) -> tuple[Change, ...]:
    """Changes from egress-only + tagged: ingress rules to revoke, egress to restore, tags to set."""
    changes: list[Change] = []
    if observed["ingress"]:
        changes.append(Change("ingress_rules", len(observed["ingress"]), 0))
    if not _allows_all_egress(observed["egress"]):
        changes.append(Change("egress", "restricted", "all traffic"))
    desired = security_group_tags(params)
    if any(observed["tags"].get(k) != v for k, v in desired.items()):
        changes.append(Change("tags", {k: observed["tags"].get(k) for k in desired}, desired))
    return tuple(changes)


# ---------------------------------------------------------------- security group: senders


def _owned_security_groups(
    clients: Clients, params: Params, vpc_id: str | None = None
) -> list[dict[str, Any]]:
    return [g for g in _named_security_groups(clients, params, vpc_id) if is_owned(params, g["tags"])]


def _named_security_groups(
    clients: Clients, params: Params, vpc_id: str | None = None
) -> list[dict[str, Any]]:
    """Every security group of the owned group's name (anyone's), in ``vpc_id`` if given."""
    filters = [{"Name": "group-name", "Values": [security_group_name(params)]}]
    if vpc_id:
        filters.append({"Name": "vpc-id", "Values": [vpc_id]})
    groups = paginate(
        clients,
        "ec2",
        "DescribeSecurityGroups",
        "SecurityGroups",
        resource=f"security group {security_group_name(params)}",
        Filters=filters,
    )
    return [
        {
            "group_id": g["GroupId"],
            "name": g["GroupName"],
            "vpc_id": g.get("VpcId"),
            "arn": g.get("SecurityGroupArn")
            or security_group_arn(clients.region, g.get("OwnerId", params.account_id), g["GroupId"]),
            "ingress": g.get("IpPermissions", []),
            "egress": g.get("IpPermissionsEgress", []),
            "tags": {t["Key"]: t["Value"] for t in g.get("Tags", [])},
        }
        for g in sorted(groups, key=lambda g: g["GroupId"])
    ]


def find_security_group(
    clients: Clients, params: Params, *, vpc_id: str | None = None
) -> dict[str, Any] | None:
    """The owned security group (by name and owner tag, in ``vpc_id`` if given), or None."""
    groups = _owned_security_groups(clients, params, vpc_id)
    return groups[0] if groups else None


def _sg_result(params: Params, action: Action, **kwargs: Any) -> Result:
    return Result("security_group", security_group_name(params), action, **kwargs)


def _sg_not_owned(params: Params) -> Result | None:
    if params.network is None:
        return _sg_result(params, Action.UNCHANGED, detail=NO_NETWORK)
    if params.network.security_group_ids:
        ids = sorted(params.network.security_group_ids)
        detail = f"uses the given security groups {', '.join(ids)}; none is owned"
        return _sg_result(params, Action.UNCHANGED, detail=detail, extra={"security_group_ids": ids})
    return None


def _plan_sg(clients: Clients, params: Params) -> tuple[Result, dict[str, Any] | None]:
    vpc_id = resolve_vpc_id(clients, params)
    named = _named_security_groups(clients, params, vpc_id)
    observed = next((g for g in named if is_owned(params, g["tags"])), None)
    if observed is None and named:  # the name is taken in this VPC: someone else's, unless adopted
        foreign = named[0]
        claim(params, "security_group", foreign["name"], foreign["arn"], foreign["tags"])
        observed = foreign
    if observed is None:
        change = Change("security_group", None, f"{security_group_name(params)} in {vpc_id}")
        return _sg_result(params, Action.CREATE, changes=(change,), extra={"vpc_id": vpc_id}), None
    changes = diff_security_group(params, observed)
    extra = {"group_id": observed["group_id"], "vpc_id": vpc_id}
    action = Action.UPDATE if changes else Action.UNCHANGED
    return _sg_result(params, action, arn=observed["arn"], changes=changes, extra=extra), observed


def plan_security_group(clients: Clients, params: Params) -> Result:
    """Read-only: CREATE, UPDATE (ingress, egress, tags) or UNCHANGED."""
    return _sg_not_owned(params) or _plan_sg(clients, params)[0]


def ensure_security_group(clients: Clients, params: Params) -> Result:
    """Create the owned egress-only security group, or converge it; only when none is given."""
    skipped = _sg_not_owned(params)
    if skipped:
        return skipped
    planned, observed = _plan_sg(clients, params)
    resource = f"security group {security_group_name(params)}"
    vpc_id = planned.extra["vpc_id"]
    if observed is None:
        request = build_create_security_group_request(params, vpc_id)
        group_id = call(clients, "ec2", "CreateSecurityGroup", resource=resource, **request)["GroupId"]
        arn = security_group_arn(clients.region, params.account_id, group_id)
        log.info("created security group %s (%s) in %s", security_group_name(params), group_id, vpc_id)
        extra = {"group_id": group_id, "vpc_id": vpc_id}
        return _sg_result(params, Action.CREATED, arn=arn, changes=planned.changes, extra=extra)
    if planned.action is Action.UNCHANGED:
        return planned
    group_id = observed["group_id"]
    for field in planned.changed_fields:
        if field == "ingress_rules":
            call(
                clients,
                "ec2",
                "RevokeSecurityGroupIngress",
                resource=resource,
                GroupId=group_id,
                IpPermissions=observed["ingress"],
            )
        elif field == "egress":
            call(
                clients,
                "ec2",
                "AuthorizeSecurityGroupEgress",
                resource=resource,
                **build_allow_all_egress_request(group_id),
            )
        elif field == "tags":
            call(
                clients,
                "ec2",
                "CreateTags",
                resource=resource,
                **build_tag_security_group_request(params, group_id),
            )
    return _sg_result(params, Action.UPDATED, arn=planned.arn, changes=planned.changes, extra=planned.extra)


def _is_dependency_violation(err: RunbookError) -> bool:
    return isinstance(err, ResourceConflict) and err.code == "DependencyViolation"


def delete_security_group(
    clients: Clients,
    params: Params,
    *,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    timeout: float = SG_DELETE_TIMEOUT_S,
    on_progress: Callable[[dict[str, Any]], None] | None = None,
) -> Result:
    """Delete every owned security group of this name (any VPC), retrying DependencyViolation while
    App Runner's ENIs linger; ABSENT if there is none, KEPT if the only ones of the name are someone
    else's. Groups given in the params are never touched."""
    named = _named_security_groups(clients, params)
    groups = [g for g in named if is_owned(params, g["tags"])]
    deleted = [
        g["group_id"]
        for g in groups
        if delete_when_free(
            lambda g=g: call(
                clients,
                "ec2",
                "DeleteSecurityGroup",
                resource=f"security group {g['group_id']}",
                GroupId=g["group_id"],
            ),
            busy=_is_dependency_violation,
            what=f"deletion of security group {g['name']} ({g['group_id']})",
            timeout=timeout,
            sleep=sleep,
            clock=clock,
            on_progress=on_progress,
        )
    ]
    if not deleted:
        foreign = [g["arn"] for g in named if g not in groups]
        if foreign:
            return _sg_result(params, Action.KEPT, arn=foreign[0], detail=NOT_OWNED)
        return _sg_result(params, Action.ABSENT)
    arn = next(g["arn"] for g in groups if g["group_id"] == deleted[0])
    return _sg_result(params, Action.DELETED, arn=arn, extra={"group_ids": deleted})


# ---------------------------------------------------------------- VPC connector: pure parts


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
    what = f"vpc connector {arn}"
    found = call(clients, "apprunner", "ListTagsForResource", resource=what, ResourceArn=arn)
    return tag_map(found.get("Tags"))


def list_vpc_connectors(clients: Clients, params: Params) -> list[dict[str, Any]]:
    """ACTIVE connectors of the name family, oldest first, ``owned`` saying whose: the configured name
    whoever owns it, replacement names only when owned."""
    base = connector_base_name(params)
    items = paginate(
        clients, "apprunner", "ListVpcConnectors", "VpcConnectors", resource=f"vpc connectors {base}"
    )
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
    clients: Clients, params: Params, *, network: dict[str, Any] | None = None
) -> dict[str, Any] | None:
    """The current connector: the ACTIVE family member matching ``network`` if given, else the newest."""
    connectors = list_vpc_connectors(clients, params)
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
    connectors = list_vpc_connectors(clients, params)
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
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
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
    await_connector(clients, arn, deleted=False, sleep=sleep, clock=clock)
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
    try:
        found = call(
            clients, "apprunner", "DescribeVpcConnector", resource=f"vpc connector {arn}", VpcConnectorArn=arn
        )
    except ResourceNotFound:
        return GONE
    return str(found["VpcConnector"].get("Status", "")).upper()


def _still_active(clients: Clients, arn: str) -> bool:
    return _connector_status(clients, arn) == "ACTIVE"


def await_connector(
    clients: Clients,
    arn: str,
    *,
    deleted: bool,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> None:
    """Wait until reads show the connector created (ACTIVE) or ``deleted`` (INACTIVE or unknown), as
    Terraform does for up to 2 minutes each way: reads may lag the write."""
    fetch = functools.partial(_connector_status, clients, arn)
    await_read(f"vpc connector {arn}", fetch, deleted=deleted, sleep=sleep, clock=clock)


def delete_vpc_connector(
    clients: Clients,
    params: Params,
    *,
    arn: str | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    timeout: float = CONNECTOR_DELETE_TIMEOUT_S,
    on_progress: Callable[[dict[str, Any]], None] | None = None,
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
            lambda target=target: call(
                clients,
                "apprunner",
                "DeleteVpcConnector",
                resource=f"vpc connector {target}",
                VpcConnectorArn=target,
            ),
            busy=_is_in_use,
            what=f"deletion of vpc connector {target}",
            timeout=timeout,
            sleep=sleep,
            clock=clock,
            on_progress=on_progress,
        )
    ]
    if not deleted and foreign:
        return _connector_result(params, Action.KEPT, arn=foreign[0], detail=NOT_OWNED)
    if not deleted:
        return _connector_result(params, Action.ABSENT, arn=arn)
    for target in deleted:
        await_connector(clients, target, deleted=True, sleep=sleep, clock=clock)
    return _connector_result(params, Action.DELETED, arn=deleted[0], extra={"arns": deleted})
