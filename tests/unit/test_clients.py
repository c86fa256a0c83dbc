"""The clients factory: endpoints from the environment, retries, user agent, the account guard."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from runbook_lib.clients import is_mutating, make_clients, summarize_request
from runbook_lib.errors import WrongAccount
from runbook_lib.identity import check_account
from runbook_lib.params import parse_params


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for var in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_APPRUNNER", "AWS_ENDPOINT_URL_IAM"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-central-1")
    return monkeypatch


def params(account: str = "123456789012"):
    return parse_params(
        {
            "name": "demo-app",
            "account_id": account,
            "region": "eu-west-1",
            "connection": {"name": "gh-conn"},
            "source": {"repository_url": "https://github.com/o/r", "branch": "main", "runtime": "GO_1"},
        }
    )


def test_default_endpoints_are_aws_and_region_from_params(aws_env, no_network) -> None:
    clients = make_clients(params())
    assert clients.region == "eu-west-1"
    assert clients.apprunner.meta.endpoint_url == "https://apprunner.eu-west-1.amazonaws.com"
    assert clients.endpoint_url == "https://apprunner.eu-west-1.amazonaws.com"


def test_global_endpoint_variable(aws_env, no_network) -> None:
    aws_env.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:4566")
    clients = make_clients(params())
    for service in ("apprunner", "iam", "ec2", "sts", "s3"):
        assert clients.client(service).meta.endpoint_url == "http://127.0.0.1:4566"


def test_service_specific_endpoint_wins(aws_env, no_network) -> None:
    aws_env.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:4566")
    aws_env.setenv("AWS_ENDPOINT_URL_APPRUNNER", "http://127.0.0.1:5000")
    clients = make_clients(params())
    assert clients.apprunner.meta.endpoint_url == "http://127.0.0.1:5000"
    assert clients.iam.meta.endpoint_url == "http://127.0.0.1:4566"


def test_explicit_endpoint_and_region(aws_env, no_network) -> None:
    clients = make_clients(region="us-west-2", endpoint_url="http://127.0.0.1:7000")
    assert clients.region == "us-west-2" and clients.ec2.meta.endpoint_url == "http://127.0.0.1:7000"


def test_retry_mode_and_user_agent(aws_env) -> None:
    config = make_clients(params()).apprunner.meta.config
    assert config.retries["mode"] == "standard" and config.retries["total_max_attempts"] > 1
    assert "runbook-lib/" in config.user_agent_extra


def test_same_client_reused(aws_env) -> None:
    clients = make_clients(params())
    assert clients.apprunner is clients.apprunner


def stub_identity(clients, account: str) -> Stubber:
    stub = Stubber(clients.sts)
    stub.add_response(
        "get_caller_identity",
        {"Account": account, "Arn": f"arn:aws:iam::{account}:user/ops", "UserId": "AIDAEXAMPLE"},
    )
    stub.activate()
    return stub


def test_check_account_passes_and_records_the_call(aws_env, no_network) -> None:
    clients = make_clients(params())
    stub_identity(clients, "123456789012")
    assert check_account(clients, params())["Arn"].endswith(":user/ops")
    assert [(c.service, c.operation, c.mutating, c.outcome) for c in clients.calls] == [
        ("sts", "GetCallerIdentity", False, "ok")
    ]


def test_check_account_refuses_other_account(aws_env, no_network) -> None:
    clients = make_clients(params("111122223333"))
    stub_identity(clients, "123456789012")
    with pytest.raises(WrongAccount) as info:
        check_account(clients, params("111122223333"))
    assert "111122223333" in str(info.value) and "123456789012" in str(info.value)


def test_call_recording_keeps_names_not_values(aws_env, no_network) -> None:
    clients = make_clients(params())
    stub = Stubber(clients.apprunner)
    stub.add_client_error("list_connections", "InvalidRequestException", "nope", expected_params=None)
    stub.activate()
    seen = []
    clients.listeners.append(seen.append)
    with pytest.raises(ClientError):
        clients.apprunner.list_connections(ConnectionName="gh-conn")
    assert seen[0].outcome == "InvalidRequestException" and seen[0].names == {"ConnectionName": "gh-conn"}
    assert summarize_request({"ServiceName": "s", "SourceConfiguration": {"x": "secret"}}) == {
        "ServiceName": "s"
    }
    assert (
        is_mutating("CreateService")
        and not is_mutating("ListServices")
        and not is_mutating("GetCallerIdentity")
    )


def test_a_connection_error_is_recorded_and_raised_as_is(aws_env) -> None:
    """Regression: the after-call-error handler took a `model` botocore does not pass, so a refused
    connection surfaced as a TypeError instead of EndpointConnectionError (naming the endpoint)."""
    from botocore.exceptions import EndpointConnectionError

    clients = make_clients(params(), endpoint_url="http://127.0.0.1:9", max_attempts=1)
    with pytest.raises(EndpointConnectionError, match="127.0.0.1:9"):
        clients.apprunner.list_services()
    assert [(c.operation, c.outcome) for c in clients.calls] == [("ListServices", "EndpointConnectionError")]


def test_sessions_share_the_parsed_models_but_not_their_settings(aws_env, monkeypatch, tmp_path) -> None:
    a = make_clients(region="us-east-1")
    b = make_clients(region="eu-west-1", endpoint_url="http://127.0.0.1:1")
    loader = a.session._session.get_component("data_loader")
    assert b.session._session.get_component("data_loader") is loader
    assert a.session._session is not b.session._session
    assert (a.region, b.region) == ("us-east-1", "eu-west-1")
    assert a.ec2.meta.service_model is not None and b.ec2.meta.endpoint_url == "http://127.0.0.1:1"
    monkeypatch.setenv("AWS_DATA_PATH", str(tmp_path))  # another data path: another loader
    assert make_clients().session._session.get_component("data_loader") is not loader


def test_kernels_reuse_their_clients_emptied(monkeypatch) -> None:
    """In the runner's kernels (RUNBOOK_REUSE_CLIENTS=1) a notebook's make_clients hands back the last
    notebook's boto3 clients, with no calls, listeners or memo left; elsewhere each call builds anew."""
    from runbook_lib import clients as module

    monkeypatch.setattr(module, "_REUSED", {})
    monkeypatch.delenv(module.REUSE_ENV, raising=False)
    assert module.make_clients(region="us-east-1") is not module.make_clients(region="us-east-1")
    monkeypatch.setenv(module.REUSE_ENV, "1")
    first = module.make_clients(region="us-east-1")
    sts = first.sts
    first.calls.append("x")
    first.reads[("sts", "GetCallerIdentity", "")] = {}
    first.listeners.append(print)
    again = module.make_clients(region="us-east-1")
    assert again is first and again.sts is sts
    assert (again.calls, again.listeners, again.reads, again.read_only) == ([], [], {}, False)
    assert module.make_clients(region="eu-west-1") is not first
