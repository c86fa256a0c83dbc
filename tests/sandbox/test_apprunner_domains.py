"""The emulator's custom domains and VPC ingress connections: statuses, records, DNSTarget, checks."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError
from sandbox_helpers import client

from runbook_lib.cli import main
from runbook_lib.sandbox.server import SandboxHandle

REQUESTS = "com.amazonaws.us-east-1.apprunner.requests"


def _domains(ar: Any, arn: str) -> dict[str, dict[str, Any]]:
    return {d["DomainName"]: d for d in ar.describe_custom_domains(ServiceArn=arn)["CustomDomains"]}


def test_domain_turns_active_when_its_records_are_in_route53(
    ar: Any, sb: SandboxHandle, make_service: Any
) -> None:
    service = make_service()["Service"]
    sb.control.advance()
    made = ar.associate_custom_domain(ServiceArn=service["ServiceArn"], DomainName="app.example.com")
    assert made["CustomDomain"]["Status"] == "creating"
    assert made["DNSTarget"] == service["ServiceUrl"]
    sb.control.advance()
    pending = _domains(ar, service["ServiceArn"])["app.example.com"]
    assert pending["Status"] == "pending_certificate_dns_validation"
    records = pending["CertificateValidationRecords"]
    assert {r["Name"].split(".", 1)[1] for r in records} == {"app.example.com.", "www.app.example.com."}
    assert {r["Status"] for r in records} == {"PENDING_VALIDATION"}

    r53 = client(sb, "route53")
    zone = r53.create_hosted_zone(Name="example.com", CallerReference="t")["HostedZone"]["Id"]
    changes = [
        {"Action": "UPSERT", "ResourceRecordSet": {
            "Name": r["Name"], "Type": "CNAME", "TTL": 300, "ResourceRecords": [{"Value": r["Value"]}]}}
        for r in records
    ]  # fmt: skip
    r53.change_resource_record_sets(HostedZoneId=zone, ChangeBatch={"Changes": changes})
    binding = _domains(ar, service["ServiceArn"])["app.example.com"]
    assert binding["Status"] == "binding_certificate"
    assert {r["Status"] for r in binding["CertificateValidationRecords"]} == {"SUCCESS"}
    sb.control.advance()
    assert _domains(ar, service["ServiceArn"])["app.example.com"]["Status"] == "active"

    gone = ar.disassociate_custom_domain(ServiceArn=service["ServiceArn"], DomainName="app.example.com")
    assert gone["CustomDomain"]["Status"] == "deleting"
    sb.control.advance()
    assert _domains(ar, service["ServiceArn"]) == {}


def test_control_api_validates_and_duplicates_are_refused(
    ar: Any, sb: SandboxHandle, make_service: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    arn = make_service()["Service"]["ServiceArn"]
    sb.control.advance()
    ar.associate_custom_domain(ServiceArn=arn, DomainName="api.example.org", EnableWWWSubdomain=False)
    with pytest.raises(ClientError) as err:
        ar.associate_custom_domain(ServiceArn=arn, DomainName="api.example.org")
    assert err.value.response["Error"]["Code"] == "InvalidRequestException"
    sb.control.advance()
    assert len(_domains(ar, arn)["api.example.org"]["CertificateValidationRecords"]) == 1
    assert main(["sandbox", "validate-domain", "nope.example.org", "--url", sb.url]) == 1
    assert main(["sandbox", "validate-domain", "api.example.org", "--url", sb.url]) == 0
    assert "api.example.org: binding_certificate" in capsys.readouterr().out
    sb.control.advance()
    assert _domains(ar, arn)["api.example.org"]["Status"] == "active"


def _endpoint(ec2: Any, service: str = REQUESTS) -> tuple[str, str]:
    vpc = ec2.describe_vpcs()["Vpcs"][0]["VpcId"]
    vpce = ec2.create_vpc_endpoint(VpcId=vpc, ServiceName=service, VpcEndpointType="Interface")
    return vpc, vpce["VpcEndpoint"]["VpcEndpointId"]


def test_ingress_connection_lifecycle(ar: Any, ec2: Any, sb: SandboxHandle, make_service: Any) -> None:
    service = make_service(NetworkConfiguration={"IngressConfiguration": {"IsPubliclyAccessible": False}})
    arn = service["Service"]["ServiceArn"]
    assert "ServiceUrl" not in service["Service"]
    sb.control.advance()
    vpc, vpce = _endpoint(ec2)
    made = ar.create_vpc_ingress_connection(
        ServiceArn=arn, VpcIngressConnectionName="seed-go-app",
        IngressVpcConfiguration={"VpcId": vpc, "VpcEndpointId": vpce}, Tags=[{"Key": "k", "Value": "v"}],
    )["VpcIngressConnection"]  # fmt: skip
    assert made["Status"] == "PENDING_CREATION"
    sb.control.advance()
    conn_arn = made["VpcIngressConnectionArn"]
    described = ar.describe_vpc_ingress_connection(VpcIngressConnectionArn=conn_arn)["VpcIngressConnection"]
    assert described["Status"] == "AVAILABLE" and described["DomainName"].endswith(".awsapprunner.com")
    assert ar.list_tags_for_resource(ResourceArn=conn_arn)["Tags"] == [{"Key": "k", "Value": "v"}]
    listed = ar.list_vpc_ingress_connections(Filter={"ServiceArn": arn})["VpcIngressConnectionSummaryList"]
    assert [c["VpcIngressConnectionArn"] for c in listed] == [conn_arn]
    targets = ar.describe_custom_domains(ServiceArn=arn)
    assert targets["DNSTarget"].endswith(".us-east-1.awsapprunner.com")
    assert targets["VpcDNSTargets"][0]["DomainName"] == described["DomainName"]
    with pytest.raises(ClientError) as err:
        ar.delete_service(ServiceArn=arn)
    assert err.value.response["Error"]["Code"] == "InvalidStateException"
    sb.control.config(op_seconds=10)
    ar.update_vpc_ingress_connection(
        VpcIngressConnectionArn=conn_arn, IngressVpcConfiguration={"VpcId": vpc, "VpcEndpointId": vpce}
    )
    with pytest.raises(ClientError) as err:  # PENDING_UPDATE
        ar.delete_vpc_ingress_connection(VpcIngressConnectionArn=conn_arn)
    assert err.value.response["Error"]["Code"] == "InvalidStateException"
    sb.control.advance()
    assert (
        ar.delete_vpc_ingress_connection(VpcIngressConnectionArn=conn_arn)["VpcIngressConnection"]["Status"]
        == "PENDING_DELETION"
    )
    sb.control.advance()
    assert (
        ar.list_vpc_ingress_connections(Filter={"ServiceArn": arn})["VpcIngressConnectionSummaryList"] == []
    )
    assert (
        ar.describe_vpc_ingress_connection(VpcIngressConnectionArn=conn_arn)["VpcIngressConnection"]["Status"]
        == "DELETED"
    )
    ar.delete_service(ServiceArn=arn)


def test_ingress_connection_needs_an_apprunner_requests_endpoint(
    ar: Any, ec2: Any, make_service: Any
) -> None:
    arn = make_service()["Service"]["ServiceArn"]
    vpc, vpce = _endpoint(ec2, "com.amazonaws.us-east-1.s3")
    for endpoint in (vpce, "vpce-0123456789abcdef0"):
        with pytest.raises(ClientError) as err:
            ar.create_vpc_ingress_connection(
                ServiceArn=arn, VpcIngressConnectionName="seed-go-app",
                IngressVpcConfiguration={"VpcId": vpc, "VpcEndpointId": endpoint},
            )  # fmt: skip
        assert err.value.response["Error"]["Code"] == "InvalidRequestException"
