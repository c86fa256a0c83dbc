"""`runbook …`: a thin command line that parses arguments, calls the library and presents results.

Exit codes: 0 done, 1 failed while acting (the message says what and how to resume), 2 bad params or usage.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from collections.abc import Sequence
from typing import Any

from runbook_lib.errors import ParameterError, RunbookError
from runbook_lib.params import Params, load_params
from runbook_lib.terminal import console, present_runs, resource_table

__all__ = [
    "SANDBOX_CREDENTIALS", "build_parser", "cmd_history", "cmd_plan", "cmd_policy", "cmd_run",
    "cmd_validate", "cmd_verify", "main", "present_runs", "skip_slow_iri_check", "summarize", "use_sandbox",
]  # fmt: skip


SANDBOX_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}


def summarize(params: Params) -> str:
    """One line describing what a parameter file provisions."""
    src = params.source
    how = (
        f"image {src.image.identifier} ({src.image.type})"
        if src.image
        else (f"{src.runtime or 'apprunner.yaml'} from {src.repository_url}@{src.branch}")
    )
    egress = f"VPC egress via {params.network.connector_name}" if params.network else "public egress"
    return (
        f"service {params.name} in {params.account_id}/{params.region}: {how}, "
        f"{params.instance.cpu}/{params.instance.memory}, {egress}"
    )


def cmd_validate(args: argparse.Namespace) -> int:
    """Check parameter files only: no AWS call, no credentials needed."""
    status = 0
    for path in args.params:
        try:
            params = load_params(path)
        except ParameterError as err:
            print(err, file=sys.stderr)
            status = 2
            continue
        print(f"{path}: OK — {summarize(params)}")
    return status


def use_sandbox(state_dir: str = ".runbook") -> str:
    """Point this process (and the kernels it starts) at the recorded sandbox, whatever its options; when
    none runs, say so and start one on the default port (``RUNBOOK_SANDBOX_PORT``, else 4599)."""
    from runbook_lib import sandbox
    from runbook_lib.sandbox import cli as sandbox_cli

    state = sandbox_cli.read_state(state_dir)
    if not sandbox_cli.running(state):
        port = sandbox_cli.DEFAULT_PORT
        console(stderr=True).print(
            f"no local sandbox runs: starting one on 127.0.0.1:{port} (set RUNBOOK_SANDBOX_PORT for another "
            "port; `runbook sandbox stop` ends it)"
        )
        try:
            sandbox.start(port=port, state_dir=state_dir, say=lambda message: print(message, file=sys.stderr))
        except sandbox_cli.SandboxStartError as err:
            print(err, file=sys.stderr)
            raise RunbookError(f"could not start the sandbox; see {state_dir}/sandbox.log") from err
        state = sandbox_cli.read_state(state_dir)
    if not state:
        raise RunbookError(f"the sandbox started but left no {state_dir}/sandbox.json")
    os.environ.update(AWS_ENDPOINT_URL=state["url"], **SANDBOX_CREDENTIALS)
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
        os.environ.pop(name, None)
    described = sandbox_cli.describe(state)
    console(stderr=True).print(f"[dim]using the local sandbox (a test double of AWS) at {described}[/]")
    return str(state["url"])


def _parameters(pairs: Sequence[Sequence[str]] | None) -> dict[str, Any]:
    """``-p NAME VALUE`` pairs, values read as YAML scalars (like papermill's ``-p``)."""
    import yaml

    out: dict[str, Any] = {}
    for name, value in pairs or []:
        try:
            out[name] = yaml.safe_load(value)
        except yaml.YAMLError:
            out[name] = value
    from runbook_lib.runner import check_parameters

    check_parameters(out)
    return out


def _options(args: argparse.Namespace, progress: Any = None) -> Any:
    from runbook_lib.runner import RunOptions

    return RunOptions(
        audit_dir=args.audit_dir,
        only=getattr(args, "only", None),
        cell_timeout=getattr(args, "cell_timeout", None),
        overall_timeout=getattr(args, "timeout", None),
        parameters=_parameters(getattr(args, "parameter", None)),
        delete_connection=getattr(args, "delete_connection", False),
        every_step=getattr(args, "every_step", False),
        sandbox=args.sandbox,
        on_event=progress,
    )


def cmd_run(args: argparse.Namespace) -> int:
    """``up`` / ``down``: execute the notebook sequence for one or more parameter files."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from runbook_lib import runner

    steps = runner.select_steps(args.command, args.only)  # a bad --only is a usage error (exit 2)
    if len(args.params) == 1:
        load_params(args.params[0])  # one file: bad params exit 2 before anything starts
    if args.sandbox:
        use_sandbox(args.state_dir)
    bar = Progress(
        TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(), console=console(stderr=True), transient=False,
    )  # fmt: skip
    tasks: dict[str, Any] = {p: bar.add_task(f"{p}: waiting", total=len(steps)) for p in args.params}

    def on_event(event: dict[str, Any]) -> None:
        task = tasks.get(event.get("params_path", ""))
        if task is None:
            return
        path = event["params_path"]
        if event["event"] == "notebook_start":
            bar.update(task, description=f"{path}: {event['notebook']}")
        elif event["event"] == "notebook_end":
            bar.advance(task)
        elif event["event"] == "run_end":
            bar.update(task, description=f"{path}: {event['status']}")

    from runbook_lib import signals, throttle

    with signals.handling() as stop, bar, throttle.configured(args.rate, args.burst):  # kernels inherit it
        results = runner.run_batch(args.params, args.command, _options(args, on_event), jobs=args.jobs)
    status = present_runs(results)
    return signals.exit_code(stop.signum) if stop.requested else status


def cmd_plan(args: argparse.Namespace) -> int:
    """What would change (the library's plan, no kernel, no mutating call), recorded in the audit trail."""
    from runbook_lib import signals
    from runbook_lib.runner import plan_run

    load_params(args.params)
    if args.sandbox:
        use_sandbox(args.state_dir)
    with signals.handling(raise_in_main=True) as stop:
        found, result = plan_run(args.params, _options(args))
    if stop.requested:
        console(stderr=True).print(f"[yellow]plan {result.error}[/]; recorded in {result.run_dir}")
        return signals.exit_code(stop.signum)
    if found is not None:
        console().print(resource_table(found.steps, title=f"plan for {result.name}"))
        changes = "changes pending" if found.has_changes else "no changes"
        console().print(f"{changes}; recorded in {result.run_dir}")
        console().print(f"chain head of {result.name}: {result.chain_head}")
    if not result.ok:
        console(stderr=True).print(f"[red]plan failed[/]: {result.error}")
        return 1
    return 0


def cmd_history(args: argparse.Namespace) -> int:
    """One row per run of the audit dir."""
    from runbook_lib import audit

    if args.json:
        print(json.dumps(audit.history_records(args.audit_dir, args.name), indent=2, default=str))
        return 0
    table = audit.history(args.audit_dir, args.name)
    if table.empty:
        print(f"no runs in {args.audit_dir}")
        return 0
    import pandas as pd

    with pd.option_context("display.width", 250, "display.max_columns", None, "display.max_colwidth", 80):
        print(table.drop(columns=["endpoint", "caller"]).to_string(index=False))
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    """Recompute the hashes of a run folder and its chain, or of every run and chain of an audit dir."""
    from runbook_lib import audit, chain, trail

    whole = trail.is_audit_dir(args.path)
    problems = trail.verify_audit_dir(args.path) if whole else audit.verify(args.path)
    err = console(stderr=True)
    for problem in problems:
        colour = "red" if problem.fails else "yellow"
        err.print(f"[{colour}]{problem.kind.upper()}[/] {problem}")
    if any(p.fails for p in problems):
        return 1
    what = "every run and every chain from its head" if whole else "its files and the chain before it"
    console().print(f"[green]OK[/] {args.path}: {what} is intact")
    for name in chain.head_names(args.path) if whole else ():
        head, _ = chain.read_head(args.path, name)
        if head is not None:
            console().print(f"chain head of {head.name}: {head.sha256} ({head.runs} runs, last {head.run})")
    return 0


def cmd_policy(args: argparse.Namespace) -> int:
    """The least-privilege IAM policy (JSON) the operator needs for up and down."""
    from runbook_lib.policy import build_operator_policy

    params = load_params(args.params)
    print(json.dumps(build_operator_policy(params, audit_dir=args.audit_dir), indent=2))
    return 0


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of 1 or more, not {text!r}")
    return value


def _seconds(text: str) -> float:
    value = float(text)
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, not {text!r}")
    return value


def _rate(text: str) -> float:
    value = float(text)
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"must be requests per second (0 = no budget), not {text!r}")
    return value


def _run_arguments(parser: argparse.ArgumentParser, action: str) -> None:
    parser.add_argument("params", nargs="+", metavar="PARAMS", help="one parameter file per environment")
    _common(parser)
    parser.add_argument("--only", metavar="STEP", help="run one step (e.g. service or 05_service)")
    parser.add_argument(
        "--jobs", "-j", type=_positive_int, default=1, metavar="N", help="environments at once [1]"
    )
    parser.add_argument(
        "--rate", type=_rate, metavar="R",
        help="App Runner requests per second per account and region, shared by the batch [10; 0 = off]",
    )  # fmt: skip
    parser.add_argument("--burst", type=_positive_int, metavar="N", help="the budget's burst [20]")
    parser.add_argument(
        "--cell-timeout", type=_seconds, metavar="S", help="per cell [1800 + the waits of its step]"
    )
    parser.add_argument(
        "--timeout", type=_seconds, metavar="S", help="per run, overall [7200 + the waits of every step]"
    )
    parser.add_argument(
        "-p", "--parameter", nargs=2, action="append", metavar=("NAME", "VALUE"),
        help="an extra notebook parameter (secret-named ones are redacted from the audit trail)",
    )  # fmt: skip
    if action == "up":
        parser.add_argument(
            "--every-step", action="store_true",
            help="execute every notebook even when the plan finds nothing to change",
        )  # fmt: skip
    if action == "down":
        parser.add_argument("--delete-connection", action="store_true", help="also delete the connection")
    parser.set_defaults(func=cmd_run)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--sandbox", action="store_true", help="use the local sandbox (started if needed)")
    parser.add_argument("--audit-dir", metavar="DIR", help="run folders go here [params audit_dir]")
    parser.add_argument("--state-dir", default=".runbook", help=argparse.SUPPRESS)


def build_parser() -> argparse.ArgumentParser:
    from runbook_lib import __version__
    from runbook_lib.sandbox import cli as sandbox_cli

    parser = argparse.ArgumentParser(
        prog="runbook", description="Provision AWS App Runner services from source, step by step.",
        epilog="Exit codes: 0 done; 1 failed while acting; 2 bad params or usage; 128 + N when signal N "
        "stopped it (130 Ctrl-C, 143 SIGTERM, 129 SIGHUP). `runbook COMMAND --help` for each command.",
    )  # fmt: skip
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    validate = sub.add_parser("validate", help="check parameter files only (exit 2 listing every problem)")
    validate.add_argument("params", nargs="+", metavar="PARAMS")
    validate.set_defaults(func=cmd_validate)

    plan = sub.add_parser("plan", help="what would change; no mutating call (recorded in the audit trail)")
    plan.add_argument("params", metavar="PARAMS")
    plan.add_argument("--only", metavar="STEP", help="plan one step")
    _common(plan)
    plan.set_defaults(func=cmd_plan)

    _run_arguments(sub.add_parser("up", help="create or update everything (runs the notebooks)"), "up")
    down = sub.add_parser("down", help="delete everything owned (runs the teardown notebook)")
    _run_arguments(down, "down")

    for op, text in (
        ("pause", "pause the service (PauseService; unchanged when paused)"),
        ("resume", "resume the service (ResumeService; unchanged when running)"),
        ("deploy", "deploy the service again (StartDeployment), e.g. when auto deployments are off"),
    ):
        _run_arguments(sub.add_parser(op, help=f"{text}; a run of the audit trail"), op)

    policy = sub.add_parser("policy", help="the least-privilege IAM policy (JSON) an operator needs")
    policy.add_argument("params", metavar="PARAMS")
    policy.add_argument("--audit-dir", metavar="DIR", help="include write access to this s3:// audit dir")
    policy.set_defaults(func=cmd_policy)

    history = sub.add_parser("history", help="one row per run (from the audit trail)")
    history.add_argument("--audit-dir", default="runs", metavar="DIR", help="a folder or s3://… [runs]")
    history.add_argument("--name", help="only this environment")
    history.add_argument("--json", action="store_true", help="print JSON records")
    history.set_defaults(func=cmd_history)

    audit_cmd = sub.add_parser("audit", help="check the audit trail")
    audit_sub = audit_cmd.add_subparsers(dest="audit_command", required=True, metavar="SUBCOMMAND")
    verify = audit_sub.add_parser(
        "verify", help="recompute hashes; exit 1 naming anything altered, missing, added or forked",
        description="PATH is a run folder (that run and the chain before it) or an audit dir (every run, "
        "and every environment's chain from its head: a deleted newest run or a fork is reported).",
    )  # fmt: skip
    verify.add_argument("path", metavar="PATH", help="a run folder or an audit dir (local or s3://…)")
    verify.set_defaults(func=cmd_verify)

    sandbox_cli.register(sub)
    return parser


def skip_slow_iri_check() -> None:
    """Leave out jsonschema's optional ``iri`` format check in this process.

    rfc3987-syntax 1.1 (jsonschema's ``format-nongpl`` extra, installed with JupyterLab) compiles a
    grammar when imported: 1.3 s of every papermill start, for a format no notebook schema uses
    (python-jsonschema/jsonschema#1392). Without it jsonschema simply does not check ``iri`` strings.
    """
    sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    import logging

    skip_slow_iri_check()
    logging.getLogger("papermill").setLevel(logging.ERROR)  # its INFO/unknown-parameter chatter
    try:
        return int(args.func(args))
    except ParameterError as err:
        print(err, file=sys.stderr)
        return 2
    except RunbookError as err:
        print(f"error: {err}", file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:
        print("interrupted; re-run the same command to resume", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
