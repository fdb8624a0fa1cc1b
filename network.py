"""Network: the only path between nodes, and the simulation's scheduler.

Nodes never call each other. A node hands a Message to `send`; the Network
alone decides whether and when it arrives, using one seeded random.Random and
one clock. Timers (a coordinator waiting for replicas) sit in the same queue,
so `run()` replays the cluster's life in time order, deterministically.

Today the only fault is a node being down; the per-link and whole-network
faults of later labs slot into `_fate`, which every message passes through.
"""
from __future__ import annotations

import copy
import heapq
import itertools
import random
from dataclasses import dataclass, field, replace
from typing import Callable, Dict, Optional

from models import Message, node_name


@dataclass
class Timer:
    """A wake-up call for one node at one simulated time; cancel() disarms it."""

    node: int
    callback: Callable[[], None]
    cancelled: bool = False

    def cancel(self) -> None:
        """Disarm the timer; it will be skipped when its time comes."""
        self.cancelled = True


@dataclass
class InFlight:
    """A message on the wire, due at `deliver_at`."""

    msg: Message
    sent_at: int
    deliver_at: int
    msg_id: int = field(default=0)


class Network:
    """Delivers messages between registered nodes with simulated latency and faults."""

    def __init__(self, clock, events, seed: int = 0, latency_ms=(1, 10)):
        self.clock = clock
        self.events = events
        self.rng = random.Random(seed)
        self.latency_ms = tuple(latency_ms)
        self.down: set = set()
        self._nodes: Dict[int, object] = {}
        self._queue: list = []
        self._order = itertools.count()  # tie-breaker: equal times keep send order
        self._msg_ids = itertools.count(1)

    def register(self, node) -> None:
        """Attach a node; it must have `node_id` and `receive(msg)`."""
        self._nodes[node.node_id] = node

    # --- sending ----------------------------------------------------------

    def send(self, msg: Message) -> Optional[int]:
        """Put a message on the wire; returns its id, or None if it was dropped at once."""
        msg_id = next(self._msg_ids)
        drop_reason = self._fate(msg)
        text = f"{node_name(msg.src)} -> {node_name(msg.dst)}: {msg.summary()}"
        details = {"msg_id": msg_id, "kind": msg.kind, "op_id": msg.op_id}
        key = _key_of(msg)
        if drop_reason:
            self.events.emit("message_dropped", f"dropped message {msg_id} ({text}): {drop_reason}",
                             (msg.src, msg.dst), key, reason=drop_reason, **details)
            return None
        now = self.clock.now()
        deliver_at = now + self.rng.randint(*self.latency_ms)
        self._push(deliver_at, InFlight(msg, now, deliver_at, msg_id))
        self.events.emit("message_sent", f"message {msg_id} sent, {text}",
                         (msg.src, msg.dst), key, latency_ms=deliver_at - now, **details)
        return msg_id

    def _fate(self, msg: Message) -> Optional[str]:
        """Return why `msg` cannot be delivered now, or None if it can."""
        if msg.dst in self.down:
            return f"{node_name(msg.dst)} is down"
        if msg.src in self.down:
            return f"{node_name(msg.src)} is down"
        return None

    def set_timer(self, node_id: int, delay_ms: int, callback: Callable[[], None]) -> Timer:
        """Call `callback` on behalf of `node_id` after `delay_ms` of simulated time."""
        timer = Timer(node_id, callback)
        self._push(self.clock.now() + delay_ms, timer)
        return timer

    def _push(self, at: int, item) -> None:
        heapq.heappush(self._queue, (at, next(self._order), item))

    # --- running the simulation ---------------------------------------------

    def step(self) -> bool:
        """Process the next due message or timer; returns False when nothing is left."""
        while self._queue:
            at, _, item = heapq.heappop(self._queue)
            if isinstance(item, Timer):
                if item.cancelled:
                    continue
                self.clock.advance_to(at)
                if item.node not in self.down:
                    item.callback()
                return True
            self.clock.advance_to(at)
            self._deliver(item)
            return True
        return False

    def _deliver(self, flight: InFlight) -> None:
        msg = flight.msg
        text = f"{node_name(msg.src)} -> {node_name(msg.dst)}: {msg.summary()}"
        details = {"msg_id": flight.msg_id, "kind": msg.kind, "op_id": msg.op_id}
        reason = self._fate(msg)
        if reason:  # the node went down while the message was in flight
            self.events.emit("message_dropped", f"dropped message {flight.msg_id} ({text}): {reason}",
                             (msg.src, msg.dst), _key_of(msg), reason=reason, **details)
            return
        self.events.emit("message_delivered", f"message {flight.msg_id} delivered, {text}",
                         (msg.src, msg.dst), _key_of(msg), **details)
        # Copy on delivery so sender and receiver never share a mutable value.
        self._nodes[msg.dst].receive(replace(msg, **{f: copy.deepcopy(getattr(msg, f))
                                                      for f in _payload_fields(msg)}))

    def run(self, until: Optional[Callable[[], bool]] = None, max_steps: int = 1_000_000) -> int:
        """Process events until `until()` is true or nothing is left; returns steps taken."""
        steps = 0
        while steps < max_steps and not (until and until()):
            if not self.step():
                break
            steps += 1
        return steps

    @property
    def in_flight(self) -> int:
        """Number of messages on the wire (timers not counted)."""
        return sum(1 for _, _, item in self._queue if isinstance(item, InFlight))


def _key_of(msg: Message) -> Optional[str]:
    record = getattr(msg, "record", None)
    return record.key if record is not None else getattr(msg, "key", None) or None


def _payload_fields(msg: Message):
    return [f for f in ("record", "records") if hasattr(msg, f)]
