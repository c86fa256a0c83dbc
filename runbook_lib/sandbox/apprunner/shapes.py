"""Server-side validation of App Runner requests against the botocore service model.

botocore checks only required members, types and minimums on the client; the real service also enforces
``max`` bounds, regex patterns and enum values. This module does the same from the same model, and
reports problems in AWS's usual "N validation errors detected" wording.
"""

from __future__ import annotations

import functools
import re
from typing import Any

import botocore.session
from botocore.model import OperationModel, ServiceModel, Shape

__all__ = [
    "SERVICE_NAME", "format_problems", "operation_model", "service_model", "validate_input",
]  # fmt: skip


SERVICE_NAME = "apprunner"


@functools.lru_cache(maxsize=1)
def service_model() -> ServiceModel:
    """The botocore App Runner model (loaded once, on first use)."""
    return botocore.session.get_session().get_service_model(SERVICE_NAME)


def operation_model(name: str) -> OperationModel | None:
    """The operation's model, or None if App Runner has no such operation."""
    model = service_model()
    if name not in model.operation_names:
        return None
    return model.operation_model(name)


@functools.lru_cache(maxsize=256)
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def _lower_first(name: str) -> str:
    return name[:1].lower() + name[1:]


def validate_input(op: OperationModel, params: Any) -> list[str]:
    """Return the list of constraint violations of ``params`` against the operation's input shape."""
    problems: list[str] = []
    if op.input_shape is None:
        return problems
    if not isinstance(params, dict):
        return ["Request body must be a JSON object"]
    _check(op.input_shape, params, "", problems)
    return problems


def _check(shape: Shape, value: Any, path: str, problems: list[str]) -> None:
    kind = shape.type_name
    meta = shape.metadata
    where = path or "request"
    if kind == "structure":
        _check_structure(shape, value, path, problems)
        return
    if kind == "list":
        if not isinstance(value, list):
            problems.append(f"Value at '{where}' failed to satisfy constraint: Member must be a list")
            return
        _check_length(len(value), meta, where, problems, "length")
        for index, item in enumerate(value):
            _check(shape.member, item, f"{where}.{index + 1}.member", problems)
        return
    if kind == "map":
        if not isinstance(value, dict):
            problems.append(f"Value at '{where}' failed to satisfy constraint: Member must be a map")
            return
        for key, item in value.items():
            _check(shape.key, key, f"{where}.key", problems)
            _check(shape.value, item, f"{where}.{key}", problems)
        return
    if kind == "string":
        _check_string(shape, value, where, problems)
        return
    if kind in ("integer", "long"):
        if isinstance(value, bool) or not isinstance(value, int):
            problems.append(f"Value at '{where}' failed to satisfy constraint: Member must be an integer")
            return
        _check_length(value, meta, where, problems, "value")
        return
    if kind == "boolean":
        if not isinstance(value, bool):
            problems.append(f"Value at '{where}' failed to satisfy constraint: Member must be a boolean")
        return


def _check_structure(shape: Shape, value: Any, path: str, problems: list[str]) -> None:
    where = path or "request"
    if not isinstance(value, dict):
        problems.append(f"Value at '{where}' failed to satisfy constraint: Member must be a structure")
        return
    for req in shape.required_members:
        if value.get(req) is None:
            problems.append(
                f"Value null at '{_join(path, req)}' failed to satisfy constraint: "
                "Member must not be null"
            )
    for key, item in value.items():
        if key not in shape.members:
            problems.append(f"Unknown parameter '{_join(path, key)}'")
            continue
        if item is None:
            continue
        _check(shape.members[key], item, _join(path, key), problems)


def _check_string(shape: Shape, value: Any, where: str, problems: list[str]) -> None:
    meta = shape.metadata
    if not isinstance(value, str):
        problems.append(f"Value at '{where}' failed to satisfy constraint: Member must be a string")
        return
    _check_length(len(value), meta, where, problems, "length")
    enum = getattr(shape, "enum", None) or []
    if enum and value not in enum:
        problems.append(
            f"Value '{value}' at '{where}' failed to satisfy constraint: "
            f"Member must satisfy enum value set: [{', '.join(enum)}]"
        )
    pattern = meta.get("pattern")
    if pattern and pattern not in (".*", "^.*$") and not _compiled(pattern).fullmatch(value):
        shown = "***" if shape.metadata.get("sensitive") else value
        problems.append(
            f"Value '{shown}' at '{where}' failed to satisfy constraint: "
            f"Member must satisfy regular expression pattern: {pattern}"
        )


def _check_length(size: int, meta: dict[str, Any], where: str, problems: list[str], what: str) -> None:
    low, high = meta.get("min"), meta.get("max")
    if low is not None and size < low:
        rel = (
            "have value greater than or equal to"
            if what == "value"
            else "have length greater than or equal to"
        )
        problems.append(f"Value at '{where}' failed to satisfy constraint: Member must {rel} {low}")
    if high is not None and size > high:
        rel = "have value less than or equal to" if what == "value" else "have length less than or equal to"
        problems.append(f"Value at '{where}' failed to satisfy constraint: Member must {rel} {high}")


def _join(path: str, key: str) -> str:
    return f"{path}.{_lower_first(key)}" if path else _lower_first(key)


def format_problems(problems: list[str]) -> str:
    """AWS's wording for a list of validation problems."""
    count = len(problems)
    noun = "error" if count == 1 else "errors"
    return f"{count} validation {noun} detected: " + "; ".join(problems)
