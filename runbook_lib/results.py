"""Typed, frozen, serializable results shared by every resource module, the plan and the notebooks."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import Enum
from typing import Any

__all__ = [
    "Action", "Change", "NOT_OWNED", "Result", "diff_fields",
]  # fmt: skip


NOT_OWNED = "not owned by this environment (no runbook:name tag of it): left as it was"


class Action(str, Enum):
    """What a step did (past tense) or would do (plan: present tense)."""

    CREATE = "CREATE"
    UPDATE = "UPDATE"
    REPLACE = "REPLACE"
    DELETE = "DELETE"
    CREATED = "CREATED"
    UPDATED = "UPDATED"
    REPLACED = "REPLACED"
    DELETED = "DELETED"
    UNCHANGED = "UNCHANGED"
    ABSENT = "ABSENT"
    KEPT = "KEPT"  # teardown left it in place: not the runbook's (or still in use by others)

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class Change:
    """One field that differs between the params (desired) and AWS (observed)."""

    field: str
    observed: Any = None
    desired: Any = None

    def __str__(self) -> str:
        return f"{self.field}: {self.observed!r} -> {self.desired!r}"


@dataclass(frozen=True)
class Result:
    """The outcome of one ensure_*/delete_* (or one planned step) on one resource."""

    resource: str  # connection | instance_role | security_group | vpc_connector | autoscaling | service
    name: str
    action: Action
    arn: str | None = None
    changes: tuple[Change, ...] = ()
    detail: str = ""
    console_url: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def changed_fields(self) -> list[str]:
        return [c.field for c in self.changes]

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["action"] = self.action.value
        data["changes"] = [
            {"field": c.field, "observed": c.observed, "desired": c.desired} for c in self.changes
        ]
        return data


def diff_fields(desired: dict[str, Any], observed: dict[str, Any]) -> tuple[Change, ...]:
    """Field-level changes between two flat dicts of already-normalized values."""
    return tuple(
        Change(key, observed.get(key), value) for key, value in desired.items() if observed.get(key) != value
    )
