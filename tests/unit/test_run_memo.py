"""What a run need not read again (Stubber): the tags it created a resource with, and a revision's
settings; and when it must read them after all."""

from __future__ import annotations

from pathlib import Path

import pytest
from botocore.stub import Stubber

from runbook_lib import autoscaling
from runbook_lib.aws import CREATED_TAGS_KEEP_S, remember_tags, resource_tags
from runbook_lib.shared_reads import SharedReads

ARN = "arn:aws:apprunner:us-east-1:123456789012:autoscalingconfiguration/demo-app/1/" + "a" * 32
TAGS = {"runbook:name": "demo-app"}
SUMMARY = {"AutoScalingConfigurationArn": ARN, "AutoScalingConfigurationName": "demo-app",
           "AutoScalingConfigurationRevision": 1, "Status": "ACTIVE"}  # fmt: skip


@pytest.fixture
def stub(offline_clients):
    with Stubber(offline_clients.apprunner) as stubber:
        yield stubber
        stubber.assert_no_pending_responses()


def listed_tags(stub: Stubber) -> None:
    stub.add_response("list_tags_for_resource", {"Tags": [{"Key": "runbook:name", "Value": "x"}]},
                      {"ResourceArn": ARN})  # fmt: skip


def test_created_tags_serve_until_another_process_changes_them(offline_clients, stub, tmp_path: Path) -> None:
    now = [1000.0]
    offline_clients.shared = SharedReads("apprunner-123456789012-us-east-1", tmp_path, clock=lambda: now[0])
    remember_tags(offline_clients, ARN, [{"Key": "runbook:name", "Value": "demo-app"}])
    assert resource_tags(offline_clients, ARN, resource="r") == TAGS  # no request
    now[0] += 1.0
    offline_clients.shared.note_mutation("autoscalingconfiguration/demo-app")  # e.g. another kernel's tags
    listed_tags(stub)
    assert resource_tags(offline_clients, ARN, resource="r") == {"runbook:name": "x"}


def test_created_tags_are_read_again_after_a_while(offline_clients, stub) -> None:
    remember_tags(offline_clients, ARN, TAGS)
    assert resource_tags(offline_clients, ARN, resource="r") == TAGS
    known, when = offline_clients.created_tags[ARN]
    offline_clients.created_tags[ARN] = (known, when - CREATED_TAGS_KEEP_S - 1)
    listed_tags(stub)
    assert resource_tags(offline_clients, ARN, resource="r") == {"runbook:name": "x"}


def test_known_settings_need_no_describe_unless_the_listing_lacks_the_flags(offline_clients, stub) -> None:
    offline_clients.revision_settings[ARN] = {"MaxConcurrency": 100, "MinSize": 1, "MaxSize": 25}
    flagged = {**SUMMARY, "HasAssociatedService": True, "IsDefault": False}
    got = autoscaling._described(offline_clients, flagged)  # no request
    assert got["MaxConcurrency"] == 100 and got["HasAssociatedService"] is True
    full = {**SUMMARY, "MaxConcurrency": 100, "MinSize": 1, "MaxSize": 25, "HasAssociatedService": False}
    stub.add_response("describe_auto_scaling_configuration", {"AutoScalingConfiguration": full},
                      {"AutoScalingConfigurationArn": ARN})  # fmt: skip
    assert autoscaling._described(offline_clients, SUMMARY)["HasAssociatedService"] is False
