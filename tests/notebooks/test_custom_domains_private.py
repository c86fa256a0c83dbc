"""Custom domains and private services through the notebooks (headless, the runner), on the sandbox."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import boto3

from runbook_lib.cli import main


def _runs(folder: Path) -> list[Path]:
    return sorted(p for p in (folder / "runs").iterdir() if p.is_dir())


def _last(folder: Path, action: str) -> Path:
    """The newest run of ``action`` (run folders of the same second sort `down` before `up`)."""
    return [p for p in _runs(folder) if p.name.endswith(f"_{action}")][-1]


def _manifest(run: Path) -> dict:
    return json.loads((run / "manifest.json").read_text())


def _client(url: str, service: str):
    return boto3.client(service, endpoint_url=url, region_name="us-east-1")


def _records(url: str, zone: str) -> set[tuple[str, str]]:
    sets = _client(url, "route53").list_resource_record_sets(HostedZoneId=zone)["ResourceRecordSets"]
    return {(s["Name"], s["Type"]) for s in sets if s["Type"] not in ("NS", "SOA")}


def _outputs(notebook: Path) -> str:
    cells = json.loads(notebook.read_text())["cells"]
    return json.dumps([c.get("outputs", []) for c in cells])


def test_domain_in_a_hosted_zone(runbook_env, write_params, tmp_path: Path) -> None:
    url = runbook_env.url
    zone = _client(url, "route53").create_hosted_zone(Name="example.com", CallerReference="nb")["HostedZone"]
    zone_id = zone["Id"].split("/")[-1]
    domains = [{"domain": "app.example.com", "hosted_zone_id": zone_id}]
    params = write_params(tmp_path, "demo-go-app", custom_domains=domains)

    assert main(["up", str(params)]) == 0
    m = _manifest(_last(tmp_path, "up"))
    domain = next(r for r in m["resources"] if r["resource"] == "custom_domain")
    assert domain["action"] == "CREATED" and domain["extra"]["status"] == "active"
    assert ("app.example.com.", "CNAME") in _records(url, zone_id)
    assert sum(1 for name, _ in _records(url, zone_id) if name.startswith("_")) == 1  # its validation CNAME

    runbook_env.control.clear_requests()
    assert main(["up", str(params)]) == 0
    assert runbook_env.control.mutating_requests() == []

    assert main(["down", str(params)]) == 0
    down = _manifest(_last(tmp_path, "down"))
    domain_down = next(r for r in down["resources"] if r["resource"] == "custom_domain")
    assert domain_down["action"] == "DELETED", domain_down
    assert _records(url, zone_id) == set()
    services = _client(url, "apprunner").list_services()["ServiceSummaryList"]
    assert all(s["Status"] == "DELETED" for s in services)


def test_domain_without_a_zone_waits_until_validated(runbook_env, write_params, tmp_path: Path) -> None:
    params = write_params(tmp_path, "demo-go-app", custom_domains=[{"domain": "api.example.org"}])
    outcome: dict[str, int] = {}
    run = threading.Thread(target=lambda: outcome.update(rc=main(["up", str(params)])))
    run.start()
    ar, deadline = _client(runbook_env.url, "apprunner"), time.monotonic() + 120
    while time.monotonic() < deadline and "rc" not in outcome:
        services = [s for s in ar.list_services()["ServiceSummaryList"] if s["Status"] == "RUNNING"]
        found = ar.describe_custom_domains(ServiceArn=services[0]["ServiceArn"]) if services else {}
        if any(d["Status"] == "pending_certificate_dns_validation" for d in found.get("CustomDomains", [])):
            break
        time.sleep(0.5)
    time.sleep(3)  # the run keeps waiting
    assert "rc" not in outcome
    runbook_env.control.validate_domain("api.example.org")
    run.join(timeout=120)
    assert outcome["rc"] == 0
    executed = _runs(tmp_path)[-1] / "06_custom_domains.ipynb"
    assert "pending_certificate_dns_validation" in _outputs(executed) and "active" in _outputs(executed)


def test_domain_validation_timeout_prints_the_records(runbook_env, write_params, tmp_path: Path) -> None:
    params = write_params(
        tmp_path, "demo-go-app", custom_domains=[{"domain": "api.example.org"}],
        timeouts={"domain_validation_s": 3},
    )  # fmt: skip
    assert main(["up", str(params)]) != 0
    run = _runs(tmp_path)[-1]
    assert _manifest(run)["error"]["notebook"] == "06_custom_domains"
    text = _outputs(run / "06_custom_domains.ipynb")
    assert "Create these DNS records for api.example.org" in text and "acm-validations.aws." in text


def test_private_service_with_an_owned_endpoint(runbook_env, write_params, tmp_path: Path) -> None:
    params = write_params(tmp_path, "demo-go-app", public=False, ingress={"vpc_endpoint_id": "create"})
    assert main(["up", str(params)]) == 0
    run = _runs(tmp_path)[-1]
    by = {r["resource"]: r for r in _manifest(run)["resources"]}
    assert by["vpc_endpoint"]["action"] == "CREATED"
    assert by["ingress_connection"]["extra"]["status"] == "AVAILABLE"
    assert "instead of HTTP" in _outputs(run / "05_service.ipynb")

    assert main(["down", str(params)]) == 0
    down = {r["resource"]: r["action"] for r in _manifest(_last(tmp_path, "down"))["resources"]}
    assert down["ingress_connection"] == "DELETED" and down["vpc_endpoint"] == "DELETED"
    ec2 = _client(runbook_env.url, "ec2")
    assert [e for e in ec2.describe_vpc_endpoints()["VpcEndpoints"] if e["State"].lower() != "deleted"] == []
