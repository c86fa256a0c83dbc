"""Private services: the VPC ingress connection, and (``vpc_endpoint_id: create``) an owned endpoint.

A private service (``IsPubliclyAccessible: false``) has no public URL; it is reached from a VPC through
a VPC ingress connection to an interface endpoint of ``com.amazonaws.<region>.apprunner.requests``
(the Terraform AWS provider's ``vpc_ingress_connection.go`` and its test build the endpoint this way).
Ingress connection statuses: PENDING_CREATION / PENDING_UPDATE → AVAILABLE; PENDING_DELETION → DELETED.
Both resources carry the owner tag; same-named ones the runbook does not own are refused (``claim``)
and kept by the teardown. Since nothing outside the VPC can reach the service, ``verify_private_service``
checks the connection's status and domain name instead of an HTTP request, and says so.
"""

from __future__ import annotations

import logging
from typing import Any, Unpack

from runbook_lib.aws import call, paginate
from runbook_lib.clients import Clients
from runbook_lib.errors import ParameterError, Problem, ResourceConflict, ResourceNotFound
from runbook_lib.ownership import claim, is_owned, tag_list, tag_map
from runbook_lib.params import Params
from runbook_lib.results import NOT_OWNED, Action, Change, Result
from runbook_lib.waiters import (
    GONE,
    Waits,
    ingress_available,
    ingress_deleted,
    wait_for,
)

__all__ = [
    "build_create_ingress_request", "build_create_vpc_endpoint_request", "delete_ingress_connection",
    "delete_vpc_endpoint", "endpoint_service_name", "ensure_ingress_connection", "ensure_vpc_endpoint",
    "find_ingress_connection", "find_vpc_endpoint", "plan_ingress", "plan_vpc_endpoint",
    "verify_private_service",
]  # fmt: skip

log = logging.getLogger(__name__)

CONNECTION = "ingress_connection"
ENDPOINT = "vpc_endpoint"


def endpoint_service_name(region: str) -> str:
    """The endpoint service App Runner's private services are reached through."""
    return f"com.amazonaws.{region}.apprunner.requests"


def _ingress(params: Params) -> Any:
    if params.ingress is None:
        raise ValueError("the params have no ingress section (public service)")
    return params.ingress


# ------------------------------------------------------------------------------------------ pure parts


def build_create_vpc_endpoint_request(params: Params, vpc_id: str) -> dict[str, Any]:
    """CreateVpcEndpoint for an owned apprunner.requests interface endpoint, named after the connection."""
    ingress = _ingress(params)
    tags = tag_list({**params.owned_tags, "Name": ingress.name})
    request: dict[str, Any] = {
        "VpcEndpointType": "Interface",
        "VpcId": vpc_id,
        "ServiceName": endpoint_service_name(params.region),
        "TagSpecifications": [{"ResourceType": "vpc-endpoint", "Tags": tags}],
    }
    if ingress.subnet_ids:
        request["SubnetIds"] = list(ingress.subnet_ids)
    return request


def build_create_ingress_request(
    params: Params, service_arn: str, vpc_id: str, endpoint_id: str
) -> dict[str, Any]:
    """CreateVpcIngressConnection for the service, tagged as owned."""
    return {
        "ServiceArn": service_arn,
        "VpcIngressConnectionName": _ingress(params).name,
        "IngressVpcConfiguration": {"VpcId": vpc_id, "VpcEndpointId": endpoint_id},
        "Tags": tag_list(params.owned_tags),
    }


# ------------------------------------------------------------------------------------------ endpoint


def _vpc_id(clients: Clients, params: Params) -> str:
    vpc = _ingress(params).vpc_id
    if vpc != "default":
        return vpc
    vpcs = paginate(
        clients,
        "ec2",
        "DescribeVpcs",
        "Vpcs",
        resource="default VPC",
        Filters=[{"Name": "isDefault", "Values": ["true"]}],
    )
    if not vpcs:
        problem = Problem("ingress.vpc_id", f"`default`, but {params.region} has no default VPC; give an id")
        raise ParameterError("params", [problem])
    return str(vpcs[0]["VpcId"])


def _named_endpoints(clients: Clients, params: Params) -> list[dict[str, Any]]:
    """Live apprunner.requests endpoints named after the ingress connection (anyone's)."""
    found = paginate(
        clients,
        "ec2",
        "DescribeVpcEndpoints",
        "VpcEndpoints",
        resource=f"vpc endpoint {_ingress(params).name}",
        Filters=[
            {"Name": "service-name", "Values": [endpoint_service_name(params.region)]},
            {"Name": "tag:Name", "Values": [_ingress(params).name]},
        ],
    )
    return [
        {
            "id": e["VpcEndpointId"],
            "vpc_id": e["VpcId"],
            "state": e.get("State", ""),
            "tags": tag_map(e.get("Tags")),
        }
        for e in found
        if str(e.get("State", "")).lower() not in ("deleted", "deleting")
    ]


def find_vpc_endpoint(clients: Clients, params: Params) -> dict[str, Any] | None:
    """The owned endpoint (checked with ``claim``: a same-named foreign one raises NotOwned), or None."""
    named = _named_endpoints(clients, params)
    owned = [e for e in named if is_owned(params, e["tags"])]
    if owned:
        return owned[0]
    for e in named:
        claim(params, ENDPOINT, _ingress(params).name, e["id"], e["tags"])
        return {**e, "adopt": True}
    return None


def plan_vpc_endpoint(clients: Clients, params: Params) -> Result:
    """Read-only: the given endpoint (UNCHANGED), or the owned one: CREATE, UPDATE (adopt) or UNCHANGED."""
    ingress = _ingress(params)
    if ingress.vpc_endpoint_id != "create":
        return Result(ENDPOINT, ingress.vpc_endpoint_id, Action.UNCHANGED, detail="given; not owned")
    found = find_vpc_endpoint(clients, params)
    if found is None:
        return Result(
            ENDPOINT, ingress.name, Action.CREATE, changes=(Change("vpc_endpoint", None, ingress.name),)
        )
    action = Action.UPDATE if found.get("adopt") else Action.UNCHANGED
    return Result(ENDPOINT, ingress.name, action, arn=found["id"], extra={"endpoint_id": found["id"]})


def ensure_vpc_endpoint(clients: Clients, params: Params) -> Result:
    """The endpoint the ingress connection uses: the given one (UNCHANGED, never owned), or the owned one,
    created when missing (``vpc_endpoint_id: create``)."""
    ingress = _ingress(params)
    if ingress.vpc_endpoint_id != "create":
        detail = f"uses the given endpoint {ingress.vpc_endpoint_id}; not owned"
        return Result(
            ENDPOINT,
            ingress.vpc_endpoint_id,
            Action.UNCHANGED,
            detail=detail,
            extra={"endpoint_id": ingress.vpc_endpoint_id},
        )
    found = find_vpc_endpoint(clients, params)
    if found is not None and found.get("adopt"):
        call(
            clients,
            "ec2",
            "CreateTags",
            resource=f"vpc endpoint {found['id']}",
            Resources=[found["id"]],
            Tags=tag_list(params.owned_tags),
        )
        return Result(
            ENDPOINT,
            ingress.name,
            Action.UPDATED,
            arn=found["id"],
            detail="adopted",
            extra={"endpoint_id": found["id"]},
        )
    if found is not None:
        return Result(
            ENDPOINT, ingress.name, Action.UNCHANGED, arn=found["id"], extra={"endpoint_id": found["id"]}
        )
    vpc_id = _vpc_id(clients, params)
    made = call(
        clients,
        "ec2",
        "CreateVpcEndpoint",
        resource=f"vpc endpoint {ingress.name}",
        **build_create_vpc_endpoint_request(params, vpc_id),
    )["VpcEndpoint"]
    log.info("created vpc endpoint %s (%s) in %s", ingress.name, made["VpcEndpointId"], vpc_id)
    change = Change("vpc_endpoint", None, f"{endpoint_service_name(params.region)} in {vpc_id}")
    return Result(
        ENDPOINT,
        ingress.name,
        Action.CREATED,
        arn=made["VpcEndpointId"],
        changes=(change,),
        extra={"endpoint_id": made["VpcEndpointId"]},
    )


def delete_vpc_endpoint(clients: Clients, params: Params) -> Result:
    """Delete the owned endpoint; ABSENT without one; KEPT when the only one of the name is foreign."""
    if params.ingress is None or params.ingress.vpc_endpoint_id != "create":
        return Result(
            ENDPOINT,
            getattr(params.ingress, "vpc_endpoint_id", "-"),
            Action.ABSENT,
            detail="no owned endpoint in the params",
        )
    named = _named_endpoints(clients, params)
    owned = [e["id"] for e in named if is_owned(params, e["tags"])]
    if not owned:
        if named:
            return Result(ENDPOINT, params.ingress.name, Action.KEPT, arn=named[0]["id"], detail=NOT_OWNED)
        return Result(ENDPOINT, params.ingress.name, Action.ABSENT)
    call(
        clients,
        "ec2",
        "DeleteVpcEndpoints",
        resource=f"vpc endpoint {params.ingress.name}",
        VpcEndpointIds=owned,
    )
    return Result(ENDPOINT, params.ingress.name, Action.DELETED, arn=owned[0], extra={"endpoint_ids": owned})


# ------------------------------------------------------------------------------------------ connection


def _describe(clients: Clients, arn: str) -> dict[str, Any] | None:
    try:
        found = call(
            clients,
            "apprunner",
            "DescribeVpcIngressConnection",
            resource=f"vpc ingress connection {arn}",
            VpcIngressConnectionArn=arn,
        )["VpcIngressConnection"]
    except ResourceNotFound:
        return None
    vpc = found.get("IngressVpcConfiguration") or {}
    return {
        "arn": found["VpcIngressConnectionArn"],
        "name": found["VpcIngressConnectionName"],
        "service_arn": found["ServiceArn"],
        "status": found["Status"],
        "domain_name": found.get("DomainName", ""),
        "vpc_id": vpc.get("VpcId"),
        "endpoint_id": vpc.get("VpcEndpointId"),
    }


def find_ingress_connection(clients: Clients, params: Params) -> dict[str, Any] | None:
    """The live ingress connection of the params' name (anyone's; ``tags`` and ``owned`` say whose)."""
    name = _ingress(params).name
    summaries = paginate(
        clients,
        "apprunner",
        "ListVpcIngressConnections",
        "VpcIngressConnectionSummaryList",
        resource=f"vpc ingress connection {name}",
    )
    for summary in summaries:
        if f"/{name}/" not in summary["VpcIngressConnectionArn"]:  # vpcingressconnection/<name>/<id>
            continue
        found = _describe(clients, summary["VpcIngressConnectionArn"])
        if found and found["name"] == name and found["status"] != "DELETED":
            tags = tag_map(
                call(
                    clients,
                    "apprunner",
                    "ListTagsForResource",
                    resource=f"vpc ingress connection {name}",
                    ResourceArn=found["arn"],
                )["Tags"]
            )
            return {**found, "tags": tags, "owned": is_owned(params, tags)}
    return None


def _status(clients: Clients, arn: str) -> str:
    found = _describe(clients, arn)
    return found["status"] if found else GONE


def plan_ingress(
    clients: Clients, params: Params, *, service_arn: str | None, endpoint_id: str | None
) -> Result:
    """Read-only: CREATE, UPDATE (endpoint or VPC) or UNCHANGED; a foreign same-named one raises NotOwned."""
    name = _ingress(params).name
    found = find_ingress_connection(clients, params)
    if found is None:
        return Result(
            CONNECTION, name, Action.CREATE, changes=(Change("vpc_ingress_connection", None, name),)
        )
    claim(params, CONNECTION, name, found["arn"], found["tags"])
    changes = []
    if endpoint_id and found["endpoint_id"] != endpoint_id:
        changes.append(Change("vpc_endpoint_id", found["endpoint_id"], endpoint_id))
    if service_arn and found["service_arn"] != service_arn:
        changes.append(Change("service_arn", found["service_arn"], service_arn))
    extra = {k: found[k] for k in ("status", "domain_name", "vpc_id", "endpoint_id")}
    action = Action.UPDATE if changes else Action.UNCHANGED
    return Result(CONNECTION, name, action, arn=found["arn"], changes=tuple(changes), extra=extra)


def _send(
    clients: Clients, params: Params, planned: Result, service_arn: str, endpoint_id: str
) -> tuple[str, Action]:
    """Create or update the connection as planned; (its ARN, what was done)."""
    name = _ingress(params).name
    resource = f"vpc ingress connection {name}"
    if planned.action is Action.CREATE:
        request = build_create_ingress_request(params, service_arn, _vpc_id(clients, params), endpoint_id)
        made = call(clients, "apprunner", "CreateVpcIngressConnection", resource=resource, **request)
        return made["VpcIngressConnection"]["VpcIngressConnectionArn"], Action.CREATED
    if "service_arn" in planned.changed_fields:
        raise ResourceConflict(
            f"The VPC ingress connection {name} belongs to another service ({planned.changes[-1].observed}); "
            "delete it (teardown of that environment) or give ingress.name another name.",
            resource=resource,
            operation="plan_ingress",
            code="Conflict",
            aws_message="the connection is bound to another service",
        )
    arn = str(planned.arn)
    if planned.action is not Action.UPDATE:
        return arn, Action.UNCHANGED
    vpc = {"VpcId": planned.extra["vpc_id"], "VpcEndpointId": endpoint_id}
    call(clients, "apprunner", "UpdateVpcIngressConnection", resource=resource, VpcIngressConnectionArn=arn,
         IngressVpcConfiguration=vpc)  # fmt: skip
    return arn, Action.UPDATED


def ensure_ingress_connection(
    clients: Clients,
    params: Params,
    *,
    service_arn: str,
    endpoint_id: str,
    timeout: float | None = None,
    **waits: Unpack[Waits],
) -> Result:
    """Create the ingress connection (or point it at the endpoint) and wait until it is AVAILABLE."""
    name = _ingress(params).name
    planned = plan_ingress(clients, params, service_arn=service_arn, endpoint_id=endpoint_id)
    if planned.action is Action.UNCHANGED and planned.extra.get("status") == "AVAILABLE":
        return planned
    arn, done = _send(clients, params, planned, service_arn, endpoint_id)
    spec = ingress_available(name, lambda: _status(clients, arn))
    wait_for(spec, timeout=timeout or params.timeouts.ingress_s, **waits)
    found = _describe(clients, arn) or {}
    extra = {k: found.get(k) for k in ("status", "domain_name", "vpc_id", "endpoint_id")}
    return Result(
        CONNECTION,
        name,
        done,
        arn=arn,
        changes=planned.changes,
        detail=found.get("domain_name", ""),
        extra=extra,
    )


def delete_ingress_connection(
    clients: Clients, params: Params, *, timeout: float | None = None, **waits: Unpack[Waits]
) -> Result:
    """Delete the owned ingress connection and wait until it is DELETED; ABSENT, or KEPT when foreign."""
    if params.ingress is None:
        return Result(CONNECTION, params.name, Action.ABSENT, detail="public service: no ingress connection")
    name = params.ingress.name
    found = find_ingress_connection(clients, params)
    if found is None:
        return Result(CONNECTION, name, Action.ABSENT)
    if not found["owned"]:
        return Result(CONNECTION, name, Action.KEPT, arn=found["arn"], detail=NOT_OWNED)
    if found["status"] != "PENDING_DELETION":
        call(
            clients,
            "apprunner",
            "DeleteVpcIngressConnection",
            resource=f"vpc ingress connection {name}",
            VpcIngressConnectionArn=found["arn"],
        )
    spec = ingress_deleted(name, lambda: _status(clients, found["arn"]))
    wait_for(spec, timeout=timeout or params.timeouts.ingress_s, **waits)
    return Result(CONNECTION, name, Action.DELETED, arn=found["arn"])


def verify_private_service(clients: Clients, params: Params, service: dict[str, Any]) -> Result:
    """A private service cannot be reached from here: check its ingress connection instead (AVAILABLE,
    with a domain name), and say so. ``extra["ok"]`` is the outcome, as for ``verify_service``."""
    found = find_ingress_connection(clients, params) if params.ingress else None
    ok = bool(found and found["status"] == "AVAILABLE" and found["domain_name"])
    seen = (
        f"{found['status']}, domain {found['domain_name'] or '(none)'}" if found else "no ingress connection"
    )
    detail = (
        f"private service: no request can reach it from outside the VPC, so the VPC ingress connection was "
        f"checked instead of HTTP: {seen}"
    )
    extra = {
        "ok": ok,
        "status_code": None,
        "http_url": None,
        "ingress_domain": (found or {}).get("domain_name"),
    }
    return Result(
        "service", params.name, Action.UNCHANGED, arn=service.get("arn"), detail=detail, extra=extra
    )
