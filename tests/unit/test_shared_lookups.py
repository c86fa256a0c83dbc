"""Lookups by name that a batch shares: one unfiltered ListConnections / ListAutoScalingConfigurations
pass serves every environment's name, and a change of a name makes its next lookup list again (Stubber)."""

from __future__ import annotations

from pathlib import Path

import pytest
from botocore.stub import Stubber
from unit_helpers import demo_params

from runbook_lib import autoscaling, shared_reads
from runbook_lib.aws import call
from runbook_lib.connection import ensure_connection, find_connection
from runbook_lib.results import Action
from runbook_lib.shared_reads import SharedReads

REGION_ACCOUNT = "us-east-1:123456789012"
PARAMS_A = demo_params()  # connection github-demo, auto scaling name demo-app
PARAMS_B = demo_params(sections={"name": "other-app", "connection": {"name": "github-other"}})


def conn_arn(name: str) -> str:
    return f"arn:aws:apprunner:{REGION_ACCOUNT}:connection/{name}/" + "c" * 32


def connections(*items: tuple[str, str]) -> dict:
    return {
        "ConnectionSummaryList": [
            {"ConnectionName": n, "ConnectionArn": conn_arn(n), "ProviderType": "GITHUB", "Status": s}
            for n, s in items
        ]
    }


@pytest.fixture
def batch(offline_clients, tmp_path: Path):
    now = [1000.0]
    offline_clients.shared = SharedReads("apprunner-123456789012-us-east-1", tmp_path, clock=lambda: now[0])
    with Stubber(offline_clients.apprunner) as stub:
        yield offline_clients, stub, now
        stub.assert_no_pending_responses()


def test_one_unfiltered_pass_serves_every_name_until_one_changes(batch) -> None:
    clients, stub, now = batch
    stub.add_response("list_connections", connections(("github-demo", "AVAILABLE")), {})
    assert find_connection(clients, PARAMS_A, max_age=5.0)["status"] == "AVAILABLE"
    now[0] += 1.0
    assert find_connection(clients, PARAMS_B, max_age=5.0) is None  # the same pass: no request
    made = {"Connection": {"ConnectionArn": conn_arn("github-other"), "ConnectionName": "github-other",
                           "Status": "PENDING_HANDSHAKE"}}  # fmt: skip
    stub.add_response("create_connection", made, None)
    call(clients, "apprunner", "CreateConnection", resource="c", ConnectionName="github-other",
         ProviderType="GITHUB")  # fmt: skip
    now[0] += 1.0
    assert find_connection(clients, PARAMS_A, max_age=5.0) is not None  # another name's change: still served
    both = connections(("github-demo", "AVAILABLE"), ("github-other", "PENDING_HANDSHAKE"))
    stub.add_response("list_connections", both, {})  # the changed name: listed again
    assert find_connection(clients, PARAMS_B, max_age=5.0)["status"] == "PENDING_HANDSHAKE"


def test_a_poll_or_a_big_account_asks_for_its_name_alone(batch) -> None:
    clients, stub, now = batch
    by_name = {"ConnectionName": "github-demo"}
    stub.add_response("list_connections", connections(("github-demo", "AVAILABLE")), by_name)
    assert find_connection(clients, PARAMS_A) is not None  # max_age 0: its own, narrowed request
    assert clients.shared.peek("ListConnections") is None  # …which is not shared
    clients.shared.listing("ListConnections", lambda: ([], shared_reads.SHARED_MAX_PAGES + 1),
                           concerns=bool, max_age=0.0)  # fmt: skip
    now[0] += 1.0
    stub.add_response("list_connections", connections(("github-demo", "AVAILABLE")), by_name)
    assert find_connection(clients, PARAMS_A, max_age=5.0) is not None  # one request, not 4+ pages


def test_the_wait_after_a_create_never_reads_a_pass_from_before_it(batch, fake_time) -> None:
    clients, stub, now = batch
    stub.add_response("list_connections", connections(), {})  # the lookup before the create
    made = {"Connection": {"ConnectionArn": conn_arn("github-demo"), "ConnectionName": "github-demo",
                           "ProviderType": "GITHUB", "Status": "PENDING_HANDSHAKE"}}  # fmt: skip
    stub.add_response("create_connection", made, None)
    stub.add_response("list_connections", connections(), {})  # first poll: not listed yet (reads lag)
    stub.add_response("list_connections", connections(("github-demo", "AVAILABLE")), {})

    def sleep(seconds: float) -> None:  # a poll 1 s later: the pass of the first poll is too old for it
        fake_time.sleep(seconds)
        now[0] += seconds

    result = ensure_connection(clients, PARAMS_A, sleep=sleep, clock=fake_time.clock)
    assert result.action is Action.CREATED and result.extra["status"] == "AVAILABLE"
    assert len(fake_time.sleeps) == 1  # two polls, each answered by a listing of its own


def asc(name: str, revision: int, **extra: object) -> dict:
    arn = f"arn:aws:apprunner:{REGION_ACCOUNT}:autoscalingconfiguration/{name}/{revision}/" + "a" * 32
    return {"AutoScalingConfigurationArn": arn, "AutoScalingConfigurationName": name,
            "AutoScalingConfigurationRevision": revision, "Status": "ACTIVE", **extra}  # fmt: skip


def described(stub: Stubber, item: dict, name: str) -> None:
    """The Describe and ListTagsForResource ``find_autoscaling`` makes for one owned revision."""
    arn = item["AutoScalingConfigurationArn"]
    full = {**item, "MaxConcurrency": 100, "MinSize": 1, "MaxSize": 25}
    stub.add_response("describe_auto_scaling_configuration", {"AutoScalingConfiguration": full},
                      {"AutoScalingConfigurationArn": arn})  # fmt: skip
    stub.add_response("list_tags_for_resource", {"Tags": [{"Key": "runbook:name", "Value": name}]},
                      {"ResourceArn": arn})  # fmt: skip


def test_revisions_of_the_name_picked_out_of_a_shared_pass(batch) -> None:
    clients, stub, now = batch
    everyone = [asc("DefaultConfiguration", 1, IsDefault=True), asc("demo-app", 1), asc("other-app", 1)]
    unfiltered = {"LatestOnly": False}  # every revision of every name, not only the latest
    stub.add_response("list_auto_scaling_configurations", {"AutoScalingConfigurationSummaryList": everyone},
                      unfiltered)  # fmt: skip
    described(stub, everyone[1], "demo-app")
    assert autoscaling.plan_autoscaling(clients, PARAMS_A).action is Action.UNCHANGED
    now[0] += 1.0
    described(stub, everyone[2], "other-app")  # the same pass: its own revision described, none listed
    assert autoscaling.plan_autoscaling(clients, PARAMS_B).action is Action.UNCHANGED
    made = {"AutoScalingConfiguration": asc("demo-app", 2, MaxConcurrency=100, MinSize=1, MaxSize=25)}
    stub.add_response("create_auto_scaling_configuration", made, None)
    call(clients, "apprunner", "CreateAutoScalingConfiguration", resource="a",
         AutoScalingConfigurationName="demo-app", MaxConcurrency=100)  # fmt: skip
    now[0] += 1.0
    stub.add_response("list_auto_scaling_configurations", {"AutoScalingConfigurationSummaryList": everyone},
                      unfiltered)  # after the name's change: listed again  # fmt: skip
    described(stub, everyone[1], "demo-app")
    autoscaling.plan_autoscaling(clients, PARAMS_A)


def test_revisions_listed_by_name_outside_a_batch(offline_clients) -> None:
    with Stubber(offline_clients.apprunner) as stub:
        stub.add_response("list_auto_scaling_configurations", {"AutoScalingConfigurationSummaryList": []},
                          {"AutoScalingConfigurationName": "demo-app", "LatestOnly": False})  # fmt: skip
        assert autoscaling.plan_autoscaling(offline_clients, PARAMS_A).action is Action.CREATE
        stub.assert_no_pending_responses()
