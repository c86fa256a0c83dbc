"""Fixtures of the reliability suite: the sandbox with distinctive credentials, params, and the end check.

Every scenario ends with ``assert_converged`` (the environment matches its params: one service, RUNNING,
nothing left to change, no duplicate connector / security group / auto scaling revision / connection)
and ``assert_down_leaves_nothing`` (``runbook down --delete-connection`` exits 0 and nothing owned is
left). The credentials are distinctive so that the secrets scan (test_zz_secrets_scan.py) can find them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from runbook_lib import load_params, make_clients, plan
from runbook_lib.cli import main

ROOT = Path(__file__).resolve().parents[2]
SANDBOX_PARAMS = ROOT / "params" / "sandbox.yaml"
RUNBOOK = str(ROOT / ".venv" / "bin" / "runbook")

# distinctive values: none of them may appear in any file a run writes
ACCESS_KEY_ID = "AKIARELIABILITY7Q2W3"
SECRET_ACCESS_KEY = "reliabilitySECRETkey/9f8e7d6c5b4a3f2e1d0cBBq"
SESSION_TOKEN = "IQoJreliabilitySESSIONtoken//ZZ9x8c7v6b5n4m3TOKENend=="
PARAM_SECRET = "pw-reliability-PARAMsecret-31337"  # passed as `-p db_password …`
SECRETS_ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:reliability/db-AbCdEf"
SECRET_VALUES = (SECRET_ACCESS_KEY, SESSION_TOKEN, PARAM_SECRET, ACCESS_KEY_ID)


def credentials_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY_ID)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET_ACCESS_KEY)
    monkeypatch.setenv("AWS_SESSION_TOKEN", SESSION_TOKEN)


@pytest.fixture
def rel(sandbox_env, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """The reset sandbox (auto handshake, instant operations), distinctive credentials, cwd a temp dir."""
    sandbox_env.control.config(handshake="auto", handshake_seconds=0, op_seconds=0)
    credentials_env(monkeypatch)
    monkeypatch.chdir(tmp_path)
    return sandbox_env


def write_params(folder: Path, name: str, **changes: Any) -> Path:
    """params/sandbox.yaml for another environment, with a runtime secret given as an ARN."""
    doc = yaml.safe_load(SANDBOX_PARAMS.read_text())
    doc["name"] = name
    doc["connection"]["name"] = f"gh-{name}"
    doc["source"]["secrets"] = {"DB_PASSWORD": SECRETS_ARN}
    doc["audit_dir"] = str(folder / "runs")
    doc.update(changes)
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def runs(folder: Path) -> list[Path]:
    return sorted(p for p in (folder / "runs").iterdir() if p.is_dir())


def owned(params: Any) -> dict[str, list[str]]:
    """Everything of this environment on the sandbox: App Runner by name, the rest by name or owner tag."""
    clients = make_clients(params)
    ar = clients.apprunner
    services = [
        s["ServiceName"] for s in _pages(ar.list_services, "ServiceSummaryList")
        if s["ServiceName"] == params.name and s["Status"] != "DELETED"
    ]  # fmt: skip
    connectors = [
        c["VpcConnectorName"] for c in _pages(ar.list_vpc_connectors, "VpcConnectors")
        if c["VpcConnectorName"].startswith(params.network.connector_name) and c["Status"] == "ACTIVE"
    ]  # fmt: skip
    ascs = [
        f"{a['AutoScalingConfigurationName']}:{a['AutoScalingConfigurationRevision']}"
        for a in _pages(ar.list_auto_scaling_configurations, "AutoScalingConfigurationSummaryList",
                        AutoScalingConfigurationName=params.autoscaling.name)
        if a.get("Status", "ACTIVE").upper() == "ACTIVE"
    ]  # fmt: skip
    connections = [
        c["ConnectionName"]
        for c in ar.list_connections(ConnectionName=params.connection.name)["ConnectionSummaryList"]
        if c["Status"] != "DELETED"
    ]
    role = params.instance.role_name
    roles = [r["RoleName"] for r in clients.iam.list_roles()["Roles"] if r["RoleName"] == role]
    tag = {"Name": "tag:runbook:name", "Values": [params.name]}
    groups = [g["GroupId"] for g in clients.ec2.describe_security_groups(Filters=[tag])["SecurityGroups"]]
    return {
        "services": services, "connectors": connectors, "autoscaling": ascs, "connections": connections,
        "roles": roles, "security_groups": groups,
    }  # fmt: skip


def _pages(method: Any, key: str, **kw: Any) -> list[dict[str, Any]]:
    items, token = [], None
    while True:
        page = method(**kw, **({"NextToken": token} if token else {}))
        items += page[key]
        token = page.get("NextToken")
        if not token:
            return items


def assert_converged(params_path: Path, control: Any) -> None:
    """Exactly one of everything, the service RUNNING, and a plan with nothing to change."""
    control.faults(clear=True)
    params = load_params(params_path)
    found = owned(params)
    assert {k: len(v) for k, v in found.items()} == {k: 1 for k in found}, found
    clients = make_clients(params)
    listed = _pages(clients.apprunner.list_services, "ServiceSummaryList")
    (summary,) = [s for s in listed if s["ServiceName"] == params.name and s["Status"] != "DELETED"]
    assert summary["Status"] == "RUNNING", summary
    pending = plan(clients, params)
    assert not pending.has_changes, pending.to_records()


def assert_down_leaves_nothing(params_path: Path, control: Any, *, run: bool = True) -> None:
    """``runbook down --delete-connection`` (unless it just ran) exits 0 and leaves nothing owned."""
    control.faults(clear=True)
    if run:
        assert main(["down", str(params_path), "--delete-connection"]) == 0
    left = owned(load_params(params_path))
    assert not any(left.values()), left
