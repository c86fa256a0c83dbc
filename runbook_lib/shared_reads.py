"""Listings shared by every process of a batch: one ListServices pass serves the lookups and operation
polls of many environments.

Each environment of a batch runs in its own kernel process, and each looks up its services, VPC
connectors, source connections and auto scaling revisions by name, and polls its own service operation,
while every App Runner request takes a token of the batch's shared budget (``runbook_lib.throttle``).
So a listing is kept in a small file next to the budget's (``RUNBOOK_BUDGET_DIR``), with the time its
request was sent, under the same ``flock`` style; any process may answer a lookup from it instead of
listing again. A lookup that a single run makes by name (ListConnections with ConnectionName,
ListAutoScalingConfigurations with AutoScalingConfigurationName) shares an unfiltered pass instead and
picks its name out of it; beyond ``SHARED_MAX_PAGES`` pages, it asks for its name alone again.

A snapshot is only used when it cannot hide a change the caller must see:

- it is at most ``max_age`` seconds old and was sent after the caller's own bound (``since``: e.g. the
  start of an operation wait, or its previous poll); and
- it was sent after the last change any process sharing the folder made (and saw answered) to a
  resource the caller looks for: every mutating App Runner call through these clients records the
  time it was answered, per resource name (``note_mutation``), before anything can read it.

So a snapshot never predates the caller's own write, as with AWS's own reads it may lag another
writer's by at most ``max_age``. Only a batch shares (``runbook up A B … --jobs N``, ``batch_folder``):
its snapshots live in a folder of its own, removed at its end; a single run lists as before.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import re
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from runbook_lib import throttle

__all__ = [
    "ENABLE_ENV", "KEEP_S", "LOOKUP_MAX_AGE_S", "POLL_MAX_AGE_S", "POLL_MAX_PAGES", "SHARED_MAX_PAGES",
    "SharedReads", "Snapshot",
    "batch_folder", "from_environment", "resource_of",
]  # fmt: skip

log = logging.getLogger(__name__)

ENABLE_ENV = "RUNBOOK_SHARED_READS"
LOOKUP_MAX_AGE_S = 5.0  # a lookup before a step changes anything may use a listing this old
# an operation poll may use a listing this old (and newer than its previous poll): each second of it may
# hide the end of the operation until the next poll (up to 10 s later), so it stays short
POLL_MAX_AGE_S = 0.5
POLL_MAX_PAGES = 3  # beyond this many pages of ListServices, a poll asks for its own operation instead
# beyond this many pages of a shared pass, a lookup that can list its own name alone does so (one request)
SHARED_MAX_PAGES = 3
KEEP_S = 600.0  # change records older than this are dropped (every max_age is far below it)
_LOCAL = threading.Lock()  # flock excludes other processes; this, our own threads
# App Runner ARNs: arn:aws:apprunner:<region>:<account>:<type>/<name>/<id...> (App Runner API reference,
# "Service" and "VpcConnector" data types: ServiceArn, VpcConnectorArn)
_ARN = re.compile(r"^arn:[^:]+:apprunner:[^:]*:[^:]*:([a-z]+)/([^/]+)")
_NAMES = {
    "ServiceName": "service", "VpcConnectorName": "vpcconnector", "ConnectionName": "connection",
    "AutoScalingConfigurationName": "autoscalingconfiguration",
}  # fmt: skip
_ARNS = ("ServiceArn", "VpcConnectorArn", "ConnectionArn", "AutoScalingConfigurationArn", "ResourceArn")


def resource_of(request: dict[str, Any]) -> str | None:
    """``type/name`` of the App Runner resource a request acts on (``service/app``), or None."""
    for member, kind in _NAMES.items():
        if isinstance(request.get(member), str):
            return f"{kind}/{request[member]}"
    for member in _ARNS:
        found = _ARN.match(str(request.get(member) or ""))
        if found:
            return f"{found.group(1)}/{found.group(2)}"
    return None


@dataclass(frozen=True)
class Snapshot:
    """One listing: its items, when its first request was sent (wall clock) and its page count."""

    items: list[dict[str, Any]]
    sent: float
    pages: int = 1


@dataclass(frozen=True)
class SharedReads:
    """Snapshots of listings and the change records of one account and region, in ``folder``."""

    key: str
    folder: Path = field(default_factory=throttle.default_dir)
    clock: Callable[[], float] = time.time  # wall clock: shared by every process on the machine

    def _path(self, what: str) -> Path:
        return self.folder / re.sub(r"[^A-Za-z0-9_.-]", "_", f"shared-{self.key}-{what}.json")

    @contextlib.contextmanager
    def _locked(self, what: str) -> Iterator[Any]:
        self.folder.mkdir(parents=True, exist_ok=True)
        with _LOCAL, open(self._path(what), "a+") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            fh.seek(0)
            yield fh

    @staticmethod
    def _load(fh: Any) -> dict[str, Any]:
        try:
            found = json.loads(fh.read() or "{}", object_hook=_decode)
        except ValueError:  # a torn or foreign file: start afresh
            return {}
        return found if isinstance(found, dict) else {}

    @staticmethod
    def _store(fh: Any, data: dict[str, Any]) -> None:
        fh.seek(0)
        fh.truncate()
        fh.write(json.dumps(data, default=_encode))
        fh.flush()

    def note_mutation(self, resource: str) -> None:
        """Record that a change of ``resource`` (``type/name``) was just answered."""
        now = self.clock()
        with self._locked("changes") as fh:
            changes = {k: v for k, v in self._load(fh).items() if v > now - KEEP_S}
            changes[resource] = now
            self._store(fh, changes)

    def changed_since(self, concerns: Callable[[str], bool]) -> float:
        """When a resource the caller looks for was last changed (0.0: not recently)."""
        with self._locked("changes") as fh:
            changes = self._load(fh)
        return max((t for r, t in changes.items() if concerns(r)), default=0.0)

    def peek(self, operation: str) -> Snapshot | None:
        """The current snapshot of ``operation``, however old."""
        with self._locked(operation) as fh:
            return _snapshot(self._load(fh))

    def over_pages(self, operation: str, limit: int) -> bool:
        """Whether the last pass of ``operation`` took more than ``limit`` pages (a big account: sharing
        one pass then costs more requests than asking for one's own name or operation)."""
        last = self.peek(operation)
        return last is not None and last.pages > limit

    def listing(
        self,
        operation: str,
        fetch: Callable[[], tuple[list[dict[str, Any]], int]],
        *,
        concerns: Callable[[str], bool],
        max_age: float,
        since: float = 0.0,
    ) -> Snapshot:
        """A snapshot fresh enough for the caller (see the module), or a new one from ``fetch``.

        ``fetch`` returns the items and the pages it read. It runs under the file's lock, so processes
        asking at once wait for one pass instead of each listing.
        """
        changed = self.changed_since(concerns)
        bound = max(since, self.clock() - max_age)
        with self._locked(operation) as fh:
            found = _snapshot(self._load(fh))
            if found is not None and found.sent >= bound and found.sent > changed:
                return found
            sent = self.clock()
            items, pages = fetch()
            self._store(fh, {"items": items, "sent": sent, "pages": pages})
            return Snapshot(items, sent, pages)


_WHEN = "__datetime__"  # botocore parses timestamps (CreatedAt, …) to datetimes: kept as such


def _encode(value: Any) -> Any:
    if isinstance(value, datetime):
        return {_WHEN: value.isoformat()}
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _decode(obj: dict[str, Any]) -> Any:
    return datetime.fromisoformat(obj[_WHEN]) if set(obj) == {_WHEN} else obj


def _snapshot(data: dict[str, Any]) -> Snapshot | None:
    try:
        return Snapshot(list(data["items"]), float(data["sent"]), int(data.get("pages", 1)))
    except (KeyError, TypeError, ValueError):
        return None


def from_environment(account: str | None, region: str | None) -> SharedReads | None:
    """The shared listings of this account and region, when a batch shares them (``ENABLE_ENV``)."""
    folder = os.environ.get(ENABLE_ENV, "").strip()
    if not folder:
        return None
    return SharedReads(f"apprunner-{account or 'any'}-{region or 'default'}", Path(folder))


@contextlib.contextmanager
def batch_folder(share: bool = True) -> Iterator[Path | None]:
    """Within the block, this process and the kernels it starts share listings, in a new folder in the
    budget's (removed after): snapshots live no longer than the batch, so nothing outside it (another
    run's deletes, a reset sandbox) can be hidden behind one. ``share=False``: as is (None)."""
    if not share or os.environ.get(ENABLE_ENV):
        yield None
        return
    base = Path(os.environ[throttle.DIR_ENV]) if os.environ.get(throttle.DIR_ENV) else throttle.default_dir()
    base.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix="shared-reads-", dir=base))
    os.environ[ENABLE_ENV] = str(folder)
    try:
        yield folder
    finally:
        os.environ.pop(ENABLE_ENV, None)
        shutil.rmtree(folder, ignore_errors=True)
