"""The example DAG end to end with `airflow dags test`, on a sandbox: three environments, one failing.

Runs in the Airflow virtualenv (`make test-airflow`); skipped where Airflow is not installed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import boto3
import pytest
import yaml

pytest.importorskip("airflow", reason="Airflow lives in its own virtualenv: make test-airflow")

from runbook_lib.airflow import pools  # noqa: E402
from runbook_lib.sandbox.server import start_in_thread  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
BUCKET, PREFIX = "runbook-audit", "trail"


def params_files(folder: Path) -> list[Path]:
    """Two good environments and one with a bad parameter (its task fails, the others go on)."""
    base = yaml.safe_load((ROOT / "params" / "sandbox.yaml").read_text())
    folder.mkdir()
    paths = []
    for n, max_size in ((1, 3), (2, 3), (3, 30)):  # 30: above the account limit of 25
        doc = json.loads(json.dumps(base))
        doc["name"], doc["connection"]["name"] = f"airflow-app-{n}", f"github-airflow-{n}"
        doc["autoscaling"]["max_size"] = max_size
        paths.append(folder / f"env-{n}.yaml")
        paths[-1].write_text(yaml.safe_dump(doc, sort_keys=False))
    return paths


def airflow(env: dict[str, str], *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    got = subprocess.run([str(BIN / "airflow"), *args], env=env, cwd=ROOT, capture_output=True, text=True)
    if check and got.returncode != 0:
        raise AssertionError(f"airflow {' '.join(args)} exited {got.returncode}:\n{got.stderr[-3000:]}")
    return got


@pytest.mark.timeout(900)
def test_example_dag_runs_every_environment_through_the_runner(tmp_path: Path) -> None:
    sandbox = start_in_thread(port=0, op_seconds=0, handshake="auto", handshake_seconds=0)
    try:
        files = params_files(tmp_path / "params")
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "AIRFLOW"))}
        env.update(
            AWS_ENDPOINT_URL=sandbox.url, AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",
            AWS_DEFAULT_REGION="us-east-1", AIRFLOW_HOME=str(tmp_path / "airflow"),
            AIRFLOW__CORE__DAGS_FOLDER=str(ROOT / "examples" / "airflow"),
            AIRFLOW__CORE__LOAD_EXAMPLES="False", RUNBOOK_PARAMS_DIR=str(tmp_path / "params"),
            RUNBOOK_AUDIT_DIR=f"s3://{BUCKET}/{PREFIX}", RUNBOOK_LOCK_DIR=str(tmp_path / "locks"),
            PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        )  # fmt: skip
        s3 = boto3.client("s3", endpoint_url=sandbox.url, region_name="us-east-1",
                          aws_access_key_id="testing", aws_secret_access_key="testing")  # fmt: skip
        s3.create_bucket(Bucket=BUCKET)
        airflow(env, "db", "migrate")
        for pool in pools(files):
            airflow(env, "pools", "set", pool, "2", "runbook: one account and region")
        test = airflow(env, "dags", "test", "runbook_up", check=False)
        log = test.stdout + test.stderr

        keys = [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix=PREFIX).get("Contents", [])]
        runs = sorted({k.split("/")[1] for k in keys if k.endswith("/manifest.json")})
        assert len(runs) == 2, f"{runs}\n{log[-4000:]}"  # the bad file is refused before any run folder
        for run in runs:
            body = s3.get_object(Bucket=BUCKET, Key=f"{PREFIX}/{run}/manifest.json")["Body"].read()
            manifest = json.loads(body)
            assert manifest["status"] == "succeeded", manifest.get("error")
            verify = subprocess.run([str(BIN / "runbook"), "audit", "verify", f"s3://{BUCKET}/{PREFIX}/{run}"],
                                    env=env, capture_output=True, text=True)  # fmt: skip
            assert verify.returncode == 0, verify.stdout + verify.stderr
        assert "autoscaling.max_size" in log  # the failing task says why
        got = airflow(env, "dags", "list-runs", "runbook_up", "-o", "json")
        states = [r["state"] for r in json.loads(got.stdout[got.stdout.index("[") :])]
        assert states == ["failed"], log[-4000:]
    finally:
        sandbox.stop()
