"""Network: the simulated transport — the only path between nodes, and the simulation's scheduler.

It implements cluster/transport.py's Transport (register, send, set_timer,
now); nodes reach it only through their seam (cluster/seam.py). Nodes never
call each other. A node hands a Message to `send`; the Network
alone decides whether and when it arrives — down nodes, partitions, link and
network faults (faults.py) — using one seeded random.Random and one clock.
Messages in flight and timers (a coordinator waiting for replicas) are two
queues ordered by time, so `run()` replays the cluster's life in time order.

Step mode: while `paused`, messages are held instead of delivered; a student
lists them, delivers, drops or duplicates them one by one, and timers still
fire when the clock reaches them (the wall clock moves by itself, the virtual
clock by `tick`).
"""
from __future__ import annotations

import heapq
import itertools
import logging
import random
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Tuple

from cluster.codec import round_trip
from cluster.errors import NotFound
from cluster.faults import FaultSet, down_reason
from cluster.messages import Message
from models import node_name

logger = logging.getLogger("replicalab")


@dataclass
class Timer:
    """A wake-up call for one node at one simulated time; cancel() disarms it (a transport.Timer)."""

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
    msg_id: int

    def describe(self, now: int) -> dict:
        """The message as /network/messages lists it."""
        return {"id": self.msg_id, "from": node_name(self.msg.src), "to": node_name(self.msg.dst),
                "kind": self.msg.kind, "key": _key_of(self.msg), "summary": self.msg.summary(),
                "op_id": self.msg.op_id, "age_ms": now - self.sent_at,
                "due_in_ms": max(0, self.deliver_at - now)}


class Network:
    """Delivers messages between registered nodes with simulated latency and faults."""

    def __init__(self, clock, events, seed: int = 0, latency_ms=(1, 10)):
        self.clock = clock
        self.events = events
        self.rng = random.Random(seed)
        self.latency_ms = tuple(latency_ms)
        self.down: set = set()
        self.faults = FaultSet()
        self.paused = False
        self._nodes: Dict[int, Callable[[Message], None]] = {}
        self._messages: list = []  # heap of (deliver_at, order, InFlight)
        self._timers: list = []  # heap of (at, order, Timer)
        self._order = itertools.count()  # tie-breaker: equal times keep send order
        self._msg_ids = itertools.count(1)

    def register(self, node_id: int, deliver: Callable[[Message], None]) -> None:
        """Hand the messages addressed to `node_id` to `deliver`."""
        self._nodes[node_id] = deliver

    def now(self) -> int:
        """The simulated clock's milliseconds."""
        return self.clock.now()

    # --- sending ----------------------------------------------------------

    def send(self, msg: Message) -> None:
        """Put a message on the wire, or drop it at once (a fault, a down node)."""
        msg_id = next(self._msg_ids)
        now = self.clock.now()
        latency = self.rng.randint(*self.latency_ms)
        reason = self._blocked(msg) or self.faults.random_drop(msg.src, msg.dst, self.rng)
        if reason:
            self._event("message_dropped", "dropped message", msg_id, msg, reason=reason)
            return
        latency += self.faults.extra_delay(msg.src, msg.dst, self.rng)
        self._enqueue(InFlight(msg, now, now + latency, msg_id))
        self._event("message_sent", "sent message", msg_id, msg, latency_ms=latency)
        if self.faults.duplicated(self.rng):
            self.duplicate(msg_id, reason="the network duplicated it")

    def _blocked(self, msg: Message) -> Optional[str]:
        """Why `msg` cannot pass right now (down node, partition, link down), or None."""
        return down_reason(self.down, msg.src, msg.dst) or self.faults.blocked(msg.src, msg.dst)

    def _enqueue(self, flight: InFlight) -> None:
        heapq.heappush(self._messages, (flight.deliver_at, next(self._order), flight))

    def _event(self, type_: str, verb: str, msg_id: int, msg: Message, **details) -> None:
        # The most numerous events: their sentence is written only when read (the console
        # narrating them, /events, a listener), from the message's summary fields, not the message.
        summarize, parts = msg.summary_parts()
        self.events.emit_lazy(type_, message_text, (verb, msg_id, msg.src, msg.dst, details.get("reason"),
                                                    summarize, *parts),
                              (msg.src, msg.dst), _key_of(msg), msg_id=msg_id, kind=msg.kind, op_id=msg.op_id,
                              **details)

    def set_timer(self, node_id: int, delay_ms: int, callback: Callable[[], None]) -> Timer:
        """Call `callback` on behalf of `node_id` after `delay_ms` of simulated time."""
        timer = Timer(node_id, callback)
        heapq.heappush(self._timers, (self.clock.now() + delay_ms, next(self._order), timer))
        return timer

    # --- running the simulation ---------------------------------------------

    def _next_due(self, messages: bool) -> Optional[Tuple[str, int]]:
        """What comes next in simulated time: ("timer", at) or ("message", at), or None.

        The one ordering rule of the simulation: a timer due at the same time as
        a message fires first. `messages=False` looks at timers only.
        """
        while self._timers and self._timers[0][2].cancelled:
            heapq.heappop(self._timers)
        timer_at = self._timers[0][0] if self._timers else None
        message_at = self._messages[0][0] if (messages and self._messages) else None
        if timer_at is not None and (message_at is None or timer_at <= message_at):
            return "timer", timer_at
        return None if message_at is None else ("message", message_at)

    def next_due(self) -> Optional[int]:
        """The simulated time of the next message or timer, or None (chaos runs interleave by it)."""
        due = self._next_due(messages=not self.paused)
        return None if due is None else due[1]

    def _process_next(self, kind: str) -> Optional[int]:
        """Fire the next timer or deliver the next message; returns a delivered message's id."""
        if kind == "timer":
            at, _, timer = heapq.heappop(self._timers)
            self.clock.advance_to(at)
            if timer.node not in self.down:
                timer.callback()
            return None
        _, _, flight = heapq.heappop(self._messages)
        self.clock.advance_to(flight.deliver_at)
        self._deliver(flight)
        return flight.msg_id

    def step(self) -> bool:
        """Process the next message or timer in time order; False when nothing is due.

        Unpaused, time jumps to the next item. Paused, only timers already due
        fire: held messages wait for a student, and time waits for the clock.
        """
        due = self._next_due(messages=not self.paused)
        if due is None or (self.paused and due[1] > self.clock.now()):
            return False
        self._process_next(due[0])
        return True

    def run(self, max_steps: int = 10_000_000) -> int:
        """Process everything that can happen now; returns the number of steps taken."""
        steps = 0
        while steps < max_steps and self.step():
            steps += 1
        return steps

    def _deliver(self, flight: InFlight) -> None:
        msg = flight.msg
        reason = self._blocked(msg)  # a fault may have appeared while it was in flight
        if reason:
            self._event("message_dropped", "dropped message", flight.msg_id, msg, reason=reason)
            return
        self._event("message_delivered", "delivered message", flight.msg_id, msg)
        try:
            # Only a decoded copy crosses: the wire format is tested by every run, and nodes share nothing.
            self._nodes[msg.dst](round_trip(msg, flight.msg_id))
        except Exception as error:  # noqa: BLE001 -- one bad message must not poison the queue
            # A bug, or data an older version stored: the message is lost like a dropped one,
            # its operation times out as usual, and the next request finds the queue clean.
            logger.exception("message %d (%s) could not be handled", flight.msg_id, msg.kind)
            self._event("message_dropped", "dropped message", flight.msg_id, msg,
                        reason=f"{node_name(msg.dst)} could not handle it ({type(error).__name__})")

    # --- step mode ------------------------------------------------------------

    def pause(self) -> None:
        """Hold every message from now on instead of delivering it."""
        self.paused = True

    def resume(self) -> None:
        """Deliver normally again (the caller then runs the network)."""
        self.paused = False

    def held(self, detail=None) -> List[dict]:
        """Messages in flight, in the order the network would deliver them.

        `detail(msg)` may add fields to each (siblings mode shows the causal context a put carries).
        """
        now = self.clock.now()
        flights = [flight for _, _, flight in sorted(self._messages, key=lambda e: e[:2])]
        return [{**flight.describe(now), **(detail(flight.msg) if detail else {})} for flight in flights]

    def unlisted(self) -> List[str]:
        """Why some held messages cannot be listed now: none here (the simulated network holds them all)."""
        return []

    def _take(self, msg_id: int) -> InFlight:
        for index, (_, _, flight) in enumerate(self._messages):
            if flight.msg_id == msg_id:
                self._messages.pop(index)
                heapq.heapify(self._messages)
                return flight
        raise NotFound(f"No message {msg_id} is in flight; GET /network/messages lists them.",
                       msg_id=msg_id)

    def deliver(self, msg_id: int) -> None:
        """Deliver one held message now, whatever its due time (out of order if you like)."""
        self._deliver(self._take(msg_id))

    def drop(self, msg_id: int) -> None:
        """Lose one held message."""
        flight = self._take(msg_id)
        self._event("message_dropped", "dropped message", msg_id, flight.msg, reason="dropped by hand")

    def duplicate(self, msg_id: int, reason: str = "duplicated by hand") -> int:
        """Put a second copy of a message in flight; returns the copy's id."""
        original = next((f for _, _, f in self._messages if f.msg_id == msg_id), None)
        if original is None:
            raise NotFound(f"No message {msg_id} is in flight; GET /network/messages lists them.",
                           msg_id=msg_id)
        copy_id = next(self._msg_ids)
        now = self.clock.now()
        deliver_at = now + self.rng.randint(*self.latency_ms)
        self._enqueue(InFlight(original.msg, now, deliver_at, copy_id))
        self._event("message_duplicated", f"message {msg_id} copied as", copy_id, original.msg,
                    original_id=msg_id, reason=reason)
        return copy_id

    def step_message(self) -> Optional[int]:
        """Deliver the next held message in the network's order; timers due before it fire first."""
        while self._messages:
            due = self._next_due(messages=True)
            assert due is not None  # a message is waiting
            delivered = self._process_next(due[0])  # a timer may send a message that is now the head
            if delivered is not None:
                return delivered
        return None

    def tick(self, ms: int) -> int:
        """Advance the clock by `ms`, then process what became due; returns steps taken."""
        self.clock.advance_to(self.clock.now() + ms)
        return self.run()

    @property
    def in_flight(self) -> int:
        """Number of messages on the wire (timers not counted)."""
        return len(self._messages)


def message_text(verb: str, msg_id: int, src: int, dst: int, reason: Optional[str], summarize: Callable[..., str],
                 *parts) -> str:
    """A message event's sentence: "sent message 7, node-0 -> node-2: put k v1@node-0 (reason)".

    One flat tuple of arguments (the summary's parts last) keeps a lazy event small.
    """
    text = f"{verb} {msg_id}, {node_name(src)} -> {node_name(dst)}: {summarize(*parts)}"
    return text if reason is None else f"{text} ({reason})"


def _key_of(msg: Message) -> Optional[str]:
    record = getattr(msg, "record", None)
    return record.key if record is not None else getattr(msg, "key", None) or None
