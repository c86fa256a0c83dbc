"""Last in the suite (file order): scan every file of every run folder this test session produced.

It walks pytest's base temp folder (every test's tmp_path, so every audit dir the suite's runs wrote)
and the repository's own ``runs/``, and fails naming the file if any holds an AWS access key id, or a
secret value the suite used (credentials in the environment, a secret-named ``-p`` parameter).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from .conftest import ROOT, SECRET_VALUES

ACCESS_KEY = re.compile(r"(?<![A-Z0-9])(AKIA|ASIA)[A-Z0-9]{16}(?![A-Z0-9])")
# the distinctive values the notebook tests use, too
OTHER_SECRETS = ("Zq9SECRETkeyXw7distinctive/KJ2r0000AAAAbb", "ghp_distinctiveTOKEN4242")


def run_files(*roots: Path) -> list[Path]:
    """Every file inside an audit dir (a folder named ``runs``) under the roots."""
    found: set[Path] = set()
    for root in roots:
        if not root.is_dir():
            continue
        for runs_dir in [root] if root.name == "runs" else root.rglob("runs"):
            if runs_dir.is_dir():
                found.update(p for p in runs_dir.rglob("*") if p.is_file())
    return sorted(found)


def hits(path: Path) -> list[str]:
    text = path.read_text(encoding="utf-8", errors="replace")
    found = [m.group(0) for m in ACCESS_KEY.finditer(text)]
    found += [f"secret value {v[:6]}…" for v in (*SECRET_VALUES, *OTHER_SECRETS) if v in text]
    return found


def test_no_secret_in_any_run_folder_of_the_session(tmp_path_factory: pytest.TempPathFactory) -> None:
    files = run_files(tmp_path_factory.getbasetemp(), ROOT / "runs")
    notebooks = [f for f in files if f.suffix == ".ipynb"]
    assert notebooks and any(f.name == "manifest.json" for f in files), "the suite should have made runs"
    leaks = {str(f): h for f in files if (h := hits(f))}
    assert leaks == {}, leaks


def test_the_scan_finds_a_planted_secret(tmp_path: Path) -> None:
    run = tmp_path / "runs" / "20240101T000000Z_x_up"
    run.mkdir(parents=True)
    (run / "manifest.json").write_text('{"key": "AKIAABCDEFGHIJKLMNOP"}')
    (run / "01.ipynb").write_text(f'"{SECRET_VALUES[1]}"')
    (run / "clean.ipynb").write_text("{}")
    found = {f.name: hits(f) for f in run_files(tmp_path)}
    assert found["manifest.json"] == ["AKIAABCDEFGHIJKLMNOP"]
    assert found["01.ipynb"] and not found["clean.ipynb"]
    for f in run.iterdir():
        f.unlink()
    run.rmdir()  # keep the session scan free of this planted run
