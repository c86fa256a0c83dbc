"""service: request builders (snapshot + botocore model), normalized diff, every branch of the L5 state
machine over a small in-memory App Runner fake that validates each request against the API model."""

from __future__ import annotations

import copy
import itertools
from pathlib import Path
from typing import Any

import botocore.session
import pytest
from botocore.exceptions import ClientError
from botocore.validate import validate_parameters

from runbook_lib.clients import Clients, is_mutating
from runbook_lib.errors import InvalidRequest, ResourceConflict, ResourceNotFound, WaitFailed
from runbook_lib.ownership import NotOwned
from runbook_lib.params import load_params
from runbook_lib.results import NOT_OWNED, Action, Change
from runbook_lib.service import (
    BLOCK_OF,
    ServiceInputs,
    asc_key,
    build_create_service_request,
    build_update_service_request,
    delete_service,
    diff_service,
    ensure_service,
    find_service,
    observed_fields,
    plan_service,
)
from runbook_lib.verify import service_http_url, verify_service

PARAMS = Path(__file__).resolve().parents[2] / "params" / "sandbox.yaml"
ACCOUNT = "arn:aws:apprunner:us-east-1:123456789012"
INPUTS = ServiceInputs(
    connection_arn=f"{ACCOUNT}:connection/github-demo/" + "c" * 32,
    instance_role_arn="arn:aws:iam::123456789012:role/demo-go-app-instance",
    vpc_connector_arn=f"{ACCOUNT}:vpcconnector/demo-go-app/1/" + "d" * 32,
    autoscaling_arn=f"{ACCOUNT}:autoscalingconfiguration/demo-go-app/1/" + "e" * 32,
)
MODEL = botocore.session.get_session().get_service_model("apprunner")
CONFIG_KEYS = (
    "ObservabilityConfiguration",
    "SourceConfiguration",
    "InstanceConfiguration",
    "HealthCheckConfiguration",
    "NetworkConfiguration",
)


def client_error(code: str, message: str, operation: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}}, operation)


class FakeAppRunner:
    """Just enough App Runner: services, operations that finish on the next read, tags, faults."""

    def __init__(self) -> None:
        self.services: dict[str, dict[str, Any]] = {}
        self.operations: dict[str, list[dict[str, Any]]] = {}
        self.tags: dict[str, dict[str, str]] = {}
        self.pending: list[tuple[dict, dict, str, str, dict | None]] = []
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.ids = itertools.count(1)
        self.role_errors = 0
        self.busy_errors = 0
        self.fail_next_create = False
        self.rollback_next_update = False
        self.delete_failures = 0
        self.omit_url_in_describe = False

    # -- plumbing
    def __getattr__(self, name: str) -> Any:
        op = "".join(part.capitalize() for part in name.split("_"))
        handler = getattr(self, f"_{name}")

        def method(**kwargs: Any) -> dict[str, Any]:
            validate_parameters(kwargs, MODEL.operation_model(op).input_shape)
            self.calls.append((op, kwargs))
            if not is_mutating(op):
                self.settle()
            return handler(**kwargs)

        return method

    def settle(self) -> None:
        for svc, op, svc_status, op_status, restore in self.pending:
            svc["Status"], op["Status"] = svc_status, op_status
            if restore is not None:
                svc.update(restore)
        self.pending.clear()

    def mutating(self) -> list[str]:
        return [op for op, _ in self.calls if is_mutating(op)]

    def _get(self, arn: str) -> dict[str, Any]:
        if arn not in self.services:
            raise client_error("ResourceNotFoundException", f"Service not found: {arn}", "DescribeService")
        return self.services[arn]

    def _start(self, svc: dict, op_type: str, svc_status: str, op_status: str, restore=None) -> str:
        op_id = f"00000000-0000-4000-8000-{next(self.ids):012d}"
        op = {"Id": op_id, "Type": op_type, "Status": "IN_PROGRESS", "TargetArn": svc["ServiceArn"]}
        self.operations.setdefault(svc["ServiceArn"], []).insert(0, op)
        svc["Status"] = "OPERATION_IN_PROGRESS"
        self.pending.append((svc, op, svc_status, op_status, restore))
        return op_id

    def add(self, name: str = "demo-go-app", status: str = "RUNNING", **config: Any) -> dict[str, Any]:
        sid = f"{next(self.ids):032x}"
        arn = f"{ACCOUNT}:service/{name}/{sid}"
        svc = {"ServiceName": name, "ServiceId": sid, "ServiceArn": arn, "Status": status}
        svc["ServiceUrl"] = f"x{sid[-9:]}.us-east-1.awsapprunner.com"
        svc.update(copy.deepcopy(config))
        self.services[arn] = svc
        return svc

    # -- operations
    def _list_services(self, **_: Any) -> dict:
        keys = ("ServiceName", "ServiceId", "ServiceArn", "ServiceUrl", "Status")
        items = [{k: s[k] for k in keys} for s in self.services.values() if s["Status"] != "DELETED"]
        return {"ServiceSummaryList": items}

    def _describe_service(self, ServiceArn: str) -> dict:
        svc = {k: v for k, v in self._get(ServiceArn).items() if not k.startswith("_")}
        svc.setdefault("CreatedAt", 1)
        if self.omit_url_in_describe:
            svc.pop("ServiceUrl", None)
        return {"Service": svc}

    def _create_service(self, ServiceName: str, Tags: list, **config: Any) -> dict:
        if self.role_errors:
            self.role_errors -= 1
            role = config["InstanceConfiguration"]["InstanceRoleArn"]
            raise client_error("InvalidRequestException", f"Error in assuming instance role {role}", "Create")
        inst = config["InstanceConfiguration"]
        inst.update({"Cpu": "1024", "Memory": "2048"})  # the API answers in units, like TF observed
        asc = {"AutoScalingConfigurationArn": config.pop("AutoScalingConfigurationArn")[:-32] + "f" * 32}
        svc = self.add(ServiceName, **config, AutoScalingConfigurationSummary=asc)
        self.tags[svc["ServiceArn"]] = {t["Key"]: t["Value"] for t in Tags}
        failed = self.fail_next_create
        self.fail_next_create = False
        op_id = self._start(
            svc,
            "CREATE_SERVICE",
            "CREATE_FAILED" if failed else "RUNNING",
            "FAILED" if failed else "SUCCEEDED",
        )
        return {"Service": svc, "OperationId": op_id}

    def _update_service(self, ServiceArn: str, **config: Any) -> dict:
        svc = self._get(ServiceArn)
        if self.busy_errors or svc["Status"] == "OPERATION_IN_PROGRESS":
            self.busy_errors = max(0, self.busy_errors - 1)
            raise client_error("InvalidStateException", "busy", "UpdateService")
        previous = {k: copy.deepcopy(svc[k]) for k in CONFIG_KEYS if k in svc}
        asc = config.pop("AutoScalingConfigurationArn", None)
        svc.update(copy.deepcopy(config))
        if asc:
            svc["AutoScalingConfigurationSummary"] = {"AutoScalingConfigurationArn": asc}
        rollback = self.rollback_next_update
        self.rollback_next_update = False
        op_status = "ROLLBACK_SUCCEEDED" if rollback else "SUCCEEDED"
        op_id = self._start(svc, "UPDATE_SERVICE", "RUNNING", op_status, previous if rollback else None)
        return {"Service": svc, "OperationId": op_id}

    def _delete_service(self, ServiceArn: str) -> dict:
        svc = self._get(ServiceArn)
        if svc["Status"] == "DELETED":
            raise client_error("ResourceNotFoundException", "gone", "DeleteService")
        failed = self.delete_failures > 0
        self.delete_failures -= 1
        op_id = self._start(svc, "DELETE_SERVICE", "DELETE_FAILED" if failed else "DELETED", "SUCCEEDED")
        return {"Service": svc, "OperationId": op_id}

    def _resume_service(self, ServiceArn: str) -> dict:
        svc = self._get(ServiceArn)
        return {"Service": svc, "OperationId": self._start(svc, "RESUME_SERVICE", "RUNNING", "SUCCEEDED")}

    def _list_operations(self, ServiceArn: str, **_: Any) -> dict:
        return {"OperationSummaryList": list(self.operations.get(ServiceArn, []))}

    def _list_tags_for_resource(self, ResourceArn: str) -> dict:
        return {"Tags": [{"Key": k, "Value": v} for k, v in self.tags.get(ResourceArn, {}).items()]}

    def _tag_resource(self, ResourceArn: str, Tags: list) -> dict:
        self.tags.setdefault(ResourceArn, {}).update({t["Key"]: t["Value"] for t in Tags})
        return {}

    def _untag_resource(self, ResourceArn: str, TagKeys: list) -> dict:
        for key in TagKeys:
            self.tags.get(ResourceArn, {}).pop(key, None)
        return {}


class FakeLogs:
    """CloudWatch Logs: ``groups[group][stream]`` is a list of (timestamp, message)."""

    def __init__(self) -> None:
        self.groups: dict[str, dict[str, list[tuple[int, str]]]] = {}

    def describe_log_streams(self, logGroupName: str, **_: Any) -> dict:
        if logGroupName not in self.groups:
            raise client_error("ResourceNotFoundException", "log group does not exist", "DescribeLogStreams")
        return {"logStreams": [{"logStreamName": name} for name in self.groups[logGroupName]]}

    def get_log_events(self, logGroupName: str, logStreamName: str, limit: int, **_: Any) -> dict:
        events = self.groups[logGroupName][logStreamName][-limit:]
        return {"events": [{"timestamp": t, "message": m} for t, m in events]}


class FakeClients:
    def __init__(self, endpoint_url: str = "https://apprunner.us-east-1.amazonaws.com") -> None:
        self.apprunner = FakeAppRunner()
        self.logs = FakeLogs()
        self.endpoint_url = endpoint_url
        self.region = "us-east-1"
        self.reads: dict = {}  # runbook_lib.aws.call's memo
        self.read_only = False

    # the real memo handling: a plan reads afresh on entry and exit, a mutating call forgets reads
    forget_reads = Clients.forget_reads
    read_only_scope = Clients.read_only_scope

    def client(self, name: str) -> Any:
        assert name in ("apprunner", "logs")
        return getattr(self, name)


@pytest.fixture
def params():
    return load_params(PARAMS)


@pytest.fixture
def fake(no_network) -> FakeClients:
    return FakeClients()


@pytest.fixture
def t(fake_time):
    return fake_time


def ensure(fake: FakeClients, params, t, inputs: ServiceInputs = INPUTS):
    return ensure_service(fake, params, inputs, sleep=t.sleep, clock=t.clock)


def running_service(fake: FakeClients, params) -> dict:
    """A RUNNING service exactly as the params want it (as App Runner would report it)."""
    fake.apprunner._create_service(**build_create_service_request(params, INPUTS))
    fake.apprunner.settle()
    fake.apprunner.calls.clear()
    return next(iter(fake.apprunner.services.values()))


# ---------------------------------------------------------------------------------------- builders


def test_create_request_snapshot_and_model(params) -> None:
    request = build_create_service_request(params, INPUTS)
    assert request == {
        "ServiceName": "demo-go-app",
        "SourceConfiguration": {
            "CodeRepository": {
                "RepositoryUrl": "https://github.com/example/seed-go-app",
                "SourceCodeVersion": {"Type": "BRANCH", "Value": "main"},
                "SourceDirectory": "/",
                "CodeConfiguration": {
                    "ConfigurationSource": "API",
                    "CodeConfigurationValues": {
                        "Runtime": "GO_1",
                        "Port": "8080",
                        "BuildCommand": "go build -o main .",
                        "StartCommand": "./main",
                        "RuntimeEnvironmentVariables": {"ENV1": "hello"},
                    },
                },
            },
            "AutoDeploymentsEnabled": True,
            "AuthenticationConfiguration": {"ConnectionArn": INPUTS.connection_arn},
        },
        "InstanceConfiguration": {
            "Cpu": "1 vCPU",
            "Memory": "2 GB",
            "InstanceRoleArn": INPUTS.instance_role_arn,
        },
        "HealthCheckConfiguration": {
            "Protocol": "HTTP",
            "Path": "/",
            "Interval": 5,
            "Timeout": 2,
            "HealthyThreshold": 1,
            "UnhealthyThreshold": 5,
        },
        "NetworkConfiguration": {
            "EgressConfiguration": {"EgressType": "VPC", "VpcConnectorArn": INPUTS.vpc_connector_arn},
            "IngressConfiguration": {"IsPubliclyAccessible": True},
            "IpAddressType": "IPV4",
        },
        "AutoScalingConfigurationArn": INPUTS.autoscaling_arn,
        "Tags": [
            {"Key": "env", "Value": "sandbox"},
            {"Key": "runbook:name", "Value": "demo-go-app"},
            {"Key": "runbook:tags", "Value": "env+team"},
            {"Key": "team", "Value": "platform"},
        ],
    }
    validate_parameters(request, MODEL.operation_model("CreateService").input_shape)


def test_update_request_sends_full_source_and_validates(params) -> None:
    update = build_update_service_request(params, INPUTS, f"{ACCOUNT}:service/demo-go-app/{'a' * 32}")
    create = build_create_service_request(params, INPUTS)
    assert update["SourceConfiguration"] == create["SourceConfiguration"]
    assert "Tags" not in update and "ServiceName" not in update
    validate_parameters(update, MODEL.operation_model("UpdateService").input_shape)


@pytest.mark.parametrize(
    ("changed", "blocks"),
    [
        (["autoscaling_configuration"], {"AutoScalingConfigurationArn"}),
        (["source.env"], {"SourceConfiguration"}),
        (["connection_arn"], {"SourceConfiguration"}),
        (["instance.memory", "health_check.path"], {"InstanceConfiguration", "HealthCheckConfiguration"}),
        (["public", "ip_address_type", "network.vpc_connector_arn"], {"NetworkConfiguration"}),
        ([], set()),
    ],
)
def test_update_request_sends_only_the_changed_blocks(params, changed, blocks) -> None:
    arn = f"{ACCOUNT}:service/demo-go-app/{'a' * 32}"
    update = build_update_service_request(params, INPUTS, arn, changed=changed)
    create = build_create_service_request(params, INPUTS)
    assert set(update) == {"ServiceArn", *blocks}
    assert all(update[block] == create[block] for block in blocks)
    validate_parameters(update, MODEL.operation_model("UpdateService").input_shape)
    assert set(BLOCK_OF.values()) <= {*CONFIG_KEYS, "AutoScalingConfigurationArn"}


def test_request_variants_repository_source_secrets_no_network(params) -> None:
    secret = "arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf"
    variant = load_params(
        PARAMS,
        overrides={
            "network": None,
            "public": False,
            "ingress": {"vpc_endpoint_id": "vpce-0123456789abcdef0"},
            "source.configuration_source": "REPOSITORY",
            "source.runtime": None,
            "source.build_command": None,
            "source.start_command": None,
            "source.secrets": {"DB": secret},
        },
    )
    inputs = ServiceInputs(INPUTS.connection_arn, None, None, None)
    request = build_create_service_request(variant, inputs)
    assert request["SourceConfiguration"]["CodeRepository"]["CodeConfiguration"] == {
        "ConfigurationSource": "REPOSITORY"
    }
    assert request["NetworkConfiguration"]["EgressConfiguration"] == {"EgressType": "DEFAULT"}
    assert request["NetworkConfiguration"]["IngressConfiguration"] == {"IsPubliclyAccessible": False}
    assert "AutoScalingConfigurationArn" not in request
    assert "InstanceRoleArn" not in request["InstanceConfiguration"]
    validate_parameters(request, MODEL.operation_model("CreateService").input_shape)
    with_secrets = build_create_service_request(
        load_params(PARAMS, overrides={"source.secrets": {"DB": secret}}), INPUTS
    )
    values = with_secrets["SourceConfiguration"]["CodeRepository"]["CodeConfiguration"]
    assert values["CodeConfigurationValues"]["RuntimeEnvironmentSecrets"] == {"DB": secret}


# ---------------------------------------------------------------------------------------- diff


def test_diff_normalizes_units_defaults_and_asc_suffix(params) -> None:
    request = build_create_service_request(params, INPUTS)
    described = {k: copy.deepcopy(request[k]) for k in CONFIG_KEYS if k in request}
    described["InstanceConfiguration"].update({"Cpu": "1024", "Memory": "2048"})
    described["HealthCheckConfiguration"]["Protocol"] = "http"
    del described["NetworkConfiguration"]["IpAddressType"]  # default filled in
    described["SourceConfiguration"]["CodeRepository"]["RepositoryUrl"] += "/"
    other_suffix = INPUTS.autoscaling_arn[:-32] + "0" * 32  # same name/revision, another ARN suffix
    described["AutoScalingConfigurationSummary"] = {"AutoScalingConfigurationArn": other_suffix}
    assert diff_service(params, INPUTS, {"fields": observed_fields(described)}) == ()

    changed = load_params(PARAMS, overrides={"source.env": {"ENV1": "bye"}, "instance.memory": "4 GB"})
    assert diff_service(changed, INPUTS, {"fields": observed_fields(described)}) == (
        Change("instance.memory", "2 GB", "4 GB"),
        Change("source.env", {"ENV1": "hello"}, {"ENV1": "bye"}),
    )
    newer = ServiceInputs(
        **{**INPUTS.__dict__, "autoscaling_arn": INPUTS.autoscaling_arn.replace("/1/", "/2/")}
    )
    assert diff_service(params, newer, {"fields": observed_fields(described)}) == (
        Change("autoscaling_configuration", "demo-go-app/1", "demo-go-app/2"),
    )


def test_asc_key() -> None:
    assert asc_key(INPUTS.autoscaling_arn) == "demo-go-app/1"
    assert asc_key(None) is None


# ---------------------------------------------------------------------------------------- state machine


def test_absent_creates_then_second_ensure_changes_nothing(fake, params, t) -> None:
    first = ensure(fake, params, t)
    assert first.action is Action.CREATED and first.arn and first.extra["status"] == "RUNNING"
    assert first.extra["url"].endswith(".awsapprunner.com") and first.extra["operation_id"]
    assert fake.apprunner.mutating() == ["CreateService"]
    fake.apprunner.calls.clear()
    second = ensure(fake, params, t)
    assert second.action is Action.UNCHANGED and second.changes == ()
    assert fake.apprunner.mutating() == []


def updates(fake: FakeClients) -> list[dict[str, Any]]:
    return [kw for op, kw in fake.apprunner.calls if op == "UpdateService"]


def test_running_with_a_difference_is_updated_with_only_that_block(fake, params, t) -> None:
    running_service(fake, params)
    changed = load_params(PARAMS, overrides={"instance.memory": "3 GB"})
    result = ensure(fake, changed, t)
    assert result.action is Action.UPDATED
    assert result.changes == (Change("instance.memory", "2 GB", "3 GB"),)
    (update,) = updates(fake)
    assert set(update) == {"ServiceArn", "InstanceConfiguration"}  # no SourceConfiguration: no rebuild
    assert (
        update["InstanceConfiguration"]
        == build_create_service_request(changed, INPUTS)["InstanceConfiguration"]
    )
    assert fake.apprunner.mutating() == ["UpdateService"]


def test_an_autoscaling_change_sends_only_the_configuration_arn(fake, params, t) -> None:
    """A max_size change makes a new revision; the service update then carries only its ARN."""
    running_service(fake, params)
    newer = ServiceInputs(
        **{**INPUTS.__dict__, "autoscaling_arn": INPUTS.autoscaling_arn.replace("/1/", "/2/")}
    )
    changed = load_params(PARAMS, overrides={"autoscaling.max_size": 7})
    result = ensure(fake, changed, t, newer)
    assert result.changed_fields == ["autoscaling_configuration"]
    (update,) = updates(fake)
    assert update == {"ServiceArn": result.arn, "AutoScalingConfigurationArn": newer.autoscaling_arn}


def test_an_env_change_sends_only_the_source_configuration(fake, params, t) -> None:
    running_service(fake, params)
    changed = load_params(PARAMS, overrides={"source.env": {"ENV1": "bye"}})
    result = ensure(fake, changed, t)
    assert result.changed_fields == ["source.env"]
    (update,) = updates(fake)
    assert set(update) == {"ServiceArn", "SourceConfiguration"}
    assert (
        update["SourceConfiguration"] == build_create_service_request(changed, INPUTS)["SourceConfiguration"]
    )


def test_rolled_back_update_fails_naming_the_operation(fake, params, t) -> None:
    svc = running_service(fake, params)
    fake.apprunner.rollback_next_update = True
    changed = load_params(PARAMS, overrides={"source.env": {"ENV1": "bye"}})
    with pytest.raises(WaitFailed) as info:
        ensure(fake, changed, t)
    op_id = fake.apprunner.operations[svc["ServiceArn"]][0]["Id"]
    assert op_id in str(info.value) and "ROLLBACK_SUCCEEDED" in str(info.value)
    assert "UPDATE_SERVICE" in str(info.value) and "re-run" in str(info.value)
    assert svc["Status"] == "RUNNING"  # the service looks fine; only the operation tells
    assert "Log tail of /aws/apprunner/demo-go-app/" in str(info.value)  # no group yet: said so
    assert "no such log group" in str(info.value)


def test_failed_operation_carries_the_log_tail_with_the_group_name(fake, params, t) -> None:
    svc = running_service(fake, params)
    group = f"/aws/apprunner/{params.name}/{svc['ServiceId']}/service"
    fake.logs.groups[group] = {"events": [(1, "[AppRunner] Service update started.")]}
    fake.apprunner.rollback_next_update = True
    changed = load_params(PARAMS, overrides={"source.env": {"ENV1": "bye"}})
    with pytest.raises(WaitFailed) as info:
        ensure(fake, changed, t)
    text = str(info.value)
    assert f"Log tail of {group}:" in text and "[events] [AppRunner] Service update started." in text
    tails = info.value.to_dict()["log_tail"]
    assert tails[0]["group"] == group and tails[1]["group"].endswith("/application")


def test_create_failed_is_deleted_and_recreated(fake, params, t) -> None:
    fake.apprunner.fail_next_create = True
    with pytest.raises(WaitFailed, match="CREATE_SERVICE"):
        ensure(fake, params, t)
    fake.apprunner.calls.clear()
    result = ensure(fake, params, t)
    assert result.action is Action.REPLACED
    assert fake.apprunner.mutating() == ["DeleteService", "CreateService"]


def test_delete_failed_gets_delete_reissued_then_recreated(fake, params, t) -> None:
    running_service(fake, params)
    next(iter(fake.apprunner.services.values()))["Status"] = "DELETE_FAILED"
    fake.apprunner.delete_failures = 1
    result = ensure(fake, params, t)
    assert result.action is Action.REPLACED
    assert fake.apprunner.mutating() == ["DeleteService", "DeleteService", "CreateService"]


def test_operation_in_progress_is_awaited_then_reevaluated(fake, params, t) -> None:
    svc = running_service(fake, params)
    fake.apprunner._start(svc, "START_DEPLOYMENT", "RUNNING", "SUCCEEDED")
    result = ensure(fake, params, t)
    assert result.action is Action.UNCHANGED and fake.apprunner.mutating() == []


def test_paused_is_resumed(fake, params, t) -> None:
    running_service(fake, params)
    next(iter(fake.apprunner.services.values()))["Status"] = "PAUSED"
    result = ensure(fake, params, t)
    assert result.action is Action.UPDATED
    assert result.changes == (Change("status", "PAUSED", "RUNNING"),)
    assert fake.apprunner.mutating() == ["ResumeService"]


def test_iam_propagation_is_retried_for_a_while(fake, params, t) -> None:
    fake.apprunner.role_errors = 2
    assert ensure(fake, params, t).action is Action.CREATED
    assert t.sleeps[:2] == [2.0, 3.0]


def test_iam_propagation_gives_up_after_two_minutes(fake, params, t) -> None:
    fake.apprunner.role_errors = 1000
    with pytest.raises(InvalidRequest, match="Error in assuming"):
        ensure(fake, params, t)
    assert 120 <= t.now < 140


def test_other_invalid_requests_are_not_retried(fake, params, t) -> None:
    fake.apprunner.role_errors = 0
    bad = ServiceInputs(**{**INPUTS.__dict__, "connection_arn": "arn:aws:apprunner:us-east-1:1:bad"})
    fake.apprunner._create_service = lambda **_: (_ for _ in ()).throw(
        client_error("InvalidRequestException", "Connection not found", "CreateService")
    )
    with pytest.raises(InvalidRequest):
        ensure(fake, params, t, bad)
    assert t.sleeps == []


def test_invalid_state_on_update_waits_and_retries(fake, params, t) -> None:
    running_service(fake, params)
    fake.apprunner.busy_errors = 1
    changed = load_params(PARAMS, overrides={"instance.memory": "4 GB"})
    assert ensure(fake, changed, t).action is Action.UPDATED
    assert fake.apprunner.mutating() == ["UpdateService", "UpdateService"]


def test_tags_are_reconciled_without_update(fake, params, t) -> None:
    """Managed keys are set and removed (``old`` was listed in runbook:tags); others' keys stay."""
    svc = running_service(fake, params)
    fake.apprunner.tags[svc["ServiceArn"]] = {
        "runbook:name": "demo-go-app", "runbook:tags": "old+team",
        "team": "old", "old": "1", "CostCenter": "42",
    }  # fmt: skip
    result = ensure(fake, params, t)
    assert result.action is Action.UPDATED
    desired = {"env": "sandbox", "team": "platform", "runbook:tags": "env+team"}
    assert result.changes == (Change("tags", ["old"], desired),)
    assert fake.apprunner.mutating() == ["TagResource", "UntagResource"]
    assert fake.apprunner.tags[svc["ServiceArn"]] == {**params.owned_tags, "CostCenter": "42"}
    # the tags are read once per ensure (the ownership check) and reused to reconcile
    assert [op for op, _ in fake.apprunner.calls].count("ListTagsForResource") == 1


def test_others_tags_alone_are_no_change(fake, params, t) -> None:
    svc = running_service(fake, params)
    fake.apprunner.tags[svc["ServiceArn"]]["CostCenter"] = "42"
    assert plan_service(fake, params, INPUTS).action is Action.UNCHANGED
    assert ensure(fake, params, t).action is Action.UNCHANGED
    assert fake.apprunner.mutating() == []


@pytest.mark.parametrize("tags", [{}, {"runbook:name": "other-app", "team": "platform"}])
def test_a_foreign_service_of_the_name_is_refused(fake, params, t, tags) -> None:
    svc = running_service(fake, params)
    fake.apprunner.tags[svc["ServiceArn"]] = tags
    with pytest.raises(NotOwned, match=svc["ServiceArn"]):
        plan_service(fake, params, INPUTS)
    changed = load_params(PARAMS, overrides={"instance.memory": "3 GB"})
    with pytest.raises(NotOwned, match="adopt: \\[service\\]"):
        ensure(fake, changed, t)
    svc["Status"] = "CREATE_FAILED"  # not even replaced
    with pytest.raises(NotOwned):
        ensure(fake, params, t)
    assert fake.apprunner.mutating() == []


def test_adopting_the_service_tags_it(fake, params, t) -> None:
    svc = running_service(fake, params)
    fake.apprunner.tags[svc["ServiceArn"]] = {"CostCenter": "42"}
    adopting = load_params(PARAMS, overrides={"adopt": ["service"]})
    planned = plan_service(fake, adopting, INPUTS)
    assert (planned.action, planned.changed_fields) == (Action.UPDATE, ["tags"])
    result = ensure(fake, adopting, t)
    assert (result.action, result.changed_fields) == (Action.UPDATED, ["tags"])
    assert fake.apprunner.mutating() == ["TagResource"]
    assert fake.apprunner.tags[svc["ServiceArn"]] == {**params.owned_tags, "CostCenter": "42"}
    assert ensure(fake, params, t).action is Action.UNCHANGED  # owned from then on, without adopt


def test_delete_keeps_a_foreign_service(fake, params, t) -> None:
    svc = running_service(fake, params)
    fake.apprunner.tags[svc["ServiceArn"]] = {"runbook:name": "other-app"}
    result = delete_service(fake, params, sleep=t.sleep, clock=t.clock)
    assert (result.action, result.arn, result.detail) == (Action.KEPT, svc["ServiceArn"], NOT_OWNED)
    assert fake.apprunner.mutating() == []


def test_plan_twice_on_the_same_clients_sees_an_out_of_band_change(fake, params) -> None:
    svc = running_service(fake, params)
    with fake.read_only_scope():
        assert plan_service(fake, params, INPUTS).action is Action.UNCHANGED
    assert fake.reads == {}  # the scope forgets its reads on exit
    svc["InstanceConfiguration"]["Memory"] = "3072"  # someone changed it in the console
    with fake.read_only_scope():
        planned = plan_service(fake, params, INPUTS)
    assert (planned.action, planned.changed_fields) == (Action.UPDATE, ["instance.memory"])


def test_image_source_is_refused(fake, params, t) -> None:
    image = {
        "ImageRepository": {"ImageIdentifier": "public.ecr.aws/x/y:1", "ImageRepositoryType": "ECR_PUBLIC"}
    }
    svc = fake.apprunner.add(SourceConfiguration=image)
    fake.apprunner.tags[svc["ServiceArn"]] = dict(params.owned_tags)
    with pytest.raises(ResourceConflict, match="replace required"):
        ensure(fake, params, t)
    assert fake.apprunner.mutating() == []


def test_url_from_list_services_when_describe_omits_it(fake, params) -> None:
    svc = running_service(fake, params)
    fake.apprunner.omit_url_in_describe = True
    assert find_service(fake, params)["url"] == svc["ServiceUrl"]


def test_plan_service_actions(fake, params, t) -> None:
    assert plan_service(fake, params, INPUTS).action is Action.CREATE
    svc = running_service(fake, params)
    assert plan_service(fake, params, INPUTS).action is Action.UNCHANGED
    changed = load_params(PARAMS, overrides={"autoscaling.max_size": 6, "source.env": {"A": "b"}})
    planned = plan_service(fake, changed, INPUTS)
    assert planned.action is Action.UPDATE and planned.changed_fields == ["source.env"]
    svc["Status"] = "CREATE_FAILED"
    assert plan_service(fake, params, INPUTS).action is Action.REPLACE
    assert fake.apprunner.mutating() == []


def test_delete_then_absent(fake, params, t) -> None:
    running_service(fake, params)
    fake.apprunner.delete_failures = 1
    result = delete_service(fake, params, sleep=t.sleep, clock=t.clock)
    assert result.action is Action.DELETED
    assert result.extra["vpc_connector_arn"] == INPUTS.vpc_connector_arn
    assert fake.apprunner.mutating() == ["DeleteService", "DeleteService"]
    assert delete_service(fake, params, sleep=t.sleep, clock=t.clock).action is Action.ABSENT


# ---------------------------------------------------------------------------------------- verify


def test_http_url_on_aws_and_on_the_sandbox(params) -> None:
    observed = {"id": "a" * 32, "url": "abc1234567.us-east-1.awsapprunner.com"}
    health = load_params(PARAMS, overrides={"health_check.path": "/healthz"})
    assert service_http_url(FakeClients(), health, observed) == (
        "https://abc1234567.us-east-1.awsapprunner.com/healthz"
    )
    local = FakeClients("http://127.0.0.1:4567")
    assert service_http_url(local, health, observed) == (
        f"http://127.0.0.1:4567/_sandbox/services/{'a' * 32}/http/healthz"
    )
    assert service_http_url(FakeClients(), params, {**observed, "url": ""}) is None


def test_verify_reports_status_code(fake, params, monkeypatch) -> None:
    with pytest.raises(ResourceNotFound, match="`service` step"):
        verify_service(fake, params)
    running_service(fake, params)
    answer = (503, "", 12.5, "unavailable")
    monkeypatch.setattr("runbook_lib.verify._http_status", lambda url, timeout: answer)
    result = verify_service(fake, params)
    assert result.extra["status_code"] == 503 and result.extra["ok"] is False and "503" in result.detail
