"""Resolution of the VPC and subnets (``resolve_network``): explicit ``subnet_ids`` decide the VPC; else
the params' VPC or the account's default one, and its default-for-az subnets in supported zones.
"""

from __future__ import annotations

import logging
from typing import Any

from runbook_lib.aws import paginate
from runbook_lib.clients import Clients
from runbook_lib.errors import ParameterError, Problem
from runbook_lib.params import Params

__all__ = [
    "MAX_DEFAULT_SUBNETS", "NO_NETWORK", "ONE_ZONE_WARNING", "UNSUPPORTED_AZ_IDS", "network_warnings",
    "resolve_vpc_id", "supported_zone",
]  # fmt: skip

log = logging.getLogger(__name__)


MAX_DEFAULT_SUBNETS = 3
NO_NETWORK = "no network section in the params: the service uses default public egress"


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
