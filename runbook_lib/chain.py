"""The chain head of each environment, and the verification of a whole audit dir.

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


def is_audit_dir(path: str) -> bool:
    """True for an audit dir (run folders below it), False for one run folder (a manifest or notebooks)."""
    from runbook_lib.audit import MANIFEST, Store

    root = path.rstrip("/")
    if s3io.is_url(root):
        bucket, key = s3io.split(root + "/")
        listed = s3io.client().list_objects_v2(Bucket=bucket, Prefix=key, Delimiter="/", MaxKeys=50)
        files = [o["Key"].rsplit("/", 1)[-1] for o in listed.get("Contents", [])]
        return MANIFEST not in files and not any(f.endswith(".ipynb") for f in files)
    folder = Path(root)
    run_files = (folder / MANIFEST).exists() or any(folder.glob("*.ipynb"))
    return not run_files and bool(Store(root).list_runs() or head_names(root))


def verify_audit_dir(root: str) -> list[Any]:
    """Every run of an audit dir (its files) and every environment's chain, from its head back."""
    from runbook_lib.audit import Problem, Store, read_manifest, sha256_text, verify_files

    store = Store(root)
    problems: list[Problem] = []
    found: dict[str, tuple[dict[str, Any], str]] = {}
    for run in store.list_runs():
        try:
            data, text = read_manifest(store, run)
        except Exception:  # a run killed before its record (kill -9): a note, not a failure
            problems.append(Problem(store.join(run), "no manifest (a run that never finished)", "unfinished"))
            continue
        found[run] = (data, sha256_text(text))
        problems.extend(verify_files(store, run, data))
    by_sha = {sha: run for run, (_, sha) in found.items()}
    named = {safe_name(data.get("name", "?")): data.get("name", "?") for data, _ in found.values()}
    for name in sorted(set(named.values()) | {named.get(n, n) for n in head_names(root)}):
        runs = {run for run, (data, _) in found.items() if data.get("name") == name}
        problems.extend(_verify_chain(store, name, runs, found, by_sha))
    return problems


Found = dict[str, tuple[dict[str, Any], str]]  # run folder → (manifest, its sha256)


def _verify_chain(store: Any, name: str, runs: set[str], found: Found, by_sha: dict[str, str]) -> list[Any]:
    """One environment: the head names an existing newest run; the chain back from it holds every run."""
    from runbook_lib.audit import Problem

    path = head_path(store.root, name)
    head, _ = read_head(store.root, name)
    problems: list[Problem] = []
    add = problems.append
    if head is None:
        return [Problem(path, f"environment {name} has runs but no chain head", "head")]
    if head.run not in found:
        add(Problem(store.join(head.run), f"the newest run of {name} (the chain head's) is missing", "head"))
    elif found[head.run][1] != head.sha256:
        add(Problem(store.join(head.run), "its manifest differs from the chain head", "head"))
    on_chain, current = [], head.run if head.run in found else None
    while current is not None and current not in on_chain:
        on_chain.append(current)
        wanted = found[current][0].get("previous_manifest_sha256")
        current = by_sha.get(wanted) if wanted else None
        if wanted and current is None:
            add(Problem(store.join(on_chain[-1]), "its previous manifest is missing or altered", "chain"))
    children: dict[str, list[str]] = {}
    for run in runs:
        children.setdefault(found[run][0].get("previous_manifest_sha256") or "", []).append(run)
    for parent, kids in children.items():
        if len(kids) > 1:
            before = by_sha.get(parent, parent[:12] or "(none)")
            add(
                Problem(
                    store.join(sorted(kids)[-1]), f"fork: {', '.join(sorted(kids))} follow {before}", "fork"
                )
            )
    for run in sorted(runs - set(on_chain)):
        add(Problem(store.join(run), f"not on the chain of {name} (from its head)", "chain"))
    if head.run in found and head.runs != len(on_chain):
        add(Problem(path, f"the head counts {head.runs} runs, the chain holds {len(on_chain)}", "chain"))
    return problems
