"""Listings shared by the processes of a batch: when a snapshot may serve, and when it must not."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest
from botocore.stub import Stubber

from runbook_lib import shared_reads, throttle
from runbook_lib.aws import call, shared_listing
from runbook_lib.errors import WaitFailed
from runbook_lib.shared_reads import SharedReads, resource_of
from runbook_lib.waiters import operation_finished, wait_for

ARN = "arn:aws:apprunner:us-east-1:123456789012:service/demo/0123456789abcdef"
OTHER_ARN = "arn:aws:apprunner:us-east-1:123456789012:service/other/fedcba9876543210"
OP = "0123456789abcdef0123456789abcdef0123"  # 36 characters, as App Runner's


def shared(folder: Path, now: list[float]) -> SharedReads:
    return SharedReads("apprunner-123456789012-us-east-1", folder, clock=lambda: now[0])


class Lister:
    """A fetch that counts its passes and answers the given items."""

    def __init__(self, *items: dict) -> None:
        self.items, self.passes = list(items), 0

    def __call__(self) -> tuple[list[dict], int]:
        self.passes += 1
        return list(self.items), 1


def is_demo(resource: str) -> bool:
    return resource == "service/demo"


def test_resource_of_names_and_arns() -> None:
    assert resource_of({"ServiceName": "demo"}) == "service/demo"
    assert resource_of({"ServiceArn": ARN}) == "service/demo"
    assert resource_of({"VpcConnectorName": "demo-vpc"}) == "vpcconnector/demo-vpc"
    connector = "arn:aws:apprunner:us-east-1:123456789012:vpcconnector/demo-vpc/1/abc"
    assert resource_of({"ResourceArn": connector}) == "vpcconnector/demo-vpc"
    assert resource_of({"ConnectionName": "gh"}) == "connection/gh"
    assert resource_of({"AutoScalingConfigurationName": "demo"}) == "autoscalingconfiguration/demo"
    revision = "arn:aws:apprunner:us-east-1:123456789012:autoscalingconfiguration/demo/2/abc"
    assert resource_of({"AutoScalingConfigurationArn": revision}) == "autoscalingconfiguration/demo"
    assert resource_of({"ConnectionArn": "arn:aws:apprunner:us-east-1:1:connection/gh/c"}) == "connection/gh"
    assert resource_of({"RoleName": "r"}) is None


def test_a_fresh_snapshot_serves_a_second_lookup(tmp_path: Path) -> None:
    now = [1000.0]
    fetch = Lister({"ServiceName": "demo"})
    first = shared(tmp_path, now).listing("ListServices", fetch, concerns=is_demo, max_age=5.0)
    now[0] += 4.0
    again = shared(tmp_path, now).listing("ListServices", fetch, concerns=is_demo, max_age=5.0)
    assert fetch.passes == 1 and again == first
    now[0] += 2.0  # 6 s old: too old
    shared(tmp_path, now).listing("ListServices", fetch, concerns=is_demo, max_age=5.0)
    assert fetch.passes == 2


def test_a_change_of_the_resource_hides_older_snapshots(tmp_path: Path) -> None:
    now = [1000.0]
    reads, fetch = shared(tmp_path, now), Lister()
    reads.listing("ListServices", fetch, concerns=is_demo, max_age=5.0)
    now[0] += 1.0
    reads.note_mutation("service/other")  # another environment's service: the snapshot still serves
    reads.listing("ListServices", fetch, concerns=is_demo, max_age=5.0)
    assert fetch.passes == 1
    reads.note_mutation("service/demo")  # ours (or anyone's change of ours): list again
    reads.listing("ListServices", fetch, concerns=is_demo, max_age=5.0)
    assert fetch.passes == 2


def test_since_and_zero_max_age_list_again(tmp_path: Path) -> None:
    now = [1000.0]
    reads, fetch = shared(tmp_path, now), Lister()
    reads.listing("ListServices", fetch, concerns=is_demo, max_age=5.0)
    now[0] += 1.0
    reads.listing("ListServices", fetch, concerns=is_demo, max_age=5.0, since=now[0] - 0.5)
    assert fetch.passes == 2
    reads.listing("ListServices", fetch, concerns=is_demo, max_age=0.0)
    assert fetch.passes == 2  # sent at this very instant: as fresh as a new pass
    now[0] += 0.1
    reads.listing("ListServices", fetch, concerns=is_demo, max_age=0.0)
    assert fetch.passes == 3


def test_timestamps_survive_the_file(tmp_path: Path) -> None:
    when = datetime(2026, 12, 2, 10, 0, tzinfo=timezone.utc)
    now = [1000.0]
    first = Lister({"CreatedAt": when})
    shared(tmp_path, now).listing("ListVpcConnectors", first, concerns=is_demo, max_age=5.0)
    got = shared(tmp_path, now).listing("ListVpcConnectors", Lister(), concerns=is_demo, max_age=5.0)
    assert got.items == [{"CreatedAt": when}]


def test_another_process_reads_the_snapshot(tmp_path: Path) -> None:
    code = (
        "import sys; from pathlib import Path; from runbook_lib.shared_reads import SharedReads;"
        "r = SharedReads('apprunner-123456789012-us-east-1', Path(sys.argv[1]), clock=lambda: 1000.0);"
        "r.listing('ListServices', lambda: ([{'ServiceName': 'x'}], 1), concerns=bool, max_age=5.0)"
    )
    subprocess.run([sys.executable, "-c", code, str(tmp_path)], check=True)
    got = shared(tmp_path, [1001.0]).listing("ListServices", Lister(), concerns=is_demo, max_age=5.0)
    assert got.items == [{"ServiceName": "x"}]


def test_only_a_batch_shares_in_a_folder_of_its_own(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(throttle.DIR_ENV, str(tmp_path))
    monkeypatch.delenv(shared_reads.ENABLE_ENV, raising=False)
    assert shared_reads.from_environment("123456789012", "us-east-1") is None
    with shared_reads.batch_folder(False) as none:
        assert none is None and shared_reads.ENABLE_ENV not in os.environ
    with shared_reads.batch_folder() as folder:
        assert folder is not None and folder.parent == tmp_path and folder.is_dir()
        found = shared_reads.from_environment("123456789012", "us-east-1")
        assert found is not None and found.folder == folder
    assert not folder.exists() and shared_reads.ENABLE_ENV not in os.environ


# ------------------------------------------------------------------------------ through the clients


@pytest.fixture
def batch_clients(offline_clients, tmp_path: Path):
    now = [1000.0]
    offline_clients.shared = shared(tmp_path, now)
    return offline_clients, now


def services(*items: tuple[str, str]) -> dict:
    return {
        "ServiceSummaryList": [
            {"ServiceName": arn.split("/")[1], "ServiceArn": arn, "ServiceId": "0" * 32, "Status": status}
            for arn, status in items
        ]
    }


def ops(status: str) -> dict:
    summary = {"Id": OP, "Type": "UPDATE_SERVICE", "Status": status, "TargetArn": ARN}
    return {"OperationSummaryList": [summary]}


def test_a_change_through_the_clients_is_recorded(batch_clients, no_network) -> None:
    clients, now = batch_clients
    stub = Stubber(clients.apprunner)
    stub.add_response("list_services", services((ARN, "RUNNING")), {})
    tags = [{"Key": "team", "Value": "a"}]
    stub.add_response("tag_resource", {}, {"ResourceArn": ARN, "Tags": tags})
    stub.add_response("list_services", services((ARN, "OPERATION_IN_PROGRESS")), {})
    stub.activate()

    def listed() -> str:
        found = shared_listing(
            clients, "ListServices", "ServiceSummaryList", resource="s", concerns=is_demo, max_age=5.0
        )  # fmt: skip
        return found.items[0]["Status"]

    assert listed() == "RUNNING"
    call(clients, "apprunner", "TagResource", resource="s", ResourceArn=ARN, Tags=tags)
    assert listed() == "OPERATION_IN_PROGRESS"  # the snapshot from before the change did not serve
    stub.assert_no_pending_responses()


def test_operation_wait_uses_the_shared_listing_and_ends_on_the_operation(
    batch_clients, no_network, fake_time
) -> None:
    clients, now = batch_clients
    stub = Stubber(clients.apprunner)
    # a snapshot from before the update (RUNNING) must not end the wait: the first poll lists again
    clients.shared.listing("ListServices", lambda: (services((ARN, "RUNNING"))["ServiceSummaryList"], 1),
                           concerns=is_demo, max_age=5.0)  # fmt: skip
    now[0] += 0.1
    waiting = operation_finished(clients, ARN, OP, operation_type="UPDATE_SERVICE", what="service demo")
    now[0] += 0.1
    stub.add_response("list_services", services((ARN, "OPERATION_IN_PROGRESS"), (OTHER_ARN, "RUNNING")), {})
    stub.add_response("list_services", services((ARN, "RUNNING")), {})  # rolled back: RUNNING again
    stub.add_response("list_operations", ops("ROLLBACK_SUCCEEDED"), {"ServiceArn": ARN, "MaxResults": 20})
    stub.activate()

    def sleep(seconds: float) -> None:
        fake_time.sleep(seconds)
        now[0] += seconds

    with pytest.raises(WaitFailed) as info:
        wait_for(waiting, sleep=sleep, clock=fake_time.clock)
    assert info.value.last == "ROLLBACK_SUCCEEDED"
    stub.assert_no_pending_responses()


def test_a_poll_answered_by_another_environments_listing(batch_clients, no_network, fake_time) -> None:
    clients, now = batch_clients
    stub = Stubber(clients.apprunner)
    waiting = operation_finished(clients, ARN, OP, operation_type="UPDATE_SERVICE", what="service demo")
    now[0] += 1.0  # another environment's poll, after this wait began: it serves without a request
    clients.shared.listing(
        "ListServices", lambda: (services((ARN, "OPERATION_IN_PROGRESS"))["ServiceSummaryList"], 1),
        concerns=bool, max_age=0.0,
    )  # fmt: skip
    stub.activate()
    assert waiting.fetch() == "IN_PROGRESS"
    stub.add_response("list_operations", ops("SUCCEEDED"), {"ServiceArn": ARN, "MaxResults": 20})
    now[0] += 0.1
    clients.shared.listing(  # newer than the previous poll, but the service left OPERATION_IN_PROGRESS
        "ListServices", lambda: (services((ARN, "RUNNING"))["ServiceSummaryList"], 1), concerns=bool,
        max_age=0.0,
    )  # fmt: skip
    assert waiting.fetch() == "SUCCEEDED"
    stub.assert_no_pending_responses()


def test_a_big_account_polls_its_operation(batch_clients, no_network) -> None:
    clients, now = batch_clients
    clients.shared.listing("ListServices", lambda: ([], shared_reads.POLL_MAX_PAGES + 1), concerns=bool,
                           max_age=0.0)  # fmt: skip
    stub = Stubber(clients.apprunner)
    stub.add_response("list_operations", ops("IN_PROGRESS"), {"ServiceArn": ARN, "MaxResults": 20})
    stub.activate()
    waiting = operation_finished(clients, ARN, OP, operation_type="UPDATE_SERVICE", what="service demo")
    assert waiting.fetch() == "IN_PROGRESS"
    stub.assert_no_pending_responses()
