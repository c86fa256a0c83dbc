"""The thin CLI: argument handling, exit codes, history and audit verify (no kernel, no AWS)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from runbook_lib import audit
from runbook_lib.cli import build_parser, main

ROOT = Path(__file__).resolve().parents[2]


def test_commands_of_the_contract() -> None:
    parser = build_parser()
    args = parser.parse_args(["up", "a.yaml", "b.yaml", "--jobs", "2", "--only", "service", "--sandbox"])
    assert (args.command, args.params, args.jobs, args.only, args.sandbox) == (
        "up", ["a.yaml", "b.yaml"], 2, "service", True,
    )  # fmt: skip
    args = parser.parse_args(["down", "a.yaml", "--delete-connection", "--audit-dir", "s3://b/p"])
    assert args.delete_connection and args.audit_dir == "s3://b/p"
    args = parser.parse_args(["up", "a.yaml", "-p", "api_token", "x", "-p", "n", "3"])
    assert args.parameter == [["api_token", "x"], ["n", "3"]]
    for argv in (
        ["plan", "a.yaml"],
        ["history", "--json"],
        ["audit", "verify", "runs/x"],
        ["policy", "a.yaml"],
    ):
        assert callable(parser.parse_args(argv).func)
    assert parser.parse_args(["sandbox", "status"]).func


def test_bad_only_and_bad_params_exit_2_before_anything(tmp_path: Path, capsys, no_network) -> None:
    assert main(["up", str(ROOT / "params/sandbox.yaml"), "--only", "nope"]) == 2
    assert "no such step" in capsys.readouterr().err
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\n")
    assert main(["up", str(bad), "--audit-dir", str(tmp_path / "runs")]) == 2
    assert main(["plan", str(bad), "--audit-dir", str(tmp_path / "runs")]) == 2
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize("name", ["params_path", "interactive", "delete_connection"])
def test_runner_owned_parameters_are_refused(name: str, tmp_path: Path, capsys, no_network) -> None:
    argv = ["up", str(ROOT / "params/sandbox.yaml"), "-p", name, "x", "--audit-dir", str(tmp_path / "runs")]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert name in err and "-p" in err and "set by the runner" in err
    assert not (tmp_path / "runs").exists()


def test_history_and_verify(tmp_path: Path, capsys) -> None:
    store = audit.Store(str(tmp_path))
    run = audit.new_run(store, "demo", "up")
    store.write_text(store.join(run, "00_preflight.ipynb"), "{}")
    manifest = audit.Manifest(run_id=run, action="up", name="demo", status="succeeded")
    manifest.files["00_preflight.ipynb"] = audit.sha256_text("{}")
    audit.write_manifest(store, run, manifest)

    assert main(["history", "--audit-dir", str(tmp_path), "--json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert row["name"] == "demo" and row["status"] == "succeeded"
    assert main(["history", "--audit-dir", str(tmp_path)]) == 0
    assert "demo" in capsys.readouterr().out

    assert main(["audit", "verify", str(tmp_path / run)]) == 0
    (tmp_path / run / "00_preflight.ipynb").write_text("{ }")
    assert main(["audit", "verify", str(tmp_path / run)]) == 1
    assert "00_preflight.ipynb" in capsys.readouterr().err


def test_policy_prints_json(capsys) -> None:
    assert main(["policy", str(ROOT / "params/example-go.yaml")]) == 0
    assert json.loads(capsys.readouterr().out)["Version"] == "2012-10-17"


@pytest.mark.parametrize(
    "pairs,expected", [([["n", "3"], ["flag", "true"], ["s", "abc"]], {"n": 3, "flag": True, "s": "abc"})]
)
def test_extra_parameters_are_yaml_scalars(pairs, expected) -> None:
    from runbook_lib.cli import _parameters

    assert _parameters(pairs) == expected


@pytest.mark.parametrize(
    ("option", "value"),
    [("--cell-timeout", "NAN"), ("--timeout", "inf"), ("--cell-timeout", "-1"), ("--jobs", "0")],
)
def test_nonsense_numbers_are_usage_errors(option: str, value: str, capsys) -> None:
    with pytest.raises(SystemExit) as info:
        main(["up", "params/sandbox.yaml", option, value])
    assert info.value.code == 2 and option in capsys.readouterr().err
