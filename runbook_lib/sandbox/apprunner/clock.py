"""The emulator's clock (movable by tests) and its status transitions (now, after N reads, or by time)."""

from __future__ import annotations

import heapq
import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = [
    "Clock", "Transitions",
]  # fmt: skip



class Clock:
    """Wall clock with an offset that tests can move forward (``advance``) instead of sleeping."""

    def __init__(self) -> None:
        self.offset = 0.0

    def now(self) -> float:
        return time.time() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += max(0.0, float(seconds))


@dataclass(order=True)
class _Scheduled:
    due: float
    seq: int
    fn: Callable[[], None] = field(compare=False)


class Transitions:
    """Status-transition helper: callbacks that fire at a time.

    ``run_due()`` fires what is due (the server calls it before every request, so a zero delay still
    shows the in-between state in the response that started it); ``settle()`` jumps the clock forward
    and fires everything pending, for deterministic tests.
    """

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self._heap: list[_Scheduled] = []
        self._seq = itertools.count()

    def schedule(self, delay: float, fn: Callable[[], None]) -> None:
        heapq.heappush(self._heap, _Scheduled(self.clock.now() + max(0.0, delay), next(self._seq), fn))

    def pending(self) -> int:
        return len(self._heap)

    def run_due(self) -> int:
        fired = 0
        while self._heap and self._heap[0].due <= self.clock.now():
            heapq.heappop(self._heap).fn()
            fired += 1
        return fired

    def settle(self, limit: int = 10_000) -> int:
        fired = 0
        while self._heap and fired < limit:
            item = heapq.heappop(self._heap)
            lag = item.due - self.clock.now()
            if lag > 0:
                self.clock.advance(lag)
            item.fn()
            fired += 1
        return fired

    def clear(self) -> None:
        self._heap.clear()
