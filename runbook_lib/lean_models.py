"""API models without their documentation, as plain dicts: about half the memory of a client's model.

botocore parses each ``service-2.json`` into ``OrderedDict``s, documentation included (two thirds of
EC2's 3.7 MB of JSON), and keeps it for the life of the client: ~15 MB per process for EC2 alone, paid
again by every kernel of a batch. Clients never show documentation, and dicts keep their order, so the
loader built here reads each model once per machine and botocore version, drops every
``documentation`` member, writes the result to a cache folder (``<tmp>/runbook-models-<uid>``,
atomically), and from then on every process parses that lean copy into plain dicts (~7 MB for EC2).
Every operation, shape and rule stays: only the prose goes.
"""

from __future__ import annotations

import contextlib
import fcntl
import gzip
import hashlib
import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Any

import botocore
import botocore.loaders

__all__ = ["DIR_ENV", "MODEL_FILE", "LeanFileLoader", "cache_dir", "create_loader", "strip_documentation"]

log = logging.getLogger(__name__)

DIR_ENV = "RUNBOOK_MODELS_DIR"
MODEL_FILE = "service-2"


def cache_dir() -> Path:
    """Where the lean models live: ``RUNBOOK_MODELS_DIR``, else a per-user folder of the temp dir."""
    if os.environ.get(DIR_ENV):
        return Path(os.environ[DIR_ENV])
    uid = os.getuid() if hasattr(os, "getuid") else 0
    return Path(tempfile.gettempdir()) / f"runbook-models-{uid}"


def strip_documentation(data: Any) -> Any:
    """The model with every ``documentation`` member emptied (in place; returned for convenience).

    Emptied, not removed: botocore reads some without a default (S3's ``clientContextParams``)."""
    if isinstance(data, dict):
        if "documentation" in data:
            data["documentation"] = ""
        for value in data.values():
            strip_documentation(value)
    elif isinstance(data, list):
        for value in data:
            strip_documentation(value)
    return data


class LeanFileLoader(botocore.loaders.JSONFileLoader):
    """Loads ``service-2`` models from the lean cache (filling it on a miss); other files as usual."""

    def __init__(self, folder: Path | None = None) -> None:
        self.folder = folder or cache_dir()

    def load_file(self, file_path: str) -> Any:
        if os.path.basename(file_path) != MODEL_FILE:
            return super().load_file(file_path)
        found = (file_path + ext for ext in (".json", ".json.gz") if os.path.isfile(file_path + ext))
        source = next(found, None)
        if source is None:
            return None
        try:
            return self._lean(source)
        except (OSError, ValueError):  # an unwritable cache or a torn file: botocore's own way
            log.debug("lean model of %s unavailable", source, exc_info=True)
            return super().load_file(file_path)

    def _lean(self, source: str) -> Any:
        stat = os.stat(source)
        key = f"lean-2:{botocore.__version__}:{source}:{stat.st_size}:{stat.st_mtime_ns}"
        cached = self.folder / f"{hashlib.sha256(key.encode()).hexdigest()[:24]}.json"
        if cached.is_file():
            return json.loads(cached.read_bytes())
        self.folder.mkdir(parents=True, exist_ok=True)
        with open(self.folder / ".lock", "a") as lock:  # one process writes, the others then read it
            fcntl.flock(lock, fcntl.LOCK_EX)
            if cached.is_file():
                return json.loads(cached.read_bytes())
            opener = gzip.open if source.endswith(".gz") else open
            with opener(source, "rb") as fp:
                data = strip_documentation(json.loads(fp.read()))
            tmp = cached.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_text(json.dumps(data, separators=(",", ":")))
            os.replace(tmp, cached)
            with contextlib.suppress(OSError):
                tmp.unlink()
        return data


def create_loader(data_path: str | None = None) -> botocore.loaders.Loader:
    """botocore's loader for ``data_path`` (as ``botocore.loaders.create_loader``), reading lean models."""
    paths = [p for p in (data_path or "").split(os.pathsep) if p]
    return botocore.loaders.Loader(extra_search_paths=[os.path.expanduser(p) for p in paths],
                                   file_loader=LeanFileLoader())  # fmt: skip
