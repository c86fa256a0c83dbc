"""One ownership rule for every kind of resource, and the tags the runbook manages.

A resource is the runbook's when it carries ``runbook:name=<name>``. The runbook creates, updates,
replaces and deletes only its own. A same-named resource it does not own stops ``plan`` and ``up``
before any mutating call (``NotOwned``, naming it with its ARN and tags and the two ways out), unless the
params adopt it (``adopt: [instance_role, …]``): adopting tags it, and from then on it is owned.

Tags: the runbook manages the keys it set — ``runbook:*`` and the params' ``tags`` — and remembers the
params' keys in ``runbook:tags`` (keys joined by ``+``), so a key removed from the params is removed from
the resource, while keys set by others (organisation auto-tagging such as ``CostCenter``) stay and are no
change.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from runbook_lib.errors import RunbookError
from runbook_lib.params import ADOPTABLE, MANAGED_TAG, OWNER_TAG, Params
from runbook_lib.results import Change

__all__ = [
    "ADOPTABLE",
    "Foreign",
    "NotOwned",
    "diff_owned_tags",
    "is_owned",
    "owner_of",
    "tag_changes",
    "tag_list",
    "tag_map",
    "claim",
]


def tag_list(tags: dict[str, str]) -> list[dict[str, str]]:
    """AWS's ``[{"Key", "Value"}]`` form of a tag mapping (sorted by key)."""
    return [{"Key": k, "Value": v} for k, v in sorted(tags.items())]


def tag_map(tags: Any) -> dict[str, str]:
    """A tag mapping from AWS's list form (``Key``/``Value``) or from a mapping."""
    if isinstance(tags, dict):
        return {str(k): str(v) for k, v in tags.items()}
    return {t["Key"]: t.get("Value", "") for t in tags or []}


def owner_of(tags: dict[str, str]) -> str | None:
    """The environment that owns a resource with these tags, or None."""
    return tags.get(OWNER_TAG)


def is_owned(params: Params, tags: dict[str, str]) -> bool:
    """Whether these tags make the resource this environment's."""
    return owner_of(tags) == params.name


def diff_owned_tags(params: Params, observed: dict[str, str]) -> tuple[dict[str, str], list[str]]:
    """(tags to set, keys to remove): only keys the runbook set now or before (``runbook:tags``)."""
    desired = params.owned_tags
    before = {k for k in observed.get(MANAGED_TAG, "").split("+") if k}
    before |= {k for k in observed if k.startswith("runbook:")}
    to_set = {k: v for k, v in desired.items() if observed.get(k) != v}
    to_remove = sorted(k for k in before if k in observed and k not in desired and not k.startswith("aws:"))
    return to_set, to_remove


def tag_changes(params: Params, tags: dict[str, str]) -> tuple[Change, ...]:
    """The plan's ``tags`` change (observed: keys to remove, desired: tags to set), or none."""
    to_set, to_remove = diff_owned_tags(params, tags)
    return (Change("tags", sorted(to_remove) or None, to_set or None),) if to_set or to_remove else ()


@dataclass(frozen=True)
class Foreign:
    """A same-named resource the runbook does not own."""

    kind: str  # one of ADOPTABLE
    name: str
    arn: str | None
    tags: dict[str, str]

    def __str__(self) -> str:
        owner = owner_of(self.tags)
        whose = f"owned by environment {owner!r}" if owner else f"without the {OWNER_TAG} tag"
        tags = ", ".join(f"{k}={v}" for k, v in sorted(self.tags.items())) or "no tags"
        return f"{self.kind} {self.name} ({self.arn or 'no ARN'}) is {whose}; tags: {tags}"


class NotOwned(RunbookError):
    """Same-named resources that the runbook does not own; nothing was changed."""

    def __init__(self, params_name: str, foreign: list[Foreign]) -> None:
        self.foreign = foreign
        lines = "\n".join(f"  - {f}" for f in foreign)
        kinds = ", ".join(dict.fromkeys(f.kind for f in foreign))
        detail = (
            f"Refusing to act on environment {params_name}: {len(foreign)} resource(s) of its names "
            f"belong to someone else; nothing was changed.\n{lines}\n"
            "Either give them other names in the params (e.g. instance.role_name, network.connector_name, "
            f"autoscaling.name), or adopt them explicitly with `adopt: [{kinds}]` (adopting tags them "
            f"{OWNER_TAG}={params_name}, and `down` will then delete them)."
        )
        super().__init__(detail, environment=params_name, resources=[str(f) for f in foreign])


def claim(params: Params, kind: str, name: str, arn: str | None, tags: dict[str, str]) -> bool:
    """Ownership of a found resource: True when owned, False when adopted (still to be tagged);
    raises NotOwned otherwise."""
    if is_owned(params, tags):
        return True
    if kind in params.adopt:
        return False
    raise NotOwned(params.name, [Foreign(kind, name, arn, tags)])
