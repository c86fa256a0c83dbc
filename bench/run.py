"""``make bench``: the runbook's own overhead on the local sandbox, side by side with the AWS CLI script.

Starts a private sandbox (port 0, op-seconds 0, automatic handshake after 0 s) on 127.0.0.1, then for
each of ``--repeat`` rounds, each on a reset sandbox: a fresh ``runbook up``, a no-op ``runbook up``, a
``runbook plan``, and ``bench/aws_cli_baseline.sh`` (same resources, same waits). Then the simulated
300 s service operation (the real waiter, injected clock) and the batch of 8 environments with
``--jobs 1/2/4``. Prints one table and writes ``bench/results.json``.

    .venv/bin/python bench/run.py [--repeat 5] [--batch-repeat 3] [--skip-batch] [--out bench/results.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

import lib  # noqa: E402  (bench/lib.py, next to this file)
import scale  # noqa: E402  (bench/scale.py: 32 environments at --jobs 32)

BIN = Path(sys.executable).parent
PARAMS = ROOT / "params" / "sandbox.yaml"
BASELINE = HERE / "aws_cli_baseline.sh"


# ---------------------------------------------------------------------------------------------- setup


class Sandbox:
    """A private background sandbox for the benchmark, stopped at the end."""

    def __init__(self, workdir: Path) -> None:
        self.state = workdir / "sandbox-state"
        self.url = ""
        self.control: Any = None

    def __enter__(self) -> Sandbox:
        from runbook_lib.sandbox.control import SandboxControl

        out = subprocess.run(
            [str(BIN / "runbook"), "sandbox", "start", "--port", "0", "--op-seconds", "0", "--handshake",
             "auto", "--handshake-seconds", "0", "--state-dir", str(self.state)],
            check=True, capture_output=True, text=True, cwd=ROOT,
        )  # fmt: skip
        self.url = out.stdout.strip().splitlines()[-1]
        assert self.url.startswith("http://127.0.0.1:"), self.url
        self.control = SandboxControl(self.url, timeout=60)
        return self

    def __exit__(self, *exc: object) -> None:
        subprocess.run(
            [str(BIN / "runbook"), "sandbox", "stop", "--state-dir", str(self.state)],
            capture_output=True, cwd=ROOT,
        )  # fmt: skip

    def fresh(self) -> None:
        self.control.reset()
        self.control.config(op_seconds=0, handshake="auto", handshake_seconds=0)
        self.control.clear_requests()


def environment(url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_ENDPOINT_URL=url, AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION="us-east-1", AWS_PAGER="", PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}",
    )  # fmt: skip
    return env


class MemorySampler:
    """Peak of the summed RSS of a process and all its descendants (runner + kernels), every 50 ms."""

    def __init__(self, pid: int) -> None:
        self.pid, self.peak, self._stop = pid, 0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        import psutil

        try:
            root = psutil.Process(self.pid)
        except psutil.NoSuchProcess:
            return
        while not self._stop.is_set():
            total = 0
            try:
                procs = [root, *root.children(recursive=True)]
            except psutil.NoSuchProcess:
                return
            for proc in procs:
                try:
                    total += proc.memory_info().rss
                except psutil.Error:
                    pass
            self.peak = max(self.peak, total)
            self._stop.wait(0.05)

    def __enter__(self) -> MemorySampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def timed(cmd: list[str], env: dict[str, str], *, memory: bool = False) -> dict[str, Any]:
    """Run a command to completion; wall time (s), exit code, peak memory (MB) when asked."""
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    sampler = MemorySampler(proc.pid) if memory else None
    if sampler:
        sampler.__enter__()
    out, err = proc.communicate()
    wall = time.perf_counter() - started
    if sampler:
        sampler.__exit__()
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {proc.returncode}:\n{out[-2000:]}\n{err[-2000:]}")
    return {"wall_s": wall, "peak_mb": sampler.peak / 2**20 if sampler else None}


def runbook(*args: str) -> list[str]:
    return [str(BIN / "runbook"), *args]


# ---------------------------------------------------------------------------------------------- phases


def main_rounds(sb: Sandbox, env: dict[str, str], work: Path, repeat: int) -> dict[str, list[Any]]:
    """Fresh up, no-op up, plan and the CLI script, ``repeat`` times, each pair on a reset sandbox."""
    s: dict[str, list[Any]] = {k: [] for k in (
        "up_fresh_s", "cli_baseline_s", "up_vs_cli_ratio", "up_noop_s", "noop_calls", "noop_mutating_calls",
        "plan_s", "plan_mutating_calls", "fresh_calls", "fresh_polls", "fresh_calls_excluding_polls",
        "fresh_mutating_calls", "cli_calls", "kernel_start_s", "execution_s", "shutdown_s", "validate_s",
        "up_noop_every_step_s", "noop_every_step_mutating_calls",
    )}  # fmt: skip
    s["per_notebook"] = []
    for i in range(-1, repeat):  # round -1 warms the sandbox (moto loads lazily) and the page cache
        audit = str(work / f"runs-{i}")  # one audit dir per round, as the params' audit_dir would be
        sb.fresh()
        up = timed(runbook("up", str(PARAMS), "--audit-dir", audit), env)
        fresh = lib.call_counts(sb.control.requests())
        (fresh_dir,) = Path(audit).glob("*_up")
        sb.control.clear_requests()
        noop = timed(runbook("up", str(PARAMS), "--audit-dir", audit), env)
        noop_calls = lib.call_counts(sb.control.requests())
        sb.control.clear_requests()
        every = timed(runbook("up", str(PARAMS), "--every-step", "--audit-dir", audit), env)
        every_calls = lib.call_counts(sb.control.requests())
        sb.control.clear_requests()
        plan = timed(runbook("plan", str(PARAMS), "--audit-dir", audit), env)
        plan_calls = lib.call_counts(sb.control.requests())
        validate = timed(runbook("validate", str(PARAMS)), env)
        sb.fresh()
        cli = timed(["bash", str(BASELINE)], env)
        cli_calls = lib.call_counts(sb.control.requests())
        label = "warm-up" if i < 0 else f"round {i + 1}/{repeat}"
        print(f"  {label}: up {up['wall_s']:.2f}s, no-op {noop['wall_s']:.2f}s (every step "
              f"{every['wall_s']:.2f}s), plan {plan['wall_s']:.2f}s, cli {cli['wall_s']:.2f}s",
              file=sys.stderr)  # fmt: skip
        if i < 0:
            continue
        s["up_fresh_s"].append(up["wall_s"])
        s["cli_baseline_s"].append(cli["wall_s"])
        s["up_vs_cli_ratio"].append(up["wall_s"] / cli["wall_s"])
        s["up_noop_s"].append(noop["wall_s"])
        s["noop_calls"].append(noop_calls["calls"])
        s["noop_mutating_calls"].append(noop_calls["mutating"])
        s["up_noop_every_step_s"].append(every["wall_s"])
        s["noop_every_step_mutating_calls"].append(every_calls["mutating"])
        s["plan_s"].append(plan["wall_s"])
        s["plan_mutating_calls"].append(plan_calls["mutating"])
        s["validate_s"].append(validate["wall_s"])
        s["fresh_calls"].append(fresh["calls"])
        s["fresh_polls"].append(fresh["polls"])
        s["fresh_calls_excluding_polls"].append(fresh["calls_excluding_polls"])
        s["fresh_mutating_calls"].append(fresh["mutating"])
        s["cli_calls"].append(cli_calls["calls"])
        split = {p.stem: lib.notebook_split(p) for p in sorted(fresh_dir.glob("*.ipynb"))}
        s["per_notebook"].append(split)
        for key in ("kernel_start_s", "execution_s", "shutdown_s"):
            s[key].append(sum(v[key] for v in split.values()))
    return s


def batch_files(work: Path, count: int = 8) -> list[Path]:
    """``count`` parameter files from params/sandbox.yaml with distinct names (and owned resource names)."""
    import yaml

    base = yaml.safe_load(PARAMS.read_text())
    folder = work / "batch-params"
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for n in range(1, count + 1):
        doc = json.loads(json.dumps(base))
        doc["name"] = f"bench-app-{n}"
        doc["connection"]["name"] = f"github-bench-{n}"
        path = folder / f"bench-{n}.yaml"
        path.write_text(yaml.safe_dump(doc, sort_keys=False))
        paths.append(path)
    return paths


def batch_rounds(sb: Sandbox, env: dict[str, str], work: Path, repeat: int) -> dict[str, list[Any]]:
    files = [str(p) for p in batch_files(work)]
    out: dict[str, list[Any]] = {}
    for jobs in (1, 2, 4):
        for i in range(repeat):
            sb.fresh()
            audit = work / f"batch-{jobs}-{i}"
            cmd = runbook("up", *files, "--jobs", str(jobs), "--audit-dir", str(audit))
            got = timed(cmd, env, memory=True)
            out.setdefault(f"batch8_jobs{jobs}_s", []).append(got["wall_s"])
            out.setdefault(f"batch8_jobs{jobs}_peak_mb", []).append(got["peak_mb"])
            print(f"  batch of 8, --jobs {jobs} ({i + 1}/{repeat}): {got['wall_s']:.2f}s, "
                  f"peak {got['peak_mb']:.0f} MB", file=sys.stderr)  # fmt: skip
    sb.fresh()
    one = timed(runbook("up", files[0], "--audit-dir", str(work / "batch-one")), env, memory=True)
    out["one_env_peak_mb"] = [one["peak_mb"]]
    return out


def waiter_figures() -> dict[str, Any]:
    """The real waiter over a simulated 300 s operation, and the cap choice it is based on."""
    from runbook_lib import waiters

    at300 = lib.simulate_operation_wait(300.0)
    caps = {}
    for cap in (5.0, 8.0, 10.0, 15.0, 20.0, 30.0):
        backoff = waiters.Backoff(
            initial_s=waiters.DEFAULT_BACKOFF.initial_s, factor=waiters.DEFAULT_BACKOFF.factor, cap_s=cap
        )
        sim = lib.simulate_operation_wait(300.0, backoff)
        caps[f"{cap:g}"] = {**sim, "worst_latency_240_360_s": lib.worst_detection_latency(backoff)}
    return {
        "polls_per_300s_op": at300["polls"],
        "detection_latency_s": at300["detection_latency_s"],
        "detection_latency_worst_s": lib.worst_detection_latency(),
        "backoff": {k: getattr(waiters.DEFAULT_BACKOFF, k) for k in ("initial_s", "factor", "cap_s")},
        "cap_choices": caps,
    }


def machine() -> dict[str, Any]:
    import psutil

    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    aws = subprocess.run([str(BIN / "aws"), "--version"], capture_output=True, text=True)
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "os": platform.platform(),
        "python": platform.python_version(),
        "aws_cli": (aws.stdout or aws.stderr).strip(),
    }


def git_commit() -> str | None:
    got = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT)
    return got.stdout.strip() or None


# ---------------------------------------------------------------------------------------------- report

TARGETS = {
    "up_vs_cli_ratio": "<= 1.0",
    "up_noop_s": "<= 0.5 x up_fresh_s",
    "noop_mutating_calls": "0",
    "plan_s": "< 2 s",
    "fresh_calls_excluding_polls": "<= 40",
    "polls_per_300s_op": "<= 40",
    "detection_latency_s": "<= 10 s",
    "batch8_jobs4_over_one_env": "<= 3.0",
}


def rows(series: dict[str, list[Any]], waiter: dict[str, Any]) -> list[dict[str, Any]]:
    def row(key: str, figure: str, unit: str) -> dict[str, Any]:
        return {"figure": f"{figure} (`{key}`)", "unit": unit, "series": series.get(key, []),
                "target": TARGETS.get(key, "")}  # fmt: skip

    out = [
        row("up_fresh_s", "runbook up, empty sandbox", "s"),
        row("kernel_start_s", "  of which kernel start / ready (6 notebooks)", "s"),
        row("execution_s", "  of which cell execution", "s"),
        row("shutdown_s", "  of which notebook end + write", "s"),
        row("cli_baseline_s", "AWS CLI script, empty sandbox", "s"),
        row("up_vs_cli_ratio", "up / CLI, pair by pair", "x"),
        row("up_noop_s", "runbook up, nothing to change", "s"),
        row("noop_calls", "no-op up: calls", "calls"),
        row("noop_mutating_calls", "no-op up: mutating calls", "calls"),
        row("up_noop_every_step_s", "no-op up, --every-step (all six notebooks)", "s"),
        row("noop_every_step_mutating_calls", "no-op up, --every-step: mutating calls", "calls"),
        row("plan_s", "runbook plan, provisioned", "s"),
        row("validate_s", "runbook validate", "s"),
        row("fresh_calls", "fresh up: calls", "calls"),
        row("fresh_polls", "fresh up: polls (op-seconds 0)", "calls"),
        row("fresh_calls_excluding_polls", "fresh up: calls besides polls", "calls"),
        row("cli_calls", "CLI script: calls", "calls"),
        {"figure": "polls during a 300 s operation (`polls_per_300s_op`)", "unit": "polls",
         "value": waiter["polls_per_300s_op"], "target": TARGETS["polls_per_300s_op"]},
        {"figure": "detection latency, 300 s operation (`detection_latency_s`)", "unit": "s",
         "value": waiter["detection_latency_s"], "target": TARGETS["detection_latency_s"]},
        {"figure": "detection latency, worst over 240-360 s operations", "unit": "s",
         "value": waiter["detection_latency_worst_s"], "target": ""},
    ]  # fmt: skip
    if "batch8_jobs1_s" in series:
        for jobs in (1, 2, 4):
            out.append(row(f"batch8_jobs{jobs}_s", f"8 environments, --jobs {jobs}", "s"))
            out.append(row(f"batch8_jobs{jobs}_peak_mb", f"  peak RSS, --jobs {jobs}", "MB"))
        out.append(row("batch8_jobs4_over_one_env", "8 envs --jobs 4 / one env", "x"))
        out.append(row("one_env_peak_mb", "peak RSS, one environment", "MB"))
    return out + scale_rows(series)


def scale_rows(series: dict[str, list[Any]]) -> list[dict[str, Any]]:
    return [{"figure": f"{figure} (`{key}`)", "unit": unit, "series": series[key], "target": target}
            for key, figure, unit, target in scale.SCALE_ROWS if key in series]  # fmt: skip


def scale_figures(sb: Sandbox, env: dict[str, str], work: Path) -> dict[str, list[Any]]:
    """The scale figures first, on a sandbox nothing else has loaded yet (bench/scale.py)."""
    return scale.scale_rounds(sb, env, work, timed=timed, runbook=runbook, batch_files=batch_files)


def write_scale_only(series: dict[str, list[Any]], args: argparse.Namespace, started: float) -> int:
    """``--scale-only``: the scale figures alone, in bench/scale-results.json unless ``--out`` says."""
    out = HERE / "scale-results.json" if args.out == str(HERE / "results.json") else Path(args.out)
    results = {
        **{k: v[0] for k, v in series.items()},
        "machine": machine(), "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "git_commit": git_commit(), "bench_duration_s": round(time.perf_counter() - started, 1),
    }  # fmt: skip
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(lib.table(scale_rows(series)))
    print(f"\nwritten to {out}")
    return 0


def main(argv: list[str] | None = None) -> int:
    raw = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=raw)
    parser.add_argument("--repeat", type=int, default=5, help="rounds of the main figures [5]")
    parser.add_argument("--batch-repeat", type=int, default=3, help="rounds of each batch size [3]")
    parser.add_argument("--skip-batch", action="store_true", help="leave out the 8-environment batches")
    parser.add_argument("--skip-scale", action="store_true", help="leave out the 32-environment batch")
    parser.add_argument("--scale-only", action="store_true",
                        help="only the 32-environment batch (in bench/scale-results.json)")  # fmt: skip
    parser.add_argument("--out", default=str(HERE / "results.json"), help="[bench/results.json]")
    args = parser.parse_args(argv)
    if shutil.which("aws", path=str(BIN)) is None:
        parser.error(f"the AWS CLI is not in {BIN}")

    started = time.perf_counter()
    work = Path(tempfile.mkdtemp(prefix="runbook-bench-"))
    try:
        with Sandbox(work) as sb:
            env = environment(sb.url)
            print(f"sandbox at {sb.url}; work dir {work}", file=sys.stderr)
            scaled = {} if args.skip_scale else scale_figures(sb, env, work)
            if args.scale_only:
                return write_scale_only(scaled, args, started)
            series = main_rounds(sb, env, work, args.repeat)
            waiter = waiter_figures()
            if not args.skip_batch:
                series.update(batch_rounds(sb, env, work, args.batch_repeat))
                one = lib.summarize(series["up_fresh_s"])["median"]
                series["batch8_jobs4_over_one_env"] = [t / one for t in series["batch8_jobs4_s"]]
            series.update(scaled)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    medians = {k: lib.summarize(v)["median"] for k, v in series.items() if k != "per_notebook"}
    per_notebook = {
        nb: {k: lib.summarize([r[nb][k] for r in series["per_notebook"]])["median"] for k in split}
        for nb, split in series["per_notebook"][0].items()
    }
    results = {
        **{k: medians.get(k) for k in (
            "up_fresh_s", "cli_baseline_s", "up_vs_cli_ratio", "up_noop_s", "noop_mutating_calls", "plan_s",
            "fresh_calls_excluding_polls", "batch8_jobs1_s", "batch8_jobs4_s", "batch8_jobs4_over_one_env",
            "batch32_jobs32_over_one_env", "batch32_peak_mb", "batch32_throttled",
        )},  # fmt: skip
        "polls_per_300s_op": waiter["polls_per_300s_op"],
        "detection_latency_s": waiter["detection_latency_s"],
        "medians": medians,
        "stats": {k: lib.summarize(v) for k, v in series.items() if k != "per_notebook"},
        "per_notebook_median": per_notebook,
        "waiter": waiter,
        "runs": {"main": args.repeat, "batch": 0 if args.skip_batch else args.batch_repeat},
        "poll_definition": lib.count_polls.__doc__,
        "peak_memory": "max of 50 ms samples: summed RSS of `runbook` and all its descendants (kernels)",
        "machine": machine(),
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "git_commit": git_commit(),
        "bench_duration_s": round(time.perf_counter() - started, 1),
    }
    Path(args.out).write_text(json.dumps(results, indent=2) + "\n")
    print(lib.table(rows(series, waiter)))
    where = results["machine"]
    print(f"\n{where['cpu']}, {where['cores']} cores; {results['date']}; commit {results['git_commit']}; "
          f"{results['bench_duration_s']} s; written to {args.out}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
