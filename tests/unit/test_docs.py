"""The repository stands alone, and its README agrees with the command line.

- no tracked file points outside the repository (a ``../`` path out of it, an absolute path of the
  machine it was written on, or a Markdown file the repository does not have);
- every command line in the README's examples parses (and the files it names exist), every usage line
  of its "Commands" block names exactly the options that command's ``--help`` lists;
- ``make lab`` ships its JupyterLab settings (no news pop-up) and works as root.
"""

from __future__ import annotations

import argparse
import json
import re
import shlex
import subprocess
from pathlib import Path

import pytest

from runbook_lib.cli import build_parser

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()


def _tracked() -> list[Path]:
    names = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    return [ROOT / n for n in names.split() if (ROOT / n).is_file()]


def _text(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except (UnicodeDecodeError, OSError):
        return None


def test_no_tracked_file_points_outside_the_repository() -> None:
    files = _tracked()
    markdown = {p.name.lower() for p in files if p.suffix == ".md"}
    found = []
    for path in files:
        text = _text(path)
        if text is None:
            continue
        rel = path.relative_to(ROOT)
        for match in re.finditer(r"(?<![\w/.])((?:\.\./)+[\w./-]+)", text):
            target = (path.parent / match.group(1)).resolve()
            if not target.is_relative_to(ROOT):
                found.append(f"{rel}: {match.group(1)} (outside the repository)")
        for match in re.finditer(r"(?<![\w])/(?:work|home|Users)/[\w./-]+", text):
            found.append(f"{rel}: {match.group(0)} (a path of one machine)")
        for match in re.finditer(r"[\w./-]*?([\w-]+\.md)\b", text):
            if match.group(1).lower() not in markdown:
                found.append(f"{rel}: {match.group(0)} (no such document in the repository)")
    assert not found, "\n".join(found)


def _commands(text: str) -> list[list[str]]:
    """The `runbook …` lines of the README's bash examples, as argument lists (comments dropped)."""
    lines = []
    for block in re.findall(r"```bash\n(.*?)```", text, flags=re.S):
        for line in block.splitlines():
            words = shlex.split(line, comments=True)
            if words and Path(words[0]).name == "runbook":
                lines.append(words[1:])
    return lines


def test_every_command_line_in_the_readme_parses() -> None:
    commands = _commands(README)
    assert len(commands) >= 5, commands
    for args in commands:
        try:
            build_parser().parse_args(args)
        except SystemExit as err:
            pytest.fail(f"`runbook {' '.join(args)}` does not parse (exit {err.code})")
        for word in args:
            if word.endswith((".yaml", ".yml")):
                assert (ROOT / word).is_file(), f"the README names {word}, which does not exist"
    targets = set(re.findall(r"^([\w-]+):", (ROOT / "Makefile").read_text(), flags=re.M))
    for target in re.findall(r"^make (\w+)", README, flags=re.M):
        assert target in targets, f"the README runs `make {target}`, which the Makefile lacks"


def _usage_block() -> dict[tuple[str, ...], set[str]]:
    """The "Commands" block: options named per command (continuation lines join the line above)."""
    block = README.split("### Commands", 1)[1].split("```", 2)[1]
    usage: dict[tuple[str, ...], set[str]] = {}
    current: tuple[str, ...] = ()
    for line in block.splitlines():
        if line.startswith("runbook"):
            words = re.findall(r"^runbook((?: [a-z][a-z-]*)*)", line)[0].split()
            current = tuple(words)
            usage.setdefault(current, set())
        usage.setdefault(current, set()).update(re.findall(r"(?<![\w-])(--[a-z][a-z-]*|-p)\b", line))
    return usage


def _subparser(path: tuple[str, ...]) -> argparse.ArgumentParser:
    parser = build_parser()
    for name in path:
        action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        parser = action.choices[name]
    return parser


def _options(parser: argparse.ArgumentParser) -> set[str]:
    named = set()
    for action in parser._actions:
        if action.help == argparse.SUPPRESS or isinstance(action, argparse._HelpAction):
            continue
        long = [o for o in action.option_strings if o.startswith("--")]
        named.update(long[:1] if long else action.option_strings)
    named.discard("--parameter")  # listed as its short form, -p NAME VALUE
    return named | ({"-p"} if "-p" in {o for a in parser._actions for o in a.option_strings} else set())


def test_the_readme_usage_lines_list_what_help_lists() -> None:
    usage = _usage_block()
    assert ("up",) in usage and ("sandbox", "start") in usage and ("audit", "verify") in usage
    for path, listed in usage.items():
        if not path:
            assert listed == {"--version"}
            continue
        parser = _subparser(path)
        with pytest.raises(SystemExit) as done:
            parser.parse_args(["--help"])
        assert done.value.code == 0
        assert listed == _options(parser), f"runbook {' '.join(path)}: README {listed} vs --help"


def test_make_lab_ships_its_settings_and_runs_as_root() -> None:
    makefile = (ROOT / "Makefile").read_text()
    overrides = json.loads((ROOT / "jupyter/lab-settings/overrides.json").read_text())
    assert overrides["@jupyterlab/apputils-extension:notification"]["fetchNews"] == "false"
    assert "--LabApp.app_settings_dir=$(LAB_SETTINGS)" in makefile and "--allow-root" in makefile
    assert "IdentityProvider.token" in makefile and "ServerApp.token" not in makefile
    assert "pip install -q" not in makefile  # pip's own progress shows during the first `make`
