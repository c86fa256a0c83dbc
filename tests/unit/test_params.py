"""Parameter validation: good files load with their defaults; every bad file names its field."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from runbook_lib.cli import main
from runbook_lib.errors import ParameterError
from runbook_lib.params import CPU_MEMORY_PAIRS, Params, api_shape, load_params, parse_params

ROOT = Path(__file__).resolve().parents[2]
BAD = Path(__file__).parent / "bad_params"


def expectation(path: Path) -> tuple[str, str]:
    text = (path / "README").read_text() if path.is_dir() else path.read_text()
    field, fragment = re.search(r"expect: (\S+) :: (.+)", text).groups()
    return field, fragment.strip()


BAD_FILES = sorted(BAD.iterdir())


def test_corpus_is_large_enough() -> None:
    assert len(BAD_FILES) >= 30


@pytest.mark.parametrize("path", BAD_FILES, ids=[p.stem for p in BAD_FILES])
def test_bad_file_exits_2_naming_the_field(path: Path, capsys, no_network) -> None:
    field, fragment = expectation(path)
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip().startswith("- ")]
    assert any(line.strip().startswith(f"- {field}:") for line in lines), err
    assert fragment in err, err
    assert no_network == []


def test_examples_validate(no_network) -> None:
    for name in ("example-go.yaml", "sandbox.yaml"):
        assert main(["validate", str(ROOT / "params" / name)]) == 0


def test_example_go_is_the_classic_case() -> None:
    p = load_params(ROOT / "params" / "example-go.yaml")
    assert (p.source.runtime, p.source.port, p.source.env) == ("GO_1", 8080, {"ENV1": "hello"})
    assert (p.instance.cpu, p.instance.memory) == ("1 vCPU", "2 GB")
    assert len(p.network.subnet_ids) == 2
    assert (p.autoscaling.max_concurrency, p.autoscaling.min_size, p.autoscaling.max_size) == (100, 1, 25)
    assert (p.health_check.protocol, p.health_check.path) == ("HTTP", "/")


def test_every_example_field_is_commented() -> None:
    for line in (ROOT / "params" / "example-go.yaml").read_text().splitlines():
        if re.match(r"\s*[a-z_]+:", line):
            assert "#" in line, f"uncommented field: {line}"


def test_validate_cli_subprocess_exit_codes(tmp_path: Path) -> None:
    ok = subprocess.run(
        [sys.executable, "-m", "runbook_lib.cli", "validate", str(ROOT / "params/sandbox.yaml")],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin"},
    )
    assert ok.returncode == 0 and "OK" in ok.stdout and ok.stdout.count("\n") == 1
    bad = subprocess.run(
        [sys.executable, "-m", "runbook_lib.cli", "validate", str(BAD / "max_size_too_big.yaml")],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin"},
    )
    assert bad.returncode == 2 and "autoscaling.max_size" in bad.stderr


def test_all_problems_reported_at_once() -> None:
    doc = {
        "name": "x",
        "account_id": 1,
        "region": "nowhere",
        "connection": {"name": "ab", "provider": "SVN"},
        "source": {"repository_url": "ftp://x", "branch": "", "runtime": "COBOL"},
        "instance": {"cpu": "9 vCPU"},
        "autoscaling": {"max_size": 99},
    }
    with pytest.raises(ParameterError) as info:
        parse_params(doc)
    fields = {p.field for p in info.value.problems}
    assert {
        "name",
        "account_id",
        "region",
        "connection.name",
        "connection.provider",
        "source.repository_url",
        "source.branch",
        "source.runtime",
        "instance.cpu",
        "autoscaling.max_size",
    } <= fields


def test_defaults_and_derived_names() -> None:
    p = parse_params(
        {
            "name": "my-app",
            "account_id": "123456789012",
            "region": "eu-west-1",
            "connection": {"name": "gh-conn"},
            "source": {"repository_url": "https://github.com/o/r", "branch": "main", "runtime": "GO_1"},
        }
    )
    assert p.instance.role_name == "my-app-instance" and p.autoscaling.name == "my-app"
    assert p.network is None and p.public is True and p.source.source_directory == "/"
    assert (p.autoscaling.max_concurrency, p.autoscaling.min_size, p.autoscaling.max_size) == (100, 1, 25)
    assert p.health_check.model_dump() == {
        "protocol": "TCP",
        "path": "/",
        "interval_s": 5,
        "timeout_s": 2,
        "healthy_threshold": 1,
        "unhealthy_threshold": 5,
    }
    assert p.connection.handshake_timeout_s == 900 and p.audit_dir == "runs"
    assert p.owned_tags == {"runbook:name": "my-app"}  # no params tags: no runbook:tags either
    assert p.adopt == []
    tagged = parse_params(
        {**p.model_dump(include={"account_id", "region"}), "name": "my-app", "tags": {"z": "1", "a": "2"},
         "connection": {"name": "gh-conn"}, "adopt": ["service", "connection"],
         "source": {"repository_url": "https://github.com/o/r", "branch": "main", "runtime": "GO_1"}}
    )  # fmt: skip
    assert tagged.owned_tags == {"z": "1", "a": "2", "runbook:name": "my-app", "runbook:tags": "a+z"}
    assert tagged.adopt == ["service", "connection"]


@pytest.mark.parametrize(
    ("cpu", "memory", "want"),
    [
        ("1024", "2048", ("1 vCPU", "2 GB")),
        (256, 512, ("0.25 vCPU", "0.5 GB")),
        ("4 vcpu", "12 gb", ("4 vCPU", "12 GB")),
    ],
)
def test_cpu_memory_accept_both_api_forms(cpu, memory, want) -> None:
    p = load_params(ROOT / "params/sandbox.yaml", overrides={"instance.cpu": cpu, "instance.memory": memory})
    assert (p.instance.cpu, p.instance.memory) == want


def test_every_cpu_memory_pair_matches_api_pattern() -> None:
    cpu_pattern, mem_pattern = api_shape("Cpu")["pattern"], api_shape("Memory")["pattern"]
    for cpu, memories in CPU_MEMORY_PAIRS.items():
        assert re.fullmatch(cpu_pattern, cpu)
        assert all(re.fullmatch(mem_pattern, m) for m in memories)


def test_overrides_are_validated_too() -> None:
    with pytest.raises(ParameterError) as info:
        load_params(ROOT / "params/sandbox.yaml", overrides={"autoscaling.max_size": 0})
    assert info.value.problems[0].field == "autoscaling.max_size"


def test_yaml_error_gives_line_and_column() -> None:
    with pytest.raises(ParameterError) as info:
        load_params(BAD / "broken_yaml.yaml")
    assert re.search(r"line \d+, column \d+", str(info.value))


def test_runtime_enum_comes_from_botocore_model() -> None:
    assert "GO_1" in api_shape("Runtime")["enum"]
    assert set(Params.model_fields) >= {
        "name",
        "account_id",
        "region",
        "tags",
        "connection",
        "source",
        "instance",
        "network",
        "public",
        "autoscaling",
        "health_check",
        "audit_dir",
    }
