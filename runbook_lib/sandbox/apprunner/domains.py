"""App Runner emulator: custom domains and VPC ingress connections (state, rules and their handlers).

Custom domains (AssociateCustomDomain, DescribeCustomDomains, DisassociateCustomDomain): statuses are
lowercase on the wire, as the Terraform AWS provider compares them (``internal/service/apprunner/
custom_domain_association.go``: ``creating`` → ``pending_certificate_dns_validation`` /
``binding_certificate`` → ``active``; ``deleting`` until DescribeCustomDomains no longer lists it). A new
association is ``creating`` for ``op_seconds``, then ``pending_certificate_dns_validation`` with its
certificate validation records (CNAMEs, record status ``PENDING_VALIDATION``). It turns
``binding_certificate`` (records ``SUCCESS``), and ``op_seconds`` later ``active``, once every record
exists with its value in the sandbox's Route 53 (moto, any hosted zone) or once the control API says so
(``POST /_sandbox/domains/<domain>/validate``). The records are derived from the domain name, so they are
the same on every association of it (the sandbox's choice; AWS's come from ACM).

VPC ingress connections (Create/Describe/List/Update/DeleteVpcIngressConnection): statuses
``PENDING_CREATION`` / ``PENDING_UPDATE`` → ``AVAILABLE``, ``PENDING_DELETION`` → ``DELETED`` after
``op_seconds``; update only from AVAILABLE / FAILED_CREATION / FAILED_UPDATE, delete from AVAILABLE /
FAILED_* (``InvalidStateException`` otherwise). Create checks that the endpoint exists in the sandbox's
EC2 (moto), is in the given VPC and serves ``com.amazonaws.<region>.apprunner.requests``. A DELETED
connection is still described (with ``DeletedAt``) but no longer listed. DeleteService is refused while an
ingress connection of the service is AVAILABLE (see ``models.AppRunnerBackend.delete_service``).

DNSTarget: the service URL; a private service (no ServiceUrl) gets a target derived from its id, as
Terraform reads a private service's URL from DescribeCustomDomains' ``DNSTarget``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from runbook_lib.sandbox.apprunner.exceptions import (
    InvalidRequestException,
    InvalidStateException,
    ResourceNotFoundException,
)
from runbook_lib.sandbox.apprunner.models import AppRunnerBackend, AppRunnerBackends
from runbook_lib.sandbox.apprunner.resources import _hex32, _service_url_host, without_none

__all__ = ["CustomDomain", "IngressConnection", "dns_target", "handlers", "validate_domain"]

Handler = Callable[[AppRunnerBackend, dict[str, Any]], dict[str, Any]]
Page = Callable[[AppRunnerBackend, dict[str, Any], list[Any], str, Callable[[Any], Any]], dict[str, Any]]
UPDATABLE = frozenset({"AVAILABLE", "FAILED_CREATION", "FAILED_UPDATE"})
DELETABLE = frozenset({"AVAILABLE", "FAILED_CREATION", "FAILED_UPDATE", "FAILED_DELETION"})


def _digest(text: str, n: int) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:n]


def validation_records(domain: str, www: bool) -> list[dict[str, str]]:
    """The certificate validation CNAMEs of a domain (and of ``www.<domain>`` with EnableWWWSubdomain)."""
    names = [domain, f"www.{domain}"] if www else [domain]
    return [
        {
            "Name": f"_{_digest(name, 32)}.{name}.",
            "Type": "CNAME",
            "Value": f"_{_digest('value:' + name, 32)}.{_digest('acm:' + name, 10)}.acm-validations.aws.",
            "Status": "PENDING_VALIDATION",
        }
        for name in names
    ]


@dataclass
class CustomDomain:
    domain: str
    www: bool
    status: str = "creating"
    records: list[dict[str, str]] = field(default_factory=list)
    validated: bool = False  # the control API said so

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "DomainName": self.domain,
            "EnableWWWSubdomain": self.www,
            "Status": self.status,
        }
        if self.records:
            data["CertificateValidationRecords"] = [dict(r) for r in self.records]
        return data


@dataclass
class IngressConnection:
    arn: str
    name: str
    service_arn: str
    vpc_id: str
    endpoint_id: str
    domain_name: str
    created_at: float
    status: str = "PENDING_CREATION"
    deleted_at: float | None = None

    def to_dict(self, account_id: str) -> dict[str, Any]:
        return without_none({
            "VpcIngressConnectionArn": self.arn, "VpcIngressConnectionName": self.name,
            "ServiceArn": self.service_arn, "Status": self.status, "AccountId": account_id,
            "DomainName": self.domain_name, "CreatedAt": self.created_at,
            "IngressVpcConfiguration": {"VpcId": self.vpc_id, "VpcEndpointId": self.endpoint_id},
            "DeletedAt": self.deleted_at,
        })  # fmt: skip


# ------------------------------------------------------------------------------------- custom domains


def dns_target(b: AppRunnerBackend, service_arn: str) -> str:
    """Where the domain's own record points: the service URL, or (private service) one from its id."""
    svc = b.get_service(service_arn)
    return svc.url or f"{svc.id[:10]}.{b.region}.awsapprunner.com"


def _route53_has(account_id: str, record: dict[str, str]) -> bool:
    from moto.route53.models import route53_backends

    want_name, want_value = record["Name"].rstrip(".").lower(), record["Value"].rstrip(".").lower()
    for zone in route53_backends[account_id]["aws"].zones.values():
        for rrset in zone.rrsets:
            if rrset.name.rstrip(".").lower() == want_name and rrset.type == record["Type"]:
                if any(str(v).rstrip(".").lower() == want_value for v in rrset.records):
                    return True
    return False


def _refresh(b: AppRunnerBackend, cd: CustomDomain) -> None:
    """A pending domain whose records resolve (or that the control API validated) binds its certificate."""
    if cd.status != "pending_certificate_dns_validation":
        return
    if not (cd.validated or all(_route53_has(b.account_id, r) for r in cd.records)):
        return
    cd.status = "binding_certificate"
    for record in cd.records:
        record["Status"] = "SUCCESS"

    def bound() -> None:
        if cd.status == "binding_certificate":
            cd.status = "active"

    b.schedule(b.config.op_seconds, bound)


def _domains_of(b: AppRunnerBackend, service_arn: str) -> dict[str, CustomDomain]:
    b.get_service(service_arn)  # ResourceNotFoundException for an unknown service
    return b.custom_domains.setdefault(service_arn, {})


def associate(b: AppRunnerBackend, service_arn: str, domain: str, www: bool) -> CustomDomain:
    for arn, domains in b.custom_domains.items():
        if domain in domains:
            where = "this service" if arn == service_arn else "another service"
            raise InvalidRequestException(f"The domain {domain} is already associated with {where}")
    if b.get_service(service_arn).status not in ("RUNNING", "OPERATION_IN_PROGRESS"):
        raise InvalidStateException(f"The service isn't running. Service ARN: {service_arn}")
    cd = CustomDomain(domain=domain, www=www)
    _domains_of(b, service_arn)[domain] = cd

    def pending() -> None:
        if cd.status == "creating":
            cd.status, cd.records = "pending_certificate_dns_validation", validation_records(domain, www)
            _refresh(b, cd)

    b.schedule(b.config.op_seconds, pending)
    return cd


def describe(b: AppRunnerBackend, service_arn: str) -> list[CustomDomain]:
    domains = _domains_of(b, service_arn)
    for cd in domains.values():
        _refresh(b, cd)
    return list(domains.values())


def disassociate(b: AppRunnerBackend, service_arn: str, domain: str) -> CustomDomain:
    domains = _domains_of(b, service_arn)
    cd = domains.get(domain)
    if cd is None or cd.status == "deleting":
        raise ResourceNotFoundException(f"No custom domain {domain} is associated with {service_arn}")
    cd.status = "deleting"
    b.schedule(b.config.op_seconds, lambda: domains.pop(domain, None))
    return cd


def validate_domain(registry: AppRunnerBackends, domain: str) -> list[dict[str, Any]]:
    """The control API's validation: every association of ``domain`` counts as DNS-validated."""
    done = []
    for b in registry.all():
        for domains in b.custom_domains.values():
            cd = domains.get(domain)
            if cd is not None:
                cd.validated = True
                _refresh(b, cd)
                done.append(cd.to_dict())
    return done


# ----------------------------------------------------------------------------- VPC ingress connections


def _check_endpoint(b: AppRunnerBackend, vpc_id: str, endpoint_id: str) -> None:
    endpoint = b._ec2().vpc_end_points.get(endpoint_id)
    if endpoint is None:
        raise InvalidRequestException(f"The VPC endpoint doesn't exist: {endpoint_id}")
    wanted = f"com.amazonaws.{b.region}.apprunner.requests"
    if endpoint.service_name != wanted:
        raise InvalidRequestException(
            f"The VPC endpoint {endpoint_id} serves {endpoint.service_name}, not {wanted}"
        )
    if endpoint.vpc_id != vpc_id:
        raise InvalidRequestException(f"The VPC endpoint {endpoint_id} isn't in the VPC {vpc_id}")


def _settle(b: AppRunnerBackend, conn: IngressConnection, final: str) -> None:
    def done() -> None:
        conn.status = final
        if final == "DELETED":
            conn.deleted_at = b.now()

    b.schedule(b.config.op_seconds, done)


def create_ingress(b: AppRunnerBackend, r: dict[str, Any]) -> IngressConnection:
    name, service_arn, vpc = r["VpcIngressConnectionName"], r["ServiceArn"], r["IngressVpcConfiguration"]
    if any(c.name == name and c.status != "DELETED" for c in b.ingress.values()):
        raise InvalidRequestException(f"VPC ingress connection with the provided name already exists: {name}")
    svc = b.get_service(service_arn)
    _check_endpoint(b, vpc.get("VpcId", ""), vpc.get("VpcEndpointId", ""))
    arn = b._arn(f"vpcingressconnection/{name}/{_hex32()}")
    domain_name = f"{_service_url_host()}.{svc.id[:8]}.{b.region}.awsapprunner.com"
    conn = IngressConnection(
        arn, name, service_arn, vpc["VpcId"], vpc["VpcEndpointId"], domain_name, created_at=b.now()
    )
    b.ingress[arn] = conn
    if r.get("Tags"):
        b.tags[arn] = {t["Key"]: t.get("Value", "") for t in r["Tags"]}
    _settle(b, conn, "AVAILABLE")
    return conn


def get_ingress(b: AppRunnerBackend, arn: str) -> IngressConnection:
    if arn not in b.ingress:
        raise ResourceNotFoundException(f"VPC ingress connection not found: {arn}")
    return b.ingress[arn]


def update_ingress(b: AppRunnerBackend, arn: str, vpc: dict[str, str]) -> IngressConnection:
    conn = get_ingress(b, arn)
    if conn.status not in UPDATABLE:
        raise InvalidStateException(f"You can't update a VPC ingress connection in status {conn.status}")
    _check_endpoint(b, vpc.get("VpcId", ""), vpc.get("VpcEndpointId", ""))
    conn.vpc_id, conn.endpoint_id, conn.status = vpc["VpcId"], vpc["VpcEndpointId"], "PENDING_UPDATE"
    _settle(b, conn, "AVAILABLE")
    return conn


def delete_ingress(b: AppRunnerBackend, arn: str) -> IngressConnection:
    conn = get_ingress(b, arn)
    if conn.status not in DELETABLE:
        raise InvalidStateException(f"You can't delete a VPC ingress connection in status {conn.status}")
    conn.status = "PENDING_DELETION"
    _settle(b, conn, "DELETED")
    return conn


def list_ingress(b: AppRunnerBackend, filt: dict[str, str]) -> list[IngressConnection]:
    return [
        c
        for c in b.ingress.values()
        if c.status != "DELETED"
        and filt.get("ServiceArn", c.service_arn) == c.service_arn
        and filt.get("VpcEndpointId", c.endpoint_id) == c.endpoint_id
    ]


# ------------------------------------------------------------------------------------------ handlers


def _domains_answer(b: AppRunnerBackend, service_arn: str) -> dict[str, Any]:
    vpc_targets = [
        {"VpcIngressConnectionArn": c.arn, "VpcId": c.vpc_id, "DomainName": c.domain_name}
        for c in list_ingress(b, {"ServiceArn": service_arn})
        if c.status == "AVAILABLE"
    ]
    return {"DNSTarget": dns_target(b, service_arn), "ServiceArn": service_arn, "VpcDNSTargets": vpc_targets}


def handlers(page: Page) -> dict[str, Handler]:
    """The operations of this module, paginated by ``responses``' own ``page`` helper."""

    def _associate(b: AppRunnerBackend, r: dict[str, Any]) -> dict[str, Any]:
        cd = associate(b, r["ServiceArn"], r["DomainName"], bool(r.get("EnableWWWSubdomain", True)))
        return {**_domains_answer(b, r["ServiceArn"]), "CustomDomain": cd.to_dict()}

    def _describe(b: AppRunnerBackend, r: dict[str, Any]) -> dict[str, Any]:
        listed = page(b, r, describe(b, r["ServiceArn"]), "CustomDomains", lambda d: d.to_dict())
        return {**_domains_answer(b, r["ServiceArn"]), **listed}

    def _disassociate(b: AppRunnerBackend, r: dict[str, Any]) -> dict[str, Any]:
        cd = disassociate(b, r["ServiceArn"], r["DomainName"])
        return {**_domains_answer(b, r["ServiceArn"]), "CustomDomain": cd.to_dict()}

    def _answer(conn: IngressConnection, b: AppRunnerBackend) -> dict[str, Any]:
        return {"VpcIngressConnection": conn.to_dict(b.account_id)}

    def _summary(c: IngressConnection) -> dict[str, str]:
        return {"VpcIngressConnectionArn": c.arn, "ServiceArn": c.service_arn}

    return {
        "AssociateCustomDomain": _associate,
        "DescribeCustomDomains": _describe,
        "DisassociateCustomDomain": _disassociate,
        "CreateVpcIngressConnection": lambda b, r: _answer(create_ingress(b, r), b),
        "DescribeVpcIngressConnection": lambda b, r: _answer(get_ingress(b, r["VpcIngressConnectionArn"]), b),
        "UpdateVpcIngressConnection": lambda b, r: _answer(
            update_ingress(b, r["VpcIngressConnectionArn"], r["IngressVpcConfiguration"]), b
        ),
        "DeleteVpcIngressConnection": lambda b, r: _answer(
            delete_ingress(b, r["VpcIngressConnectionArn"]), b
        ),
        "ListVpcIngressConnections": lambda b, r: page(
            b, r, list_ingress(b, r.get("Filter") or {}), "VpcIngressConnectionSummaryList", _summary
        ),
    }
