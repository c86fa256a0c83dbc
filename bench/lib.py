"""Pure helpers of the benchmark: statistics, the table, poll counting, the simulated waiter.

Nothing here starts a process or opens a socket, so ``tests/unit/test_bench.py`` can check it quickly.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

# ------------------------------------------------------------------------------------------ statistics


def summarize(values: Sequence[float]) -> dict[str, float | int | None]:
    """Median, min, max and count of a series (None when it is empty)."""
    vals = [float(v) for v in values if v is not None]
    if not vals:
        return {"median": None, "min": None, "max": None, "n": 0}
    return {"median": statistics.median(vals), "min": min(vals), "max": max(vals), "n": len(vals)}


def _fmt(value: float | int | None, unit: str) -> str:
    if value is None:
        return "-"
    if unit == "s":
        return f"{value:.2f}"
    if unit == "MB":
        return f"{value:.0f}"
    if unit == "x":
        return f"{value:.2f}"
    return f"{value:g}"


def table(rows: Iterable[Mapping[str, Any]]) -> str:
    """A Markdown table of ``{"figure", "unit", "series" | "value", "target"?}`` rows: median, min, max, n."""
    lines = [
        "| figure | unit | median | min | max | runs | target |",
        "| --- | --- | ---: | ---: | ---: | ---: | --- |",
    ]
    for row in rows:
        unit = row.get("unit", "")
        stats = summarize(row["series"]) if "series" in row else {
            "median": row.get("value"), "min": row.get("value"), "max": row.get("value"), "n": 1,
        }  # fmt: skip
        lines.append(
            f"| {row['figure']} | {unit} | {_fmt(stats['median'], unit)} | {_fmt(stats['min'], unit)} | "
            f"{_fmt(stats['max'], unit)} | {stats['n']} | {row.get('target', '')} |"
        )
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------- request log

# The reads a wait loop repeats to re-check a status (docs/apprunner-behavior.md L3).
WAIT_READS = frozenset({"ListOperations"})


def count_polls(requests: Sequence[Mapping[str, Any]]) -> int:
    """How many requests of a sandbox request log were polls, i.e. a wait re-reading a status.

    - every ``ListOperations`` (only the service operation wait issues it);
    - every ``DescribeService`` that directly repeats a ``DescribeService`` (the settle / delete waits),
      never the first one after a lookup or the read of the result after an operation wait;
    - the ``ListConnections`` that follow a ``CreateConnection`` (the handshake wait), up to the next
      other request.
    """
    polls = 0
    previous: str | None = None
    in_handshake = False
    for req in requests:
        op = str(req.get("operation"))
        if op in WAIT_READS:
            polls += 1
        elif op == "DescribeService" and previous == "DescribeService":
            polls += 1
        elif op == "ListConnections" and in_handshake:
            polls += 1
        in_handshake = op == "CreateConnection" or (in_handshake and op == "ListConnections")
        previous = op
    return polls


def call_counts(requests: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    """Total, mutating, polls and calls besides polls of one request log."""
    polls = count_polls(requests)
    return {
        "calls": len(requests),
        "mutating": sum(1 for r in requests if r.get("mutating")),
        "polls": polls,
        "calls_excluding_polls": len(requests) - polls,
    }


# ------------------------------------------------------------------------------------ simulated waiter


def simulate_operation_wait(op_seconds: float = 300.0, backoff: Any = None) -> dict[str, float | int]:
    """Drive the real waiter (``waiters.wait_for`` on the ``operation_finished`` spec) over a simulated
    operation of ``op_seconds``: an injected clock and sleep, no waiting. Returns the polls it spent and
    how many seconds after the transition it noticed it.
    """
    from runbook_lib import waiters

    now = [0.0]

    def fetch() -> str:
        return "SUCCEEDED" if now[0] >= op_seconds else "IN_PROGRESS"

    def sleep(seconds: float) -> None:
        now[0] += seconds

    spec = waiters.operation_finished(
        None,  # type: ignore[arg-type]  # fetch is replaced: no client is used
        "arn:aws:apprunner:us-east-1:123456789012:service/bench/0",
        "op-1",
        operation_type="CREATE_SERVICE",
        what="service bench",
    )
    spec = replace(spec, fetch=fetch)
    events: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"backoff": backoff} if backoff is not None else {}
    waiters.wait_for(
        spec, timeout=op_seconds * 10 + 3600, sleep=sleep, clock=lambda: now[0],
        on_progress=events.append, **kwargs,
    )  # fmt: skip
    return {"polls": events[-1]["polls"], "detection_latency_s": round(now[0] - op_seconds, 3)}


def worst_detection_latency(
    backoff: Any = None, low: float = 240.0, high: float = 360.0, step: float = 0.25
) -> float:
    """The longest detection latency over operations lasting ``low``…``high`` s (the phase matters)."""
    worst = 0.0
    t = low
    while t <= high:
        worst = max(worst, float(simulate_operation_wait(t, backoff)["detection_latency_s"]))
        t += step
    return round(worst, 3)


# ----------------------------------------------------------------------------------- executed notebooks


def _ts(value: str) -> float:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def notebook_split(path: str | Path) -> dict[str, float]:
    """Kernel start / execution / notebook end of one executed notebook, from papermill's timestamps.

    kernel start = first cell start − notebook start (the run's kernel ready for this notebook);
    execution = last cell end − first cell start; end and write = notebook end − last cell end.
    """
    nb = json.loads(Path(path).read_text())
    meta = nb["metadata"]["papermill"]
    cells = [c["metadata"].get("papermill", {}) for c in nb["cells"] if c["cell_type"] == "code"]
    cells = [c for c in cells if c.get("start_time") and c.get("end_time")]
    begin, end = _ts(meta["start_time"]), _ts(meta["end_time"])
    first, last = _ts(cells[0]["start_time"]), _ts(cells[-1]["end_time"])
    return {"kernel_start_s": first - begin, "execution_s": last - first, "shutdown_s": end - last}
