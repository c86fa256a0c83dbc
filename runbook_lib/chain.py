"""The chain head of each environment (``trail.py`` verifies a whole audit dir from the heads).

Every manifest names the sha256 of the previous manifest *of its environment*; the head
(``<audit_dir>/.chain-<name>.json``) names the newest one: its run folder, its sha256, how many runs
the chain holds and the last ``up``/``down``. A run reads the head (one object), never every manifest.
The head moves atomically, under the environment's lock: locally written aside and renamed into place;
on S3 with a conditional write (``If-None-Match: *`` for the first, ``If-Match: <etag>`` after), so a
head that changed meanwhile is never overwritten (``ChainConflict``). Verifying an audit dir walks
every chain back from its head: a deleted newest run, a run missing from the chain, and two runs
claiming the same predecessor (a fork) are reported.
"""

from __future__ import annotations

import json
import os
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from runbook_lib import s3io
from runbook_lib.errors import RunbookError

__all__ = [
    "ChainConflict", "Head", "PREFIX", "advance", "head_names", "head_path", "read_head", "safe_name",
]  # fmt: skip


PREFIX = ".chain-"


class ChainConflict(RunbookError):
    """The chain head changed while this run appended to it."""

    template = "the chain head {path} changed while run {run} was written. {detail}"


@dataclass
class Head:
    """What a chain head holds."""

    name: str
    run: str
    sha256: str
    runs: int = 1
    updated_at: str = ""
    last_apply: dict[str, Any] = field(default_factory=dict)  # {"run", "action", "status"} of up/down

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2) + "\n"


def safe_name(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)


def head_path(root: str, name: str) -> str:
    file = f"{PREFIX}{safe_name(name)}.json"
    return f"{root}/{file}" if s3io.is_url(root) else str(Path(root, file))


def read_head(root: str, name: str) -> tuple[Head | None, str | None]:
    """The head and its version (S3 ETag, or None locally); (None, None) when the chain has none yet."""
    path = head_path(root, name)
    if s3io.is_url(path):
        found = s3io.get(path)
        return (Head(**json.loads(found.text)), found.etag) if found else (None, None)
    try:
        return Head(**json.loads(Path(path).read_text(encoding="utf-8"))), None
    except FileNotFoundError:
        return None, None


def advance(root: str, head: Head, version: str | None, *, first: bool) -> None:
    """Move the head to ``head`` (the caller holds the environment's lock)."""
    path = head_path(root, head.name)
    if s3io.is_url(path):
        try:
            s3io.put_text(path, head.to_json(), if_none_match=first, if_match=None if first else version)
        except s3io.PreconditionFailed as err:
            raise ChainConflict(
                "Another run appended at the same time; `runbook audit verify` shows the fork.",
                path=path, run=head.run,
            ) from err  # fmt: skip
        return
    tmp = Path(f"{path}.{os.getpid()}.{uuid.uuid4().hex}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(head.to_json())
    os.replace(tmp, path)


def head_names(root: str) -> list[str]:
    """The environments that have a chain head in an audit dir."""
    root = root.rstrip("/")
    if s3io.is_url(root):
        bucket, key = s3io.split(f"{root}/{PREFIX}")
        listed = s3io.client().list_objects_v2(Bucket=bucket, Prefix=key)
        files = [o["Key"].rsplit("/", 1)[-1] for o in listed.get("Contents", [])]
    else:
        files = [p.name for p in Path(root).glob(f"{PREFIX}*.json")]
    return sorted(f[len(PREFIX) : -len(".json")] for f in files if f.endswith(".json"))
