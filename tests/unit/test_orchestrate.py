"""plan / apply / teardown orchestration: order, the account guard first, ``only``, connector and auto
scaling clean-up after the service switched, placeholders in plans, prerequisites named (fakes only)."""

from __future__ import annotations

import contextlib
import importlib
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from runbook_lib import network as real_network
from runbook_lib.errors import (
    InvalidState,
    ParameterError,
    ResourceNotFound,
    TeardownIncomplete,
    WaitTimeout,
    WrongAccount,
)
from runbook_lib.ownership import Foreign, NotOwned
from runbook_lib.params import load_params
from runbook_lib.results import Action, Change, Result
from runbook_lib.service import ServiceInputs

P = importlib.import_module("runbook_lib.orchestrate")
INPUTS = importlib.import_module("runbook_lib.service_inputs")  # the service inputs orchestrate resolves
PARAMS = Path(__file__).resolve().parents[2] / "params" / "sandbox.yaml"
ASC1 = "arn:aws:apprunner:us-east-1:123456789012:autoscalingconfiguration/demo-go-app/1/" + "1" * 32
ASC2 = "arn:aws:apprunner:us-east-1:123456789012:autoscalingconfiguration/demo-go-app/2/" + "2" * 32
CONN = "arn:aws:apprunner:us-east-1:123456789012:connection/github-demo/" + "c" * 32

# the module functions are all replaced; only the plan's read-only scope touches the clients
NO_CLIENTS = SimpleNamespace(read_only_scope=contextlib.nullcontext)


class World:
    """Records every library call the orchestration makes; each returns a canned Result."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.log: list[str] = []
        self.actions: dict[str, Action] = {}
        self.extra: dict[str, dict[str, Any]] = {}
        self.arns: dict[str, str | None] = {"ensure_autoscaling": ASC1}  # the revision the service uses
        self.connection_status = "AVAILABLE"
        self.service_asc: str | None = ASC1
        self.service_connector: str | None = "v"
        self.asc_now = ASC1

        def rec(name: str, resource: str, default: Action = Action.UNCHANGED):
            def fn(*args: Any, **kwargs: Any) -> Result:
                self.log.append(name)
                extra = self.extra.get(name, {})
                return Result(
                    resource, "x", self.actions.get(name, default), arn=self.arns.get(name), extra=extra
                )

            return fn

        def ensure_connection(*_: Any, **__: Any) -> Result:
            self.log.append("ensure_connection")
            return Result(
                "connection", "c", Action.UNCHANGED, arn=CONN, extra={"status": self.connection_status}
            )

        fake_find_service = self._recorded(
            "find_service",
            lambda: {
                "autoscaling_arn": self.service_asc,
                "fields": {"network.vpc_connector_arn": self.service_connector},
            },
        )
        for name, value in {
            "check_account": self._recorded("check_account", lambda: {"Account": "123456789012"}),
            "ensure_connection": ensure_connection,
            "wait_for_handshake": rec("wait_for_handshake", "connection"),
            "plan_connection": rec("plan_connection", "connection"),
            "find_service": fake_find_service,
            "resolve_inputs_with": self._recorded(
                "resolve_inputs", lambda: ServiceInputs(CONN, "r", "v", self.asc_now)
            ),
            "ensure_service": rec("ensure_service", "service"),
            "plan_service": self._plan_service,
            "delete_service": rec("delete_service", "service", Action.DELETED),
            "iam": SimpleNamespace(
                ensure_instance_role=rec("ensure_instance_role", "instance_role"),
                plan_instance_role=rec("plan_instance_role", "instance_role"),
                delete_instance_role=rec("delete_instance_role", "instance_role", Action.DELETED),
                delete_access_role=rec("delete_access_role", "access_role", Action.ABSENT),
            ),
            "observability": SimpleNamespace(
                ensure_observability=lambda *_, **__: None,
                plan_observability=lambda *_, **__: None,
                prune_observability=lambda *_, **__: None,
                config_name=lambda params: params.name,
                delete_observability=rec("delete_observability", "observability", Action.ABSENT),
            ),
            "network": SimpleNamespace(
                resolve_network=self._recorded("resolve_network", lambda: {"owned_security_group": True}),
                ensure_security_group=rec("ensure_security_group", "security_group"),
                plan_security_group=rec("plan_security_group", "security_group"),
                ensure_vpc_connector=rec("ensure_vpc_connector", "vpc_connector"),
                plan_vpc_connector=rec("plan_vpc_connector", "vpc_connector"),
                delete_vpc_connector=rec("delete_vpc_connector", "vpc_connector", Action.DELETED),
                delete_security_group=rec("delete_security_group", "security_group", Action.DELETED),
                list_vpc_connectors=self._recorded(
                    "list_vpc_connectors",
                    lambda: [{"arn": "old", "owned": True}, {"arn": "v", "owned": True}],
                ),
                connector_base_name=real_network.connector_base_name,
                security_group_name=real_network.security_group_name,
            ),
            "autoscaling": SimpleNamespace(
                ensure_autoscaling=rec("ensure_autoscaling", "autoscaling"),
                plan_autoscaling=rec("plan_autoscaling", "autoscaling"),
                prune_autoscaling=rec("prune_autoscaling", "autoscaling", Action.DELETED),
                delete_autoscaling=rec("delete_autoscaling", "autoscaling", Action.DELETED),
            ),
            "connection": SimpleNamespace(
                delete_connection=rec("delete_connection", "connection", Action.DELETED)
            ),
        }.items():
            for module in (P, INPUTS):  # each module that looks the name up
                if hasattr(module, name):
                    monkeypatch.setattr(module, name, value)
        self.planned_inputs: ServiceInputs | None = None

    def _recorded(self, name: str, value):
        def fn(*args: Any, **kwargs: Any) -> Any:
            self.log.append(name)
            return value()

        return fn

    def _plan_service(self, clients: Any, params: Any, inputs: ServiceInputs) -> Result:
        self.log.append("plan_service")
        self.planned_inputs = inputs
        return Result("service", "s", Action.UNCHANGED)


@pytest.fixture
def params():
    return load_params(PARAMS)


@pytest.fixture
def world(monkeypatch) -> World:
    return World(monkeypatch)


PLANNED = [  # apply plans the whole run first: NotOwned stops it before any mutating call
    "check_account",
    "plan_connection",
    "plan_instance_role",
    "resolve_network",
    "plan_security_group",
    "plan_vpc_connector",
    "find_service",
    "plan_autoscaling",
    "plan_service",
]


def test_apply_runs_every_step_in_dependency_order_after_the_guard(world, params) -> None:
    results = P.apply(NO_CLIENTS, params)
    assert world.log == [
        "check_account",
        *PLANNED,
        "ensure_connection",
        "ensure_instance_role",
        "ensure_security_group",
        "resolve_network",
        "ensure_vpc_connector",
        "find_service",
        "ensure_autoscaling",
        "find_service",
        "resolve_inputs",
        "ensure_service",
    ]
    assert [r.resource for r in results] == [
        "connection", "instance_role", "security_group", "vpc_connector", "autoscaling", "service",
    ]  # fmt: skip


def _refuse(kind: str, name: str):
    def fn(*_: Any, **__: Any) -> Result:
        raise NotOwned("demo-go-app", [Foreign(kind, name, f"arn:{name}", {"runbook:name": "other"})])

    return fn


def _refuse_role_asc_and_service(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(P.iam, "plan_instance_role", _refuse("instance_role", "demo-go-app-instance"))
    monkeypatch.setattr(P.autoscaling, "plan_autoscaling", _refuse("autoscaling", "demo-go-app revision 1"))
    monkeypatch.setattr(P, "plan_service", _refuse("service", "demo-go-app"))


def test_plan_gathers_foreign_resources_and_apply_changes_nothing(world, params, monkeypatch) -> None:
    _refuse_role_asc_and_service(monkeypatch)
    with pytest.raises(NotOwned) as err:
        P.plan(NO_CLIENTS, params)
    assert [f.kind for f in err.value.foreign][:2] == ["instance_role", "autoscaling"]
    assert "adopt: [instance_role, autoscaling" in str(err.value)
    world.log.clear()
    with pytest.raises(NotOwned):
        P.apply(NO_CLIENTS, params)
    assert not any(name.startswith(("ensure", "delete", "prune")) for name in world.log)


def test_plan_names_the_foreign_service_too(world, params, monkeypatch) -> None:
    _refuse_role_asc_and_service(monkeypatch)
    with pytest.raises(NotOwned) as err:
        P.plan(NO_CLIENTS, params)
    assert [f.kind for f in err.value.foreign] == ["instance_role", "autoscaling", "service"]


def test_the_network_step_alone_refuses_a_foreign_connector_before_creating_the_group(
    world, params, monkeypatch
) -> None:
    monkeypatch.setattr(P.network, "plan_vpc_connector", _refuse("vpc_connector", "demo-go-app"))
    monkeypatch.setattr(P.network, "ensure_vpc_connector", _refuse("vpc_connector", "demo-go-app"))
    with pytest.raises(NotOwned):
        P.apply(NO_CLIENTS, params, only="network")
    assert "ensure_security_group" not in world.log


def test_wrong_account_stops_before_anything(world, params, monkeypatch) -> None:
    def refuse(*_: Any) -> None:
        raise WrongAccount("Nothing was changed.", expected="1", actual="2", arn="a")

    monkeypatch.setattr(P, "check_account", refuse)
    for call in (P.apply, P.teardown, P.plan):
        with pytest.raises(WrongAccount):
            call(NO_CLIENTS, params)
    assert world.log == []


def test_handshake_is_awaited_only_when_pending_and_wanted(world, params) -> None:
    world.connection_status = "PENDING_HANDSHAKE"
    P.apply(NO_CLIENTS, params, only="connection", wait_handshake=False)
    assert world.log == ["check_account", "ensure_connection"]
    world.log.clear()
    (result,) = P.apply(NO_CLIENTS, params, only="connection")
    assert world.log == ["check_account", "ensure_connection", "wait_for_handshake"]
    assert result.resource == "connection"


def test_only_one_step_and_bad_step(world, params) -> None:
    (result,) = P.apply(NO_CLIENTS, params, only="service")
    assert result.resource == "service"
    assert world.log == ["check_account", "find_service", "resolve_inputs", "ensure_service"]
    with pytest.raises(ParameterError, match="only"):
        P.apply(NO_CLIENTS, params, only="everything")


def test_no_network_section_skips_network(world, params) -> None:
    no_net = load_params(PARAMS, overrides={"network": None})
    P.apply(NO_CLIENTS, no_net)
    assert not any("security_group" in c or "vpc_connector" in c for c in world.log)


def test_replaced_connector_deleted_after_the_service_switched(world, params) -> None:
    world.actions["ensure_vpc_connector"] = Action.REPLACED
    world.arns["ensure_vpc_connector"] = "new"
    world.extra["ensure_vpc_connector"] = {"old_arn": "old", "stale_arns": ["old", "new"]}
    P.apply(NO_CLIENTS, params)
    assert world.log[-2:] == ["ensure_service", "delete_vpc_connector"]


def test_autoscaling_change_prunes_after_the_service(world, params) -> None:
    world.actions["ensure_autoscaling"] = Action.UPDATED
    world.actions["prune_autoscaling"] = Action.DELETED
    results = P.apply(NO_CLIENTS, params)
    assert world.log[-2:] == ["ensure_service", "prune_autoscaling"]
    assert [r.action for r in results if r.resource == "autoscaling"] == [Action.UPDATED, Action.DELETED]


def test_service_step_alone_cleans_up_what_it_switched_away_from(world, params) -> None:
    world.service_connector = "old"  # e.g. the network notebook replaced the connector earlier
    world.asc_now = ASC2  # and the autoscaling notebook made a new revision
    P.apply(NO_CLIENTS, params, only="service")
    assert world.log[-4:] == [
        "ensure_service",
        "list_vpc_connectors",
        "delete_vpc_connector",
        "prune_autoscaling",
    ]


def test_unchanged_autoscaling_is_not_pruned(world, params) -> None:
    P.apply(NO_CLIENTS, params)
    assert "prune_autoscaling" not in world.log


def test_teardown_in_reverse_order_connection_only_when_asked(world, params) -> None:
    results = P.teardown(NO_CLIENTS, params)
    assert world.log == [
        "check_account",
        "delete_service",
        "delete_vpc_connector",
        "delete_security_group",
        "delete_autoscaling",
        "delete_instance_role",
        "delete_access_role",
        "delete_observability",
    ]
    assert all(r.action in (Action.DELETED, Action.ABSENT) for r in results)
    world.log.clear()
    P.teardown(NO_CLIENTS, params, delete_connection=True)
    assert world.log[-1] == "delete_connection"


def times_out(world: World, name: str, seconds: float):
    def fn(*_: Any, **__: Any) -> Result:
        world.log.append(name)
        raise WaitTimeout(
            "It is still in use.", what=f"{name} of it", last="DependencyViolation", seconds=seconds
        )

    return fn


def test_teardown_goes_on_past_a_security_group_that_stays_in_use(world, params, monkeypatch) -> None:
    monkeypatch.setattr(P.network, "delete_security_group", times_out(world, "delete_security_group", 2700))
    with pytest.raises(TeardownIncomplete) as caught:
        P.teardown(NO_CLIENTS, params)
    # the auto scaling configuration and the role do not depend on the group: still deleted
    assert world.log[-4:-2] == ["delete_autoscaling", "delete_instance_role"]
    text = str(caught.value)
    assert f"security_group {params.name}-apprunner-egress" in text and "2700s" in text
    assert "runbook down PARAMS" in text and caught.value.left == [
        f"security_group {params.name}-apprunner-egress"
    ]
    results = P.teardown(NO_CLIENTS, params, raise_if_left=False)
    left = {r.resource: r for r in results if r.extra.get("left")}
    assert list(left) == ["security_group"] and left["security_group"].action is Action.UNCHANGED
    assert left["security_group"].detail.startswith("left: still in use, timed out after 2700s")
    assert [r.action for r in results if r.resource != "security_group"] == [Action.DELETED] * 4


def test_a_stuck_service_leaves_what_depends_on_it(world, params, monkeypatch) -> None:
    monkeypatch.setattr(P, "delete_service", times_out(world, "delete_service", 1800))
    results = P.teardown(NO_CLIENTS, params, delete_connection=True, raise_if_left=False)
    assert world.log == ["check_account", "delete_service"]  # nothing that needs the service gone
    assert all(r.extra.get("left") for r in results)
    private = ("custom_domain", "ingress_connection", "vpc_endpoint")  # not in these params
    assert [r.resource for r in results] == [r for r in P.TEARDOWN_NEEDS if r not in private]
    sg = next(r for r in results if r.resource == "security_group")
    assert sg.detail == f"left: not deleted while the vpc_connector {params.network.connector_name} remains"
    with pytest.raises(TeardownIncomplete, match="instance_role"):
        P.check_teardown(results)
    P.check_teardown([r for r in results if not r.extra.get("left")])  # nothing left: no error


def test_plan_uses_placeholders_for_what_apply_will_create(world, params) -> None:
    world.arns.update(plan_connection=CONN, plan_instance_role="role", plan_vpc_connector="vpc")
    world.actions.update(plan_autoscaling=Action.UPDATE)
    world.arns["plan_autoscaling"] = ASC1
    shown = P.plan(NO_CLIENTS, params)
    assert [s.resource for s in shown.steps] == [
        "connection", "instance_role", "security_group", "vpc_connector", "autoscaling", "service",
    ]  # fmt: skip
    assert world.planned_inputs == ServiceInputs(CONN, "role", "vpc", "(autoscaling x: UPDATE)")
    assert shown.has_changes
    assert shown.to_records()[4] == {
        "resource": "autoscaling", "name": "x", "action": "UPDATE", "changes": "", "detail": "",
    }  # fmt: skip
    assert not any(name.startswith(("ensure", "delete", "prune")) for name in world.log)


def test_plan_of_the_service_alone_reads_its_inputs(world, params) -> None:
    world.arns.update(plan_connection=CONN, plan_autoscaling=ASC1, plan_vpc_connector="vpc")
    world.actions["plan_vpc_connector"] = Action.REPLACE
    steps = P.plan(NO_CLIENTS, params, only="service").steps
    assert [s.resource for s in steps] == ["service"]
    assert world.planned_inputs.vpc_connector_arn == "(vpc_connector x: REPLACE)"
    assert world.planned_inputs.autoscaling_arn == ASC1


def test_plan_records_and_changes() -> None:
    shown = P.Plan(
        [Result("service", "s", Action.UPDATE, changes=(Change("source.env", {"A": "1"}, {"A": "2"}),))]
    )
    assert shown.has_changes and shown.to_records()[0]["changes"] == "source.env: {'A': '1'} -> {'A': '2'}"
    assert not P.Plan([Result("service", "s", Action.UNCHANGED)]).has_changes


# ------------------------------------------------------------------------------- resolve_inputs (real)


@pytest.fixture
def lookups(monkeypatch):
    """resolve_inputs over fake finders (the real function, not the World's stand-in)."""
    found: dict[str, Any] = {
        "connection": {"arn": CONN, "status": "AVAILABLE"},
        "role": {
            "name": "r",
            "arn": "arn:aws:iam::123456789012:role/r",
            "tags": {"runbook:name": "demo-go-app"},
        },
        "connector": {"arn": "vpc"},
        "asc": Result("autoscaling", "a", Action.UNCHANGED, arn=ASC1),
    }
    monkeypatch.setattr(INPUTS, "find_connection", lambda *_, **__: found["connection"])
    monkeypatch.setattr(INPUTS, "find_service", lambda *_: None)
    monkeypatch.setattr(INPUTS, "iam", SimpleNamespace(find_instance_role=lambda *_, **__: found["role"]))
    monkeypatch.setattr(
        INPUTS,
        "network",
        SimpleNamespace(
            resolve_network=lambda *_: {},
            find_vpc_connector=lambda *_, **__: found["connector"],
            diff_vpc_connector=lambda *_: (),
        ),
    )
    monkeypatch.setattr(
        INPUTS, "autoscaling", SimpleNamespace(plan_autoscaling=lambda *_, **__: found["asc"])
    )
    return found


def test_resolve_inputs_finds_arns_by_name(lookups, params) -> None:
    assert P.resolve_inputs(NO_CLIENTS, params) == ServiceInputs(
        CONN, "arn:aws:iam::123456789012:role/r", "vpc", ASC1
    )


@pytest.mark.parametrize(
    ("missing", "step"),
    [
        ("connection", "connection"),
        ("role", "instance_role"),
        ("connector", "network"),
        ("asc", "autoscaling"),
    ],
)
def test_resolve_inputs_names_the_step_to_run_first(lookups, params, missing, step) -> None:
    lookups[missing] = Result("autoscaling", "a", Action.UPDATE) if missing == "asc" else None
    with pytest.raises(ResourceNotFound, match=f"`{step}` step first"):
        P.resolve_inputs(NO_CLIENTS, params)


def test_resolve_inputs_refuses_a_foreign_instance_role(lookups, params) -> None:
    lookups["role"] = {**lookups["role"], "tags": {"owner": "alice"}}
    with pytest.raises(NotOwned, match="instance_role r"):
        P.resolve_inputs(NO_CLIENTS, params)


def test_resolve_inputs_refuses_a_pending_connection(lookups, params) -> None:
    lookups["connection"] = {"arn": CONN, "status": "PENDING_HANDSHAKE"}
    with pytest.raises(InvalidState, match="console.aws.amazon.com/apprunner") as info:
        P.resolve_inputs(NO_CLIENTS, params)
    assert info.value.code == "ConnectionNotAvailable"


def test_public_exports() -> None:
    import runbook_lib
    from runbook_lib import Action as A
    from runbook_lib import apply, plan, teardown, verify_service

    assert (
        A is Action and callable(plan) and callable(apply) and callable(teardown) and callable(verify_service)
    )
    assert {"plan", "apply", "teardown", "verify_service", "Action", "Result"} <= set(runbook_lib.__all__)


def test_nothing_to_do_only_when_all_unchanged_and_settled() -> None:
    from runbook_lib.orchestrate import STEP_OF, Plan

    def steps(**overrides: tuple[Action, dict]) -> list[Result]:
        settled = {
            "connection": {"status": "AVAILABLE"}, "service": {"status": "RUNNING", "id": "x"},
            "ingress_connection": {"status": "AVAILABLE"}, "custom_domain": {"status": "active"},
        }  # fmt: skip
        out = []
        for resource in STEP_OF:
            action, extra = overrides.get(resource, (Action.UNCHANGED, settled.get(resource, {})))
            out.append(Result(resource, "n", action, extra=extra))
        return out

    assert Plan(steps()).nothing_to_do
    assert Plan([s for s in steps() if s.resource not in ("security_group", "vpc_connector")]).nothing_to_do
    assert not Plan(steps(service=(Action.UPDATE, {"status": "RUNNING"}))).nothing_to_do
    assert not Plan(steps(vpc_connector=(Action.CREATE, {}))).nothing_to_do
    assert not Plan(steps(connection=(Action.UNCHANGED, {"status": "PENDING_HANDSHAKE"}))).nothing_to_do
    assert not Plan(steps(service=(Action.UNCHANGED, {"status": "OPERATION_IN_PROGRESS"}))).nothing_to_do
    assert not Plan([s for s in steps() if s.resource != "service"]).nothing_to_do
    assert not Plan(
        steps(custom_domain=(Action.UNCHANGED, {"status": "pending_certificate_dns_validation"}))
    ).nothing_to_do
    assert not Plan(steps(ingress_connection=(Action.UNCHANGED, {"status": "PENDING_UPDATE"}))).nothing_to_do
    assert not Plan([]).nothing_to_do


def test_plan_is_the_function_whatever_was_imported_first() -> None:
    import types

    import runbook_lib
    import runbook_lib.orchestrate
    from runbook_lib import plan

    assert not isinstance(plan, types.ModuleType) and plan is runbook_lib.orchestrate.plan
    assert runbook_lib.plan is plan
