"""Fixtures for the sandbox tests: boto3 clients over HTTP whose every App Runner response is checked
against the botocore output shape, and small builders for roles, connections and services."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from sandbox_helpers import TRUST_TASKS, client, conformant, service_request

from runbook_lib.sandbox.server import SandboxHandle


@pytest.fixture
def ar(sb: SandboxHandle) -> Any:
    """App Runner client (no retries) with the conformance check on every response."""
    return conformant(client(sb, "apprunner"))


@pytest.fixture
def iam(sb: SandboxHandle) -> Any:
    return client(sb, "iam")


@pytest.fixture
def ec2(sb: SandboxHandle) -> Any:
    return client(sb, "ec2")


@pytest.fixture
def role_arn(iam: Any) -> str:
    """An instance role that trusts tasks.apprunner.amazonaws.com."""
    return iam.create_role(RoleName="seed-go-app-instance", AssumeRolePolicyDocument=json.dumps(TRUST_TASKS))[
        "Role"
    ]["Arn"]


@pytest.fixture
def connection_arn(ar: Any, sb: SandboxHandle) -> str:
    """An AVAILABLE GitHub connection."""
    conn = ar.create_connection(ConnectionName="github-seed", ProviderType="GITHUB")["Connection"]
    arn = conn["ConnectionArn"]
    sb.control.handshake("github-seed")
    return arn


@pytest.fixture
def default_subnets(ec2: Any) -> list[str]:
    subnets = ec2.describe_subnets(Filters=[{"Name": "default-for-az", "Values": ["true"]}])["Subnets"]
    return sorted(s["SubnetId"] for s in subnets)[:2]


@pytest.fixture
def make_service(ar: Any, connection_arn: str) -> Callable[..., dict[str, Any]]:
    """Create a service (``name`` plus CreateService overrides); returns the CreateService response."""

    def make(name: str = "seed-go-app", **overrides: Any) -> dict[str, Any]:
        return ar.create_service(**service_request(name, connection_arn, **overrides))

    return make
