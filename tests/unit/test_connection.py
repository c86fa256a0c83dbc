"""connection: request builder, reuse by name, create when absent, handshake wait, delete (Stubber)."""

from __future__ import annotations

from pathlib import Path

import botocore.session
import pytest
from botocore.stub import Stubber
from botocore.validate import validate_parameters

from runbook_lib.connection import (
    build_create_connection_request,
    delete_connection,
    ensure_connection,
    find_connection,
    plan_connection,
    wait_for_handshake,
)
from runbook_lib.errors import ResourceConflict, ResourceNotFound, WaitFailed, WaitTimeout
from runbook_lib.orchestrate import _apply_connection
from runbook_lib.params import load_params
from runbook_lib.results import NOT_OWNED, Action

PARAMS = Path(__file__).resolve().parents[2] / "params" / "sandbox.yaml"
ARN = "arn:aws:apprunner:us-east-1:123456789012:connection/github-demo/" + "c" * 32
CONSOLE = "https://us-east-1.console.aws.amazon.com/apprunner/home?region=us-east-1#/connections"
LIST = {"ConnectionName": "github-demo"}
OWNED = [
    {"Key": "env", "Value": "sandbox"},
    {"Key": "runbook:name", "Value": "demo-go-app"},
    {"Key": "runbook:tags", "Value": "env+team"},
    {"Key": "team", "Value": "platform"},
]


@pytest.fixture
def params():
    return load_params(PARAMS)


@pytest.fixture
def clients(offline_clients):
    return offline_clients


@pytest.fixture
def stub(clients):
    with Stubber(clients.apprunner) as stubber:
        yield stubber
        stubber.assert_no_pending_responses()


def listing(*statuses: str, name: str = "github-demo", provider: str = "GITHUB") -> dict:
    return {
        "ConnectionSummaryList": [
            {"ConnectionName": name, "ConnectionArn": ARN, "ProviderType": provider, "Status": s}
            for s in statuses
        ]
    }


def test_build_request_snapshot_and_model(params) -> None:
    request = build_create_connection_request(params)
    assert request == {
        "ConnectionName": "github-demo",
        "ProviderType": "GITHUB",
        "Tags": OWNED,
    }
    model = botocore.session.get_session().get_service_model("apprunner")
    validate_parameters(request, model.operation_model("CreateConnection").input_shape)


def test_find_ignores_deleted_and_other_names(clients, stub, params) -> None:
    stub.add_response("list_connections", listing("DELETED"), LIST)
    assert find_connection(clients, params) is None
    stub.add_response("list_connections", listing("AVAILABLE", name="github-demo2"), LIST)
    assert find_connection(clients, params) is None


def test_ensure_reuses_existing_without_mutating(clients, stub, params) -> None:
    stub.add_response("list_connections", listing("AVAILABLE"), LIST)
    result = ensure_connection(clients, params)
    assert result.action is Action.UNCHANGED and result.arn == ARN
    assert not any(c.mutating for c in clients.calls)


def expect_create(stub, params) -> None:
    """Not listed, then CreateConnection answering PENDING_HANDSHAKE."""
    stub.add_response("list_connections", listing(), LIST)
    made = {"ConnectionName": "github-demo", "ConnectionArn": ARN, "ProviderType": "GITHUB"}
    stub.add_response(
        "create_connection",
        {"Connection": {**made, "Status": "PENDING_HANDSHAKE"}},
        build_create_connection_request(params),
    )


def test_ensure_creates_when_absent(clients, stub, params, fake_time) -> None:
    expect_create(stub, params)
    stub.add_response("list_connections", listing(), LIST)  # reads may lag the create: not listed yet
    stub.add_response("list_connections", listing("PENDING_HANDSHAKE"), LIST)
    result = ensure_connection(clients, params, sleep=fake_time.sleep, clock=fake_time.clock)
    assert result.action is Action.CREATED and result.arn == ARN
    assert len(fake_time.sleeps) == 1
    assert "handshake" in result.detail and result.console_url == CONSOLE


def test_a_handshake_done_by_the_time_it_is_listed_needs_no_wait(clients, stub, params, fake_time) -> None:
    expect_create(stub, params)
    stub.add_response("list_connections", listing("AVAILABLE"), LIST)  # as listed after the create
    result = _apply_connection(clients, params, True, None, fake_time.sleep, fake_time.clock)  # waits
    assert (result.action, result.extra["status"]) == (Action.CREATED, "AVAILABLE")
    assert "handshake" not in result.detail  # and no more ListConnections (the stub has none left)


def test_plan_and_provider_mismatch(clients, stub, params) -> None:
    stub.add_response("list_connections", listing(), LIST)
    assert plan_connection(clients, params).action is Action.CREATE
    stub.add_response("list_connections", listing("AVAILABLE", provider="BITBUCKET"), LIST)
    with pytest.raises(ResourceConflict, match="cannot be changed"):
        ensure_connection(clients, params)


def test_handshake_completes(clients, stub, params, fake_time) -> None:
    seen: list[dict] = []
    for status in ("PENDING_HANDSHAKE", "PENDING_HANDSHAKE", "PENDING_HANDSHAKE", "AVAILABLE"):
        stub.add_response("list_connections", listing(status), LIST)
    result = wait_for_handshake(
        clients, params, on_status=seen.append, sleep=fake_time.sleep, clock=fake_time.clock
    )
    assert result.action is Action.UNCHANGED and result.extra["status"] == "AVAILABLE"
    assert [e["status"] for e in seen] == ["PENDING_HANDSHAKE", "PENDING_HANDSHAKE", "AVAILABLE"]


def test_handshake_timeout_names_console_and_rerun(clients, stub, params, fake_time) -> None:
    for _ in range(1 + 4):  # the existence check, then polls at 0, 1, 2.5 and the deadline 3
        stub.add_response("list_connections", listing("PENDING_HANDSHAKE"), LIST)
    with pytest.raises(WaitTimeout) as info:
        wait_for_handshake(clients, params, timeout=3, sleep=fake_time.sleep, clock=fake_time.clock)
    text = str(info.value)
    assert CONSOLE in text and "re-run" in text and "PENDING_HANDSHAKE" in text
    assert info.value.console_url == CONSOLE


def test_handshake_default_timeout_from_params(clients, stub, params, fake_time) -> None:
    for _ in range(1 + 17):  # the existence check, 6 growing delays, 9 capped ones, the cut last one
        stub.add_response("list_connections", listing("PENDING_HANDSHAKE"), LIST)
    with pytest.raises(WaitTimeout):
        wait_for_handshake(clients, params, sleep=fake_time.sleep, clock=fake_time.clock)
    assert fake_time.now == params.connection.handshake_timeout_s == 120


def test_handshake_error_and_absent(clients, stub, params, fake_time) -> None:
    stub.add_response("list_connections", listing("PENDING_HANDSHAKE"), LIST)
    stub.add_response("list_connections", listing("ERROR"), LIST)
    with pytest.raises(WaitFailed, match="ERROR"):
        wait_for_handshake(clients, params, sleep=fake_time.sleep, clock=fake_time.clock)
    stub.add_response("list_connections", listing(), LIST)
    with pytest.raises(ResourceNotFound, match="`connection` step"):
        wait_for_handshake(clients, params, sleep=fake_time.sleep, clock=fake_time.clock)


def test_ensure_reuses_a_foreign_connection_and_adoption_tags_it(clients, stub, params) -> None:
    """The connection is reused by name whoever owns it; adopting it tags it as owned."""
    stub.add_response("list_connections", listing("AVAILABLE"), LIST)
    assert ensure_connection(clients, params).action is Action.UNCHANGED  # no ownership read needed
    adopting = params.model_copy(update={"adopt": ["connection"]})
    stub.add_response("list_connections", listing("AVAILABLE"), LIST)
    stub.add_response(
        "list_tags_for_resource", {"Tags": [{"Key": "owner", "Value": "x"}]}, {"ResourceArn": ARN}
    )
    stub.add_response("tag_resource", {}, {"ResourceArn": ARN, "Tags": OWNED})
    result = ensure_connection(clients, adopting)
    assert (result.action, result.changed_fields) == (Action.UPDATED, ["tags"])
    stub.add_response("list_connections", listing("AVAILABLE"), LIST)
    stub.add_response("list_tags_for_resource", {"Tags": OWNED}, {"ResourceArn": ARN})
    assert ensure_connection(clients, adopting).action is Action.UNCHANGED
    assert [c.operation for c in clients.calls if c.mutating] == ["TagResource"]


def test_delete_keeps_a_foreign_connection(clients, stub, params) -> None:
    stub.add_response("list_connections", listing("AVAILABLE"), LIST)
    foreign = [{"Key": "runbook:name", "Value": "other-app"}]
    stub.add_response("list_tags_for_resource", {"Tags": foreign}, {"ResourceArn": ARN})
    result = delete_connection(clients, params)
    assert (result.action, result.arn, result.detail) == (Action.KEPT, ARN, NOT_OWNED)
    assert not any(c.mutating for c in clients.calls)


def test_delete_and_delete_again(clients, stub, params, fake_time) -> None:
    stub.add_response("list_connections", listing("AVAILABLE"), LIST)
    stub.add_response("list_tags_for_resource", {"Tags": OWNED}, {"ResourceArn": ARN})
    deleted = {"ConnectionName": "github-demo", "ConnectionArn": ARN, "Status": "DELETED"}
    stub.add_response("delete_connection", {"Connection": deleted}, {"ConnectionArn": ARN})
    stub.add_response("list_connections", listing("AVAILABLE"), LIST)  # reads may lag the delete
    stub.add_response("list_connections", listing("DELETED"), LIST)
    waits = {"sleep": fake_time.sleep, "clock": fake_time.clock}
    assert delete_connection(clients, params, **waits).action is Action.DELETED
    assert len(fake_time.sleeps) == 1
    stub.add_response("list_connections", listing("DELETED"), LIST)
    assert delete_connection(clients, params).action is Action.ABSENT


def test_list_connections_not_found_means_absent(clients, stub, params) -> None:
    """Outside the model, but Terraform reads it so: ResourceNotFoundException from ListConnections."""
    stub.add_client_error("list_connections", "ResourceNotFoundException", expected_params=LIST)
    assert find_connection(clients, params) is None
