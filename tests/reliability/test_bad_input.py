"""Bad input is refused before any AWS call: property-based (hypothesis) over malformed parameter
documents and malformed command lines. Every case exits 2 with a message naming the field (or option),
and the sandbox's request log stays empty."""

from __future__ import annotations

import string
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runbook_lib.cli import main

from .conftest import SANDBOX_PARAMS

DELETE = object()
VALID = yaml.safe_load(SANDBOX_PARAMS.read_text())
TOP_LEVEL = {"name", "account_id", "region", "tags", "connection", "source", "instance", "network",
             "public", "autoscaling", "health_check", "audit_dir"}  # fmt: skip

words = st.text(string.ascii_letters + string.digits + "_-", min_size=1, max_size=12)
upper = st.text(string.ascii_uppercase, min_size=1, max_size=8)
not_int = st.one_of(
    st.text(string.ascii_letters, min_size=1, max_size=8), st.lists(st.integers(), max_size=2)
)


def _case(path: str, values: st.SearchStrategy[Any]) -> st.SearchStrategy[tuple[str, Any]]:
    return values.map(lambda v: (path, v))


CASES = st.one_of(
    *[st.just((p, DELETE)) for p in ("name", "account_id", "region", "connection", "source",
                                      "connection.name", "source.repository_url", "source.branch")],
    _case("account_id", st.one_of(st.integers(), st.text(string.digits, max_size=11),
                                  st.text(string.ascii_letters, min_size=1, max_size=12))),
    _case("name", st.one_of(st.text(string.ascii_letters, max_size=3), st.text(min_size=41, max_size=60),
                            st.lists(st.integers(), max_size=2))),
    _case("region", st.text(string.ascii_uppercase + " !", min_size=1, max_size=12)),
    _case("source.port", st.one_of(st.integers(max_value=0), st.integers(min_value=65536), not_int)),
    _case("autoscaling.max_size", st.one_of(st.integers(max_value=0), st.integers(min_value=26), not_int)),
    _case("autoscaling.min_size", st.one_of(st.integers(max_value=0), st.integers(min_value=26), not_int)),
    _case("autoscaling.max_concurrency", st.one_of(st.integers(max_value=0), st.integers(min_value=201))),
    _case("instance.cpu", st.text(string.ascii_letters, min_size=1, max_size=10)),
    _case("source.runtime", upper.map(lambda s: "X" + s)),
    _case("connection.provider", upper.map(lambda s: "Q" + s)),
    _case("source.secrets", words.map(lambda w: {"DB_PASSWORD": "plain-" + w})),
    _case("source.env", words.map(lambda w: {"AWSAPPRUNNER_" + w.upper(): "x"})),
    _case("health_check.interval_s", st.one_of(st.integers(max_value=0), st.integers(min_value=21))),
    _case("public", st.lists(st.integers(), min_size=1, max_size=2)),
    words.filter(lambda w: w not in TOP_LEVEL).map(lambda w: ("zz_" + w, "unexpected")),
)


def _mutate(path: str, value: Any) -> dict[str, Any]:
    doc = yaml.safe_load(yaml.safe_dump(VALID))
    *parents, leaf = path.split(".")
    node = doc
    for part in parents:
        node = node[part]
    if value is DELETE:
        node.pop(leaf, None)
    else:
        node[leaf] = value
    return doc


def _exit_code(argv: list[str]) -> int:
    try:
        return main(argv)
    except SystemExit as exc:  # argparse
        return int(exc.code or 0)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=CASES, command=st.sampled_from(["up", "down", "plan", "validate", "policy"]))
def test_malformed_parameters_are_refused_naming_the_field(
    case: tuple[str, Any], command: str, sandbox_env, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    path, value = case
    sandbox_env.control.clear_requests()
    file = tmp_path / "params.yaml"
    file.write_text(yaml.safe_dump(_mutate(path, value)))
    capsys.readouterr()

    assert _exit_code([command, str(file)]) == 2
    err = capsys.readouterr().err
    assert path in err, (path, value, err)
    assert sandbox_env.control.requests() == []


@pytest.mark.parametrize(
    "text, named",
    [("", "(document)"), ("- a\n- b\n", "(document)"), ("name: [\n", "(yaml)"), ("42\n", "(document)")],
)
def test_documents_that_are_not_a_mapping(sandbox_env, tmp_path: Path, capsys, text: str, named: str) -> None:
    file = tmp_path / "params.yaml"
    file.write_text(text)
    sandbox_env.control.clear_requests()
    assert _exit_code(["up", str(file)]) == 2
    assert named in capsys.readouterr().err
    assert sandbox_env.control.requests() == []


GOOD = str(SANDBOX_PARAMS)
USAGE = st.one_of(
    words.filter(lambda w: w not in {"up", "down", "plan", "validate", "policy", "history", "audit",
                                     "sandbox"}).map(lambda w: ([w, GOOD], "invalid choice")),  # fmt: skip
    st.sampled_from(["up", "down", "plan", "validate", "policy"]).map(lambda c: ([c], "PARAMS")),
    st.tuples(st.sampled_from(["up", "down"]), not_int.map(str)).map(
        lambda t: ([t[0], GOOD, "--jobs", t[1]], "--jobs")
    ),
    st.tuples(st.sampled_from(["up", "down"]), words.filter(lambda w: w[0] != "-")).filter(
        lambda t: t[1] not in {"preflight", "connection", "instance_role", "network", "autoscaling",
                               "service", "teardown"} and not t[1][:2].isdigit()  # fmt: skip
    ).map(lambda t: ([t[0], GOOD, "--only", t[1]], "--only")),
    st.sampled_from(["--cell-timeout", "--timeout"]).flatmap(
        lambda o: not_int.map(lambda v: (["up", GOOD, o, str(v)], o))
    ),
    words.map(lambda w: (["up", GOOD, "--no-such-" + w.lower()], "unrecognized arguments")),
    st.just((["up", GOOD, "-p", "only_a_name"], "-p")),
    st.just((["plan", GOOD, GOOD], "unrecognized arguments")),
    st.just((["audit", "verify"], "PATH")),
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=USAGE)
def test_malformed_command_lines_exit_2_naming_the_option(
    case: tuple[list[str], str], sandbox_env, capsys: pytest.CaptureFixture
) -> None:
    argv, named = case
    sandbox_env.control.clear_requests()
    capsys.readouterr()
    assert _exit_code(argv) == 2, argv
    err = capsys.readouterr().err
    assert named in err, (argv, err)
    assert sandbox_env.control.requests() == []
