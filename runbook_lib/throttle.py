"""A request budget per account and region, shared by every process of a batch.

Each environment of a batch runs in its own kernel process, so the budget cannot live in one process's
memory: it is a token bucket kept in a small file per (account, region), reserved under an exclusive
``flock``. Every App Runner request (each retry too) takes one token before it is sent (botocore's
``before-send`` event); when the bucket is empty the request waits for its slot instead of being
throttled by AWS. The bucket is a GCRA: the file holds the time the next token is free.

Configuration (environment variables, so the kernels a runner starts inherit them; ``runbook up
--rate``/``--burst`` set them):

- ``RUNBOOK_APPRUNNER_RATE``: requests per second per account and region [10]; ``0`` turns it off.
- ``RUNBOOK_APPRUNNER_BURST``: requests that may go at once after a quiet spell [20].
- ``RUNBOOK_BUDGET_DIR``: where the bucket files live [``<tmp>/runbook-budget-<uid>``]; every process
  on the machine that uses the same folder shares the budget.

App Runner publishes no request-rate quota per API, so the default stays at half the 20 per second at
which the bench's sandbox throttles (docs/performance.md, "Batches that scale").
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import re
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "BURST_ENV", "Budget", "DEFAULT_BURST", "DEFAULT_RATE", "DIR_ENV", "RATE_ENV", "configured",
    "default_dir", "from_environment",
]  # fmt: skip

log = logging.getLogger(__name__)

RATE_ENV = "RUNBOOK_APPRUNNER_RATE"
BURST_ENV = "RUNBOOK_APPRUNNER_BURST"
DIR_ENV = "RUNBOOK_BUDGET_DIR"
DEFAULT_RATE = 10.0
DEFAULT_BURST = 20
_LOCAL = threading.Lock()  # flock excludes other processes (and other descriptors); this, our threads


def default_dir() -> Path:
    """The machine's shared folder of bucket files (per user)."""
    uid = os.getuid() if hasattr(os, "getuid") else 0
    return Path(tempfile.gettempdir()) / f"runbook-budget-{uid}"


@dataclass(frozen=True)
class Budget:
    """A token bucket of ``rate`` requests per second and ``burst`` at once, in ``folder/<key>``."""

    key: str
    rate: float
    burst: int = DEFAULT_BURST
    folder: Path = field(default_factory=default_dir)
    clock: Callable[[], float] = time.time  # wall clock: shared by every process on the machine
    sleep: Callable[[float], None] = time.sleep

    @property
    def path(self) -> Path:
        return self.folder / f"{re.sub(r'[^A-Za-z0-9_.-]', '_', self.key)}.bucket"

    def reserve(self) -> float:
        """Take the next free slot; the seconds to wait before using it (0 when a token is there)."""
        interval = 1.0 / self.rate
        self.folder.mkdir(parents=True, exist_ok=True)
        with _LOCAL, open(self.path, "a+") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            fh.seek(0)
            try:
                next_free = float(fh.read().strip() or 0.0)
            except ValueError:  # a torn or foreign file: start afresh
                next_free = 0.0
            now = self.clock()
            slot = max(next_free, now - (self.burst - 1) * interval)
            fh.seek(0)
            fh.truncate()
            fh.write(repr(slot + interval))
            fh.flush()
        return max(0.0, slot - now)

    def acquire(self) -> float:
        """Wait for a token; the seconds waited."""
        wait = self.reserve()
        if wait > 0:
            log.debug("request budget %s: waiting %.2f s", self.key, wait)
            self.sleep(wait)
        return wait

    def attach(self, client: Any) -> None:
        """Make every request of a botocore client (retries included) take a token first."""
        service = client.meta.service_model.service_name

        def before_send(**_: Any) -> None:
            self.acquire()  # returns None: botocore then sends the request itself

        client.meta.events.register(f"before-send.{service}", before_send)


def _number(name: str, default: float) -> float:
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    try:
        return float(text)
    except ValueError:
        log.warning("%s=%r is not a number; using %s", name, text, default)
        return default


def from_environment(account: str | None, region: str | None) -> Budget | None:
    """The App Runner budget of this account and region as configured, or None when turned off."""
    rate = _number(RATE_ENV, DEFAULT_RATE)
    if rate <= 0:
        return None
    burst = max(1, int(_number(BURST_ENV, DEFAULT_BURST)))
    folder = Path(os.environ[DIR_ENV]) if os.environ.get(DIR_ENV) else default_dir()
    return Budget(f"apprunner-{account or 'any'}-{region or 'default'}", rate, burst, folder)


@contextlib.contextmanager
def configured(rate: float | None = None, burst: int | None = None) -> Any:
    """Within the block, this process and the kernels it starts use ``rate``/``burst`` (None: as is)."""
    wanted = {RATE_ENV: rate, BURST_ENV: burst}
    saved = {name: os.environ.get(name) for name in wanted}
    for name, value in wanted.items():
        if value is not None:
            os.environ[name] = f"{value:g}" if isinstance(value, float) else str(value)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
