"""`runbook …`: a thin command line that parses arguments, calls the library and presents results.

Exit codes: 0 done, 1 failed while acting (the message says what and how to resume), 2 bad params or usage.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from runbook_lib.errors import ParameterError, RunbookError
from runbook_lib.params import Params, load_params


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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="runbook", description="Provision AWS App Runner services from source, step by step."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    validate = sub.add_parser("validate", help="check parameter files only (exit 2 listing every problem)")
    validate.add_argument("params", nargs="+", metavar="PARAMS")
    validate.set_defaults(func=cmd_validate)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
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
