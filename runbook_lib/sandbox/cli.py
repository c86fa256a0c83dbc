"""``runbook sandbox serve|start|stop|status|handshake|validate-domain``: run and drive the local AWS sandbox.

``start`` runs ``serve`` in the background, records ``{"url", "pid", "port", "options"}`` in
``.runbook/sandbox.json`` of the working directory (``--state-dir`` to change it) and returns once the
sandbox answers, printing its URL (the only thing on stdout). When a sandbox already runs there, ``start``
reuses it if it was started with the same options (and the same port, unless ``--port 0``), saying so on
stderr; otherwise it exits 1 naming the running one (URL, pid, options) and ``runbook sandbox stop``.
``stop`` ends that process and waits until it is gone. The default port is ``RUNBOOK_SANDBOX_PORT``, else
4599.

Exit codes: 0 done (``status``: running), 1 failed (``status``: not running), 2 usage.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from runbook_lib.sandbox.control import SandboxControl, SandboxControlError

__all__ = [
    "DEFAULT_OPTIONS", "DEFAULT_PORT", "LOG_FILE", "SERVER_OPTIONS", "STATE_DIR", "STATE_FILE",
    "SandboxStartError", "cmd_handshake", "cmd_serve", "cmd_start", "cmd_status", "cmd_stop", "describe",
    "main", "read_state", "register", "running", "server_config", "start",
]  # fmt: skip


DEFAULT_PORT = int(os.environ.get("RUNBOOK_SANDBOX_PORT") or 4599)
STATE_DIR = ".runbook"
STATE_FILE = "sandbox.json"
LOG_FILE = "sandbox.log"
_MARKER = "runbook_lib.sandbox.cli"


# The options that shape the server (SandboxConfig fields), as data: `serve` passes them on, `start` forwards
# them to `serve`, records them and compares them with those of a running sandbox.
SERVER_OPTIONS: dict[str, dict[str, Any]] = {
    "--handshake": {
        "choices": ("auto", "manual"),
        "default": "auto",
        "help": "what completes a new connection's handshake. auto (the default): it becomes AVAILABLE by "
        "itself after --handshake-seconds, as if a person clicked in the console. manual: it stays "
        "PENDING_HANDSHAKE until `runbook sandbox handshake NAME` (or the notebook widget's sandbox "
        "button) completes it, as on AWS [auto]",
    },
    "--handshake-seconds": {"type": float, "default": 3.0, "help": "delay of the auto handshake [3]"},
    "--op-seconds": {"type": float, "default": 2.0, "help": "how long service operations take [2]"},
    "--consistency-delay": {
        "type": float,
        "default": 0.0,
        "metavar": "SECONDS",
        "help": "reads lag writes: new App Runner resources hidden, deleted ones still listed, so long [0]",
    },
    "--enforce-iam": {
        "action": "store_true",
        "help": "authorise every request against the caller's IAM policies (root keys `testing` excepted)",
    },
}


def server_config(args: argparse.Namespace) -> dict[str, Any]:
    """The server options of ``args`` as ``{SandboxConfig field: value}``."""
    return {flag[2:].replace("-", "_"): getattr(args, flag[2:].replace("-", "_")) for flag in SERVER_OPTIONS}


def _option_argv(config: dict[str, Any]) -> list[str]:
    """``server_config`` back to command-line flags (booleans as bare flags when true)."""
    argv: list[str] = []
    for key, value in config.items():
        flag = "--" + key.replace("_", "-")
        if isinstance(value, bool):
            argv += [flag] if value else []
        else:
            argv += [flag, str(value)]
    return argv


def register(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``sandbox`` command (serve, start, stop, status, handshake, validate-domain) to subparsers."""
    parser = subparsers.add_parser(
        "sandbox", help="the local AWS sandbox (a test double: moto + an App Runner emulator)"
    )
    sub = parser.add_subparsers(
        dest="sandbox_command", metavar="{serve,start,stop,status,handshake,validate-domain}"
    )
    sub.required = True

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--state-dir", default=STATE_DIR, help="where sandbox.json is kept [.runbook]")

    def server_options(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--port",
            type=int,
            default=DEFAULT_PORT,
            help=f"port on 127.0.0.1 [{DEFAULT_PORT}: RUNBOOK_SANDBOX_PORT or 4599; 0=any]",
        )
        for flag, options in SERVER_OPTIONS.items():
            p.add_argument(flag, **options)
        common(p)

    serve = sub.add_parser("serve", help="run the sandbox in the foreground")
    server_options(serve)
    serve.set_defaults(func=cmd_serve)

    start = sub.add_parser("start", help="run the sandbox in the background; prints its URL")
    server_options(start)
    start.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for it to answer [30]")
    start.set_defaults(func=cmd_start)

    stop = sub.add_parser("stop", help="stop the background sandbox")
    common(stop)
    stop.set_defaults(func=cmd_stop)

    status = sub.add_parser("status", help="is the background sandbox running?")
    status.add_argument("--json", action="store_true", help='print {"url", "pid", "running"}')
    common(status)
    status.set_defaults(func=cmd_status)

    handshake = sub.add_parser("handshake", help="complete a connection's handshake (the console button)")
    handshake.add_argument("connection_name")
    handshake.add_argument("--status", choices=("AVAILABLE", "ERROR"), default="AVAILABLE")
    handshake.add_argument("--region", default=None, help="only connections in this region")
    handshake.add_argument("--url", default=None, help="sandbox URL [from sandbox.json or AWS_ENDPOINT_URL]")
    common(handshake)
    handshake.set_defaults(func=cmd_handshake)
    validate = sub.add_parser(
        "validate-domain", help="count a custom domain's validation records as found in DNS (a DNS provider)"
    )
    validate.add_argument("domain")
    validate.add_argument("--url", default=None, help="sandbox URL [from sandbox.json or AWS_ENDPOINT_URL]")
    common(validate)
    validate.set_defaults(func=cmd_validate_domain)
    return parser


# ------------------------------------------------------------------------------------------ state


def _state_path(args: argparse.Namespace) -> Path:
    return Path(args.state_dir) / STATE_FILE


def read_state(state_dir: str | os.PathLike[str] = STATE_DIR) -> dict[str, Any] | None:
    """The recorded ``{"url", "pid", "port"}`` of the background sandbox, or None."""
    path = Path(state_dir) / STATE_FILE
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _write_state(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data))
    tmp.replace(path)


def _alive(pid: int) -> bool:
    """True if ``pid`` runs (a zombie counts as gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def _is_ours(pid: int) -> bool:
    """True if ``pid`` is a sandbox server started by this module (guards against recycled pids)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode("utf-8", "replace")
    except OSError:
        return _alive(pid)
    return _MARKER in cmdline and "serve" in cmdline


def running(state: dict[str, Any] | None) -> bool:
    """True if the recorded sandbox's process runs and answers its health check."""
    if not state:
        return False
    pid = int(state.get("pid") or 0)
    return pid > 0 and _alive(pid) and SandboxControl(state["url"], timeout=2).is_up()


# --------------------------------------------------------------------------------------- commands


def cmd_serve(args: argparse.Namespace) -> int:
    """Run the sandbox in the foreground until SIGTERM / Ctrl-C."""
    from runbook_lib.sandbox.server import make_sandbox_server

    try:
        server, _ = make_sandbox_server(args.port, **server_config(args))
    except (OSError, SystemExit) as err:  # werkzeug exits (after explaining) when the port is taken
        print(f"sandbox: cannot listen on 127.0.0.1:{args.port}: {err}", file=sys.stderr)
        return 1
    port = server.server_address[1]
    url = f"http://127.0.0.1:{port}"
    state_path = _state_path(args)
    _write_state(state_path, {"url": url, "pid": os.getpid(), "port": port, "options": server_config(args)})

    def stop(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    print(f"Local AWS sandbox (a test double, not AWS) listening on {url}", flush=True)
    print(f"  export AWS_ENDPOINT_URL={url}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        state = read_state(args.state_dir)
        if state and state.get("pid") == os.getpid():
            state_path.unlink(missing_ok=True)
    return 0


def _differences(state: dict[str, Any], port: int, wanted: dict[str, Any]) -> list[str]:
    """What ``port`` and the options ``wanted`` ask for that the running sandbox was not started with."""
    running_with = state.get("options") or {}
    found = [
        f"--{key.replace('_', '-')} {value} (it runs with {running_with.get(key, 'unknown')})"
        for key, value in wanted.items()
        if running_with.get(key) != value
    ]
    if port not in (0, state.get("port")):
        found.insert(0, f"--port {port} (it listens on {state.get('port')})")
    return found


def describe(state: dict[str, Any]) -> str:
    """``<url> (pid N, <its options as flags>)`` for messages."""
    flags = " ".join(_option_argv(state.get("options") or {})) or "unknown options"
    return f"{state['url']} (pid {state['pid']}, {flags})"


class SandboxStartError(Exception):
    """The sandbox could not be started (or one with other options runs): the message says why."""


# the server options' defaults, as ``runbook sandbox start`` without them has them
DEFAULT_OPTIONS: dict[str, Any] = {
    flag[2:].replace("-", "_"): spec.get("default", False) for flag, spec in SERVER_OPTIONS.items()
}


def start(
    *, port: int = DEFAULT_PORT, state_dir: str | os.PathLike[str] = STATE_DIR, timeout: float = 30.0,
    say: Any = None, **options: Any,
) -> str:  # fmt: skip
    """Start ``serve`` in the background and wait until it answers; returns its URL.

    ``options``: SandboxConfig fields (``SERVER_OPTIONS``; the others keep their defaults). A running
    sandbox is reused when it has the requested options (``say`` tells so), else SandboxStartError
    names it; so does a server that exits or does not answer within ``timeout``.
    """
    wanted = {**DEFAULT_OPTIONS, **options}
    state = read_state(state_dir)
    if running(state):
        assert state is not None
        differences = _differences(state, port, wanted)
        if differences:
            raise SandboxStartError(
                f"sandbox: one already runs at {describe(state)}; asked for " + "; ".join(differences) + ".\n"
                "Stop it first with `runbook sandbox stop` (or start this one with its options)."
            )
        if say is not None:
            say(f"sandbox: reusing the one already running at {describe(state)}")
        return str(state["url"])
    state_path = Path(state_dir) / STATE_FILE
    state_path.unlink(missing_ok=True)
    state_path.parent.mkdir(parents=True, exist_ok=True)
    log_path = state_path.parent / LOG_FILE
    cmd = [
        sys.executable, "-m", _MARKER, "serve", "--port", str(port), "--state-dir", str(state_dir),
        *_option_argv(wanted),
    ]  # fmt: skip
    with open(log_path, "ab") as log_file:
        proc = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            close_fds=True,
        )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SandboxStartError(
                f"sandbox: the server exited with code {proc.returncode}; see {log_path}\n{_tail(log_path)}"
            )
        state = read_state(state_dir)
        if state and state.get("pid") == proc.pid and SandboxControl(state["url"], timeout=2).is_up():
            return str(state["url"])
        time.sleep(0.1)
    proc.terminate()
    proc.wait(timeout=10)
    raise SandboxStartError(f"sandbox: no answer within {timeout}s; see {log_path}")


def cmd_start(args: argparse.Namespace) -> int:
    """``runbook sandbox start``: ``start`` with the command line's options; prints the URL (exit 0)."""
    try:
        url = start(
            port=args.port, state_dir=args.state_dir, timeout=args.timeout,
            say=lambda message: print(message, file=sys.stderr), **server_config(args),
        )  # fmt: skip
    except SandboxStartError as err:
        print(err, file=sys.stderr)
        return 1
    print(url)
    return 0


def cmd_stop(args: argparse.Namespace) -> int:
    """Stop the background sandbox and wait until its process is gone."""
    state = read_state(args.state_dir)
    state_path = _state_path(args)
    if not state or not int(state.get("pid") or 0):
        print("sandbox: not running")
        state_path.unlink(missing_ok=True)
        return 0
    pid = int(state["pid"])
    if _alive(pid) and _is_ours(pid):
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)
            while _alive(pid) and time.monotonic() < deadline + 5:
                time.sleep(0.05)
        if _alive(pid):
            print(f"sandbox: process {pid} did not stop", file=sys.stderr)
            return 1
        print(f"sandbox: stopped (pid {pid})")
    else:
        print("sandbox: not running")
    state_path.unlink(missing_ok=True)
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    """Report whether the background sandbox runs (exit 0) or not (exit 1)."""
    state = read_state(args.state_dir) or {}
    alive = running(state)
    info = {"url": state.get("url"), "pid": state.get("pid"), "running": alive}
    if args.json:
        print(json.dumps(info))
    elif alive:
        print(f"sandbox: running at {info['url']} (pid {info['pid']})")
    else:
        print("sandbox: not running")
    return 0 if alive else 1


def _drive(args: argparse.Namespace, missing: str, act: Any) -> int:
    """One control API call on the running sandbox: ``act(control)`` returns the lines to print."""
    url = args.url or (read_state(args.state_dir) or {}).get("url") or os.environ.get("AWS_ENDPOINT_URL")
    if not url:
        print("sandbox: no sandbox URL (start one, or pass --url)", file=sys.stderr)
        return 2
    try:
        lines = act(SandboxControl(url))
    except SandboxControlError as err:
        print(f"sandbox: {missing}" if err.status == 404 else f"sandbox: {err}", file=sys.stderr)
        return 1
    except OSError as err:
        print(f"sandbox: cannot reach {url}: {err}", file=sys.stderr)
        return 1
    for line in lines:
        print(line)
    return 0


def cmd_handshake(args: argparse.Namespace) -> int:
    """Complete (or fail) a connection's handshake, as the console's button would."""
    return _drive(
        args,
        f"no connection named {args.connection_name!r}",
        lambda control: [
            f"{conn['ConnectionName']}: {conn['Status']} ({conn['ConnectionArn']})"
            for conn in control.handshake(args.connection_name, args.status, region=args.region)
        ],
    )


def cmd_validate_domain(args: argparse.Namespace) -> int:
    """Count a custom domain's validation records as created at a DNS provider (the domain turns active)."""
    return _drive(
        args,
        f"no custom domain {args.domain!r} is associated",
        lambda control: [f"{d['DomainName']}: {d['Status']}" for d in control.validate_domain(args.domain)],
    )


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def main(argv: list[str] | None = None) -> int:
    """``python -m runbook_lib.sandbox.cli <subcommand>`` (until ``runbook sandbox`` is wired)."""
    parser = argparse.ArgumentParser(prog="runbook")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["sandbox", *(sys.argv[1:] if argv is None else argv)])
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
