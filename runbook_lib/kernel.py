"""The kernels' launcher: ipykernel, plus a watch on the runner from the kernel's first instant.

ipykernel's own parent poller starts only once the kernel has initialised, so a runner killed while a
kernel is still starting (the runner starts the next notebook's kernel ahead) could leave it behind.
This launcher exits the kernel as soon as the process that launched it (``JPY_PARENT_PID``) is gone.
It also drops ipykernel's "running over TCP without encryption" warning, printed once per kernel: the
runner's kernels listen on 127.0.0.1 only. Its notebooks, one after another, reuse their boto3 clients
(``runbook_lib.clients.REUSE_ENV``).
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from pathlib import Path

__all__ = [
    "POLL_S", "main", "watch_parent",
]  # fmt: skip


POLL_S = 0.5


def watch_parent(poll_s: float = POLL_S) -> None:
    """Exit this process as soon as its parent (``JPY_PARENT_PID``) is gone; returns at once."""
    parent = int(os.environ.get("JPY_PARENT_PID") or 0)
    if parent <= 1:
        return
    if os.getppid() != parent:
        os._exit(1)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(poll_s)
        os._exit(1)

    threading.Thread(target=watch, name="runbook-parent-watch", daemon=True).start()


class _LoopbackOnly(logging.Filter):
    """Drops the plain-TCP warning (the kernels the runner starts are bound to the loopback address)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "without encryption" not in record.getMessage()


def main() -> None:
    """What ``python -m ipykernel_launcher`` does, after starting the watch."""
    watch_parent()
    os.environ.setdefault("RUNBOOK_REUSE_CLIENTS", "1")  # runbook_lib.clients.REUSE_ENV: see there
    logging.getLogger("IPKernelApp").addFilter(_LoopbackOnly())
    if sys.path and (sys.path[0] == "" or Path(sys.path[0]) == Path.cwd()):
        del sys.path[0]
    from ipykernel import kernelapp

    kernelapp.launch_new_instance()


if __name__ == "__main__":
    main()
