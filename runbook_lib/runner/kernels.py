"""The run's kernel: started as nbclient would, warmed up, reset between notebooks, pooled in a batch."""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from runbook_lib import signals
from runbook_lib.runner.steps import KERNEL_NAME

__all__ = [
    "HISTORY_ARG", "RESET", "WARM_MODULES", "WARM_UP", "KernelPool", "RunKernel", "close_clients",
    "run_silently", "start_kernel", "stop_kernel",
]  # fmt: skip

log = logging.getLogger(__name__)



HISTORY_ARG = "--HistoryManager.hist_file=:memory:"  # what nbclient passes to its own kernels


def _kernel_manager_class() -> type:
    from jupyter_client.manager import AsyncKernelManager

    class _TrackedKernelManager(AsyncKernelManager):  # type: ignore[misc]
        """Remembers the clients nbclient opens, so whoever started the kernel can close them."""

        def format_kernel_cmd(self, extra_arguments: list[str] | None = None) -> list[str]:
            """ipykernel through runbook_lib.kernel, which exits when the runner is gone, even mid-start."""
            cmd = super().format_kernel_cmd(extra_arguments)
            return ["runbook_lib.kernel" if part == "ipykernel_launcher" else part for part in cmd]

        def client(self, **kwargs: Any) -> Any:
            kc = super().client(**kwargs)
            self.__dict__.setdefault("_runbook_clients", []).append(kc)
            return kc

    return _TrackedKernelManager


# Kernels starting at once (start-up is CPU-bound: 32 at once on 2 cores took over 60 s each).
_STARTS = threading.BoundedSemaphore(2 * (os.cpu_count() or 1))
# Imported silently (no output, no execution count, no name bound) once the kernel answers.
WARM_MODULES = ("runbook_lib.orchestrate", "runbook_lib.report", "runbook_lib.widgets")
# Then gc.freeze(): what is alive (modules, API models, clients) leaves the collector's sight, so the
# full collection of each reset (IPython's) and the automatic ones no longer walk it (~0.06 s a reset).
FREEZE = "__import__('gc').freeze()"
WARM_UP = "; ".join([*(f"__import__({m!r})" for m in WARM_MODULES), FREEZE])
# Between two notebooks: an empty namespace and execution count 1, as in a new kernel; imports stay.
RESET = f"get_ipython().reset(new_session=True); {FREEZE}"


def start_kernel(kernel_name: str = KERNEL_NAME, *, warm_up: str = WARM_UP, timeout: float = 60.0) -> Any:
    """Start a kernel as nbclient would (same kernelspec, in-memory history), ready to hand to papermill.

    ``warm_up`` runs silently once the kernel answers: the library's imports, which every notebook makes
    first, so they are done before the notebook needs them. A failure there is left to the notebook's
    own import cell to report.
    """
    from jupyter_core.utils import run_sync

    km = _kernel_manager_class()(kernel_name=kernel_name)
    with _STARTS:  # a batch starts its kernels a few at a time: each is then ready in ~1 s, none times out
        run_sync(km.start_kernel)(extra_arguments=[HISTORY_ARG])
        if warm_up:
            run_silently(km, warm_up, timeout, wait_ready=True)
    return km


def run_silently(km: Any, code: str, timeout: float = 60.0, *, wait_ready: bool = False) -> bool:
    """Run code in the kernel without output or history; True when it answered ``ok`` in time.

    ``wait_ready`` first waits for the kernel to answer (a kernel just started); a running kernel
    queues the request on its shell channel without that handshake (~0.2 s saved).
    """
    from jupyter_core.utils import run_sync

    try:
        return bool(run_sync(_run_silently)(km, code, timeout, wait_ready))
    except Exception:  # dead or deaf kernel: the caller starts another
        log.debug("silent code in kernel %s failed", getattr(km, "kernel_id", "?"), exc_info=True)
        return False


async def _run_silently(km: Any, code: str, timeout: float, wait_ready: bool) -> bool:
    kc = km.client()
    kc.start_channels(iopub=wait_ready, stdin=False, hb=False, control=False)
    try:
        if wait_ready:
            await kc.wait_for_ready(timeout=timeout)
        msg_id = kc.execute(code, silent=True, store_history=False)
        while True:
            reply = await kc.get_shell_msg(timeout=timeout)
            if reply.get("parent_header", {}).get("msg_id") == msg_id:
                return reply.get("content", {}).get("status") == "ok"
    finally:
        kc.stop_channels()
        close_clients(km)


def close_clients(km: Any) -> None:
    """Close the clients opened so far on a kernel from ``start_kernel`` (nbclient leaves them open)."""
    clients = km.__dict__.get("_runbook_clients", [])
    while clients:
        try:
            clients.pop().stop_channels()
        except Exception:  # already closed
            log.debug("closing a kernel client failed", exc_info=True)


def stop_kernel(km: Any) -> None:
    """Close the clients opened on a kernel started by ``start_kernel``, then kill it (its work is done)."""
    from jupyter_core.utils import run_sync

    close_clients(km)
    try:
        if run_sync(km.is_alive)():
            run_sync(km.shutdown_kernel)(now=True)
        else:
            run_sync(km.cleanup_resources)()
    except Exception:
        log.debug("stopping kernel %s failed", getattr(km, "kernel_id", "?"), exc_info=True)


class KernelPool:
    """Idle kernels a batch hands from one finished run to the next (reset like between notebooks)."""

    def __init__(self) -> None:
        self._idle: list[Any] = []
        self._lock = threading.Lock()

    def get(self) -> Any:
        with self._lock:
            return self._idle.pop() if self._idle else None

    def put(self, km: Any) -> None:
        with self._lock:
            self._idle.append(km)

    def close(self) -> None:
        while (km := self.get()) is not None:
            stop_kernel(km)


class RunKernel:
    """The one kernel the notebooks of a run execute in, one after another.

    It starts in the background as the run begins (while the account is checked and papermill is
    imported), or comes from a batch's ``KernelPool``. Before each notebook but the first of a new
    kernel, the namespace is reset to a new session, so every notebook starts from nothing, as in a
    kernel of its own, but the library's imports, botocore's models and the kernel's start-up are paid
    once per kernel instead of once per notebook. A kernel that does not answer the reset is replaced.
    """

    def __init__(self, kernel_name: str, start_timeout: float = 60.0, pool: KernelPool | None = None) -> None:
        self.kernel_name, self.start_timeout, self.pool = kernel_name, start_timeout, pool
        self._starter = ThreadPoolExecutor(max_workers=1, thread_name_prefix="runbook-kernel")
        self._future: Any = None
        self._km: Any = None
        self._used = False

    def start(self) -> None:
        if self._future is None and self._km is None:
            self._km = self.pool.get() if self.pool else None
            self._used = self._km is not None  # a kernel that ran another environment's notebooks
            if self._km is None:
                self._future = self._starter.submit(
                    start_kernel, self.kernel_name, timeout=self.start_timeout
                )

    def take(self, stop: signals.StopState | None = None) -> Any:
        """The kernel for the next notebook (reset if it ran one before), or None: papermill starts one.

        While the kernel starts, a signal (``stop``) ends the wait: Interrupted.
        """
        if self._future is not None:
            while stop is not None and not self._future.done():
                stop.sleep(0.05)
            future, self._future = self._future, None
            try:
                self._km = future.result()
            except Exception:
                log.debug("starting the run's kernel failed; papermill starts one", exc_info=True)
                self._km = None
        if self._km is not None and self._used and not run_silently(self._km, RESET, self.start_timeout):
            stop_kernel(self._km)
            self._km = start_kernel(self.kernel_name, timeout=self.start_timeout)
        self._used = self._km is not None
        return self._km

    def close(self, reusable: bool = False, *, wait: bool = True) -> None:
        """Stop the kernel, or give it back to the pool when the run went well (``reusable``).

        ``wait=False`` (a signal): a kernel still starting is stopped once it has started, in the
        background; the run does not wait for it (nor does it outlive the runner: ``runbook_lib.kernel``).
        """
        if self._future is not None:
            future, self._future = self._future, None
            if not wait and not future.done():
                future.add_done_callback(lambda done: done.exception() or stop_kernel(done.result()))
                self._starter.shutdown(wait=False)
                return
            with contextlib.suppress(Exception):
                self._km = future.result()
        if self._km is not None:
            if reusable and self.pool is not None:
                self.pool.put(self._km)
            else:
                stop_kernel(self._km)
            self._km = None
        self._starter.shutdown(wait=True)
