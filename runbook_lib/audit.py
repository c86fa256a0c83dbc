"""The audit trail: run folders, manifests chained by hash, history as a table, verification.

A run folder is ``<audit_dir>/<UTC time>_<name>_<action>/`` holding the executed notebooks and
``manifest.json``. The manifest lists the sha256 of every other file of the folder and of the previous
manifest of the same environment (whose chain head ``chain.py`` keeps), so ``verify`` finds any altered
file and any manifest missing from the chain. ``audit_dir`` is a local folder (files 0600, folders
0700) or ``s3://bucket/prefix`` (objects written with SSE-S3 through ``s3io``).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import platform
import subprocess
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

__all__ = [
    "HISTORY_COLUMNS", "MANIFEST", "MANIFEST_VERSION", "Manifest", "NotebookRecord", "Finding", "Store",
    "TOOLS", "git_commit", "history", "history_records", "is_s3", "iso", "load_manifests",
    "make_private_dir", "new_run", "read_manifest", "run_folder_name", "sha256_file", "sha256_text",
    "split_run_dir", "tool_versions", "utc_now", "verify", "verify_files", "write_manifest",
]  # fmt: skip


MANIFEST = "manifest.json"
MANIFEST_VERSION = 1
PRIVATE_FILE, PRIVATE_DIR = 0o600, 0o700
TOOLS = ("runbook-lib", "boto3", "botocore", "papermill", "nbclient", "nbformat", "ipykernel", "pandas")
_CHAIN_LOCK = threading.Lock()


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def sha256_file(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


# ------------------------------------------------------------------------------------------ storage


class Store:
    """Text files under a local folder or an ``s3://bucket/prefix`` (through papermill's I/O)."""

    def __init__(self, root: str) -> None:
        self.root = root.rstrip("/") if is_s3(root) else str(Path(root))

    def join(self, *parts: str) -> str:
        return "/".join([self.root, *parts]) if is_s3(self.root) else str(Path(self.root, *parts))

    def write_text(self, path: str, text: str) -> None:
        """Write a file: on S3 with server-side encryption; locally readable by its owner only (0600)."""
        if is_s3(path):
            from runbook_lib import s3io

            s3io.put_text(path, text)
            return
        make_private_dir(Path(path).parent)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_FILE)
        os.fchmod(fd, PRIVATE_FILE)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)

    def read_text(self, path: str) -> str:
        if is_s3(path):
            from runbook_lib import s3io

            found = s3io.get(path)
            if found is None:
                raise FileNotFoundError(path)
            return found.text
        return Path(path).read_text(encoding="utf-8")

    def digest(self, path: str) -> str:
        """sha256 of a file: its bytes locally, its text on S3."""
        return sha256_text(self.read_text(path)) if is_s3(path) else sha256_file(path)

    def list_runs(self) -> list[str]:
        """Run folder names directly under the root (sorted)."""
        if is_s3(self.root):
            from papermill.iorw import papermill_io

            try:
                entries = papermill_io.listdir(self.root + "/")
            except Exception:
                return []
            return sorted({e.rstrip("/").rsplit("/", 1)[-1] for e in entries if e.endswith("/")})
        root = Path(self.root)
        return sorted(p.name for p in root.iterdir() if p.is_dir()) if root.is_dir() else []

    def list_files(self, run: str) -> list[str]:
        """File names in one run folder (S3: the keys directly under its prefix)."""
        if is_s3(self.root):
            from papermill.iorw import papermill_io

            entries = papermill_io.listdir(self.join(run) + "/")
            return sorted(e.rsplit("/", 1)[-1] for e in entries if not e.endswith("/"))
        folder = Path(self.root, run)
        return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


def make_private_dir(folder: Path) -> None:
    """Create a folder (and missing parents) readable by its owner only (0700)."""
    if folder.is_dir():
        return
    make_private_dir(folder.parent)
    with contextlib.suppress(FileExistsError):
        folder.mkdir(mode=PRIVATE_DIR)
        os.chmod(folder, PRIVATE_DIR)


def is_s3(path: str | os.PathLike[str]) -> bool:
    return str(path).startswith("s3://")


def split_run_dir(run_dir: str) -> tuple[Store, str]:
    """``<audit_dir>/<run>`` → (store of the audit dir, run name)."""
    text = str(run_dir).rstrip("/")
    if is_s3(text):
        parent, _, name = text.rpartition("/")
        return Store(parent), name
    path = Path(text).resolve()
    return Store(str(path.parent)), path.name


def run_folder_name(moment: datetime, name: str, action: str) -> str:
    return f"{moment.strftime('%Y%m%dT%H%M%SZ')}_{name}_{action}"


def new_run(store: Store, name: str, action: str, moment: datetime | None = None) -> str:
    """A fresh run folder name (suffixed when two runs start in the same second)."""
    base = run_folder_name(moment or utc_now(), name, action)
    taken = set(store.list_runs())
    candidate, n = base, 1
    while candidate in taken:
        n += 1
        candidate = f"{base}-{n}"
    if not is_s3(store.root):
        make_private_dir(Path(store.root))
        Path(store.join(candidate)).mkdir(mode=PRIVATE_DIR, exist_ok=False)
        os.chmod(store.join(candidate), PRIVATE_DIR)
    return candidate


# ----------------------------------------------------------------------------------------- manifest


def tool_versions() -> dict[str, str]:
    """Versions of Python and of the packages that shape a run."""
    found = {"python": platform.python_version()}
    for dist in TOOLS:
        try:
            found[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            found[dist] = "not installed"
    return found


def git_commit(path: str | Path | None = None) -> str | None:
    """The commit of the runbook's checkout (``+dirty`` if modified), or None outside git."""
    where = Path(path) if path else Path(__file__).resolve().parent
    try:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=where, capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=where, capture_output=True, text=True, timeout=10, check=True,
        ).stdout.strip()  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return None
    return f"{head}+dirty" if dirty else head


@dataclass
class NotebookRecord:
    """One executed notebook of a run."""

    notebook: str
    status: str = "pending"  # pending | ok | failed | skipped
    started_at: str | None = None
    duration_s: float | None = None
    file: str | None = None
    error: dict[str, Any] | None = None
    reason: str | None = None  # why it was skipped

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class Manifest:
    """Everything a run folder says about its run; ``to_dict`` is what manifest.json holds."""

    run_id: str
    action: str
    name: str
    params_path: str | None = None
    params_sha256: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    identity: dict[str, Any] = field(default_factory=dict)
    region: str | None = None
    endpoint: str | None = None
    sandbox: bool = False
    versions: dict[str, str] = field(default_factory=tool_versions)
    git_commit: str | None = None
    started_at: str = field(default_factory=lambda: iso(utc_now()))
    ended_at: str | None = None
    duration_s: float | None = None
    status: str = "running"  # running | succeeded | failed
    notebooks: list[NotebookRecord] = field(default_factory=list)
    resources: list[dict[str, Any]] = field(default_factory=list)
    plan: list[dict[str, Any]] | None = None
    service_url: str | None = None
    verify: dict[str, Any] | None = None
    error: dict[str, Any] | None = None
    files: dict[str, str] = field(default_factory=dict)
    previous_manifest: str | None = None
    previous_manifest_sha256: str | None = None

    def to_dict(self) -> dict[str, Any]:
        data = {k: v for k, v in self.__dict__.items() if k != "notebooks"}
        data["notebooks"] = [n.to_dict() for n in self.notebooks]
        return {"manifest_version": MANIFEST_VERSION, **data}


def write_manifest(
    store: Store, run: str, manifest: Manifest, scrub: Callable[[Any], Any] = lambda d: d
) -> str:
    """Hash the run folder's files, link the environment's previous manifest, write manifest.json and
    move the environment's chain head to it; returns its sha256 (the new head).

    The caller holds the environment's lock; ``_CHAIN_LOCK`` keeps one process's runs in line too.
    """
    from runbook_lib import chain

    with _CHAIN_LOCK:
        head, version = chain.read_head(store.root, manifest.name)
        previous = (head.run, head.sha256, head.runs) if head else _legacy_previous(store, manifest.name, run)
        if previous is not None:
            manifest.previous_manifest, manifest.previous_manifest_sha256 = previous[0], previous[1]
        text = json.dumps(scrub(manifest.to_dict()), indent=2, sort_keys=False, default=str)
        store.write_text(store.join(run, MANIFEST), text)
        digest = sha256_text(text)
        last_apply = head.last_apply if head else {}
        if manifest.action in ("up", "down"):
            last_apply = {"run": run, "action": manifest.action, "status": manifest.status}
        new = chain.Head(
            manifest.name, run, digest, runs=(previous[2] if previous else 0) + 1,
            updated_at=iso(utc_now()), last_apply=last_apply,
        )  # fmt: skip
        chain.advance(store.root, new, version, first=head is None)
    return digest


def _legacy_previous(store: Store, name: str, run: str) -> tuple[str, str, int] | None:
    """An environment without a chain head yet (a trail written before heads): its newest manifest."""
    mine = [m for m in load_manifests(store.root) if m.get("name") == name and m["_folder"] != run]
    if not mine:
        return None
    newest = mine[-1]["_folder"]
    return newest, sha256_text(store.read_text(store.join(newest, MANIFEST))), len(mine)


def read_manifest(store: Store, run: str) -> tuple[dict[str, Any], str]:
    """A run's manifest as data, and its text."""
    text = store.read_text(store.join(run, MANIFEST))
    return json.loads(text), text


def load_manifests(audit_dir: str) -> list[dict[str, Any]]:
    """Every readable manifest of an audit dir, oldest first, each with ``run_dir`` added."""
    store = Store(audit_dir)
    found = []
    for run in store.list_runs():
        try:
            data, _ = read_manifest(store, run)
        except (OSError, ValueError, Exception):  # a folder without a (valid) manifest is not a run
            continue
        data["run_dir"] = store.join(run)
        data["_folder"] = run
        found.append(data)
    return sorted(found, key=lambda m: (m.get("ended_at") or m.get("started_at") or "", m["_folder"]))


# ---------------------------------------------------------------------------------------- history


HISTORY_COLUMNS = (
    "started_at", "name", "action", "status", "duration_s", "changes", "account", "region",
    "endpoint", "caller", "service_url", "run_dir",
)  # fmt: skip


def history_records(audit_dir: str, name: str | None = None) -> list[dict[str, Any]]:
    """One plain record per run (newest last), optionally for one environment name."""
    rows = []
    for m in load_manifests(audit_dir):
        if name and m.get("name") != name:
            continue
        quiet = ("UNCHANGED", "ABSENT", "KEPT")
        changed = [r for r in m.get("resources", []) if r.get("action") not in quiet]
        rows.append(
            {
                "started_at": m.get("started_at"),
                "name": m.get("name"),
                "action": m.get("action"),
                "status": m.get("status"),
                "duration_s": m.get("duration_s"),
                "changes": len(changed),
                "account": m.get("identity", {}).get("Account"),
                "region": m.get("region"),
                "endpoint": m.get("endpoint"),
                "caller": m.get("identity", {}).get("Arn"),
                "service_url": m.get("service_url"),
                "run_dir": m.get("run_dir"),
            }
        )
    return rows


def history(audit_dir: str = "runs", name: str | None = None) -> Any:
    """The run history as a pandas DataFrame, one row per run."""
    import pandas as pd

    table = pd.DataFrame(history_records(audit_dir, name), columns=list(HISTORY_COLUMNS))
    text = [c for c in HISTORY_COLUMNS if c not in ("duration_s", "changes")]
    table[text] = table[text].astype(object).where(table[text].notna(), "")  # no URL (a plan): blank
    return table


# ----------------------------------------------------------------------------------- verification


@dataclass(frozen=True)
class Finding:
    """One finding of a verification (a failure, or a note): which file, and what is wrong with it."""

    file: str
    problem: str
    kind: str = "altered"  # altered | missing | added | chain | fork | head | unfinished (a note)

    def __str__(self) -> str:
        return f"{self.file}: {self.problem}"

    @property
    def fails(self) -> bool:
        return self.kind != "unfinished"


def verify(run_dir: str) -> list[Finding]:
    """Recompute every hash of a run and of the chain of manifests before it; the problems found."""
    store, run = split_run_dir(run_dir)
    problems: list[Finding] = []
    by_hash: dict[str, str] = {}
    for other in store.list_runs():
        try:
            by_hash[sha256_text(store.read_text(store.join(other, MANIFEST)))] = other
        except Exception:  # a run folder without a manifest is reported when the chain needs it
            continue
    seen: set[str] = set()
    current: str | None = run
    while current is not None and current not in seen:
        seen.add(current)
        path = store.join(current, MANIFEST)
        try:
            data, _ = read_manifest(store, current)
        except Exception as err:
            unreadable = f"manifest missing or unreadable ({type(err).__name__})"
            problems.append(Finding(path, unreadable, "missing"))
            break
        problems.extend(verify_files(store, current, data))
        wanted = data.get("previous_manifest_sha256")
        if not wanted:
            break
        current = by_hash.get(wanted)
        if current is None:
            named = data.get("previous_manifest") or "?"
            problems.append(
                Finding(
                    store.join(named, MANIFEST),
                    f"the previous manifest (sha256 {wanted[:12]}…) named by {path} is missing or altered",
                    "chain",
                )
            )
    return problems


def verify_files(store: Store, run: str, data: Mapping[str, Any]) -> list[Finding]:
    problems = []
    files: Mapping[str, str] = data.get("files", {})
    for name, digest in files.items():
        path = store.join(run, name)
        try:
            actual = store.digest(path)
        except Exception:
            problems.append(Finding(path, "listed in the manifest but missing", "missing"))
            continue
        if actual != digest:
            problems.append(Finding(path, "altered (sha256 differs from the manifest)"))
    for name in store.list_files(run):
        if name != MANIFEST and name not in files:
            problems.append(Finding(store.join(run, name), "not listed in the manifest (added)", "added"))
    return problems
