"""Stopping runs on SIGINT, SIGTERM or SIGHUP: promptly, with a record, and without a lock left behind.

The command line installs the handlers (``handling()``) around ``up``, ``down`` and ``plan``; the runs
execute in worker threads and the notebooks in kernels, which a signal to the ``runbook`` process does
not reach. So the first signal sets a flag that the runner checks before every notebook and every cell,
and interrupts the kernels of the notebooks running. A kernel whose notebook still runs ``REINTERRUPT_S``
later is interrupted again (an interrupt that reached it between two cells is ignored); not sooner, since
an interrupt landing while the kernel reports the first one could lose its reply. A kernel's waits
(``time.sleep`` or ``asyncio.sleep`` between polls) and AWS calls stop at once on the interrupt.

A second signal stops harder: the kernels are killed, and whatever run has not finished within
``GRACE_S`` is finished here (its manifest written as ``interrupted``, its lock released) before the
process exits. Exit codes: 128 + the signal number (130 for SIGINT, 143 for SIGTERM, 129 for SIGHUP).
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import threading
from collections.abc import Callable, Iterator
from typing import Any

__all__ = [
    "Finisher", "GRACE_S", "Interrupted", "REINTERRUPT_S", "SIGNALS", "StopState", "current", "exit_code",
    "handling", "signal_name",
]  # fmt: skip


log = logging.getLogger(__name__)

SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
REINTERRUPT_S = 1.5
GRACE_S = 1.0


class Interrupted(BaseException):
    """A run stopped by a signal; a BaseException like KeyboardInterrupt (``except Exception`` lets it by)."""

    def __init__(self, signum: int) -> None:
        super().__init__(f"interrupted by {signal_name(signum)}")
        self.signum = signum


def signal_name(signum: int | None) -> str:
    try:
        return signal.Signals(signum or signal.SIGINT).name
    except ValueError:
        return f"signal {signum}"


def exit_code(signum: int | None) -> int:
    return 128 + int(signum or signal.SIGINT)


class Finisher:
    """Writes a run's record and releases its lock, once, from the run's thread or the hard stop."""

    def __init__(self, finish: Callable[[], None]) -> None:
        self._finish = finish
        self._lock = threading.Lock()
        self._started = False
        self.done = threading.Event()

    def __call__(self) -> None:
        with self._lock:
            if self._started:
                return
            self._started = True
        try:
            self._finish()
        finally:
            self.done.set()

    def wait(self, timeout: float) -> bool:
        """Finish now unless already begun; then wait for the end (True when finished)."""
        self()
        return self.done.wait(timeout)


class StopState:
    """What a signal asked for, and the kernels and runs to stop; one per command."""

    def __init__(self) -> None:
        self.event = threading.Event()
        self.signum: int | None = None
        self.count = 0
        self.raise_in_main = False  # the work runs in the main thread (plan): raise Interrupted there
        self._lock = threading.Lock()
        self._kernels: dict[int, Any] = {}
        self._finishers: dict[int, Finisher] = {}

    @property
    def requested(self) -> bool:
        return self.event.is_set()

    def check(self) -> None:
        """Raise Interrupted if a signal came."""
        if self.event.is_set():
            raise Interrupted(self.signum or signal.SIGINT)

    def sleep(self, seconds: float) -> None:
        """A ``sleep`` for waits in the runner's threads: returns early, raising Interrupted, on a signal."""
        if self.event.wait(seconds):
            raise Interrupted(self.signum or signal.SIGINT)

    @contextlib.contextmanager
    def watching(self, km: Any) -> Iterator[None]:
        """Interrupt this kernel on a signal while the block runs (at once if one came already)."""
        if km is None:
            yield
            return
        with self._lock:
            self._kernels[id(km)] = km
        if self.requested:
            _signal_kernel(km, signal.SIGINT)
        try:
            yield
        finally:
            with self._lock:
                self._kernels.pop(id(km), None)

    @contextlib.contextmanager
    def finishing(self, finish: Callable[[], None]) -> Iterator[Finisher]:
        """Register a run's finisher for the hard stop; the block calls it (or the hard stop does)."""
        finisher = Finisher(finish)
        with self._lock:
            self._finishers[id(finisher)] = finisher
        try:
            yield finisher
        finally:
            finisher()  # (a no-op when the block did it)
            with self._lock:
                self._finishers.pop(id(finisher), None)

    def request(self, signum: int) -> None:
        """A signal came: the first interrupts, the second stops hard."""
        self.count += 1
        if self.signum is None:
            self.signum = signum
        self.event.set()
        if self.count == 1:
            self._signal_kernels(signal.SIGINT)
            threading.Thread(target=self._reinterrupt, name="runbook-interrupt", daemon=True).start()
        else:
            self._signal_kernels(signal.SIGKILL)
            threading.Thread(target=self._hard_stop, name="runbook-hard-stop", daemon=True).start()

    def _kernels_now(self) -> list[Any]:
        with self._lock:
            return list(self._kernels.values())

    def _signal_kernels(self, signum: int) -> None:
        for km in self._kernels_now():
            _signal_kernel(km, signum)

    def _reinterrupt(self) -> None:
        while self.count == 1 and self._kernels_now():
            threading.Event().wait(REINTERRUPT_S)
            self._signal_kernels(signal.SIGINT)

    def _hard_stop(self) -> None:
        """Give the runs ``GRACE_S`` to finish by themselves, finish the others here, then exit."""
        threading.Event().wait(GRACE_S)
        with self._lock:
            left = list(self._finishers.values())
        if not left:
            return  # every run finished by itself: the command ends normally
        for finisher in left:
            try:
                finisher.wait(5.0)
            except Exception:  # one run's record must not keep the others' locks
                log.exception("finishing an interrupted run failed")
        os._exit(exit_code(self.signum))


def _signal_kernel(km: Any, signum: int) -> None:
    """Send a signal to a kernel's process group (jupyter_client starts kernels in a session of their own)."""
    pid = _kernel_pid(km)
    if not pid:
        return
    try:
        os.killpg(os.getpgid(pid), signum)
    except OSError:
        with contextlib.suppress(OSError):
            os.kill(pid, signum)


def _kernel_pid(km: Any) -> int | None:
    provisioner = getattr(km, "provisioner", None)
    process = getattr(provisioner, "process", None)
    pid = getattr(process, "pid", None) or getattr(provisioner, "pid", None)
    return int(pid) if pid else None


_NEVER = StopState()  # outside the command line (a library call, a test): no signal handling
_current: StopState = _NEVER


def current() -> StopState:
    """The stop state of the command running (one that never fires when none installed handlers)."""
    return _current


@contextlib.contextmanager
def handling(*, raise_in_main: bool = False) -> Iterator[StopState]:
    """Install the handlers for SIGINT, SIGTERM and SIGHUP (main thread only) for the block."""
    global _current
    state = StopState()
    state.raise_in_main = raise_in_main
    if threading.current_thread() is not threading.main_thread():
        yield state
        return

    def handler(signum: int, frame: Any) -> None:
        state.request(signum)
        if state.raise_in_main and state.count == 1:
            raise Interrupted(signum)

    saved = {sig: signal.signal(sig, handler) for sig in SIGNALS}
    _current = state
    try:
        yield state
    finally:
        _current = _NEVER
        for sig, previous in saved.items():
            signal.signal(sig, previous)
