"""The scale figures of ``make bench``: 32 environments at ``--jobs 32``, service operations of 60 s, and
the sandbox throttling App Runner requests above 20 per second (per account), next to one environment
at the same settings. ``bench/run.py --scale-only`` runs only these.
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

COUNT = 32  # environments
JOBS = 32
OP_SECONDS = 60.0  # each service operation (create) takes this long on the sandbox
RATE_LIMIT = 20.0  # App Runner requests per second per account above which the sandbox throttles
THROTTLED = "ThrottlingException"
# the runbook's budget, as an operator sets it for an account whose limit is known: 90 % of it
BUDGET = ("--rate", f"{RATE_LIMIT * 0.9:g}", "--burst", f"{int(RATE_LIMIT * 0.9)}")


def throttled(requests: Sequence[Mapping[str, Any]]) -> int:
    """App Runner requests the sandbox answered with ThrottlingException."""
    return sum(1 for r in requests if r.get("service") == "apprunner" and r.get("error") == THROTTLED)


def peak_rate(requests: Sequence[Mapping[str, Any]], service: str = "apprunner") -> int:
    """The most requests of ``service`` the sandbox saw within one whole second of the clock."""
    per_second = Counter(int(r["time"]) for r in requests if r.get("service") == service)
    return max(per_second.values(), default=0)


def scale_rounds(
    sb: Any,
    env: dict[str, str],
    work: Path,
    *,
    timed: Callable[..., dict[str, Any]],
    runbook: Callable[..., list[str]],
    batch_files: Callable[[Path, int], list[Path]],
) -> dict[str, list[Any]]:
    """One environment, then the batch of 32, each on a reset sandbox with the same settings."""
    files = [str(p) for p in batch_files(work / "scale", COUNT)]
    env = {**env, "RUNBOOK_BUDGET_DIR": str(work / "scale" / "budget")}  # this bench's own budget

    def prepare() -> None:
        sb.fresh()
        sb.control.config(op_seconds=OP_SECONDS, service_quota=COUNT + 8, asc_name_quota=COUNT + 8)
        sb.control.faults(rate_limit_per_s=RATE_LIMIT)

    out: dict[str, list[Any]] = {}
    prepare()
    one = timed(runbook("up", files[0], *BUDGET, "--audit-dir", str(work / "scale-one")), env, memory=True)
    print(f"  one environment, op-seconds {OP_SECONDS:g}: {one['wall_s']:.2f}s, peak {one['peak_mb']:.0f} MB",
          file=sys.stderr)  # fmt: skip
    prepare()
    cmd = runbook("up", *files, "--jobs", str(JOBS), *BUDGET, "--audit-dir", str(work / "scale-batch"))
    started = time.time()
    batch = timed(cmd, env, memory=True)
    requests = sb.control.requests()
    creates = sorted(r["time"] - started for r in requests if r.get("operation") == "CreateService")
    out["batch32_first_create_s"], out["batch32_last_create_s"] = [creates[0]], [creates[-1]]
    out["one_env_op60_s"] = [one["wall_s"]]
    out["one_env_op60_peak_mb"] = [one["peak_mb"]]
    out["batch32_jobs32_s"] = [batch["wall_s"]]
    out["batch32_peak_mb"] = [batch["peak_mb"]]
    out["batch32_jobs32_over_one_env"] = [batch["wall_s"] / one["wall_s"]]
    out["batch32_throttled"] = [throttled(requests)]
    out["batch32_apprunner_requests"] = [sum(1 for r in requests if r.get("service") == "apprunner")]
    out["batch32_apprunner_peak_rate"] = [peak_rate(requests)]
    print(f"  {COUNT} environments, --jobs {JOBS}: {batch['wall_s']:.2f}s "
          f"({out['batch32_jobs32_over_one_env'][0]:.2f}x one), peak {batch['peak_mb']:.0f} MB, "
          f"{out['batch32_throttled'][0]} throttled of {out['batch32_apprunner_requests'][0]} App Runner "
          f"requests (at most {out['batch32_apprunner_peak_rate'][0]} in one second)",
          file=sys.stderr)  # fmt: skip
    return out


SCALE_ROWS = (
    ("one_env_op60_s", f"one environment, --op-seconds {OP_SECONDS:g}", "s", ""),
    ("one_env_op60_peak_mb", "  peak RSS", "MB", ""),
    ("batch32_jobs32_s", f"{COUNT} environments, --jobs {JOBS}, --op-seconds {OP_SECONDS:g}", "s", ""),
    ("batch32_jobs32_over_one_env", f"  {COUNT} envs / one env", "x", "<= 1.5"),
    ("batch32_peak_mb", "  peak RSS (runner + kernels)", "MB", "<= 3300"),
    ("batch32_throttled", f"  throttled (sandbox limit {RATE_LIMIT:g}/s)", "calls", "0"),
    ("batch32_first_create_s", "  first CreateService, from the start", "s", ""),
    ("batch32_last_create_s", "  last CreateService, from the start", "s", ""),
    ("batch32_apprunner_requests", "  App Runner requests", "calls", ""),
    ("batch32_apprunner_peak_rate", "  App Runner requests, busiest second", "calls", ""),
)
