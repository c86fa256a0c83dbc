"""Pure parts of custom domains and private services: records, change batches, requests (validated
against botocore's models), the domain widget's state, and the params."""

from __future__ import annotations

from pathlib import Path

import botocore.session
import pytest
from botocore.validate import validate_parameters

from runbook_lib.domain_widget import DomainState
from runbook_lib.domains import (
    APP_RUNNER_ZONES,
    build_change_batch,
    desired_records,
    pending_hint,
    records_table,
)
from runbook_lib.errors import ParameterError
from runbook_lib.ingress import build_create_ingress_request, build_create_vpc_endpoint_request
from runbook_lib.params import CustomDomainParams, load_params

PARAMS = Path(__file__).resolve().parents[2] / "params" / "sandbox.yaml"
SESSION = botocore.session.get_session()
VPCE = "vpce-0123456789abcdef0"
FOUND = {
    "records": [{"Name": "_abc.app.example.com.", "Type": "CNAME", "Value": "_def.acm-validations.aws."}]
}


def _valid(service: str, operation: str, request: dict) -> None:
    model = SESSION.get_service_model(service).operation_model(operation)
    validate_parameters(request, model.input_shape)


def test_records_are_the_validation_cnames_the_domain_and_www() -> None:
    cd = CustomDomainParams(domain="app.example.com", www=True, hosted_zone_id="Z1")
    records = desired_records(cd, FOUND, "abc.us-east-1.awsapprunner.com", apex=False, region="us-east-1")
    assert [(r["Name"], r["Type"], r["Value"]) for r in records] == [
        ("_abc.app.example.com.", "CNAME", "_def.acm-validations.aws."),
        ("app.example.com.", "CNAME", "abc.us-east-1.awsapprunner.com."),
        ("www.app.example.com.", "CNAME", "abc.us-east-1.awsapprunner.com."),
    ]
    batch = build_change_batch(records, "UPSERT", "runbook demo")
    _valid("route53", "ChangeResourceRecordSets", {"HostedZoneId": "Z1", "ChangeBatch": batch})
    assert "app.example.com.\t300\tIN\tCNAME\tabc.us-east-1.awsapprunner.com." in records_table(records)


def test_a_zone_apex_gets_an_alias_to_app_runner_s_zone() -> None:
    cd = CustomDomainParams(domain="example.com")
    records = desired_records(
        cd, {"records": []}, "abc.eu-west-1.awsapprunner.com", apex=True, region="eu-west-1"
    )
    (own,) = records
    assert own["Type"] == "A" and own["AliasZone"] == APP_RUNNER_ZONES["eu-west-1"]
    change = build_change_batch(records, "DELETE", "c")["Changes"][0]["ResourceRecordSet"]
    assert change["AliasTarget"]["DNSName"] == "abc.eu-west-1.awsapprunner.com." and "TTL" not in change
    _valid("route53", "ChangeResourceRecordSets", {"HostedZoneId": "Z1", "ChangeBatch": {"Changes": [
        {"Action": "DELETE", "ResourceRecordSet": change}]}})  # fmt: skip
    assert "ALIAS" in records_table(records)


def test_timeout_hint_lists_the_records_and_what_to_do() -> None:
    cd = CustomDomainParams(domain="app.example.com")
    hint = pending_hint("app.example.com", desired_records(cd, FOUND, "t.x", apex=False, region="us-east-1"))
    assert "hosted_zone_id" in hint and "re-run" in hint and "_def.acm-validations.aws." in hint


def test_ingress_requests_match_the_api_models() -> None:
    params = load_params(PARAMS, {"public": False, "ingress": {"vpc_endpoint_id": "create"}})
    endpoint = build_create_vpc_endpoint_request(params, "vpc-0123456789abcdef0")
    assert endpoint["ServiceName"] == "com.amazonaws.us-east-1.apprunner.requests"
    _valid("ec2", "CreateVpcEndpoint", endpoint)
    tags = {t["Key"]: t["Value"] for t in endpoint["TagSpecifications"][0]["Tags"]}
    assert tags["runbook:name"] == params.name and tags["Name"] == params.ingress.name == params.name
    arn = "arn:aws:apprunner:us-east-1:123456789012:service/demo-go-app/" + "0" * 32
    request = build_create_ingress_request(params, arn, "vpc-0123456789abcdef0", "vpce-0123456789abcdef0")
    _valid("apprunner", "CreateVpcIngressConnection", request)


@pytest.mark.parametrize(
    ("over", "field"),
    [
        ({"public": False}, "ingress"),
        ({"ingress": {"vpc_endpoint_id": "create"}}, "ingress"),
        ({"public": False, "ingress": {"vpc_endpoint_id": VPCE, "subnet_ids": ["subnet-01234567"]}},
         "ingress.subnet_ids"),
        ({"custom_domains": [{"domain": "a.example.com"}, {"domain": "a.example.com"}]}, "custom_domains"),
    ],
)  # fmt: skip
def test_params_refuse_inconsistent_private_and_domain_settings(over: dict, field: str) -> None:
    with pytest.raises(ParameterError) as err:
        load_params(PARAMS, over)
    assert [p.field for p in err.value.problems] == [field]


def test_domain_state_shows_each_record_with_its_status() -> None:
    rows = (
        {
            "Name": "_a.app.example.com.",
            "Type": "CNAME",
            "Value": "_b.acm-validations.aws.",
            "Status": "SUCCESS",
        },
        {"Name": "app.example.com.", "Type": "CNAME", "Value": "t.x.", "Status": "points to the service"},
    )
    state = DomainState(
        "app.example.com", "t.x", rows, status="binding_certificate", elapsed_s=12, timeout_s=60
    )
    assert state.text() == "custom domain app.example.com: binding_certificate after 12s of 60s"
    page = state.html()
    assert page.count('class="runbook-record"') == 2 and 'data-status="SUCCESS"' in page
    assert "runbook-records-copy" in page and "DNS provider" in state.instructions()
    assert not state.final and DomainState("d", "t", (), status="active").final
