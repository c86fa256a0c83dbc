"""runbook_lib: provision AWS App Runner services from source, as a Jupyter runbook.

The public API is re-exported here lazily, so `import runbook_lib` stays cheap::

    from runbook_lib import load_params, make_clients
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "load_params": "runbook_lib.params",
    "Params": "runbook_lib.params",
    "make_clients": "runbook_lib.clients",
    "check_account": "runbook_lib.identity",
    "caller": "runbook_lib.identity",
    "RunbookError": "runbook_lib.errors",
    "plan": "runbook_lib.orchestrate",
    "apply": "runbook_lib.orchestrate",
    "teardown": "runbook_lib.orchestrate",
    "check_teardown": "runbook_lib.orchestrate",
    "verify_service": "runbook_lib.verify",
    "Action": "runbook_lib.results",
    "Result": "runbook_lib.results",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'runbook_lib' has no attribute {name!r}")
