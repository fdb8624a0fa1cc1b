"""What a transport must provide: the only way the protocol reaches the world.

A node never sees a transport: it gets a per-node seam (cluster/seam.py) built
over one. The simulated `Network` (cluster/network.py) is the first
implementation; an HTTP transport between node processes is the second (real
mode). A real transport promises only: at-most-once delivery per send attempt
(duplicates possible on retry), no ordering, timers that fire no earlier than
asked, and a `now()` that is monotonic per process. The simulation promises
more (per-seed determinism); the protocol must not rely on it.
"""
from __future__ import annotations

from typing import Callable, Protocol

from cluster.messages import Message


class Timer(Protocol):
    """A pending wake-up call; cancel() disarms it (cancelling twice is harmless)."""

    def cancel(self) -> None:
        """Disarm the timer."""


class Transport(Protocol):
    """Delivery between nodes, timers and time, as a node's seam needs them."""

    def register(self, node_id: int, deliver: Callable[[Message], None]) -> None:
        """Hand every message addressed to `node_id` to `deliver` (a decoded copy)."""

    def send(self, msg: Message) -> None:
        """Put `msg` on its way to `msg.dst`; never blocks on the network."""

    def set_timer(self, node_id: int, delay_ms: int, callback: Callable[[], None]) -> Timer:
        """Call `callback` on behalf of `node_id` after `delay_ms` milliseconds of this transport's time."""

    def now(self) -> int:
        """Milliseconds on this transport's clock."""
