"""Why an App Runner operation failed: the tail of the service's CloudWatch log groups.

App Runner answers a failed create, update, deployment or delete with a status only (CREATE_FAILED,
an operation FAILED or ROLLBACK_*); the reason is in the service's log groups,
``/aws/apprunner/<service name>/<service id>/service`` (events and ``deployment/<operation id>`` streams)
and ``…/application`` (the instances' output) — the names AWS Copilot reads
(``internal/pkg/aws/apprunner/apprunner.go``, ``fmtAppRunnerServiceLogGroupName`` /
``fmtAppRunnerApplicationLogGroupName``). ``with_log_tail`` adds the last lines of each, with the group's
name, to the WaitFailed the library raises, so the notebook's traceback, the terminal and the manifest
all carry them (the runner scrubs the manifest). Reading logs never hides the original failure: a group
that does not exist is skipped, an error reading one is reported in its place.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from runbook_lib.aws import call
from runbook_lib.clients import Clients
from runbook_lib.errors import ResourceNotFound, RunbookError, WaitFailed

__all__ = ["LogTail", "fetch_log_tail", "format_tail", "log_groups", "with_log_tail"]

log = logging.getLogger(__name__)

TAIL_LINES = 15  # per log group
STREAMS = 3  # the most recently written streams of a group that are read


@dataclass(frozen=True)
class LogTail:
    """The last lines of one log group (from its most recent streams, oldest line first)."""

    group: str
    streams: tuple[str, ...] = ()
    lines: tuple[str, ...] = ()
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "group": self.group,
            "streams": list(self.streams),
            "lines": list(self.lines),
            "note": self.note,
        }


def log_groups(service_name: str, service_id: str) -> tuple[str, str]:
    """The service's ``…/service`` and ``…/application`` log group names."""
    base = f"/aws/apprunner/{service_name}/{service_id}"
    return f"{base}/service", f"{base}/application"


def _streams(clients: Clients, group: str, operation_id: str | None) -> list[str]:
    found = call(
        clients, "logs", "DescribeLogStreams", resource=f"log group {group}",
        logGroupName=group, orderBy="LastEventTime", descending=True, limit=STREAMS,
    )["logStreams"]  # fmt: skip
    names = [s["logStreamName"] for s in found]
    wanted = f"deployment/{operation_id}" if operation_id else None
    return [wanted, *[n for n in names if n != wanted]][:STREAMS] if wanted in names else names


def _tail(clients: Clients, group: str, operation_id: str | None, limit: int) -> LogTail:
    try:
        streams = _streams(clients, group, operation_id)
    except ResourceNotFound:
        return LogTail(group, note="no such log group (yet)")
    events: list[tuple[int, str, str]] = []
    for stream in streams:
        got = call(
            clients, "logs", "GetLogEvents", resource=f"log group {group}",
            logGroupName=group, logStreamName=stream, limit=limit, startFromHead=False,
        )["events"]  # fmt: skip
        events += [(e.get("timestamp", 0), stream, str(e.get("message", "")).rstrip()) for e in got]
    events.sort(key=lambda e: e[0])
    lines = tuple(f"[{stream}] {message}" for _, stream, message in events[-limit:])
    return LogTail(group, tuple(streams), lines, "" if lines else "no log events")


def fetch_log_tail(
    clients: Clients, service_name: str, service_id: str, *, operation_id: str | None = None,
    limit: int = TAIL_LINES,
) -> list[LogTail]:  # fmt: skip
    """The last ``limit`` lines of each of the service's log groups (the operation's deployment stream
    first when ``operation_id`` is given). Never raises a RunbookError: a failed read becomes a note."""
    tails = []
    for group in log_groups(service_name, service_id):
        try:
            tails.append(_tail(clients, group, operation_id, limit))
        except RunbookError as err:
            log.warning("could not read %s: %s", group, err)
            tails.append(LogTail(group, note=f"could not read it: {err}"))
    return tails


def format_tail(tails: list[LogTail]) -> str:
    """The tails as text: each group's name, then its lines indented."""
    parts = []
    for tail in tails:
        head = f"Log tail of {tail.group}" + (f" ({tail.note})" if tail.note else ":")
        parts.append("\n".join([head, *(f"  {line}" for line in tail.lines)]))
    return "\n".join(parts)


def service_id_of(service_arn: str) -> tuple[str, str]:
    """(name, id) from ``arn:…:service/<name>/<id>``."""
    name, service_id = service_arn.rsplit(":service/", 1)[-1].split("/")[:2]
    return name, service_id


def with_log_tail(
    clients: Clients, err: WaitFailed, service_arn: str, operation_id: str | None = None
) -> WaitFailed:
    """``err`` again, its message followed by the log tails and ``log_tail`` among its fields."""
    try:
        name, service_id = service_id_of(service_arn)
    except ValueError:
        return err
    tails = fetch_log_tail(clients, name, service_id, operation_id=operation_id)
    fields = {k: v for k, v in err.fields.items() if k != "log_tail"}
    detail = f"{err.detail}\n{format_tail(tails)}".strip()
    return WaitFailed(detail, **fields, log_tail=[t.to_dict() for t in tails])
