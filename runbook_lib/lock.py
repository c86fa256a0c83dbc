"""One run at a time per environment: a lock file per environment, created atomically.

``acquire(directory, name=..., run_id=..., action=...)`` writes ``<directory>/.lock-<name>.json`` holding
the run id, action, pid, host, process start time and the time it was taken. The file appears in one
atomic step (written aside, then ``os.link``\\ ed into place, which fails if it exists), so a reader
never sees half a lock. A second run on the same environment does not wait: it raises
``EnvironmentLocked`` ("environment <name> is locked by run <id> since <time>").

A lock whose process is gone (same host, pid no longer alive, a zombie, or the pid reused by another
process) is *stale*: the next run takes it over by renaming it aside — only one of several contenders
can rename the same file — checking that what it moved is still the stale lock it judged, and then
creating its own. A lock held on another host is never judged stale (its pid cannot be checked here).
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from runbook_lib.errors import RunbookError

__all__ = [
    "EnvLock", "EnvironmentLocked", "HEARTBEAT_S", "LockInfo", "PREFIX", "S3Lock", "STALE_S", "acquire",
    "acquire_s3", "is_stale", "is_stale_s3", "lock_path", "pid_alive", "process_start", "read",
]  # fmt: skip


log = logging.getLogger(__name__)

PREFIX = ".lock-"
_ATTEMPTS = 5
HEARTBEAT_S = 30.0  # an S3 lock's holder rewrites it this often
STALE_S = 120.0  # an S3 lock not rewritten for this long (4 missed heartbeats) is stale, on any host


class EnvironmentLocked(RunbookError):
    """Another run is acting on the same environment."""

    template = (
        "environment {name} is locked by run {run_id} since {since} (pid {pid} on {host}). {detail}"
    )


@dataclass(frozen=True)
class LockInfo:
    """What a lock file holds."""

    name: str
    run_id: str
    action: str
    pid: int
    host: str
    since: str
    process_start: str | None = None

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2) + "\n"


def lock_path(directory: str | Path, name: str) -> Path:
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in name)
    return Path(directory) / f"{PREFIX}{safe}.json"


def process_start(pid: int) -> str | None:
    """The start time of a process (clock ticks since boot, from /proc), to tell a reused pid apart."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rpartition(")")[2].split()[19]


def pid_alive(pid: int, started: str | None = None) -> bool:
    """True if ``pid`` runs (not a zombie) and, when known, is the process that started at ``started``."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # alive, another user's
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except OSError:
        return True  # no /proc (macOS): the signal check is all we have
    if state in ("Z", "X"):
        return False
    return started is None or process_start(pid) == started


def read(path: Path) -> tuple[LockInfo | None, str]:
    """The lock at ``path`` and its raw text; (None, "") when there is none; unreadable → (None, text)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None, ""
    try:
        return LockInfo(**json.loads(text)), text
    except (ValueError, TypeError):
        return None, text


def is_stale(info: LockInfo) -> bool:
    return info.host == socket.gethostname() and not pid_alive(info.pid, info.process_start)


@dataclass
class EnvLock:
    """A held lock; ``release()`` removes it only if it is still ours."""

    path: Path
    info: LockInfo

    def release(self) -> None:
        current, _ = read(self.path)
        if current is not None and current.run_id == self.info.run_id and current.pid == self.info.pid:
            try:
                self.path.unlink()
            except FileNotFoundError:
                pass

    def __enter__(self) -> EnvLock:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.release()


def _new_info(name: str, run_id: str, action: str) -> LockInfo:
    from runbook_lib.audit import iso, utc_now

    pid = os.getpid()
    return LockInfo(name, run_id, action, pid, socket.gethostname(), iso(utc_now()), process_start(pid))


def acquire(directory: str | Path, *, name: str, run_id: str, action: str) -> EnvLock | S3Lock:
    """Take the environment's lock, taking over a stale one; EnvironmentLocked if a live run holds it."""
    if str(directory).startswith("s3://"):
        return acquire_s3(str(directory), name=name, run_id=run_id, action=action)
    path = lock_path(directory, name)
    path.parent.mkdir(parents=True, exist_ok=True)
    info = _new_info(name, run_id, action)
    for _ in range(_ATTEMPTS):
        if _create(path, info.to_json()):
            return EnvLock(path, info)
        held, text = read(path)
        if held is None and not text:
            continue  # released meanwhile: try again
        if held is None:
            raise EnvironmentLocked(
                f"The lock file {path} is unreadable; remove it if no run is active.",
                name=name, run_id="?", since="?", pid="?", host="?",
            )  # fmt: skip
        if not is_stale(held):
            raise EnvironmentLocked(
                f"Wait for it to finish, then re-run (lock file: {path}).",
                name=name, run_id=held.run_id, since=held.since, pid=held.pid, host=held.host,
            )  # fmt: skip
        log.warning("taking over the stale lock of run %s (pid %s is gone)", held.run_id, held.pid)
        _take_over(path, text)
    raise EnvironmentLocked(
        f"Could not take the lock {path} after {_ATTEMPTS} attempts; other runs keep taking it.",
        name=name, run_id="?", since="?", pid="?", host="?",
    )  # fmt: skip


def _create(path: Path, text: str) -> bool:
    """Atomically create ``path`` with ``text``; False if it exists."""
    tmp = path.with_name(f"{path.name}.{os.getpid()}.{uuid.uuid4().hex}.tmp")
    with os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w", encoding="utf-8") as out:
        out.write(text)  # readable by its owner only, like the run files
    try:
        os.link(tmp, path)
        return True
    except FileExistsError:
        return False
    finally:
        tmp.unlink()


def _take_over(path: Path, stale_text: str) -> None:
    """Move the stale lock aside; if what was moved is not the lock judged stale, put it back."""
    aside = path.with_name(f"{path.name}.{os.getpid()}.{uuid.uuid4().hex}.stale")
    try:
        os.rename(path, aside)
    except FileNotFoundError:
        return  # another run took it over (or it was released) first
    try:
        if aside.read_text(encoding="utf-8") != stale_text:  # a live lock slipped in: restore it
            try:
                os.link(aside, path)
            except FileExistsError:
                pass
    finally:
        aside.unlink()


# ------------------------------------------------------------------------------------------- on S3


class S3Lock:
    """A held S3 lock: a heartbeat thread rewrites it; ``release()`` deletes it only if still ours."""

    def __init__(self, url: str, info: LockInfo, etag: str, heartbeat_s: float = HEARTBEAT_S) -> None:
        self.url, self.info, self.etag = url, info, etag
        self._stop = threading.Event()
        self._beat = threading.Thread(target=self._heartbeat, args=(heartbeat_s,), daemon=True)
        self._beat.start()

    def _heartbeat(self, every: float) -> None:
        from runbook_lib import s3io

        while not self._stop.wait(every):
            try:
                self.etag = s3io.put_text(self.url, self.info.to_json(), if_match=self.etag)
            except s3io.PreconditionFailed:
                log.error("the lock %s was taken from run %s", self.url, self.info.run_id)
                return
            except Exception:  # a missed beat; the next one may get through
                log.warning("could not refresh the lock %s", self.url, exc_info=True)

    def release(self) -> None:
        from runbook_lib import s3io

        self._stop.set()
        self._beat.join(timeout=5)
        s3io.delete(self.url, if_match=self.etag)

    def __enter__(self) -> S3Lock:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.release()


def is_stale_s3(info: LockInfo, age_s: float | None, stale_s: float = STALE_S) -> bool:
    """Not rewritten for ``stale_s`` (S3's clock), or its process gone on this very host."""
    if age_s is not None and age_s > stale_s:
        return True
    return is_stale(info)


def acquire_s3(root: str, *, name: str, run_id: str, action: str, stale_s: float = STALE_S) -> S3Lock:
    """``acquire`` for an ``s3://`` audit dir: a conditional create, a stale lock deleted by version."""
    from runbook_lib import s3io

    url = f"{root.rstrip('/')}/{lock_path('.', name).name}"
    info = _new_info(name, run_id, action)
    for _ in range(_ATTEMPTS):
        try:
            return S3Lock(url, info, s3io.put_text(url, info.to_json(), if_none_match=True))
        except s3io.PreconditionFailed:
            pass
        found = s3io.get(url)
        if found is None:
            continue  # released meanwhile
        try:
            held = LockInfo(**json.loads(found.text))
        except (ValueError, TypeError):
            held = None
        if held is not None and not is_stale_s3(held, found.age_s, stale_s):
            raise EnvironmentLocked(
                f"Wait for it to finish, then re-run (lock object: {url}; stale after {stale_s:.0f} s "
                "without its heartbeat).",
                name=name, run_id=held.run_id, since=held.since, pid=held.pid, host=held.host,
            )  # fmt: skip
        log.warning("taking over the stale lock %s (%s)", url, held.run_id if held else "unreadable")
        s3io.delete(url, if_match=found.etag)  # only one contender deletes this version
    raise EnvironmentLocked(
        f"Could not take the lock {url} after {_ATTEMPTS} attempts; other runs keep taking it.",
        name=name, run_id="?", since="?", pid="?", host="?",
    )  # fmt: skip
