"""Run folders, manifests chained by hash, history and verification (no AWS, no kernel)."""

from __future__ import annotations

import json
from pathlib import Path

from runbook_lib import audit


def _run(root: Path, name: str, action: str = "up", status: str = "succeeded", content: str = "{}") -> Path:
    store = audit.Store(str(root))
    run = audit.new_run(store, name, action)
    nb = store.join(run, "01_connection.ipynb")
    store.write_text(nb, content)
    manifest = audit.Manifest(run_id=run, action=action, name=name, status=status)
    manifest.files["01_connection.ipynb"] = audit.sha256_text(content)
    manifest.resources = [{"resource": "service", "name": name, "action": "CREATED"}]
    manifest.ended_at = audit.iso(audit.utc_now())
    audit.write_manifest(store, run, manifest)
    return Path(store.join(run))


def test_run_folder_names_are_unique_and_manifests_chain(tmp_path: Path) -> None:
    first = _run(tmp_path, "a")
    second = _run(tmp_path, "a")
    assert first.name.endswith("_a_up") and second.name == f"{first.name}-2"
    data = json.loads((second / "manifest.json").read_text())
    assert data["previous_manifest"] == first.name
    assert data["previous_manifest_sha256"] == audit.sha256_file(first / "manifest.json")
    assert json.loads((first / "manifest.json").read_text())["previous_manifest_sha256"] is None
    assert set(data["versions"]) >= {"python", "papermill", "boto3"}


def test_verify_passes_then_names_the_altered_file(tmp_path: Path) -> None:
    _run(tmp_path, "a")
    run = _run(tmp_path, "b", content='{"cells": []}')
    assert audit.verify(str(run)) == []
    notebook = run / "01_connection.ipynb"
    raw = bytearray(notebook.read_bytes())
    raw[3] ^= 1
    notebook.write_bytes(bytes(raw))
    (problem,) = audit.verify(str(run))
    assert problem.file == str(notebook) and "altered" in problem.problem


def test_verify_reports_a_missing_link_an_added_file_and_a_missing_file(tmp_path: Path) -> None:
    first = _run(tmp_path, "a")
    second = _run(tmp_path, "a")  # one environment's chain
    (first / "manifest.json").unlink()
    problems = audit.verify(str(second))
    assert any("previous manifest" in p.problem and first.name in p.file for p in problems)
    (second / "extra.txt").write_text("x")
    (second / "01_connection.ipynb").unlink()
    found = {Path(p.file).name: p.problem for p in audit.verify(str(second))}
    assert "added" in found["extra.txt"] and "missing" in found["01_connection.ipynb"]


def test_verify_of_an_altered_earlier_manifest_breaks_the_chain(tmp_path: Path) -> None:
    first = _run(tmp_path, "a")
    second = _run(tmp_path, "a")
    (first / "manifest.json").write_text((first / "manifest.json").read_text().replace('"a"', '"x"'))
    assert audit.verify(str(second))


def test_history_one_row_per_run_with_filter(tmp_path: Path) -> None:
    _run(tmp_path, "a")
    _run(tmp_path, "b", action="down", status="failed")
    (tmp_path / "not-a-run").mkdir()
    table = audit.history(str(tmp_path))
    assert list(table.columns) == list(audit.HISTORY_COLUMNS)
    assert table[["name", "action", "status", "changes"]].to_dict("records") == [
        {"name": "a", "action": "up", "status": "succeeded", "changes": 1},
        {"name": "b", "action": "down", "status": "failed", "changes": 1},
    ]
    assert list(audit.history(str(tmp_path), name="b")["name"]) == ["b"]
    assert not table[["account", "service_url", "caller"]].isna().any().any()  # blank, never NaN
    assert audit.history(str(tmp_path / "nothing")).empty


def test_git_commit_of_this_checkout() -> None:
    commit = audit.git_commit()
    assert commit is None or len(commit.split("+")[0]) == 40
