"""The one polling loop: backoff, cap, timeout, progress, failure; operation-based success (L3)."""

from __future__ import annotations

import random

import pytest
from botocore.stub import Stubber

from runbook_lib.errors import WaitFailed, WaitTimeout
from runbook_lib.waiters import (
    GONE,
    Backoff,
    WaitSpec,
    operation_finished,
    service_deleted,
    service_settled,
    wait_for,
)

ARN = "arn:aws:apprunner:us-east-1:123456789012:service/demo-go-app/" + "a" * 32
OP = "8c7f4d32-5c3f-4d6b-9d2e-1a2b3c4d5e6f"
OTHER = "11111111-2222-4333-8444-555555555555"


def scripted(statuses: list[str]):
    it = iter(statuses)
    return lambda: next(it)


def spec(fetch, **kw) -> WaitSpec:
    return WaitSpec("thing", fetch, success=frozenset({"DONE"}), failure=frozenset({"BROKEN"}), **kw)


def test_backoff_grows_by_half_and_caps_at_ten(fake_time) -> None:
    with pytest.raises(WaitTimeout):
        wait_for(spec(lambda: "BUSY"), timeout=60, sleep=fake_time.sleep, clock=fake_time.clock)
    assert fake_time.sleeps[:7] == pytest.approx([1.0, 1.5, 2.25, 3.375, 5.0625, 7.59375, 10.0])
    assert max(fake_time.sleeps) == 10.0
    assert sum(fake_time.sleeps) == pytest.approx(60.0)  # the last sleep is cut to the deadline


def test_success_returns_status_and_reports_progress(fake_time) -> None:
    events: list[dict] = []
    got = wait_for(
        spec(scripted(["busy", "BUSY", "done"])),
        timeout=100, sleep=fake_time.sleep, clock=fake_time.clock, on_progress=events.append,
    )  # fmt: skip
    assert got == "done"  # statuses compare case-insensitively, returned as seen
    assert [e["polls"] for e in events] == [1, 2, 3]
    assert events[-1] == {"what": "thing", "status": "done", "elapsed_s": 2.5, "polls": 3}


def test_failure_status_raises_with_last_status(fake_time) -> None:
    with pytest.raises(WaitFailed) as info:
        wait_for(
            spec(scripted(["BUSY", "BROKEN"])), timeout=100, sleep=fake_time.sleep, clock=fake_time.clock
        )
    assert info.value.last == "BROKEN" and info.value.what == "thing"


def test_unexpected_status_fails_when_retry_set_given(fake_time) -> None:
    strict = spec(scripted(["BUSY", "WEIRD"]), retry_on=frozenset({"BUSY"}))
    with pytest.raises(WaitFailed, match="Unexpected"):
        wait_for(strict, timeout=100, sleep=fake_time.sleep, clock=fake_time.clock)


def test_timeout_carries_last_status_and_hint(fake_time) -> None:
    with pytest.raises(WaitTimeout) as info:
        wait_for(
            spec(lambda: "BUSY", timeout_hint="re-run it"),
            timeout=5,
            sleep=fake_time.sleep,
            clock=fake_time.clock,
        )
    assert info.value.last == "BUSY" and "re-run it" in str(info.value) and "5s" in str(info.value)


def test_zero_timeout_polls_once(fake_time) -> None:
    with pytest.raises(WaitTimeout):
        wait_for(spec(lambda: "BUSY"), timeout=0, sleep=fake_time.sleep, clock=fake_time.clock)
    assert fake_time.sleeps == []


def test_jitter_is_deterministic_with_seed_and_never_exceeds_cap() -> None:
    jittery = Backoff(jitter=0.3)
    one = [d for d, _ in zip(jittery.delays(random.Random(7)), range(30), strict=False)]
    two = [d for d, _ in zip(jittery.delays(random.Random(7)), range(30), strict=False)]
    assert one == two and max(one) <= 10.0 and min(one) >= 0.7


def test_benchmark_300s_operation_within_40_polls_noticed_within_10s(fake_time) -> None:
    events: list[dict] = []
    wait_for(
        spec(lambda: "DONE" if fake_time.now >= 300 else "BUSY"),
        timeout=1800, sleep=fake_time.sleep, clock=fake_time.clock, on_progress=events.append,
    )  # fmt: skip
    assert events[-1]["polls"] <= 40
    assert fake_time.now - 300 <= 10


# ---------------------------------------------------------------------------- App Runner specs over Stubber


@pytest.fixture
def clients(offline_clients):
    return offline_clients


def ops(*items: tuple[str, str, str]) -> dict:
    return {
        "OperationSummaryList": [
            {"Id": i, "Type": typ, "Status": st, "TargetArn": ARN} for i, typ, st in items
        ]
    }


def test_rolled_back_update_is_a_failure_naming_the_operation(clients, no_network, fake_time) -> None:
    stub = Stubber(clients.apprunner)
    expected = {"ServiceArn": ARN, "MaxResults": 20}
    stub.add_response("list_operations", ops((OP, "UPDATE_SERVICE", "IN_PROGRESS")), expected)
    stub.add_response("list_operations", ops((OP, "UPDATE_SERVICE", "ROLLBACK_IN_PROGRESS")), expected)
    stub.add_response("list_operations", ops((OP, "UPDATE_SERVICE", "ROLLBACK_SUCCEEDED")), expected)
    stub.activate()
    waiting = operation_finished(clients, ARN, OP, operation_type="UPDATE_SERVICE", what="service demo")
    with pytest.raises(WaitFailed) as info:
        wait_for(waiting, sleep=fake_time.sleep, clock=fake_time.clock)
    text = str(info.value)
    assert OP in text and "UPDATE_SERVICE" in text and "ROLLBACK_SUCCEEDED" in text and "re-run" in text
    assert info.value.operation_id == OP
    stub.assert_no_pending_responses()


def test_operation_found_on_a_later_page_and_succeeds(clients, no_network, fake_time) -> None:
    stub = Stubber(clients.apprunner)
    stub.add_response(
        "list_operations",
        {**ops((OTHER, "START_DEPLOYMENT", "SUCCEEDED")), "NextToken": "t1"},
        {"ServiceArn": ARN, "MaxResults": 20},
    )
    stub.add_response(
        "list_operations", ops((OP, "CREATE_SERVICE", "SUCCEEDED")),
        {"ServiceArn": ARN, "MaxResults": 20, "NextToken": "t1"},
    )  # fmt: skip
    stub.activate()
    waiting = operation_finished(clients, ARN, OP, operation_type="CREATE_SERVICE", what="service demo")
    assert wait_for(waiting, sleep=fake_time.sleep, clock=fake_time.clock) == "SUCCEEDED"


def test_operation_without_id_falls_back_to_newest_of_type(clients, no_network, fake_time) -> None:
    stub = Stubber(clients.apprunner)
    stub.add_response(
        "list_operations",
        ops((OTHER, "UPDATE_SERVICE", "FAILED"), (OP, "CREATE_SERVICE", "SUCCEEDED")),
        {"ServiceArn": ARN, "MaxResults": 20},
    )  # fmt: skip
    stub.activate()
    waiting = operation_finished(clients, ARN, None, operation_type="CREATE_SERVICE", what="service demo")
    assert wait_for(waiting, sleep=fake_time.sleep, clock=fake_time.clock) == "SUCCEEDED"


def describe(status: str) -> dict:
    return {
        "Service": {
            "ServiceName": "demo-go-app", "ServiceId": "a" * 32, "ServiceArn": ARN, "Status": status,
            "CreatedAt": 1, "UpdatedAt": 1, "SourceConfiguration": {},
            "InstanceConfiguration": {}, "AutoScalingConfigurationSummary": {},
            "NetworkConfiguration": {},
        }
    }  # fmt: skip


def test_service_deleted_accepts_deleted_and_404(clients, no_network, fake_time) -> None:
    stub = Stubber(clients.apprunner)
    stub.add_response("describe_service", describe("OPERATION_IN_PROGRESS"), {"ServiceArn": ARN})
    stub.add_client_error("describe_service", "ResourceNotFoundException", "gone")
    stub.activate()
    assert (
        wait_for(service_deleted(clients, ARN, what="svc"), sleep=fake_time.sleep, clock=fake_time.clock)
        == GONE
    )


def test_service_settled_and_delete_failed(clients, no_network, fake_time) -> None:
    stub = Stubber(clients.apprunner)
    stub.add_response("describe_service", describe("OPERATION_IN_PROGRESS"), {"ServiceArn": ARN})
    stub.add_response("describe_service", describe("RUNNING"), {"ServiceArn": ARN})
    stub.add_response("describe_service", describe("DELETE_FAILED"), {"ServiceArn": ARN})
    stub.activate()
    assert (
        wait_for(service_settled(clients, ARN, what="svc"), sleep=fake_time.sleep, clock=fake_time.clock)
        == "RUNNING"
    )
    with pytest.raises(WaitFailed, match="DELETE_FAILED"):
        wait_for(service_deleted(clients, ARN, what="svc"), sleep=fake_time.sleep, clock=fake_time.clock)


def test_await_read_after_create_and_after_delete(fake_time) -> None:
    """Reads may lag writes: after a create, not found then ACTIVE; after a delete, ACTIVE then gone."""
    from runbook_lib.waiters import GONE, READABLE_TIMEOUT_S, await_read

    seen = iter([GONE, GONE, "active"])
    waits = {"sleep": fake_time.sleep, "clock": fake_time.clock}
    assert await_read("asc x", lambda: next(seen), deleted=False, **waits) == "active"
    seen = iter(["ACTIVE", "INACTIVE"])
    assert await_read("connector y", lambda: next(seen), deleted=True, **waits) == "INACTIVE"
    assert len(fake_time.sleeps) == 3
    with pytest.raises(WaitTimeout, match="re-run the step") as info:
        await_read("asc z", lambda: GONE, deleted=False, **waits)
    assert info.value.fields["what"] == "asc z to become readable"
    assert fake_time.clock() >= READABLE_TIMEOUT_S
