"""The owned egress-only security group: pure request builders and diff, then the senders.
"""

from __future__ import annotations

import logging
from typing import Any, Unpack

from runbook_lib.aws import call, paginate
from runbook_lib.clients import Clients
from runbook_lib.errors import (
    ResourceConflict,
    RunbookError,
)
from runbook_lib.network.dependents import SG_DELETE_TIMEOUT_S, delete_when_free
from runbook_lib.network.resolve import NO_NETWORK, resolve_vpc_id
from runbook_lib.ownership import claim, is_owned, tag_list, tag_map
from runbook_lib.params import Params
from runbook_lib.results import NOT_OWNED, Action, Change, Result
from runbook_lib.waiters import Waits

__all__ = [
    "build_allow_all_egress_request", "build_create_security_group_request",
    "build_tag_security_group_request", "delete_security_group", "diff_security_group",
    "ensure_security_group", "find_security_group", "plan_security_group", "security_group_arn",
    "security_group_name", "security_group_tags",
]  # fmt: skip

log = logging.getLogger(__name__)


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
            "tags": tag_map(g.get("Tags", [])),
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
    timeout: float = SG_DELETE_TIMEOUT_S,
    **waits: Unpack[Waits],
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
            lambda g=g: call(clients, "ec2", "DeleteSecurityGroup",
                             resource=f"security group {g['group_id']}", GroupId=g["group_id"]),
            busy=_is_dependency_violation, what=f"deletion of security group {g['name']} ({g['group_id']})",
            timeout=timeout, **waits,
        )  # fmt: skip
    ]
    if not deleted:
        foreign = [g["arn"] for g in named if g not in groups]
        if foreign:
            return _sg_result(params, Action.KEPT, arn=foreign[0], detail=NOT_OWNED)
        return _sg_result(params, Action.ABSENT)
    arn = next(g["arn"] for g in groups if g["group_id"] == deleted[0])
    return _sg_result(params, Action.DELETED, arn=arn, extra={"group_ids": deleted})
