"""Injected faults on the sandbox (fixed seeds): `runbook up` converges anyway, or fails with a clear
message and the next run converges; every scenario ends converged, then `runbook down` leaves nothing.

The runner is used where the point is the whole run (throttling); the single-fault cases drive the
library (what each notebook calls) with a simulated clock, so the 20 s lags cost no real time.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from runbook_lib import Action, apply, load_params, make_clients, network, teardown
from runbook_lib.cli import main
from runbook_lib.errors import WaitFailed, WaitTimeout
from runbook_lib.sandbox.control import SimulatedTime as SimTime

from .conftest import assert_converged, assert_down_leaves_nothing, write_params


def test_throttling_and_internal_errors_on_every_app_runner_call(rel, tmp_path: Path) -> None:
    params = write_params(tmp_path, "rel-throttle")
    rel.control.faults(seed=20240607, throttle_rate=0.3, error_rate=0.1)

    assert main(["up", str(params)]) == 0

    log = [r for r in rel.control.requests() if r["service"] == "apprunner"]
    errors = {r["error"] for r in log if r["error"]}
    assert {"ThrottlingException", "InternalServiceErrorException"} <= errors, errors
    assert sum(r["error"] is not None for r in log) >= 0.2 * len(log)  # the faults really were there
    assert [r["operation"] for r in log if r["operation"] == "CreateService" and not r["error"]] == [
        "CreateService"
    ]  # retried, never duplicated
    assert_converged(params, rel.control)
    rel.control.faults(seed=7, throttle_rate=0.3, error_rate=0.1)
    assert main(["down", str(params), "--delete-connection"]) == 0  # also under faults
    assert_down_leaves_nothing(params, rel.control, run=False)


@pytest.fixture
def lib(rel, tmp_path: Path):
    """(clients, params, control, simulated time) for one fresh environment."""
    path = write_params(tmp_path, "rel-lib")
    params = load_params(path)
    return make_clients(params), params, rel.control, SimTime(rel.control), path


def test_create_failed_is_a_clear_failure_and_the_next_run_replaces_the_service(lib) -> None:
    clients, params, control, t, path = lib
    control.faults(fail_next_create=1)
    with pytest.raises(WaitFailed) as info:
        apply(clients, params, sleep=t.sleep, clock=t.clock)
    text = str(info.value)
    assert "CREATE_SERVICE" in text and "FAILED" in text and params.name in text, text

    results = apply(clients, params, sleep=t.sleep, clock=t.clock)
    service = next(r for r in results if r.resource == "service")
    assert service.action is Action.REPLACED
    assert_converged(path, control)
    assert_down_leaves_nothing(path, control)


def test_rolled_back_update_is_a_clear_failure_and_the_next_run_applies_it(lib) -> None:
    clients, params, control, t, path = lib
    apply(clients, params, sleep=t.sleep, clock=t.clock)
    changed = load_params(path, overrides={"source.env": {"ENV1": "rolled-back-once"}})
    control.faults(rollback_next_update=1)
    with pytest.raises(WaitFailed) as info:
        apply(clients, changed, sleep=t.sleep, clock=t.clock)
    text = str(info.value)
    assert "UPDATE_SERVICE" in text and "ROLLBACK_SUCCEEDED" in text, text

    results = apply(clients, changed, sleep=t.sleep, clock=t.clock)
    assert next(r for r in results if r.resource == "service").action is Action.UPDATED
    path.write_text(path.read_text().replace("ENV1: hello", "ENV1: rolled-back-once"))
    assert_converged(path, control)
    assert_down_leaves_nothing(path, control)


def test_connector_in_use_after_its_service_is_deleted(lib) -> None:
    clients, params, control, t, path = lib
    apply(clients, params, sleep=t.sleep, clock=t.clock)
    control.faults(connector_release_lag_s=20)
    from runbook_lib.service import delete_service

    delete_service(clients, params, sleep=t.sleep, clock=t.clock)
    with pytest.raises(WaitTimeout) as info:  # a short budget: the clear message, then a re-run
        network.delete_vpc_connector(clients, params, sleep=t.sleep, clock=t.clock, timeout=10)
    text = str(info.value)
    assert params.network.connector_name in text and "re-run" in text.lower(), text

    results = teardown(clients, params, sleep=t.sleep, clock=t.clock)  # the default budget waits it out
    assert {r.resource: r.action for r in results}["vpc_connector"] is Action.DELETED
    apply(clients, params, sleep=t.sleep, clock=t.clock)  # and up again converges
    assert_converged(path, control)
    assert_down_leaves_nothing(path, control)


def test_security_group_held_by_lingering_interfaces(lib) -> None:
    clients, params, control, t, path = lib
    apply(clients, params, sleep=t.sleep, clock=t.clock)
    control.faults(eni_release_lag_s=120)
    from runbook_lib.service import delete_service

    delete_service(clients, params, sleep=t.sleep, clock=t.clock)
    network.delete_vpc_connector(clients, params, sleep=t.sleep, clock=t.clock)
    with pytest.raises(WaitTimeout) as info:
        network.delete_security_group(clients, params, sleep=t.sleep, clock=t.clock, timeout=30)
    text = str(info.value)
    assert network.security_group_name(params) in text or "security group" in text, text
    assert "re-run" in text.lower(), text

    results = teardown(clients, params, sleep=t.sleep, clock=t.clock)
    assert {r.resource: r.action for r in results}["security_group"] is Action.DELETED
    apply(clients, params, sleep=t.sleep, clock=t.clock)
    assert_converged(path, control)
    assert_down_leaves_nothing(path, control)
