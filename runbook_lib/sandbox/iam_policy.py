"""Evaluate IAM identity-based policies for one request (pure: documents and a request context in, a
decision out). The sandbox's ``--enforce-iam`` uses it; it follows AWS's policy evaluation logic for
what the runbook's policies use:

- ``Action`` / ``NotAction`` (case-insensitive, ``*`` and ``?`` wildcards), ``Resource`` /
  ``NotResource`` (ARN wildcards, case-sensitive);
- an explicit ``Deny`` wins over any ``Allow``; nothing allowed is an implicit deny;
- ``Condition`` operators ``String*`` (Equals, NotEquals, EqualsIgnoreCase, NotEqualsIgnoreCase, Like,
  NotLike), ``Arn*`` (Equals, Like, NotEquals, NotLike), ``Bool`` and ``Null``, each with ``IfExists``
  and the ``ForAnyValue:`` / ``ForAllValues:`` set qualifiers. Operators, keys and values are ANDed
  across, values ORed within; condition key names are case-insensitive.

Not evaluated: policy variables (``${aws:username}``), numeric / date / IP / binary operators, the
``Principal`` element (resource policies), permission boundaries, session policies and SCPs.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

__all__ = ["Decision", "Check", "evaluate", "first_denied"]


class Decision(enum.Enum):
    """The outcome for one (action, resource) pair."""

    ALLOWED = "allowed"
    EXPLICIT_DENY = "explicit deny"
    IMPLICIT_DENY = "implicit deny"


@dataclass(frozen=True)
class Check:
    """One (action, resource) the request must be allowed, with its condition context (key → values)."""

    action: str
    resource: str
    context: Mapping[str, Sequence[str]] = field(default_factory=dict)


@lru_cache(maxsize=4096)
def _pattern(glob: str, ignore_case: bool) -> re.Pattern[str]:
    body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in glob)
    return re.compile(f"{body}\\Z", re.DOTALL | (re.IGNORECASE if ignore_case else 0))


def _glob(pattern: str, value: str, *, ignore_case: bool = False) -> bool:
    """IAM wildcard match: ``*`` any run of characters, ``?`` exactly one."""
    return _pattern(pattern, ignore_case).match(value) is not None


def _listed(value: Any) -> list[str]:
    if value is None:
        return []
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


def _action_matches(statement: Mapping[str, Any], action: str) -> bool:
    if "NotAction" in statement:
        return not any(_glob(p, action, ignore_case=True) for p in _listed(statement["NotAction"]))
    return any(_glob(p, action, ignore_case=True) for p in _listed(statement.get("Action")))


def _resource_matches(statement: Mapping[str, Any], resource: str) -> bool:
    if "NotResource" in statement:
        return not any(_arn_like(p, resource) for p in _listed(statement["NotResource"]))
    return any(_arn_like(p, resource) for p in _listed(statement.get("Resource")))


def _arn_like(pattern: str, arn: str) -> bool:
    """ARN match segment by segment (the first five ``:``-separated parts cannot swallow each other)."""
    if pattern == "*":
        return True
    p_parts, a_parts = pattern.split(":", 5), arn.split(":", 5)
    if len(p_parts) != 6 or len(a_parts) != 6:
        return _glob(pattern, arn)
    return all(_glob(p, a) for p, a in zip(p_parts, a_parts, strict=True))


# ------------------------------------------------------------------------------------------ conditions

_MATCHERS = {
    "StringEquals": lambda p, v: p == v,
    "StringEqualsIgnoreCase": lambda p, v: p.lower() == v.lower(),
    "StringLike": lambda p, v: _glob(p, v),
    "ArnEquals": lambda p, v: p == v,
    "ArnLike": _arn_like,
    "Bool": lambda p, v: p.lower() == v.lower(),
}
_NEGATED = {
    "StringNotEquals": "StringEquals",
    "StringNotEqualsIgnoreCase": "StringEqualsIgnoreCase",
    "StringNotLike": "StringLike",
    "ArnNotEquals": "ArnEquals",
    "ArnNotLike": "ArnLike",
}


class UnsupportedCondition(ValueError):
    """A condition operator this evaluator does not implement (it never guesses)."""


def _condition_holds(
    operator: str, key: str, wanted: list[str], context: Mapping[str, Sequence[str]]
) -> bool:
    qualifier, _, op = operator.rpartition(":")
    if_exists = op.endswith("IfExists")
    op = op.removesuffix("IfExists")
    values = context.get(key.lower())
    if op == "Null":
        absent = not values
        return any((w.lower() == "true") == absent for w in wanted)
    negated = op in _NEGATED
    matcher = _MATCHERS.get(_NEGATED.get(op, op))
    if matcher is None:
        raise UnsupportedCondition(f"condition operator {operator!r} is not evaluated by the sandbox")

    def hit(value: str) -> bool:
        return any(matcher(p, value) for p in wanted)

    if not values:
        if qualifier == "ForAllValues":
            return True
        if qualifier == "ForAnyValue":
            return False
        return if_exists or negated
    if qualifier == "ForAllValues":
        return all(hit(v) != negated for v in values)
    if qualifier == "ForAnyValue":
        return any(hit(v) != negated for v in values)
    return any(hit(v) for v in values) != negated


def _conditions_hold(statement: Mapping[str, Any], context: Mapping[str, Sequence[str]]) -> bool:
    block = statement.get("Condition") or {}
    return all(
        _condition_holds(operator, key, _listed(wanted), context)
        for operator, keys in block.items()
        for key, wanted in keys.items()
    )


# ------------------------------------------------------------------------------------------ evaluation


def _statements(policies: Iterable[Mapping[str, Any]]) -> Iterable[Mapping[str, Any]]:
    for policy in policies:
        found = policy.get("Statement", [])
        yield from [found] if isinstance(found, dict) else found


def evaluate(policies: Iterable[Mapping[str, Any]], check: Check) -> Decision:
    """The decision of these identity-based policy documents for one (action, resource, context)."""
    context = {k.lower(): list(v) for k, v in check.context.items()}
    allowed = False
    for statement in _statements(policies):
        if not (_action_matches(statement, check.action) and _resource_matches(statement, check.resource)):
            continue
        if not _conditions_hold(statement, context):
            continue
        if statement.get("Effect") == "Deny":
            return Decision.EXPLICIT_DENY
        allowed = allowed or statement.get("Effect") == "Allow"
    return Decision.ALLOWED if allowed else Decision.IMPLICIT_DENY


def first_denied(
    policies: Sequence[Mapping[str, Any]], checks: Iterable[Check]
) -> tuple[Check, Decision] | None:
    """The first check these policies do not allow (with why), or None when every one is allowed."""
    for check in checks:
        decision = evaluate(policies, check)
        if decision is not Decision.ALLOWED:
            return check, decision
    return None
