"""``runbook sandbox serve|start|stop|status|handshake`` from a shell (through
``python -m runbook_lib.sandbox.cli``), and the AWS CLI against the background sandbox."""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from sandbox_helpers import service_request

from runbook_lib.sandbox import cli as sandbox_cli

CLI = [sys.executable, "-m", "runbook_lib.sandbox.cli"]


def _run(args: list[str], cwd: Path, env: dict[str, str] | None = None, timeout: float = 60) -> Any:
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def _sandbox(cwd: Path, *args: str) -> Any:
    return _run([*CLI, *args], cwd)


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _pid_running(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


SAME = ("--handshake", "manual", "--op-seconds", "0")


@pytest.fixture
def started(tmp_path: Path) -> Any:
    """``sandbox start --port 0`` in a fresh working directory; stopped afterwards whatever happens."""
    result = _sandbox(tmp_path, "start", "--port", "0", *SAME)
    assert result.returncode == 0, result.stderr
    state = json.loads((tmp_path / ".runbook" / "sandbox.json").read_text())
    assert result.stdout.strip() == state["url"]
    yield tmp_path, state
    _sandbox(tmp_path, "stop")


def test_register_adds_subcommands() -> None:
    parser = argparse.ArgumentParser(prog="runbook")
    sandbox_cli.register(parser.add_subparsers(dest="command"))
    for argv in (["sandbox", "serve"], ["sandbox", "start", "--port", "0"], ["sandbox", "stop"],
                 ["sandbox", "status", "--json"], ["sandbox", "handshake", "github-seed"]):  # fmt: skip
        args = parser.parse_args(argv)
        assert callable(args.func)
    args = parser.parse_args(["sandbox", "start", "--handshake", "manual", "--op-seconds", "0.5"])
    assert (args.handshake, args.op_seconds, args.port) == ("manual", 0.5, sandbox_cli.DEFAULT_PORT)
    with pytest.raises(SystemExit):
        parser.parse_args(["sandbox", "start", "--handshake", "sometimes"])


def test_start_status_stop_leaves_nothing_behind(started: Any) -> None:
    cwd, state = started
    pid, port = state["pid"], state["port"]
    assert _pid_running(pid) and _listening(port)
    status = _sandbox(cwd, "status", "--json")
    assert status.returncode == 0
    assert json.loads(status.stdout) == {"url": state["url"], "pid": pid, "running": True}
    again = _sandbox(cwd, "start", "--port", "0", *SAME)  # already running: same URL, no second process
    assert again.returncode == 0 and again.stdout.strip() == state["url"]
    assert "reusing" in again.stderr and f"pid {pid}" in again.stderr
    assert json.loads((cwd / ".runbook" / "sandbox.json").read_text())["pid"] == pid
    stop = _sandbox(cwd, "stop")
    assert stop.returncode == 0, stop.stderr
    assert not _pid_running(pid)
    assert not _listening(port)
    assert not (cwd / ".runbook" / "sandbox.json").exists()
    status = _sandbox(cwd, "status", "--json")
    assert status.returncode == 1 and json.loads(status.stdout)["running"] is False
    assert _sandbox(cwd, "stop").returncode == 0  # stopping twice is fine


def test_start_stop_from_a_shell(tmp_path: Path) -> None:
    script = (
        f"set -e; {sys.executable} -m runbook_lib.sandbox.cli start --port 0 >/dev/null; "
        f"cat .runbook/sandbox.json; {sys.executable} -m runbook_lib.sandbox.cli stop >/dev/null"
    )
    result = _run(["bash", "-c", script], tmp_path)
    assert result.returncode == 0, result.stderr
    state = json.loads(result.stdout)
    deadline = time.monotonic() + 5
    while (_pid_running(state["pid"]) or _listening(state["port"])) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _pid_running(state["pid"]) and not _listening(state["port"])


def test_aws_cli_against_started_sandbox(started: Any) -> None:
    cwd, state = started
    env = {
        **os.environ,
        "AWS_ENDPOINT_URL": state["url"],
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    env.pop("AWS_PROFILE", None)

    def aws(*args: str) -> Any:
        result = _run([sys.executable, "-m", "awscli", *args, "--output", "json"], cwd, env=env)
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)

    assert aws("apprunner", "list-services") == {"ServiceSummaryList": []}
    created = aws(
        "apprunner", "create-connection", "--connection-name", "github-seed", "--provider-type", "GITHUB"
    )
    assert created["Connection"]["Status"] == "PENDING_HANDSHAKE"
    handshake = _sandbox(cwd, "handshake", "github-seed")
    assert handshake.returncode == 0 and "AVAILABLE" in handshake.stdout
    connections = aws("apprunner", "list-connections", "--connection-name", "github-seed")
    listed = connections["ConnectionSummaryList"]
    assert [(c["ConnectionName"], c["Status"]) for c in listed] == [("github-seed", "AVAILABLE")]
    subnets = aws("ec2", "describe-subnets")["Subnets"]
    assert len(subnets) >= 2 and all(s["DefaultForAz"] for s in subnets)
    missing = _sandbox(cwd, "handshake", "no-such-connection")
    assert missing.returncode == 1 and "no connection" in missing.stderr

    # auto scaling: lowercase status on the wire; a new revision is the highest ACTIVE one + 1
    def asc(max_size: int) -> dict[str, Any]:
        made = aws(
            "apprunner", "create-auto-scaling-configuration", "--auto-scaling-configuration-name", "cli-asc",
            "--max-size", str(max_size),
        )["AutoScalingConfiguration"]  # fmt: skip
        assert made["Status"] == "active"
        return made

    def delete_asc(made: dict[str, Any]) -> str:
        arn = made["AutoScalingConfigurationArn"]
        gone = aws("apprunner", "delete-auto-scaling-configuration", "--auto-scaling-configuration-arn", arn)
        return gone["AutoScalingConfiguration"]["Status"]

    first, second = asc(3), asc(4)
    assert (first["AutoScalingConfigurationRevision"], second["AutoScalingConfigurationRevision"]) == (1, 2)
    assert delete_asc(second) == "inactive"
    assert asc(5)["AutoScalingConfigurationRevision"] == 2  # replacing revision 2 of 2 gives 2
    ascs = aws(
        "apprunner", "list-auto-scaling-configurations", "--auto-scaling-configuration-name", "cli-asc"
    )
    assert [a["Status"] for a in ascs["AutoScalingConfigurationSummaryList"]] == ["active"]

    # pause / resume are idempotent: the service, and no OperationId, when already there
    source = service_request("cli-app", listed[0]["ConnectionArn"])["SourceConfiguration"]
    svc = aws(
        "apprunner", "create-service", "--service-name", "cli-app",
        "--source-configuration", json.dumps(source),
    )["Service"]  # fmt: skip
    arn = svc["ServiceArn"]
    resumed = aws("apprunner", "resume-service", "--service-arn", arn)
    assert resumed["Service"]["Status"] == "RUNNING" and "OperationId" not in resumed
    paused = aws("apprunner", "pause-service", "--service-arn", arn)
    assert paused["OperationId"] and paused["Service"]["Status"] == "OPERATION_IN_PROGRESS"
    again = aws("apprunner", "pause-service", "--service-arn", arn)
    assert again["Service"]["Status"] == "PAUSED" and "OperationId" not in again


def test_auto_handshake_via_start_options(tmp_path: Path) -> None:
    result = _sandbox(
        tmp_path, "start", "--port", "0", "--handshake", "auto", "--handshake-seconds", "0.2",
        "--consistency-delay", "3",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    try:
        from runbook_lib.sandbox.control import SandboxControl

        control = SandboxControl(result.stdout.strip())
        cfg = control.config()
        assert (cfg["handshake"], cfg["handshake_seconds"], cfg["op_seconds"]) == ("auto", 0.2, 2.0)
        assert cfg["consistency_delay"] == 3.0
        recorded = json.loads((tmp_path / ".runbook" / "sandbox.json").read_text())["options"]
        assert recorded == {
            "handshake": "auto", "handshake_seconds": 0.2, "op_seconds": 2.0, "consistency_delay": 3.0,
            "enforce_iam": False,
        }  # fmt: skip
    finally:
        assert _sandbox(tmp_path, "stop").returncode == 0


def test_start_fails_cleanly_on_a_busy_port(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = _sandbox(tmp_path, "start", "--port", str(port), "--timeout", "15")
    assert result.returncode == 1
    assert "cannot listen" in result.stderr
    assert _sandbox(tmp_path, "status").returncode == 1


def test_start_refuses_other_options_or_port_and_names_the_running_one(started: Any) -> None:
    cwd, state = started
    for asked in (
        ("--port", "0", "--handshake", "auto", "--op-seconds", "0"),
        ("--port", "0", *SAME, "--consistency-delay", "3"),
        ("--port", str(_free_port()), *SAME),
    ):
        refused = _sandbox(cwd, "start", *asked)
        assert refused.returncode == 1 and refused.stdout == ""
        message = refused.stderr
        assert state["url"] in message and f"pid {state['pid']}" in message, message
        assert "--handshake manual" in message and "runbook sandbox stop" in message
    assert (
        "--consistency-delay 3.0 (it runs with 0.0)"
        in _sandbox(cwd, "start", "--port", "0", *SAME, "--consistency-delay", "3").stderr
    )
    assert json.loads((cwd / ".runbook" / "sandbox.json").read_text())["pid"] == state["pid"]  # untouched


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_plan_with_sandbox_says_it_starts_one_on_the_configured_port(tmp_path: Path) -> None:
    """``--sandbox`` with none running: it says so and starts one on RUNBOOK_SANDBOX_PORT."""
    port = _free_port()
    env = {**os.environ, "RUNBOOK_SANDBOX_PORT": str(port)}
    params = Path(__file__).resolve().parents[2] / "params" / "sandbox.yaml"
    runbook = [sys.executable, "-m", "runbook_lib.cli"]
    try:
        first = _run([*runbook, "plan", str(params), "--sandbox", "--audit-dir", "runs"], tmp_path, env=env)
        assert first.returncode == 0, first.stderr
        assert f"no local sandbox runs: starting one on 127.0.0.1:{port}" in first.stderr
        assert "RUNBOOK_SANDBOX_PORT" in first.stderr
        state = json.loads((tmp_path / ".runbook" / "sandbox.json").read_text())
        assert state["port"] == port
        second = _run([*runbook, "plan", str(params), "--sandbox", "--audit-dir", "runs"], tmp_path, env=env)
        assert second.returncode == 0 and "starting one" not in second.stderr
        assert f"using the local sandbox (a test double of AWS) at http://127.0.0.1:{port}" in second.stderr
    finally:
        _sandbox(tmp_path, "stop")
