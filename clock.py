"""The cluster's two clocks. Nothing else in the cluster reads real time.

Both clocks only move forward. The simulation advances them to each message's
delivery time; the wall clock also moves with real time between requests.
"""
from __future__ import annotations

import time


class VirtualClock:
    """Simulated milliseconds that advance only when the simulation says so."""

    kind = "virtual"

    def __init__(self, start_ms: int = 0):
        self._now = start_ms
        self.start_ms = start_ms

    def now(self) -> int:
        """Current simulated time in milliseconds."""
        return self._now

    def advance_to(self, ms: int) -> None:
        """Move time forward to `ms` (never backward)."""
        if ms > self._now:
            self._now = ms

    def elapsed(self) -> int:
        """Milliseconds since the cluster started."""
        return self.now() - self.start_ms


class WallClock(VirtualClock):
    """Epoch milliseconds that follow real time, and jump ahead for simulated waits.

    Simulated latencies and timeouts do not make a request sleep: the clock
    jumps over them, so a timeout costs no real time.
    """

    kind = "wall"

    def __init__(self, source=time.time):
        self._source = source
        self._ahead = 0  # how far simulated waits have pushed us past real time
        super().__init__(self._real())

    def _real(self) -> int:
        return int(self._source() * 1000)

    def now(self) -> int:
        """Real epoch milliseconds plus every simulated wait jumped over."""
        return self._real() + self._ahead

    def advance_to(self, ms: int) -> None:
        """Jump forward to `ms` if real time has not got there yet."""
        current = self.now()
        if ms > current:
            self._ahead += ms - current


def make_clock(kind: str) -> VirtualClock:
    """Return a fresh clock of the configured kind ('virtual' or 'wall')."""
    return VirtualClock() if kind == "virtual" else WallClock()
