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

from runbook_lib.network.connector import (
    NAME_PREFIX_MAX,
    await_connector,
    build_create_vpc_connector_request,
    connector_base_name,
    delete_vpc_connector,
    diff_vpc_connector,
    ensure_vpc_connector,
    find_vpc_connector,
    in_connector_family,
    list_vpc_connectors,
    plan_vpc_connector,
    replacement_connector_name,
    resolve_network,
)
from runbook_lib.network.dependents import (
    CONNECTOR_DELETE_TIMEOUT_S,
    DELETE_BACKOFF,
    SG_DELETE_TIMEOUT_S,
    delete_when_free,
)
from runbook_lib.network.resolve import (
    MAX_DEFAULT_SUBNETS,
    NO_NETWORK,
    ONE_ZONE_WARNING,
    UNSUPPORTED_AZ_IDS,
    network_warnings,
    resolve_vpc_id,
    supported_zone,
)
from runbook_lib.network.security_group import (
    build_allow_all_egress_request,
    build_create_security_group_request,
    build_tag_security_group_request,
    delete_security_group,
    diff_security_group,
    ensure_security_group,
    find_security_group,
    plan_security_group,
    security_group_arn,
    security_group_name,
    security_group_tags,
)

__all__ = [
    "CONNECTOR_DELETE_TIMEOUT_S", "DELETE_BACKOFF", "MAX_DEFAULT_SUBNETS", "NAME_PREFIX_MAX", "NO_NETWORK",
    "ONE_ZONE_WARNING", "SG_DELETE_TIMEOUT_S", "UNSUPPORTED_AZ_IDS", "await_connector",
    "build_allow_all_egress_request", "build_create_security_group_request",
    "build_create_vpc_connector_request", "build_tag_security_group_request", "connector_base_name",
    "delete_security_group", "delete_vpc_connector", "delete_when_free", "diff_security_group",
    "diff_vpc_connector", "ensure_security_group", "ensure_vpc_connector", "find_security_group",
    "find_vpc_connector", "in_connector_family", "list_vpc_connectors", "network_warnings",
    "plan_security_group", "plan_vpc_connector", "replacement_connector_name", "resolve_network",
    "resolve_vpc_id", "security_group_arn", "security_group_name", "security_group_tags", "supported_zone",
]  # fmt: skip
