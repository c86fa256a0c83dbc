"""Eventual consistency of the App Runner emulator: what List*/Describe* see, ``consistency_delay`` late.

With ``SandboxConfig.consistency_delay`` = D seconds (0, the default, turns all of this off):

- an auto scaling configuration revision, a VPC connector or a connection that was created less than D
  seconds ago (on the emulator's clock) is absent from List* and Describe* (ResourceNotFoundException);
- one deleted less than D seconds ago is still listed and described as it was before the delete: ACTIVE,
  no DeletedAt (a connection keeps its old status, e.g. AVAILABLE).

The Terraform AWS provider waits for exactly these windows (``internal/service/apprunner/``): up to 2 min
for a new auto scaling configuration or VPC connector to be readable and ACTIVE, 2 min for a deleted one
to leave ACTIVE, 5 min for a deleted connection to disappear.

Only reads are delayed; writes (create, delete, CreateService referencing an ARN, …) see the truth.
Services are not delayed: their asynchrony is already visible through their status (CreateService answers
OPERATION_IN_PROGRESS, a deleted service is DELETED before it disappears), which clients wait on anyway.
The account-provided ``DefaultConfiguration`` is never hidden.
"""

from __future__ import annotations

import dataclasses
from typing import TypeVar

from runbook_lib.sandbox.apprunner.models import (
    DEFAULT_SUFFIX,
    AppRunnerBackend,
    AutoScalingConfiguration,
    Connection,
    ResourceNotFoundException,
    VpcConnector,
)

__all__ = [
    "Item", "describe_asc", "describe_vpc_connector", "list_ascs", "list_connections",
    "list_vpc_connectors", "view",
]  # fmt: skip


Item = TypeVar("Item", AutoScalingConfiguration, VpcConnector, Connection)


def _delay(backend: AppRunnerBackend) -> float:
    return backend.config.consistency_delay


def view(backend: AppRunnerBackend, item: Item) -> Item | None:
    """What reads see of ``item`` now: None while its creation is not visible, its pre-delete state while
    its deletion is not, else the item itself."""
    delay, now = _delay(backend), backend.now()
    if delay <= 0 or item.arn.endswith(DEFAULT_SUFFIX):
        return item
    if now - item.created_at < delay:
        return None
    if item.deleted_at is None or now - item.deleted_at >= delay:
        return item
    if isinstance(item, Connection):
        return dataclasses.replace(item, status=item.status_before_delete or "AVAILABLE", deleted_at=None)
    return dataclasses.replace(item, status="ACTIVE", deleted_at=None)


def _visible(backend: AppRunnerBackend, items: list[Item]) -> list[Item]:
    return [seen for seen in (view(backend, i) for i in items) if seen is not None]


def _seen_or_404(backend: AppRunnerBackend, item: Item, what: str) -> Item:
    seen = view(backend, item)
    if seen is None:
        raise ResourceNotFoundException(f"{what} not found: {item.arn}")
    return seen


# ------------------------------------------------------------------------------ the delayed reads


def describe_asc(backend: AppRunnerBackend, arn: str) -> AutoScalingConfiguration:
    """DescribeAutoScalingConfiguration as the delay lets it be seen."""
    return _seen_or_404(backend, backend.resolve_asc(arn), "Auto scaling configuration")


def list_ascs(
    backend: AppRunnerBackend, name: str | None, latest_only: bool
) -> list[AutoScalingConfiguration]:
    """ListAutoScalingConfigurations: the visible ACTIVE revisions (only the newest per name if asked)."""
    if _delay(backend) <= 0:
        return backend.list_ascs(name, latest_only)
    named = [a for a in backend.ascs.values() if name is None or a.name == name]
    items = [a for a in _visible(backend, named) if a.status == "ACTIVE"]
    if latest_only:
        newest: dict[str, int] = {}
        for asc in items:
            newest[asc.name] = max(newest.get(asc.name, 0), asc.revision)
        items = [a for a in items if a.revision == newest[a.name]]
    return sorted(items, key=lambda a: (a.name, a.revision))


def describe_vpc_connector(backend: AppRunnerBackend, arn: str) -> VpcConnector:
    """DescribeVpcConnector as the delay lets it be seen."""
    return _seen_or_404(backend, backend.describe_vpc_connector(arn), "VPC connector")


def list_vpc_connectors(backend: AppRunnerBackend) -> list[VpcConnector]:
    """ListVpcConnectors as the delay lets it be seen."""
    return _visible(backend, backend.list_vpc_connectors())


def list_connections(backend: AppRunnerBackend, name: str | None) -> list[Connection]:
    """ListConnections as the delay lets it be seen."""
    return _visible(backend, backend.list_connections(name))
