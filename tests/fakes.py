"""A fake seam for testing one role at a time, as 500 Lines tests its Paxos roles with a FakeNetwork.

A node built on a FakeSeam sends nothing anywhere: the seam records every
message (`sent`), every timer (`timers`) and every event (`events`); a test
hands messages to the node (`deliver`) and fires timers (`fire`) by hand, then
asserts what the role sent.
"""
from __future__ import annotations

from typing import Any, Callable, Iterable, List, Optional

from cluster.codec import round_trip
from cluster.hints import HintStore
from cluster.messages import Message
from cluster.node import ReplicaNode
from cluster.paxos_acceptor import PaxosState
from cluster.ring import Ring
from db import LRUCache, MemoryStorage, NodeStore


class FakeTimer:
    """A timer a test fires by hand."""

    def __init__(self, delay_ms: int, callback: Callable[[], None]):
        self.delay_ms = delay_ms
        self.callback = callback
        self.cancelled = False

    def cancel(self) -> None:
        """Disarm it, as a real timer."""
        self.cancelled = True


class FakeSeam:
    """Records what a node sends, which timers it sets and what it narrates; time stands still."""

    def __init__(self, node_id: int, now: int = 1000):
        self.node_id = node_id
        self.time = now
        self.sent: List[Message] = []
        self.timers: List[FakeTimer] = []
        self.events: List[tuple] = []
        self.receive: Optional[Callable[[Message], None]] = None

    def attach(self, deliver: Callable[[Message], None]) -> None:
        """Remember the node's handler."""
        self.receive = deliver

    def send(self, msg: Message) -> None:
        """Record the message (to a peer or to the node itself) instead of sending it."""
        self.sent.append(msg)

    def ask_self(self, msg: Message) -> None:
        """Record a message to the node itself."""
        self.sent.append(msg)

    def set_timer(self, delay_ms: int, callback: Callable[[], None]) -> FakeTimer:
        """Record the timer."""
        timer = FakeTimer(delay_ms, callback)
        self.timers.append(timer)
        return timer

    def now(self) -> int:
        """The fixed time of this fake."""
        return self.time

    def emit(self, type_: str, text: str, nodes: Iterable[int] = (), key: Optional[str] = None,
             **details: Any) -> None:
        """Record the event."""
        self.events.append((type_, text, tuple(nodes), key, details))

    # --- for tests -------------------------------------------------------------

    def take(self) -> List[Any]:  # Any: a test reads each kind's own fields
        """The messages sent since the last take, and forget them."""
        sent, self.sent = self.sent, []
        return sent

    def deliver(self, msg: Message) -> None:
        """Hand `msg` to the node as a transport would: a decoded copy."""
        assert self.receive is not None
        self.receive(round_trip(msg))

    def fire(self) -> None:
        """Fire every armed timer (once each)."""
        armed = [t for t in self.timers if not t.cancelled]
        self.timers = []
        for timer in armed:
            timer.callback()

    def armed(self) -> List[FakeTimer]:
        """The timers set and not cancelled."""
        return [t for t in self.timers if not t.cancelled]

    def event_types(self) -> List[str]:
        """The types of the events narrated so far."""
        return [e[0] for e in self.events]


def make_node(node_id: int = 0, ring: Optional[Ring] = None, timeout_ms: int = 100,
              conflicts: str = "lww") -> ReplicaNode:
    """A ReplicaNode with memory storage on a FakeSeam (node.seam is the fake)."""
    ring = ring or Ring(5, 16, 3)
    store = NodeStore(MemoryStorage(), LRUCache(1000, 1 << 20), placement=ring.preference_list)
    node = ReplicaNode(node_id, store, HintStore(MemoryStorage()), ring, FakeSeam(node_id), timeout_ms)
    node.paxos = PaxosState(MemoryStorage())
    node.conflicts = conflicts
    return node


def seam_of(node: ReplicaNode) -> FakeSeam:
    """The fake seam of a node made by make_node."""
    assert isinstance(node.seam, FakeSeam)
    return node.seam
