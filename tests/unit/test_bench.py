"""Smoke test of the benchmark's pure helpers (bench/lib.py); no timing is asserted anywhere."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from runbook_lib.waiters import Backoff

LIB = Path(__file__).resolve().parents[2] / "bench" / "lib.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_lib", LIB)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_summary_and_table(bench):
    assert bench.summarize([3.0, 1.0, 2.0, 10.0, 4.0]) == {"median": 3.0, "min": 1.0, "max": 10.0, "n": 5}
    assert bench.summarize([])["median"] is None
    text = bench.table([
        {"figure": "up", "unit": "s", "series": [1.0, 2.0, 3.0], "target": "<= 1.0"},
        {"figure": "polls", "unit": "polls", "value": 35},
    ])  # fmt: skip
    lines = text.splitlines()
    assert lines[0].startswith("| figure | unit | median | min | max | runs |")
    assert lines[2] == "| up | s | 2.00 | 1.00 | 3.00 | 3 | <= 1.0 |"
    assert lines[3] == "| polls | polls | 35 | 35 | 35 | 1 |  |"


def _log(*ops: str) -> list[dict]:
    return [{"operation": op, "mutating": not op.startswith(("Describe", "List", "Get"))} for op in ops]


def test_poll_counting_on_a_request_log(bench):
    log = _log(
        "GetCallerIdentity", "ListConnections", "CreateConnection", "ListConnections", "ListConnections",
        "GetRole", "ListServices", "CreateService", "ListOperations", "ListOperations", "ListServices",
        "DescribeService", "UpdateService", "DescribeService", "DescribeService",
    )  # fmt: skip
    # 2 handshake reads + 2 ListOperations + 1 repeated DescribeService; the first lookups are not polls
    assert bench.count_polls(log) == 5
    counts = bench.call_counts(log)
    assert counts == {"calls": 15, "mutating": 3, "polls": 5, "calls_excluding_polls": 10}


def test_simulated_waiter_counts_polls_and_detection_latency(bench):
    flat = Backoff(initial_s=10.0, factor=1.0, cap_s=10.0)
    got = bench.simulate_operation_wait(300.0, flat)
    assert got == {"polls": 31, "detection_latency_s": 0.0}  # polls at 0, 10, …, 300 s
    late = bench.simulate_operation_wait(301.0, flat)
    assert late == {"polls": 32, "detection_latency_s": 9.0}
    assert bench.worst_detection_latency(flat, low=290.0, high=300.0, step=0.5) == 9.5
    default = bench.simulate_operation_wait(300.0)  # the waiter's own default backoff
    assert default["polls"] > 1 and default["detection_latency_s"] >= 0


def test_scale_helpers_count_throttles_and_the_busiest_second():
    spec = importlib.util.spec_from_file_location("bench_scale", LIB.parent / "scale.py")
    scale = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(scale)
    log = [
        {"service": "apprunner", "time": 10.1, "error": None},
        {"service": "apprunner", "time": 10.9, "error": "ThrottlingException"},
        {"service": "apprunner", "time": 11.0, "error": None},
        {"service": "ec2", "time": 10.5, "error": "ThrottlingException"},
    ]
    assert scale.throttled(log) == 1
    assert scale.peak_rate(log) == 2 and scale.peak_rate([]) == 0
