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

SANDBOX_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}


def summarize(params: Params) -> str:
    """One line describing what a parameter file provisions."""
    src = params.source
    how = src.runtime or "apprunner.yaml"
    egress = f"VPC egress via {params.network.connector_name}" if params.network else "public egress"
    return (
        f"service {params.name} in {params.account_id}/{params.region}: {how} from "
        f"{src.repository_url}@{src.branch}, {params.instance.cpu}/{params.instance.memory}, {egress}"
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


def _console(stderr: bool = False) -> Any:
    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    width = None if stream.isatty() else 200  # logs and pipes: no folding of ARNs and paths
    return Console(stderr=stderr, highlight=False, width=width)


def use_sandbox(state_dir: str = ".runbook") -> str:
    """Point this process (and the kernels it starts) at the local sandbox, starting it if needed."""
    from runbook_lib.sandbox import cli as sandbox_cli

    args = build_parser().parse_args(["sandbox", "start", "--state-dir", state_dir])
    with _redirect_stdout_to_stderr():  # `start` returns at once when it already runs
        if args.func(args) != 0:
            raise RunbookError(f"could not start the sandbox; see {state_dir}/sandbox.log")
    state = sandbox_cli.read_state(state_dir)
    if not state:
        raise RunbookError(f"the sandbox started but left no {state_dir}/sandbox.json")
    os.environ.update(AWS_ENDPOINT_URL=state["url"], **SANDBOX_CREDENTIALS)
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
        os.environ.pop(name, None)
    _console(stderr=True).print(f"[dim]using the local sandbox (a test double of AWS) at {state['url']}[/]")
    return str(state["url"])


class _redirect_stdout_to_stderr:
    def __enter__(self) -> None:
        self._saved, sys.stdout = sys.stdout, sys.stderr

    def __exit__(self, *exc: object) -> None:
        sys.stdout = self._saved


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
        TimeElapsedColumn(), console=_console(stderr=True), transient=False,
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

    from runbook_lib import throttle

    with bar, throttle.configured(args.rate, args.burst):  # the kernels inherit the budget's settings
        results = runner.run_batch(args.params, args.command, _options(args, on_event), jobs=args.jobs)
    return present_runs(results)


def present_runs(results: Sequence[Any]) -> int:
    """Print what each run did, the failures with how to resume, and one summary table."""
    from rich.table import Table

    out, err = _console(), _console(stderr=True)
    if len(results) == 1 and results[0].resources:
        out.print(_resource_table(results[0].resources))
    for r in results:
        if r.note:
            out.print(f"{r.params_path}: {r.note}")
        if r.status == "invalid":
            err.print(f"[red]{r.params_path}: invalid parameters[/]\n{r.error}")
        elif not r.ok:
            err.print(f"[red]{r.params_path}: {r.action} failed[/]: {r.error}")
            if r.resume:
                err.print(f"  to resume: {r.resume}")
    table = Table(title=f"runbook {results[0].action}" if results else "runbook")
    for column in ("environment", "status", "duration", "service URL", "run folder"):
        table.add_column(column)
    for r in results:
        colour = "green" if r.ok else "red"
        table.add_row(
            r.name or r.params_path, f"[{colour}]{r.status}[/]", f"{r.duration_s:.1f}s",
            r.service_url or "", r.run_dir or "",
        )  # fmt: skip
    out.print(table)
    if len(results) == 1 and results[0].run_dir:
        out.print(f"service URL: {results[0].service_url or '-'}\nrun folder:  {results[0].run_dir}")
        checked = ((results[0].manifest or {}).get("verify") or {}).get("http_url")
        if checked and "/_sandbox/" in checked:
            out.print(f"the app answers at: {checked} (the sandbox's stand-in; the URL above is emulated)")
    return 0 if results and all(r.ok for r in results) else 1


def _resource_table(rows: Sequence[dict[str, Any]], title: str = "resources") -> Any:
    from rich.table import Table

    from runbook_lib.report import result_rows

    table = Table(title=title)
    shown = result_rows(rows)
    columns = ("resource", "name", "action", "changed fields", "detail", "arn")
    for column in columns:
        table.add_column(column, overflow="fold")
    for row in shown:
        table.add_row(*(str(row[c]) for c in columns))
    return table


def cmd_plan(args: argparse.Namespace) -> int:
    """What would change (the library's plan, no kernel, no mutating call), recorded in the audit trail."""
    from runbook_lib.runner import plan_run

    load_params(args.params)
    if args.sandbox:
        use_sandbox(args.state_dir)
    found, result = plan_run(args.params, _options(args))
    if found is not None:
        _console().print(_resource_table(found.steps, title=f"plan for {result.name}"))
        changes = "changes pending" if found.has_changes else "no changes"
        _console().print(f"{changes}; recorded in {result.run_dir}")
    if not result.ok:
        _console(stderr=True).print(f"[red]plan failed[/]: {result.error}")
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
    """Recompute the hashes of a run folder and its chain of manifests."""
    from runbook_lib import audit

    problems = audit.verify(args.run_dir)
    if problems:
        err = _console(stderr=True)
        for problem in problems:
            err.print(f"[red]ALTERED[/] {problem}")
        return 1
    _console().print(f"[green]OK[/] {args.run_dir}: every file matches its manifest; the chain is intact")
    return 0


def cmd_policy(args: argparse.Namespace) -> int:
    """The least-privilege IAM policy (JSON) the operator needs for up and down."""
    from runbook_lib.policy import build_operator_policy

    params = load_params(args.params)
    audit_dir = args.audit_dir or params.audit_dir
    bucket = audit_dir[5:].split("/", 1)[0] if audit_dir.startswith("s3://") else None
    print(json.dumps(build_operator_policy(params, audit_bucket=bucket), indent=2))
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
    from runbook_lib.sandbox import cli as sandbox_cli

    parser = argparse.ArgumentParser(
        prog="runbook", description="Provision AWS App Runner services from source, step by step."
    )
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
    verify = audit_sub.add_parser("verify", help="recompute hashes; exit 1 naming anything altered")
    verify.add_argument("run_dir", metavar="RUN_DIR")
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
