"""The AWS boundary: error translation and NextToken loops through short and empty pages."""

from __future__ import annotations

import pytest
from botocore.stub import Stubber

from runbook_lib.aws import call, console_url, paginate
from runbook_lib.errors import InvalidState


def summary(name: str) -> dict:
    return {
        "ServiceName": name,
        "ServiceId": "a" * 32,
        "ServiceArn": f"arn:aws:apprunner:us-east-1:123456789012:service/{name}/{'a' * 32}",
        "Status": "RUNNING",
    }


def test_paginate_follows_empty_and_short_pages(clients, no_network) -> None:
    stub = Stubber(clients.apprunner)
    stub.add_response("list_services", {"ServiceSummaryList": [summary("one1")], "NextToken": "t1"}, {})
    stub.add_response("list_services", {"ServiceSummaryList": [], "NextToken": "t2"}, {"NextToken": "t1"})
    stub.add_response("list_services", {"ServiceSummaryList": [summary("two2")]}, {"NextToken": "t2"})
    stub.activate()
    names = [
        s["ServiceName"]
        for s in paginate(clients, "apprunner", "ListServices", "ServiceSummaryList", resource="services")
    ]
    assert names == ["one1", "two2"]
    stub.assert_no_pending_responses()
    assert [c.operation for c in clients.calls] == ["ListServices"] * 3


def test_paginate_follows_route53_record_set_pages(clients, no_network) -> None:
    def rrset(name: str) -> dict:
        return {"Name": name, "Type": "CNAME", "TTL": 300, "ResourceRecords": [{"Value": "x.example.com"}]}

    stub = Stubber(clients.client("route53"))
    zone = {"HostedZoneId": "Z1"}
    stub.add_response(
        "list_resource_record_sets",
        {"ResourceRecordSets": [rrset("a.example.com.")], "IsTruncated": True,
         "NextRecordName": "b.example.com.", "NextRecordType": "CNAME", "MaxItems": "1"}, zone,
    )  # fmt: skip
    stub.add_response(
        "list_resource_record_sets",
        {"ResourceRecordSets": [rrset("b.example.com.")], "IsTruncated": False, "MaxItems": "1"},
        {**zone, "StartRecordName": "b.example.com.", "StartRecordType": "CNAME"},
    )
    stub.activate()
    found = paginate(clients, "route53", "ListResourceRecordSets", "ResourceRecordSets", resource="zone Z1",
                     HostedZoneId="Z1")  # fmt: skip
    assert [r["Name"] for r in found] == ["a.example.com.", "b.example.com."]
    stub.assert_no_pending_responses()


def test_call_translates_errors_and_chains(clients, no_network) -> None:
    stub = Stubber(clients.apprunner)
    stub.add_client_error("delete_service", "InvalidStateException", "busy")
    stub.activate()
    with pytest.raises(InvalidState) as info:
        call(
            clients,
            "apprunner",
            "DeleteService",
            resource="service demo",
            ServiceArn="arn:aws:apprunner:us-east-1:123456789012:service/demo/x",
        )
    assert info.value.__cause__ is not None and "service demo" in str(info.value)
    assert clients.calls[-1].mutating and clients.calls[-1].outcome == "InvalidStateException"


def test_console_url() -> None:
    assert console_url("eu-west-1", "/connections") == (
        "https://eu-west-1.console.aws.amazon.com/apprunner/home?region=eu-west-1#/connections"
    )


def test_stable_reads_are_memoized_and_other_reads_only_in_a_read_only_scope(clients, no_network) -> None:
    stub = Stubber(clients.sts)
    stub.add_response(
        "get_caller_identity",
        {"Account": "123456789012", "Arn": "arn:aws:iam::123456789012:user/a", "UserId": "AIDA"},
    )
    stub.activate()
    first = call(clients, "sts", "GetCallerIdentity", resource="caller")
    first["Account"] = "changed by the caller"  # callers get copies
    assert call(clients, "sts", "GetCallerIdentity", resource="caller")["Account"] == "123456789012"
    stub.assert_no_pending_responses()

    ar = Stubber(clients.apprunner)
    for _ in range(2):  # outside a scope every read goes out (waits must see fresh state)
        ar.add_response("list_services", {"ServiceSummaryList": []}, {})
    ar.add_response("list_services", {"ServiceSummaryList": []}, {})  # inside the scope: once
    ar.add_response(
        "create_connection",
        {
            "Connection": {
                "ConnectionName": "gh-conn",
                "ConnectionArn": "arn:aws:apprunner:us-east-1:123456789012:connection/gh-conn/" + "a" * 32,
                "ProviderType": "GITHUB",
                "Status": "PENDING_HANDSHAKE",
            }
        },
        {"ConnectionName": "gh-conn", "ProviderType": "GITHUB"},
    )
    ar.add_response("list_services", {"ServiceSummaryList": []}, {})  # a mutation forgets the memo
    ar.activate()
    call(clients, "apprunner", "ListServices", resource="services")
    call(clients, "apprunner", "ListServices", resource="services")
    with clients.read_only_scope():
        call(clients, "apprunner", "ListServices", resource="services")
        call(clients, "apprunner", "ListServices", resource="services")
        call(
            clients,
            "apprunner",
            "CreateConnection",
            resource="c",
            ConnectionName="gh-conn",
            ProviderType="GITHUB",
        )
        call(clients, "apprunner", "ListServices", resource="services")
    ar.assert_no_pending_responses()
    assert call(clients, "sts", "GetCallerIdentity", resource="caller")["Account"] == "123456789012"


def test_every_read_only_scope_reads_afresh(clients, no_network) -> None:
    """Two plans on the same clients: the second sees what changed out of band; STABLE reads stay."""
    from runbook_lib.clients import STABLE

    assert ("sts", "GetCallerIdentity") in STABLE
    ar = Stubber(clients.apprunner)
    ar.add_response("list_services", {"ServiceSummaryList": []}, {})
    summary = {
        "ServiceName": "demo", "ServiceId": "1" * 32, "Status": "RUNNING", "ServiceUrl": "x",
        "ServiceArn": "arn:aws:apprunner:us-east-1:123456789012:service/demo/" + "1" * 32,
    }  # fmt: skip
    ar.add_response("list_services", {"ServiceSummaryList": [summary]}, {})
    ar.activate()
    clients.reads[("sts", "GetCallerIdentity", "{}")] = {"Account": "123456789012"}
    with clients.read_only_scope():
        assert call(clients, "apprunner", "ListServices", resource="s")["ServiceSummaryList"] == []
        assert call(clients, "apprunner", "ListServices", resource="s")["ServiceSummaryList"] == []
    with clients.read_only_scope():
        assert call(clients, "apprunner", "ListServices", resource="s")["ServiceSummaryList"] == [summary]
    ar.assert_no_pending_responses()
    assert list(clients.reads) == [("sts", "GetCallerIdentity", "{}")]
    clients.reads[("apprunner", "ListServices", "{}")] = {"stale": True}
    clients.forget_reads()
    assert list(clients.reads) == [("sts", "GetCallerIdentity", "{}")]
