"""The API models botocore parses (megabytes of JSON for EC2): loaded once per process, shared by sessions."""

from __future__ import annotations

import threading
from typing import Any

__all__ = ["botocore_session"]

_LOADERS: dict[Any, Any] = {}
_LOADERS_LOCK = threading.Lock()


def botocore_session() -> Any:
    """A new botocore session whose model loader is shared by the process (per data path).

    Every notebook of a run builds its clients in the same kernel, and a batch builds them in the same
    runner: the API models (EC2's alone is megabytes of JSON) are then parsed once, not per session.
    """
    import botocore.session

    from runbook_lib import lean_models

    session = botocore.session.get_session()
    data_path = session.get_config_variable("data_path")
    with _LOADERS_LOCK:
        loader = _LOADERS.get(data_path)
        if loader is None:  # models without their documentation, parsed from a cache (lean_models)
            loader = _LOADERS[data_path] = lean_models.create_loader(data_path)
    session.register_component("data_loader", loader)
    return session
