"""The shape of the package: no import circle, modules and functions within their size limits.

The import graph is built from the source (ast), function-level imports included; imports under
``if TYPE_CHECKING:`` are for the type checker only and are left out.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "runbook_lib"
MODULE_LIMIT = 450
MODELS_LIMIT = 1000  # the App Runner emulator's models
FUNCTION_LIMIT = 60


def _modules() -> dict[str, Path]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The package's modules ``name`` imports, at module level or inside functions."""
    is_package = path.name == "__init__.py"
    found: set[str] = set()

    def resolve(target: str) -> None:
        while target and target not in modules:
            target = target.rpartition(".")[0]
        if target and target != name:
            found.add(target)

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            for alias in node.names:
                resolve(alias.name)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = name.split(".") if is_package else name.split(".")[:-1]
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                resolve(f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(path.read_text()))
    return found


def import_graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: _imports(name, path, modules) for name, path in modules.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import circle, as the list of modules around it, or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def walk(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state and (cycle := walk(nxt)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := walk(node)):
            return cycle
    return None


def test_the_import_graph_of_runbook_lib_is_acyclic() -> None:
    graph = import_graph()
    assert "runbook_lib.runner.pipeline" in graph  # the graph sees the packages' modules
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph) or [])


def test_the_cycle_finder_finds_a_circle() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def _is_data_literal(node: ast.AST) -> bool:
    return isinstance(node, (ast.Dict, ast.List, ast.Tuple, ast.Set, ast.Constant))


def _function_lines(func: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    """The function's lines, not counting those of data literals assigned or returned in its body."""
    lines = func.end_lineno - func.lineno + 1
    for node in ast.walk(func):
        value = getattr(node, "value", None)
        if isinstance(node, (ast.Assign, ast.AnnAssign, ast.Return)) and value is not None:
            if _is_data_literal(value):
                lines -= value.end_lineno - value.lineno
    return lines


def test_no_module_over_its_limit() -> None:
    too_long = {}
    for name, path in _modules().items():
        limit = MODELS_LIMIT if name == "runbook_lib.sandbox.apprunner.models" else MODULE_LIMIT
        count = len(path.read_text().splitlines())
        if count > limit:
            too_long[name] = count
    assert not too_long, f"modules over {MODULE_LIMIT} lines: {too_long}"


def test_no_function_over_60_lines() -> None:
    too_long = {}
    for name, path in _modules().items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                if (count := _function_lines(node)) > FUNCTION_LIMIT:
                    too_long[f"{name}.{node.name}"] = count
    assert not too_long, f"functions over {FUNCTION_LIMIT} lines: {too_long}"
