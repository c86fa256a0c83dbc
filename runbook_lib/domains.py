"""Custom domains of the service: the association, its DNS validation, and (with a hosted zone) the records.

AssociateCustomDomain answers at once; the association is ``creating`` until App Runner lists its
certificate validation records (``pending_certificate_dns_validation``), and becomes ``active`` once
those CNAMEs resolve. Statuses are lowercase on the wire (the Terraform AWS provider's
``internal/service/apprunner/custom_domain_association.go``). No infrastructure tool writes the validation
records in the same run (``certificate_validation_records`` is known only after apply:
terraform-provider-aws #23460); with ``hosted_zone_id`` the runbook does: it upserts the validation
records and the domain's own record (a CNAME to the DNS target, or an alias A record where the name is the
zone's apex, with App Runner's per-region hosted zone id from Terraform's ``hosted_zone_id_data_source.go``).

Ownership: an association belongs to the (owned) service. Route 53 records carry no tags, so the runbook
deletes a record only while it holds exactly the value the runbook writes; a record of the same name and
type with another value is someone else's and refused (``adopt: [dns_record]`` overwrites it).
"""

from __future__ import annotations

import logging
from typing import Any, Unpack

from runbook_lib.aws import call, pages, paginate
from runbook_lib.clients import Clients
from runbook_lib.errors import ResourceNotFound
from runbook_lib.ownership import Foreign, NotOwned, is_owned
from runbook_lib.params import CustomDomainParams, Params
from runbook_lib.results import NOT_OWNED, Action, Change, Result
from runbook_lib.waiters import (
    DOMAIN_RECORDS_TIMEOUT_S,
    GONE,
    Waits,
    domain_active,
    domain_gone,
    domain_records_known,
    wait_for,
)

__all__ = [
    "APP_RUNNER_ZONES",
    "build_change_batch",
    "delete_custom_domain",
    "desired_records",
    "ensure_custom_domain",
    "find_custom_domains",
    "pending_hint",
    "plan_custom_domain",
    "owned_service_arn",
    "records_table",
    "require_service_arn",
]

log = logging.getLogger(__name__)

RESOURCE = "custom_domain"
TTL = 300
# App Runner's hosted zone per region, for alias records (Terraform's hosted_zone_id_data_source.go,
# after https://docs.aws.amazon.com/general/latest/gr/apprunner.html)
APP_RUNNER_ZONES = {
    "us-east-2": "Z0224347AD7KVHMLOX31", "us-east-1": "Z01915732ZBZKC8D32TPT",
    "us-west-2": "Z02243383FTQ64HJ5772Q", "ap-south-1": "Z00855883LBHKTIC4ODF2",
    "ap-southeast-1": "Z09819469CZ3KQ8PWMCL", "ap-southeast-2": "Z03657752RA8799S0TI5I",
    "ap-northeast-1": "Z08491812XW6IPYLR6CCA", "eu-central-1": "Z0334911C2FDI2Q9M4FZ",
    "eu-west-1": "Z087551914Z2PCAU0QHMW", "eu-west-2": "Z098228427VC6B3IX76ON",
    "eu-west-3": "Z087117439MBKHYM69QS6",
}  # fmt: skip


def _fqdn(name: str) -> str:
    return name.rstrip(".").lower() + "."


# ------------------------------------------------------------------------------------------ pure parts


def desired_records(
    cd: CustomDomainParams, found: dict[str, Any], dns_target: str, *, apex: bool, region: str
) -> list[dict[str, Any]]:
    """The Route 53 record sets the runbook writes for one domain: its validation CNAMEs, its own record
    (CNAME to the DNS target, or an alias A record at the zone apex) and www's CNAME when asked."""
    records = [
        {"Name": _fqdn(r["Name"]), "Type": r.get("Type", "CNAME"), "Value": _fqdn(r["Value"])}
        for r in found.get("records", [])
    ]
    if apex:
        zone = APP_RUNNER_ZONES.get(region, "")
        records.append({"Name": _fqdn(cd.domain), "Type": "A", "Value": _fqdn(dns_target), "AliasZone": zone})
    else:
        records.append({"Name": _fqdn(cd.domain), "Type": "CNAME", "Value": _fqdn(dns_target)})
    if cd.www:
        records.append({"Name": _fqdn("www." + cd.domain), "Type": "CNAME", "Value": _fqdn(dns_target)})
    return records


def _record_set(record: dict[str, Any]) -> dict[str, Any]:
    base = {"Name": record["Name"], "Type": record["Type"]}
    if "AliasZone" in record:
        alias = {
            "HostedZoneId": record["AliasZone"],
            "DNSName": record["Value"],
            "EvaluateTargetHealth": False,
        }
        return {**base, "AliasTarget": alias}
    return {**base, "TTL": TTL, "ResourceRecords": [{"Value": record["Value"]}]}


def build_change_batch(records: list[dict[str, Any]], action: str, comment: str) -> dict[str, Any]:
    """A ChangeResourceRecordSets batch (``UPSERT`` or ``DELETE``) of these records."""
    changes = [{"Action": action, "ResourceRecordSet": _record_set(r)} for r in records]
    return {"Comment": comment, "Changes": changes}


def records_table(records: list[dict[str, Any]]) -> str:
    """The records as zone-file lines, easy to copy into any DNS provider."""
    return "\n".join(
        f"{r['Name']}\t{TTL}\tIN\t{'ALIAS' if 'AliasZone' in r else r['Type']}\t{r['Value']}" for r in records
    )


def pending_hint(domain: str, records: list[dict[str, Any]]) -> str:
    """What to do when the domain is not validated in time: create these records, then re-run."""
    return (
        f"Create these DNS records for {domain} at your DNS provider (or give custom_domains[]."
        "hosted_zone_id so the runbook writes them in Route 53), then re-run the step: it finds the "
        f"association and waits again.\n{records_table(records)}"
    )


# ------------------------------------------------------------------------------------------ reads


def find_custom_domains(clients: Clients, service_arn: str) -> dict[str, Any]:
    """The service's DNS target and its associations by domain (status, www, validation records)."""
    dns_target, items, what = "", [], f"custom domains of {service_arn}"
    for page in pages(clients, "apprunner", "DescribeCustomDomains", resource=what, ServiceArn=service_arn):
        dns_target = page.get("DNSTarget") or dns_target
        items.extend(page.get("CustomDomains", []))
    domains = {
        d["DomainName"]: {
            "status": d["Status"].lower(),
            "www": d.get("EnableWWWSubdomain", False),
            "records": d.get("CertificateValidationRecords", []),
        }
        for d in items
    }
    return {"dns_target": dns_target, "domains": domains}


def _zone(clients: Clients, zone_id: str) -> dict[str, Any]:
    """The hosted zone's name and its record sets by (name, type)."""
    resource = f"hosted zone {zone_id}"
    name = call(clients, "route53", "GetHostedZone", resource=resource, Id=zone_id)["HostedZone"]["Name"]
    listed = paginate(clients, "route53", "ListResourceRecordSets", "ResourceRecordSets", resource=resource,
                      HostedZoneId=zone_id)  # fmt: skip
    sets = {(_fqdn(rs["Name"]), rs["Type"]): rs for rs in listed}
    return {"name": _fqdn(name), "sets": sets}


def _value(rs: dict[str, Any]) -> str:
    alias = rs.get("AliasTarget")
    values = [alias["DNSName"]] if alias else [v["Value"] for v in rs.get("ResourceRecords", [])]
    return ",".join(_fqdn(v) for v in values)


def _diff_records(params: Params, zone: dict[str, Any], records: list[dict[str, Any]]) -> dict[str, list]:
    """Records missing or different (to upsert), already right (written), and someone else's (foreign)."""
    out: dict[str, list] = {"upsert": [], "written": [], "foreign": []}
    for r in records:
        rs = zone["sets"].get((r["Name"], r["Type"]))
        if rs is None:
            out["upsert"].append(r)
        elif _value(rs) == r["Value"]:
            out["written"].append(r)
        elif "dns_record" in params.adopt:
            out["upsert"].append(r)
        else:
            out["foreign"].append(
                Foreign("dns_record", f"{r['Name']} {r['Type']}", None, {"value": _value(rs)})
            )
    return out


def owned_service_arn(clients: Clients, params: Params) -> str | None:
    """The ARN of the service of the params' name, None without one; NotOwned when it is not the runbook's
    (domains are associated only with an owned service)."""
    from runbook_lib.service import claimed_tags, find_service

    found = find_service(clients, params)
    if found is not None:
        claimed_tags(clients, params, found)
    return found["arn"] if found else None


def require_service_arn(clients: Clients, params: Params) -> str:
    """Like ``owned_service_arn``; ResourceNotFound (run the `service` step first) without a service."""
    arn = owned_service_arn(clients, params)
    if arn is None:
        raise ResourceNotFound(
            "Run the `service` step first; custom domains are associated with the service.",
            resource=f"service {params.name}", operation="resolve_inputs", code="NotFound",
            aws_message="no service of that name",
        )  # fmt: skip
    return arn


# ------------------------------------------------------------------------------------------ plan / ensure


def _records_for(
    clients: Clients, params: Params, cd: CustomDomainParams, found: dict[str, Any], dns_target: str
) -> tuple[list[dict[str, Any]], dict[str, list]]:
    if cd.hosted_zone_id is None:
        return desired_records(cd, found, dns_target, apex=False, region=params.region), {}
    zone = _zone(clients, cd.hosted_zone_id)
    records = desired_records(
        cd, found, dns_target, apex=_fqdn(cd.domain) == zone["name"], region=params.region
    )
    diff = _diff_records(params, zone, records)
    if diff["foreign"]:
        raise NotOwned(params.name, diff["foreign"])
    return records, diff


def _result(
    cd: CustomDomainParams,
    action: Action,
    found: dict[str, Any] | None,
    dns_target: str,
    records: list[dict[str, Any]],
    **kw: Any,
) -> Result:
    extra = {
        "status": (found or {}).get("status"), "dns_target": dns_target, "records": records,
        "hosted_zone_id": cd.hosted_zone_id, **kw.pop("extra", {}),
    }  # fmt: skip
    return Result(RESOURCE, cd.domain, action, extra=extra, **kw)


def plan_custom_domain(
    clients: Clients, params: Params, cd: CustomDomainParams, *, service_arn: str | None
) -> Result:
    """Read-only: CREATE (associate, then write the records), UPDATE (records to write) or UNCHANGED."""
    if service_arn is None:  # the service itself is still to be created
        return _result(cd, Action.CREATE, None, "", [], changes=(Change("association", None, cd.domain),))
    observed = find_custom_domains(clients, service_arn)
    found = observed["domains"].get(cd.domain)
    if found is None:
        return _result(
            cd,
            Action.CREATE,
            None,
            observed["dns_target"],
            [],
            changes=(Change("association", None, cd.domain),),
        )
    records, diff = _records_for(clients, params, cd, found, observed["dns_target"])
    changes = tuple(
        Change(f"record {r['Name']} {r['Type']}", None, r["Value"]) for r in diff.get("upsert", [])
    )
    if found["www"] != cd.www:
        changes += (Change("www", found["www"], cd.www),)
    action = Action.UPDATE if changes else Action.UNCHANGED
    return _result(cd, action, found, observed["dns_target"], records, changes=changes)


def _change_records(
    clients: Clients, params: Params, cd: CustomDomainParams, records: list[dict[str, Any]], action: str
) -> None:
    batch = build_change_batch(records, action, f"runbook {params.name}: {cd.domain}")
    zone = cd.hosted_zone_id
    call(clients, "route53", "ChangeResourceRecordSets", resource=f"hosted zone {zone}", HostedZoneId=zone,
         ChangeBatch=batch)  # fmt: skip
    log.info("%s %d record(s) of %s in %s", action, len(records), cd.domain, zone)


def _status(clients: Clients, service_arn: str, domain: str) -> str:
    found = find_custom_domains(clients, service_arn)["domains"].get(domain)
    return found["status"] if found else GONE


def _associate(
    clients: Clients, params: Params, cd: CustomDomainParams, service_arn: str, **waits: Unpack[Waits]
) -> None:
    """AssociateCustomDomain, then wait (as Terraform does, 5 min) until its validation records are known."""
    call(clients, "apprunner", "AssociateCustomDomain", resource=f"custom domain {cd.domain}",
         ServiceArn=service_arn, DomainName=cd.domain, EnableWWWSubdomain=cd.www)  # fmt: skip
    log.info("associated custom domain %s with %s", cd.domain, params.name)
    fetch = lambda: _status(clients, service_arn, cd.domain)  # noqa: E731
    wait_for(domain_records_known(cd.domain, fetch), timeout=DOMAIN_RECORDS_TIMEOUT_S, **waits)


def ensure_custom_domain(
    clients: Clients,
    params: Params,
    cd: CustomDomainParams,
    *,
    service_arn: str | None = None,
    wait: bool = True,
    timeout: float | None = None,
    **waits: Unpack[Waits],
) -> Result:
    """Associate the domain, write its records when it has a hosted zone, and (``wait``) wait until it is
    ``active``. A www change re-associates it. On timeout, WaitTimeout lists the records to create."""
    arn = service_arn or require_service_arn(clients, params)
    planned = plan_custom_domain(clients, params, cd, service_arn=arn)
    if planned.action is Action.CREATE or "www" in planned.changed_fields:
        if planned.action is not Action.CREATE:
            _disassociate(clients, cd.domain, arn, **waits)
        _associate(clients, params, cd, arn, **waits)
        planned = plan_custom_domain(clients, params, cd, service_arn=arn)
        planned = Result(RESOURCE, cd.domain, Action.CREATED, changes=planned.changes, extra=planned.extra)
    records = planned.extra["records"]
    upsert = [c for c in planned.changes if c.field.startswith("record ")]
    if upsert and cd.hosted_zone_id:
        todo = [r for r in records if f"record {r['Name']} {r['Type']}" in {c.field for c in upsert}]
        _change_records(clients, params, cd, todo, "UPSERT")
    action = planned.action if planned.action is not Action.UPDATE else Action.UPDATED
    status = planned.extra.get("status")
    if wait and status != "active":
        fetch = lambda: _status(clients, arn, cd.domain)  # noqa: E731
        spec = domain_active(cd.domain, fetch, timeout_hint=pending_hint(cd.domain, records))
        status = wait_for(spec, timeout=timeout or params.timeouts.domain_validation_s, **waits)
    extra = {**planned.extra, "status": status}
    return Result(
        RESOURCE, cd.domain, action, changes=planned.changes, detail=f"status {status}", extra=extra
    )


# ------------------------------------------------------------------------------------------ teardown


def _disassociate(clients: Clients, domain: str, service_arn: str, **waits: Unpack[Waits]) -> None:
    call(clients, "apprunner", "DisassociateCustomDomain", resource=f"custom domain {domain}",
         ServiceArn=service_arn, DomainName=domain)  # fmt: skip
    fetch = lambda: _status(clients, service_arn, domain)  # noqa: E731
    wait_for(domain_gone(domain, fetch), timeout=DOMAIN_RECORDS_TIMEOUT_S, **waits)


def delete_custom_domain(
    clients: Clients, params: Params, cd: CustomDomainParams, **waits: Unpack[Waits]
) -> Result:
    """Remove the records the runbook wrote (only while they hold its values), then disassociate the
    domain and wait until it is gone; ABSENT when the service or the association is already gone."""
    from runbook_lib.service import find_service, observed_tags

    service = find_service(clients, params)
    if service is not None and not is_owned(params, observed_tags(clients, params, service["arn"])):
        return Result(RESOURCE, cd.domain, Action.KEPT, detail=f"the service {NOT_OWNED}")
    observed = find_custom_domains(clients, service["arn"]) if service else {"domains": {}}
    found = observed["domains"].get(cd.domain)
    if found is None:
        return Result(RESOURCE, cd.domain, Action.ABSENT)
    removed: list[dict[str, Any]] = []
    if cd.hosted_zone_id:
        zone = _zone(clients, cd.hosted_zone_id)
        apex = _fqdn(cd.domain) == zone["name"]
        records = desired_records(cd, found, observed["dns_target"], apex=apex, region=params.region)
        removed = _diff_records(params, zone, records)["written"]
        if removed:
            _change_records(clients, params, cd, removed, "DELETE")
    if found["status"] != "deleting":
        _disassociate(clients, cd.domain, service["arn"], **waits)
    detail = f"disassociated; {len(removed)} DNS record(s) removed" if cd.hosted_zone_id else "disassociated"
    return Result(RESOURCE, cd.domain, Action.DELETED, detail=detail, extra={"records_removed": removed})
