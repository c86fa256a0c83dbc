"""Custom domains and private services against the local sandbox (op_seconds 0, manual handshake): what
the runbook writes in Route 53, what a re-run sends (nothing), and what `down` removes (only its own)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from runbook_lib import Action, apply, load_params, make_clients, plan, teardown, verify_service
from runbook_lib.errors import WaitTimeout
from runbook_lib.ownership import NotOwned
from runbook_lib.sandbox.control import SimulatedTime as SimTime

PARAMS = Path(__file__).resolve().parents[2] / "params" / "sandbox.yaml"


def _up(clients: Any, params: Any, control: Any, **kw: Any) -> list:
    t = SimTime(control)
    apply(clients, params, only="connection", wait_handshake=False)
    control.handshake(params.connection.name, "AVAILABLE")
    return apply(clients, params, sleep=t.sleep, clock=t.clock, **kw)


def _mutating(control: Any) -> list[str]:
    return [r["operation"] for r in control.mutating_requests()]


def _zone(clients: Any, name: str = "example.com") -> str:
    made = clients.client("route53").create_hosted_zone(Name=name, CallerReference=name)
    return made["HostedZone"]["Id"].split("/")[-1]


def _upsert(clients: Any, zone: str, name: str, value: str) -> None:
    record = {"Name": name, "Type": "CNAME", "TTL": 60, "ResourceRecords": [{"Value": value}]}
    batch = {"Changes": [{"Action": "UPSERT", "ResourceRecordSet": record}]}
    clients.client("route53").change_resource_record_sets(HostedZoneId=zone, ChangeBatch=batch)


def _records(clients: Any, zone: str) -> dict[tuple[str, str], Any]:
    sets = clients.client("route53").list_resource_record_sets(HostedZoneId=zone)["ResourceRecordSets"]
    return {(s["Name"], s["Type"]): s for s in sets if s["Type"] not in ("NS", "SOA")}


@pytest.fixture
def env(sandbox_env: Any) -> tuple[Any, Any]:
    return sandbox_env.control, lambda **over: load_params(PARAMS, over)


def test_domain_in_a_hosted_zone(env: Any) -> None:
    control, params_with = env
    clients = make_clients(params_with())
    zone = _zone(clients)
    domains = [{"domain": "app.example.com", "www": True, "hosted_zone_id": zone}]
    params = params_with(custom_domains=domains)
    results = _up(clients, params, control)
    domain = results[-1]
    assert (domain.resource, domain.action, domain.extra["status"]) == (
        "custom_domain",
        Action.CREATED,
        "active",
    )
    records = _records(clients, zone)
    target = domain.extra["dns_target"] + "."
    assert records[("app.example.com.", "CNAME")]["ResourceRecords"] == [{"Value": target}]
    assert records[("www.app.example.com.", "CNAME")]["ResourceRecords"] == [{"Value": target}]
    validation = [k for k in records if k[0].startswith("_")]
    assert len(validation) == 2  # the domain's and www's certificate validation CNAMEs

    control.clear_requests()
    assert not plan(clients, params).has_changes
    again = apply(clients, params)
    assert _mutating(control) == [] and again[-1].action is Action.UNCHANGED

    _upsert(clients, zone, "other.example.com", "x.test")  # a neighbour's record in the same zone
    t = SimTime(control)
    down = teardown(clients, params, sleep=t.sleep, clock=t.clock)
    assert down[0].resource == "custom_domain" and down[0].action is Action.DELETED
    assert set(_records(clients, zone)) == {("other.example.com.", "CNAME")}
    assert teardown(clients, params, sleep=t.sleep, clock=t.clock)[0].action is Action.ABSENT


def test_foreign_record_of_the_domain_is_refused(env: Any) -> None:
    control, params_with = env
    clients = make_clients(params_with())
    zone = _zone(clients)
    _upsert(clients, zone, "app.example.com", "old.test")  # someone else's record of the domain
    params = params_with(custom_domains=[{"domain": "app.example.com", "hosted_zone_id": zone}])
    t = SimTime(control)
    apply(clients, params, only="connection", wait_handshake=False)
    control.handshake(params.connection.name, "AVAILABLE")
    for step in ("instance_role", "network", "autoscaling", "service"):
        apply(clients, params, only=step, sleep=t.sleep, clock=t.clock)
    control.clear_requests()
    with pytest.raises(NotOwned, match="app.example.com"):
        apply(clients, params, only="domains", sleep=t.sleep, clock=t.clock)
    assert "ChangeResourceRecordSets" not in _mutating(control)


def test_domain_without_a_zone_waits_for_validation(env: Any) -> None:
    control, params_with = env
    params = params_with(custom_domains=[{"domain": "api.example.org"}], timeouts={"domain_validation_s": 60})
    clients = make_clients(params)
    with pytest.raises(WaitTimeout) as err:
        _up(clients, params, control)
    hint = str(err.value)
    assert "api.example.org" in hint and "acm-validations.aws." in hint and "CNAME" in hint
    control.validate_domain("api.example.org")
    t = SimTime(control)
    done = apply(clients, params, only="domains", sleep=t.sleep, clock=t.clock)
    assert (done[0].action, done[0].extra["status"]) == (Action.UNCHANGED, "active")


def test_private_service_with_an_owned_endpoint(env: Any) -> None:
    control, params_with = env
    params = params_with(public=False, ingress={"vpc_endpoint_id": "create"})
    clients = make_clients(params)
    results = _up(clients, params, control)
    by = {r.resource: r for r in results}
    assert by["vpc_endpoint"].action is Action.CREATED
    conn = by["ingress_connection"]
    assert conn.action is Action.CREATED and conn.extra["status"] == "AVAILABLE" and conn.extra["domain_name"]
    checked = verify_service(clients, params)
    assert checked.extra["ok"] is True and "instead of HTTP" in checked.detail
    assert conn.extra["domain_name"] in checked.detail

    control.clear_requests()
    assert not plan(clients, params).has_changes
    apply(clients, params)
    assert _mutating(control) == []

    t = SimTime(control)
    down = {r.resource: r.action for r in teardown(clients, params, sleep=t.sleep, clock=t.clock)}
    assert down["ingress_connection"] is Action.DELETED and down["vpc_endpoint"] is Action.DELETED
    assert down["service"] is Action.DELETED
    ec2 = clients.client("ec2")
    live = [e for e in ec2.describe_vpc_endpoints()["VpcEndpoints"] if e["State"].lower() != "deleted"]
    assert live == []


def test_a_service_the_runbook_does_not_own_gets_no_domain_and_keeps_its_own(env: Any) -> None:
    control, params_with = env
    params = params_with(custom_domains=[{"domain": "api.example.org"}])
    clients = make_clients(params)
    with pytest.raises(WaitTimeout):
        _up(clients, params, control)  # associated, never validated
    service = clients.apprunner.list_services()["ServiceSummaryList"][0]["ServiceArn"]
    clients.apprunner.untag_resource(ResourceArn=service, TagKeys=["runbook:name"])  # now someone else's
    control.clear_requests()
    with pytest.raises(NotOwned, match="service"):
        apply(clients, params, only="domains")
    t = SimTime(control)
    down = {
        r.resource: r.action
        for r in teardown(clients, params, raise_if_left=False, sleep=t.sleep, clock=t.clock)
    }
    assert down["custom_domain"] is Action.KEPT and down["service"] is Action.KEPT
    assert "DisassociateCustomDomain" not in _mutating(control)
    assert clients.apprunner.describe_custom_domains(ServiceArn=service)["CustomDomains"]
