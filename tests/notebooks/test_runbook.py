"""The notebooks, headless through the runner (papermill in-process), on the sandbox.

Each ``runbook up`` starts a kernel and executes seven notebooks in it (~5 s), so these tests take a
while; they share nothing but the session sandbox (reset per test).
"""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import nbformat
import papermill
import pytest
import yaml

from runbook_lib import audit, runner
from runbook_lib.cli import main
from runbook_lib.runner import NOTEBOOKS_DIR

SECRET_KEY = "Zq9SECRETkeyXw7distinctive/KJ2r0000AAAAbb"
TOKEN = "ghp_distinctiveTOKEN4242"
MANIFEST_FIELDS = {
    "run_id", "action", "params_path", "params_sha256", "params", "identity", "region", "endpoint",
    "versions", "git_commit", "started_at", "ended_at", "status", "notebooks", "resources", "error",
    "files", "previous_manifest_sha256",
}  # fmt: skip
OWNED = {"connection", "instance_role", "security_group", "vpc_connector", "autoscaling", "service"}


def _runs(folder: Path) -> list[Path]:
    return sorted(p for p in (folder / "runs").iterdir() if p.is_dir())


def _manifest(run: Path) -> dict:
    return json.loads((run / "manifest.json").read_text())


def _owned_leftovers(url: str) -> list[str]:
    """Live owned resources on the sandbox (deleted ones may still be listed, as on AWS)."""
    kw = {"endpoint_url": url, "region_name": "us-east-1"}
    ar, iam, ec2 = boto3.client("apprunner", **kw), boto3.client("iam", **kw), boto3.client("ec2", **kw)
    left = [s["ServiceName"] for s in ar.list_services()["ServiceSummaryList"] if s["Status"] != "DELETED"]
    left += [
        c["VpcConnectorName"] for c in ar.list_vpc_connectors()["VpcConnectors"] if c["Status"] == "ACTIVE"
    ]
    ascs = ar.list_auto_scaling_configurations()["AutoScalingConfigurationSummaryList"]
    names = [a["AutoScalingConfigurationName"] for a in ascs if a.get("Status", "active").upper() == "ACTIVE"]
    left += [n for n in names if n != "DefaultConfiguration"]
    left += [r["RoleName"] for r in iam.list_roles()["Roles"] if r["RoleName"].startswith("demo")]
    groups = ec2.describe_security_groups()["SecurityGroups"]
    left += [g["GroupName"] for g in groups if "apprunner" in g["GroupName"]]
    return left


def test_up_rerun_and_down(
    runbook_env, write_params, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
    params = write_params(tmp_path, "demo-go-app")

    assert main(["up", str(params), "-p", "github_token", TOKEN]) == 0
    (first,) = _runs(tmp_path)
    m = _manifest(first)
    assert MANIFEST_FIELDS <= set(m)
    assert m["status"] == "succeeded" and m["action"] == "up"
    assert m["identity"]["Account"] == "123456789012" and m["endpoint"] == runbook_env.url
    assert [n["status"] for n in m["notebooks"]] == ["ok"] * 7
    assert {r["resource"] for r in m["resources"]} == OWNED
    assert all(r["arn"] for r in m["resources"]) and m["service_url"].startswith("https://")
    assert set(m["files"]) == {f"{n['notebook']}.ipynb" for n in m["notebooks"]}
    assert m["params_sha256"] == audit.sha256_file(params)
    assert audit.verify(str(first)) == []

    for path in first.rglob("*"):  # neither the secret key nor the secret parameter lands anywhere
        text = path.read_text()
        assert SECRET_KEY not in text and TOKEN not in text, path
    executed = nbformat.read(first / "01_connection.ipynb", as_version=4)
    assert executed.metadata.papermill.parameters["github_token"] == "[REDACTED]"

    runbook_env.control.clear_requests()
    assert main(["up", str(params)]) == 0
    assert runbook_env.control.mutating_requests() == []
    second = _runs(tmp_path)[-1]
    m2 = _manifest(second)
    assert {r["action"] for r in m2["resources"]} == {"UNCHANGED"} and len(m2["resources"]) == 6
    assert m2["previous_manifest_sha256"] == audit.sha256_file(first / "manifest.json")
    assert main(["audit", "verify", str(second)]) == 0
    # nothing to do: planned and verified without a kernel, every notebook skipped and why
    assert [n["status"] for n in m2["notebooks"]] == ["skipped"] * 7 and m2["files"] == {}
    assert all(n["reason"].startswith("the plan found every resource as specified") for n in m2["notebooks"])
    assert [r["action"] for r in m2["plan"]] == ["UNCHANGED"] * 6
    assert m2["verify"]["ok"] is True and m2["service_url"] == m["service_url"]
    assert m2["status"] == "succeeded"

    runbook_env.control.clear_requests()
    assert main(["up", str(params), "--every-step"]) == 0  # the notebooks all the same
    assert runbook_env.control.mutating_requests() == []
    every = _manifest(_runs(tmp_path)[-1])
    assert [n["status"] for n in every["notebooks"]] == ["ok"] * 7 and len(every["files"]) == 7

    # one notebook alone, with plain papermill and the standard AWS environment
    out = tmp_path / "05_alone.ipynb"
    papermill.execute_notebook(
        str(NOTEBOOKS_DIR / "05_service.ipynb"), str(out), parameters={"params_path": str(params)},
        progress_bar=False, kernel_name="python3",
    )  # fmt: skip
    assert "UNCHANGED" in out.read_text()

    raw = bytearray((first / "02_instance_role.ipynb").read_bytes())
    raw[len(raw) // 2] ^= 1
    (first / "02_instance_role.ipynb").write_bytes(bytes(raw))
    assert main(["audit", "verify", str(second)]) == 1  # the chain reaches the altered earlier run

    assert main(["down", str(params)]) == 0
    m3 = _manifest(_runs(tmp_path)[-1])
    assert m3["action"] == "down" and {r["action"] for r in m3["resources"]} == {"DELETED"}
    assert _owned_leftovers(runbook_env.url) == []


def test_up_rerun_and_down_converge_under_a_consistency_delay(
    runbook_env, write_params, tmp_path: Path
) -> None:
    """`runbook up`, a re-run and `runbook down` while reads lag writes by 3 s (new App Runner resources
    hidden, deleted ones still listed): each notebook finds what the one before created, the re-run makes
    no mutating call, and a second `down` finds nothing left."""
    runbook_env.control.config(consistency_delay=3)
    params = write_params(tmp_path, "lag-go-app")
    assert main(["up", str(params)]) == 0
    assert [n["status"] for n in _manifest(_runs(tmp_path)[-1])["notebooks"]] == ["ok"] * 7

    runbook_env.control.clear_requests()
    assert main(["up", str(params)]) == 0
    assert runbook_env.control.mutating_requests() == []

    assert main(["down", str(params), "--delete-connection"]) == 0
    (down,) = _downs(tmp_path)
    assert {r["action"] for r in down["resources"]} == {"DELETED"} and len(down["resources"]) == 6
    runbook_env.control.clear_requests()
    assert main(["down", str(params), "--delete-connection"]) == 0
    assert {r["action"] for r in _downs(tmp_path)[-1]["resources"]} == {"ABSENT"}
    assert runbook_env.control.mutating_requests() == []


def _downs(folder: Path) -> list[dict]:
    """The manifests of the `down` runs, oldest first (run folders of one second sort by name, not time)."""
    found = [_manifest(run) for run in _runs(folder) if (run / "manifest.json").exists()]
    return sorted((m for m in found if m["action"] == "down"), key=lambda m: m["started_at"])


def test_a_change_after_a_successful_up_runs_the_notebooks(
    runbook_env, write_params, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    params = write_params(tmp_path, "demo-go-app")
    assert main(["up", str(params)]) == 0
    doc = yaml.safe_load(params.read_text())
    doc["source"]["env"]["ENV1"] = "changed"
    params.write_text(yaml.safe_dump(doc))
    started = []
    start_kernel = runner.kernels.start_kernel
    monkeypatch.setattr(
        runner.kernels, "start_kernel", lambda *a, **kw: started.append(1) or start_kernel(*a, **kw)
    )
    assert main(["up", str(params)]) == 0
    assert started == [1]  # the run's one kernel, started once the plan showed a change
    m = _manifest(_runs(tmp_path)[-1])
    assert [n["status"] for n in m["notebooks"]] == ["ok"] * 7
    assert {r["resource"]: r["action"] for r in m["resources"]}["service"] == "UPDATED"


def test_failed_run_leaves_notebook_and_manifest_then_converges(
    runbook_env, write_params, tmp_path: Path, capsys
) -> None:
    params = write_params(tmp_path, "demo-fail")
    runbook_env.control.faults(fail_next_create=1)

    assert main(["up", str(params)]) == 1
    err = capsys.readouterr().err
    assert "05_service" in err and "runbook up" in err  # what failed and how to resume
    (run,) = _runs(tmp_path)
    m = _manifest(run)
    assert m["status"] == "failed" and m["error"]["notebook"] == "05_service"
    assert [n["status"] for n in m["notebooks"]][-2:] == ["failed", "skipped"]  # 06 does not run after it
    executed = nbformat.read(run / "05_service.ipynb", as_version=4)
    errors = [o for c in executed.cells for o in c.get("outputs", []) if o.output_type == "error"]
    assert errors and any("papermill-error-cell" in c.source for c in executed.cells)
    assert audit.verify(str(run)) == []

    assert main(["up", str(params)]) == 0
    m2 = _manifest(_runs(tmp_path)[-1])
    actions = {r["resource"]: r["action"] for r in m2["resources"]}
    assert actions["instance_role"] == "UNCHANGED" and actions["service"] in {
        "CREATED",
        "REPLACED",
        "UPDATED",
    }


def test_batch_of_three_with_one_bad_file(runbook_env, write_params, tmp_path: Path, capsys) -> None:
    good = [write_params(tmp_path, f"batch-{n}") for n in ("a", "b", "c")]
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: broken\naccount_id: 123\n")

    assert main(["up", *map(str, good), str(bad), "--jobs", "2"]) == 1
    out, err = capsys.readouterr()
    assert out.count("runbook up") == 1  # one summary table
    for name in ("batch-a", "batch-b", "batch-c"):
        assert name in out
    assert out.count("succeeded") == 3 and "invalid" in out and "bad.yaml" in err
    manifests = [_manifest(r) for r in _runs(tmp_path)]
    assert sorted(m["name"] for m in manifests) == ["batch-a", "batch-b", "batch-c"]
    assert all(m["status"] == "succeeded" for m in manifests)


def test_audit_dir_on_s3_and_the_audit_notebook(
    runbook_env, write_params, tmp_path: Path, monkeypatch
) -> None:
    from papermill.s3 import S3

    monkeypatch.setattr(S3, "s3_session", (None, None, None))  # papermill caches one per process
    boto3.client("s3", endpoint_url=runbook_env.url, region_name="us-east-1").create_bucket(Bucket="audit")
    params = write_params(tmp_path, "demo-s3")
    assert main(["up", str(params), "--only", "preflight", "--audit-dir", "s3://audit/runs"]) == 0
    assert main(["plan", str(params), "--audit-dir", "s3://audit/runs"]) == 0
    rows = audit.history_records("s3://audit/runs")
    assert [r["action"] for r in rows] == ["up", "plan"] and all(r["status"] == "succeeded" for r in rows)
    assert audit.verify(rows[-1]["run_dir"]) == []
    s3 = boto3.client("s3", endpoint_url=runbook_env.url, region_name="us-east-1")
    first = rows[0]["run_dir"].removeprefix("s3://audit/")
    s3.put_object(Bucket="audit", Key=f"{first}/00_preflight.ipynb", Body=b"{}")  # altered
    s3.put_object(Bucket="audit", Key=f"{first}/extra.txt", Body=b"slipped in")  # added
    found = {(p.file.rsplit("/", 1)[-1], p.problem) for p in audit.verify(rows[-1]["run_dir"])}
    assert found == {
        ("00_preflight.ipynb", "altered (sha256 differs from the manifest)"),
        ("extra.txt", "not listed in the manifest (added)"),
    }

    out = tmp_path / "99.ipynb"
    papermill.execute_notebook(
        str(NOTEBOOKS_DIR / "99_audit.ipynb"), str(out),
        parameters={"audit_dir": "s3://audit/runs", "environment": "demo-s3"}, progress_bar=False,
    )  # fmt: skip
    assert "demo-s3" in out.read_text()
