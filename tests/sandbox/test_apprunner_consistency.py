"""The consistency delay: created resources are hidden from List/Describe, deleted ones stay listed as
they were, for ``consistency_delay`` seconds of the emulator's clock (moved with ``advance``)."""

from __future__ import annotations

from typing import Any

import pytest

DELAY = 30.0


@pytest.fixture
def lagging(sb: Any) -> Any:
    sb.control.config(consistency_delay=DELAY)
    return sb


def _asc_names(ar: Any, **kw: Any) -> list[tuple[int, str]]:
    listed = ar.list_auto_scaling_configurations(
        AutoScalingConfigurationName="lagging", LatestOnly=False, **kw
    )
    return [
        (a["AutoScalingConfigurationRevision"], a["Status"])
        for a in listed["AutoScalingConfigurationSummaryList"]
    ]


def test_asc_hidden_after_create_and_listed_after_delete(ar: Any, lagging: Any) -> None:
    made = ar.create_auto_scaling_configuration(AutoScalingConfigurationName="lagging")[
        "AutoScalingConfiguration"
    ]
    arn = made["AutoScalingConfigurationArn"]
    assert made["Status"] == "active"  # the create call itself answers with the resource
    assert _asc_names(ar) == []
    with pytest.raises(ar.exceptions.ResourceNotFoundException):
        ar.describe_auto_scaling_configuration(AutoScalingConfigurationArn=arn)
    lagging.control.advance(DELAY - 1)
    assert _asc_names(ar) == []
    lagging.control.advance(1)
    assert _asc_names(ar) == [(1, "active")]
    gone = ar.delete_auto_scaling_configuration(AutoScalingConfigurationArn=arn)["AutoScalingConfiguration"]
    assert gone["Status"] == "inactive"
    assert _asc_names(ar) == [(1, "active")]  # still listed, with its old status
    described = ar.describe_auto_scaling_configuration(AutoScalingConfigurationArn=arn)
    assert described["AutoScalingConfiguration"]["Status"] == "active"
    assert "DeletedAt" not in described["AutoScalingConfiguration"]
    lagging.control.advance(DELAY)
    assert _asc_names(ar) == []
    described = ar.describe_auto_scaling_configuration(AutoScalingConfigurationArn=arn)
    assert described["AutoScalingConfiguration"]["Status"] == "inactive"


def test_default_configuration_is_never_hidden(ar: Any, lagging: Any) -> None:
    listed = ar.list_auto_scaling_configurations()["AutoScalingConfigurationSummaryList"]
    assert [a["AutoScalingConfigurationName"] for a in listed] == ["DefaultConfiguration"]


def test_vpc_connector_hidden_then_listed_after_delete(ar: Any, lagging: Any, default_subnets: list) -> None:
    made = ar.create_vpc_connector(VpcConnectorName="lag-conn", Subnets=default_subnets)["VpcConnector"]
    arn = made["VpcConnectorArn"]
    assert ar.list_vpc_connectors()["VpcConnectors"] == []
    with pytest.raises(ar.exceptions.ResourceNotFoundException):
        ar.describe_vpc_connector(VpcConnectorArn=arn)
    lagging.control.advance(DELAY)
    assert [c["Status"] for c in ar.list_vpc_connectors()["VpcConnectors"]] == ["ACTIVE"]
    assert ar.delete_vpc_connector(VpcConnectorArn=arn)["VpcConnector"]["Status"] == "INACTIVE"
    assert [c["Status"] for c in ar.list_vpc_connectors()["VpcConnectors"]] == ["ACTIVE"]
    assert ar.describe_vpc_connector(VpcConnectorArn=arn)["VpcConnector"]["Status"] == "ACTIVE"
    with pytest.raises(ar.exceptions.ResourceNotFoundException):  # the write path sees the truth
        ar.delete_vpc_connector(VpcConnectorArn=arn)
    lagging.control.advance(DELAY)
    assert ar.describe_vpc_connector(VpcConnectorArn=arn)["VpcConnector"]["Status"] == "INACTIVE"


def test_connection_hidden_then_listed_with_its_old_status(ar: Any, lagging: Any) -> None:
    arn = ar.create_connection(ConnectionName="lag-gh", ProviderType="GITHUB")["Connection"]["ConnectionArn"]
    assert ar.list_connections(ConnectionName="lag-gh")["ConnectionSummaryList"] == []
    lagging.control.advance(DELAY)
    lagging.control.handshake("lag-gh")
    listed = ar.list_connections(ConnectionName="lag-gh")["ConnectionSummaryList"]
    assert [c["Status"] for c in listed] == ["AVAILABLE"]
    ar.delete_connection(ConnectionArn=arn)
    listed = ar.list_connections(ConnectionName="lag-gh")["ConnectionSummaryList"]
    assert [c["Status"] for c in listed] == ["AVAILABLE"]
    lagging.control.advance(DELAY)
    statuses = [c["Status"] for c in ar.list_connections(ConnectionName="lag-gh")["ConnectionSummaryList"]]
    assert statuses in ([], ["DELETED"])  # DELETED for a while, then gone (as Terraform expects)


def test_zero_delay_shows_everything_at_once(ar: Any, sb: Any) -> None:
    assert sb.control.config()["consistency_delay"] == 0
    ar.create_auto_scaling_configuration(AutoScalingConfigurationName="lagging")
    assert _asc_names(ar) == [(1, "active")]
