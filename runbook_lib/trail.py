"""Verifying a whole audit dir: every run's files, and every environment's chain back from its head.

A deleted newest run, a run missing from the chain, and two runs claiming the same predecessor (a fork)
are reported. (One run folder is verified by ``audit.verify``.)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from runbook_lib import s3io
from runbook_lib.audit import MANIFEST, Finding, Store, read_manifest, sha256_text, verify_files
from runbook_lib.chain import head_names, head_path, read_head, safe_name

__all__ = ["is_audit_dir", "verify_audit_dir"]


def is_audit_dir(path: str) -> bool:
    """True for an audit dir (run folders below it), False for one run folder (a manifest or notebooks)."""
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
    store = Store(root)
    problems: list[Finding] = []
    found: dict[str, tuple[dict[str, Any], str]] = {}
    for run in store.list_runs():
        try:
            data, text = read_manifest(store, run)
        except Exception:  # a run killed before its record (kill -9): a note, not a failure
            problems.append(Finding(store.join(run), "no manifest (a run that never finished)", "unfinished"))
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
    path = head_path(store.root, name)
    head, _ = read_head(store.root, name)
    problems: list[Finding] = []
    add = problems.append
    if head is None:
        return [Finding(path, f"environment {name} has runs but no chain head", "head")]
    if head.run not in found:
        add(Finding(store.join(head.run), f"the newest run of {name} (the chain head's) is missing", "head"))
    elif found[head.run][1] != head.sha256:
        add(Finding(store.join(head.run), "its manifest differs from the chain head", "head"))
    on_chain, current = [], head.run if head.run in found else None
    while current is not None and current not in on_chain:
        on_chain.append(current)
        wanted = found[current][0].get("previous_manifest_sha256")
        current = by_sha.get(wanted) if wanted else None
        if wanted and current is None:
            add(Finding(store.join(on_chain[-1]), "its previous manifest is missing or altered", "chain"))
    children: dict[str, list[str]] = {}
    for run in runs:
        children.setdefault(found[run][0].get("previous_manifest_sha256") or "", []).append(run)
    for parent, kids in children.items():
        if len(kids) > 1:
            before = by_sha.get(parent, parent[:12] or "(none)")
            add(
                Finding(
                    store.join(sorted(kids)[-1]), f"fork: {', '.join(sorted(kids))} follow {before}", "fork"
                )
            )
    for run in sorted(runs - set(on_chain)):
        add(Finding(store.join(run), f"not on the chain of {name} (from its head)", "chain"))
    if head.run in found and head.runs != len(on_chain):
        add(Finding(path, f"the head counts {head.runs} runs, the chain holds {len(on_chain)}", "chain"))
    return problems
