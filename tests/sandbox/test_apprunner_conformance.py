"""Conformance: every App Runner operation the emulator implements, driven through a real boto3 client
over HTTP; the ``ar`` fixture checks each raw response against the botocore output shape (required
members, types, enums, no undeclared members) or, for errors, the operation's modeled error codes and
HTTP status. Also E1 (wire protocol), E3 (identifier formats) and E4 (epoch timestamps)."""

from __future__ import annotations

import json
import re
import urllib.request
from typing import Any

import botocore.session
import pytest
from sandbox_helpers import check_shape, check_wire_response, service_request

from runbook_lib.sandbox.apprunner.responses import HANDLERS

ARN = r"arn:aws:apprunner:us-east-1:123456789012:"
HEX32 = r"[0-9a-f]{32}"
AUTH = (
    "AWS4-HMAC-SHA256 Credential=testing/20240101/us-east-1/apprunner/aws4_request, "
    "SignedHeaders=host, Signature=0"
)
UUID4 = r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"


def test_checker_catches_nonconforming_payloads() -> None:
    model = botocore.session.get_session().get_service_model("apprunner").operation_model("CreateConnection")
    good = {"Connection": {"ConnectionName": "abcd", "Status": "AVAILABLE", "CreatedAt": 1.7e9}}
    assert check_wire_response(model, 200, json.dumps(good).encode()) == []
    bad = {"Connection": {"ConnectionName": 5, "Status": "available", "CreatedAt": "2024-01-01", "Extra": 1}}
    problems = check_wire_response(model, 200, json.dumps(bad).encode())
    assert len(problems) == 4, problems
    assert check_shape(model.output_shape, {}) == ["$.Connection: required member missing"]
    assert check_wire_response(model, 400, b'{"__type": "InvalidStateException", "Message": "x"}')
    assert check_wire_response(model, 400, b'{"__type": "InternalServiceErrorException", "Message": "x"}')


def test_every_operation_conforms(
    ar: Any, sb: Any, ec2: Any, role_arn: str, connection_arn: str, default_subnets: list[str]
) -> None:
    seen: set[str] = set()
    ar.meta.events.register("after-call.apprunner", lambda model, **_: seen.add(model.name))

    conns = ar.list_connections(ConnectionName="github-seed")["ConnectionSummaryList"]
    assert conns[0]["Status"] == "AVAILABLE"

    asc = ar.create_auto_scaling_configuration(
        AutoScalingConfigurationName="seed-go-app",
        MaxConcurrency=50,
        MinSize=1,
        MaxSize=5,
        Tags=[{"Key": "runbook:name", "Value": "seed-go-app"}],
    )["AutoScalingConfiguration"]
    ar.describe_auto_scaling_configuration(AutoScalingConfigurationArn=asc["AutoScalingConfigurationArn"])
    ar.list_auto_scaling_configurations(LatestOnly=False)

    obs = ar.create_observability_configuration(
        ObservabilityConfigurationName="seed-obs", TraceConfiguration={"Vendor": "AWSXRAY"}
    )["ObservabilityConfiguration"]
    ar.describe_observability_configuration(
        ObservabilityConfigurationArn=obs["ObservabilityConfigurationArn"]
    )
    ar.list_observability_configurations()

    vc = ar.create_vpc_connector(VpcConnectorName="seed-go-app", Subnets=default_subnets)["VpcConnector"]
    ar.describe_vpc_connector(VpcConnectorArn=vc["VpcConnectorArn"])
    ar.list_vpc_connectors()

    created = ar.create_service(
        **service_request(
            "seed-go-app",
            connection_arn,
            InstanceConfiguration={"Cpu": "1 vCPU", "Memory": "2 GB", "InstanceRoleArn": role_arn},
            AutoScalingConfigurationArn=asc["AutoScalingConfigurationArn"],
            HealthCheckConfiguration={"Protocol": "HTTP", "Path": "/health"},
            NetworkConfiguration={
                "EgressConfiguration": {"EgressType": "VPC", "VpcConnectorArn": vc["VpcConnectorArn"]}
            },
            ObservabilityConfiguration={
                "ObservabilityEnabled": True,
                "ObservabilityConfigurationArn": obs["ObservabilityConfigurationArn"],
            },
            Tags=[{"Key": "runbook:name", "Value": "seed-go-app"}],
        )
    )
    svc_arn = created["Service"]["ServiceArn"]
    assert ar.describe_service(ServiceArn=svc_arn)["Service"]["Status"] == "RUNNING"
    ar.list_services()
    ar.list_services_for_auto_scaling_configuration(
        AutoScalingConfigurationArn=asc["AutoScalingConfigurationArn"]
    )
    ar.associate_custom_domain(ServiceArn=svc_arn, DomainName="app.example.com")
    ar.describe_custom_domains(ServiceArn=svc_arn)
    ar.disassociate_custom_domain(ServiceArn=svc_arn, DomainName="app.example.com")
    vpc = ec2.describe_vpcs()["Vpcs"][0]["VpcId"]
    vpce = ec2.create_vpc_endpoint(
        VpcId=vpc, ServiceName="com.amazonaws.us-east-1.apprunner.requests", VpcEndpointType="Interface"
    )["VpcEndpoint"]["VpcEndpointId"]
    ingress = {"VpcId": vpc, "VpcEndpointId": vpce}
    vic_arn = ar.create_vpc_ingress_connection(
        ServiceArn=svc_arn, VpcIngressConnectionName="seed-go-app", IngressVpcConfiguration=ingress
    )["VpcIngressConnection"]["VpcIngressConnectionArn"]
    ar.describe_vpc_ingress_connection(VpcIngressConnectionArn=vic_arn)
    ar.update_vpc_ingress_connection(VpcIngressConnectionArn=vic_arn, IngressVpcConfiguration=ingress)
    ar.list_vpc_ingress_connections()
    ar.delete_vpc_ingress_connection(VpcIngressConnectionArn=vic_arn)
    ar.tag_resource(ResourceArn=svc_arn, Tags=[{"Key": "team", "Value": "platform"}])
    ar.list_tags_for_resource(ResourceArn=svc_arn)
    ar.untag_resource(ResourceArn=svc_arn, TagKeys=["team"])
    ar.update_service(ServiceArn=svc_arn, InstanceConfiguration={"Cpu": "2 vCPU", "Memory": "4 GB"})
    ar.start_deployment(ServiceArn=svc_arn)
    ar.pause_service(ServiceArn=svc_arn)
    ar.resume_service(ServiceArn=svc_arn)
    ar.list_operations(ServiceArn=svc_arn)
    ar.update_default_auto_scaling_configuration(
        AutoScalingConfigurationArn=asc["AutoScalingConfigurationArn"]
    )
    ar.delete_service(ServiceArn=svc_arn)
    deleted = ar.describe_service(ServiceArn=svc_arn)["Service"]
    assert deleted["Status"] == "DELETED" and "DeletedAt" in deleted
    default = next(
        a
        for a in ar.list_auto_scaling_configurations()["AutoScalingConfigurationSummaryList"]
        if a["AutoScalingConfigurationName"] == "DefaultConfiguration"
    )
    ar.update_default_auto_scaling_configuration(
        AutoScalingConfigurationArn=default["AutoScalingConfigurationArn"]
    )
    ar.delete_auto_scaling_configuration(AutoScalingConfigurationArn=asc["AutoScalingConfigurationArn"])
    ar.delete_observability_configuration(ObservabilityConfigurationArn=obs["ObservabilityConfigurationArn"])
    ar.delete_vpc_connector(VpcConnectorArn=vc["VpcConnectorArn"])
    ar.delete_connection(ConnectionArn=connection_arn)
    # errors conform too (modeled code, HTTP status, Message)
    with pytest.raises(ar.exceptions.ResourceNotFoundException):
        ar.describe_vpc_connector(
            VpcConnectorArn=vc["VpcConnectorArn"].replace(vc["VpcConnectorArn"][-32:], "0" * 32)
        )
    assert seen >= set(HANDLERS) - {"CreateConnection"}


def test_identifier_formats(ar: Any, make_service: Any, default_subnets: list[str]) -> None:
    """E3: ServiceId 32 hex, OperationId UUIDv4, ServiceUrl without scheme, ARNs with 32-hex suffixes."""
    out = make_service()
    svc = out["Service"]
    assert re.fullmatch(HEX32, svc["ServiceId"])
    assert (
        svc["ServiceArn"]
        == f"arn:aws:apprunner:us-east-1:123456789012:service/seed-go-app/{svc['ServiceId']}"
    )
    assert re.fullmatch(UUID4, out["OperationId"])
    assert re.fullmatch(r"[a-z0-9]{10}\.us-east-1\.awsapprunner\.com", svc["ServiceUrl"])
    assert re.fullmatch(
        ARN + f"connection/github-seed/{HEX32}",
        svc["SourceConfiguration"]["AuthenticationConfiguration"]["ConnectionArn"],
    )
    assert svc["AutoScalingConfigurationSummary"]["AutoScalingConfigurationArn"] == (
        ARN + "autoscalingconfiguration/DefaultConfiguration/1/00000000000000000000000000000001"
    )
    vc = ar.create_vpc_connector(VpcConnectorName="conn-1", Subnets=default_subnets)["VpcConnector"]
    assert re.fullmatch(ARN + f"vpcconnector/conn-1/1/{HEX32}", vc["VpcConnectorArn"])
    asc = ar.create_auto_scaling_configuration(AutoScalingConfigurationName="asc-1")[
        "AutoScalingConfiguration"
    ]
    assert re.fullmatch(ARN + f"autoscalingconfiguration/asc-1/1/{HEX32}", asc["AutoScalingConfigurationArn"])
    private = make_service(
        "private-app", NetworkConfiguration={"IngressConfiguration": {"IsPubliclyAccessible": False}}
    )
    assert "ServiceUrl" not in private["Service"] or private["Service"]["ServiceUrl"] == ""


def test_wire_protocol_raw_http(sb: Any) -> None:
    """E1/E4: JSON 1.0 on POST / with X-Amz-Target; errors as {"__type", "Message"}; epoch timestamps."""

    def call(op: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        req = urllib.request.Request(
            sb.url + "/",
            data=json.dumps(body).encode(),
            method="POST",
            headers={
                "X-Amz-Target": f"AppRunner.{op}",
                "Content-Type": "application/x-amz-json-1.0",
                "Authorization": AUTH,
            },
        )
        try:
            with urllib.request.urlopen(req) as resp:
                assert resp.headers["Content-Type"] == "application/x-amz-json-1.0"
                return resp.status, json.loads(resp.read())
        except urllib.error.HTTPError as err:
            return err.code, json.loads(err.read())

    status, body = call("CreateConnection", {"ConnectionName": "raw-conn", "ProviderType": "GITHUB"})
    assert status == 200 and isinstance(body["Connection"]["CreatedAt"], float)
    status, body = call("CreateConnection", {"ConnectionName": "raw-conn", "ProviderType": "GITLAB"})
    assert status == 400 and body["__type"] == "InvalidRequestException" and "enum" in body["Message"]
    status, body = call("DescribeService", {"ServiceArn": ARN + "service/nope/" + "0" * 32})
    assert status == 400 and body["__type"] == "ResourceNotFoundException"
    status, body = call("NoSuchOperation", {})
    assert status == 400 and body["__type"] == "InvalidRequestException"
    status, body = call("ListServices", {"MaxResults": 21})
    assert status == 400 and "less than or equal to 20" in body["Message"]


def test_no_waiters_or_paginators_are_promised(ar: Any) -> None:
    """E4: the sandbox adds nothing to the SDK's view: App Runner has no waiters and no paginators."""
    assert ar.waiter_names == []
    assert not ar.can_paginate("list_services")
