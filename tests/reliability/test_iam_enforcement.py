"""The printed operator policy, proven on the sandbox with IAM enforced (``enforce_iam``).

An IAM user holding exactly `runbook policy`'s output runs `up` and `down`; without any one statement or
action of it, a run fails with an AccessDenied naming that action, and a re-run with the full policy
finishes what was left.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml

from runbook_lib import apply, load_params, make_clients
from runbook_lib.cli import main
from runbook_lib.errors import AccessDenied

from .conftest import SANDBOX_PARAMS, owned

USER = "runbook-operator"


@pytest.fixture
def enforced(sandbox_env, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """The reset sandbox with IAM enforced, instant handshakes and operations; root keys; cwd a temp dir."""
    sandbox_env.control.config(enforce_iam=True, handshake="auto", handshake_seconds=0, op_seconds=0)
    monkeypatch.chdir(tmp_path)
    yield sandbox_env
    sandbox_env.control.reset()  # forgets the user and puts enforcement back off


def root(sb: Any, service: str) -> Any:
    return boto3.client(
        service, endpoint_url=sb.url, region_name="us-east-1",
        aws_access_key_id="testing", aws_secret_access_key="testing",
    )  # fmt: skip


def make_operator(sb: Any, policy: dict[str, Any]) -> dict[str, str]:
    """An IAM user with ``policy`` inline and an access key (made with the root keys)."""
    iam = root(sb, "iam")
    iam.create_user(UserName=USER)
    grant(sb, policy)
    key = iam.create_access_key(UserName=USER)["AccessKey"]
    return {"AWS_ACCESS_KEY_ID": key["AccessKeyId"], "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"]}


def grant(sb: Any, policy: dict[str, Any]) -> None:
    root(sb, "iam").put_user_policy(UserName=USER, PolicyName="operator", PolicyDocument=json.dumps(policy))


@contextmanager
def keys(env: dict[str, str]) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        yield
    finally:
        for k, v in saved.items():
            os.environ.pop(k, None) if v is None else os.environ.__setitem__(k, v)


def write_params(folder: Path, *, network: bool, env: str = "hello") -> Path:
    doc = yaml.safe_load(SANDBOX_PARAMS.read_text())
    doc["audit_dir"] = str(folder / "runs")
    doc["source"]["env"] = {"ENV1": env}
    if not network:
        doc.pop("network")
    path = folder / f"iam-{'net' if network else 'public'}-{env}.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def printed_policy(params_path: Path, capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    capsys.readouterr()
    assert main(["policy", str(params_path)]) == 0
    return json.loads(capsys.readouterr().out)


@pytest.mark.parametrize("network", [True, False], ids=["network", "public"])
def test_a_user_holding_exactly_the_printed_policy_runs_up_and_down(
    enforced, tmp_path: Path, capsys, network: bool
) -> None:
    params_path = write_params(tmp_path, network=network)
    policy = printed_policy(params_path, capsys)
    audit = str(tmp_path / "audit")
    with keys(make_operator(enforced, policy)):
        assert main(["up", str(params_path), "--audit-dir", audit]) == 0, capsys.readouterr().err
        assert main(["down", str(params_path), "--delete-connection", "--audit-dir", audit]) == 0
    denied = [
        r for r in enforced.control.requests() if r["error"] in ("AccessDenied", "AccessDeniedException")
    ]
    assert denied == []
    left = owned(load_params(params_path))
    assert not any(v for k, v in left.items() if k != "connectors" or network), left


def test_without_the_policy_the_first_call_is_refused_naming_action_and_resource(enforced, tmp_path) -> None:
    params_path = write_params(tmp_path, network=False)
    unrelated = {"Effect": "Allow", "Action": "s3:ListAllMyBuckets", "Resource": "*"}
    with keys(make_operator(enforced, {"Version": "2012-10-17", "Statement": [unrelated]})):
        params = load_params(params_path)
        with pytest.raises(AccessDenied) as refused:
            apply(make_clients(params), params)
    message = str(refused.value)
    assert "apprunner:ListConnections" in message and "on resource: *" in message, message
    assert f"user/{USER}" in message
