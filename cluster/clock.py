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

    def freeze(self) -> None:
        """Stop following real time (step mode); the virtual clock never does anyway."""

    def unfreeze(self) -> None:
        """Follow real time again."""


class WallClock(VirtualClock):
    """Epoch milliseconds that follow real time, and jump ahead for simulated waits.

    Simulated latencies and timeouts do not make a request sleep: the clock
    jumps over them, so a timeout costs no real time.
    """

    kind = "wall"

    def __init__(self, source=time.time):
        self._source = source
        self._ahead = 0  # how far simulated waits have pushed us past real time
        self._frozen_at = None
        super().__init__(self._real())

    def _real(self) -> int:
        return int(self._source() * 1000)

    def now(self) -> int:
        """Real epoch milliseconds plus every simulated wait jumped over (frozen: fixed)."""
        if self._frozen_at is not None:
            return self._frozen_at
        return self._real() + self._ahead

    def advance_to(self, ms: int) -> None:
        """Jump forward to `ms` if time has not got there yet."""
        current = self.now()
        if ms <= current:
            return
        if self._frozen_at is not None:
            self._frozen_at = ms
        else:
            self._ahead += ms - current

    def freeze(self) -> None:
        """Hold time still: while the network is paused only ticks and steps move it."""
        if self._frozen_at is None:
            self._frozen_at = self.now()

    def unfreeze(self) -> None:
        """Follow real time again from where time stood: the paused interval does not count.

        Jumping to real time instead would fire every coordinator's timeout at
        once on resume, as if the network had been slow the whole pause.
        """
        if self._frozen_at is not None:
            frozen, self._frozen_at = self._frozen_at, None
            self._ahead = frozen - self._real()


def make_clock(kind: str) -> VirtualClock:
    """Return a fresh clock of the configured kind ('virtual' or 'wall')."""
    return VirtualClock() if kind == "virtual" else WallClock()
