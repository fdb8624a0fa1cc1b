"""NodeSeam: everything a node may do to the world — send, ask itself, set timers, read time, narrate.

Every protocol file (node, quorum, paxos, ...) talks through the seam its node
got at birth and nothing else, as the roles of 500 Lines' "Clustering by
Consensus" only call `send` and `set_timer`. The seam sits over a Transport
(cluster/transport.py); tests swap in a fake one (tests/fakes.py).

A message a node sends to itself (a coordinator that is also a replica) never
crosses the transport: `ask_self` delivers it, round-tripped through the
codec, from a zero-delay timer, so the node's own answer arrives the way every
other answer does, after the current handler returns.
"""
from __future__ import annotations

from typing import Any, Callable, Iterable, Optional, Protocol

from cluster.codec import round_trip
from cluster.messages import Message
from cluster.transport import Timer, Transport


class Seam(Protocol):
    """What a node may use of the world (NodeSeam here; tests/fakes.py's FakeSeam in role tests)."""

    def attach(self, deliver: Callable[[Message], None]) -> None:
        """Receive this node's messages through `deliver`."""

    def send(self, msg: Message) -> None:
        """Send `msg` (to a peer, or to this node itself)."""

    def ask_self(self, msg: Message) -> None:
        """Deliver `msg` to this node with zero delay."""

    def set_timer(self, delay_ms: int, callback: Callable[[], None]) -> Timer:
        """Call `callback` after `delay_ms` milliseconds, unless cancelled."""

    def now(self) -> int:
        """Milliseconds on the transport's clock."""

    def emit(self, type_: str, text: str, nodes: Iterable[int] = (), key: Optional[str] = None,
             **details: Any) -> None:
        """Record one event."""

    def emit_lazy(self, type_: str, render: Callable[..., str], args: tuple, nodes: Iterable[int] = (),
                  key: Optional[str] = None, **details: Any) -> None:
        """Record one event whose sentence is `render(*args)`, written when read."""


class NodeSeam:
    """One node's view of the world: its id, a transport, an event sink."""

    def __init__(self, node_id: int, transport: Transport, events: Any):
        self.node_id = node_id
        self.transport = transport
        self.events = events  # anything with emit(type, text, nodes, key, **details)
        self._deliver: Optional[Callable[[Message], None]] = None

    def attach(self, deliver: Callable[[Message], None]) -> None:
        """Receive this node's messages through `deliver` (done once, when the node is born)."""
        self._deliver = deliver
        self.transport.register(self.node_id, deliver)

    def send(self, msg: Message) -> None:
        """Send `msg`; a message to this node itself is asked locally (ask_self)."""
        if msg.dst == self.node_id:
            self.ask_self(msg)
        else:
            self.transport.send(msg)

    def ask_self(self, msg: Message) -> None:
        """Deliver `msg` to this node with zero delay, as a decoded copy, once the current handler returns."""
        copy = round_trip(msg)
        self.transport.set_timer(self.node_id, 0, lambda: self._receive(copy))

    def _receive(self, msg: Message) -> None:
        assert self._deliver is not None, "a node attaches to its seam when it is born"
        self._deliver(msg)

    def set_timer(self, delay_ms: int, callback: Callable[[], None]) -> Timer:
        """Call `callback` after `delay_ms` milliseconds, unless cancelled."""
        return self.transport.set_timer(self.node_id, delay_ms, callback)

    def now(self) -> int:
        """Milliseconds on the transport's clock (the node adds its own skew)."""
        return self.transport.now()

    def emit(self, type_: str, text: str, nodes: Iterable[int] = (), key: Optional[str] = None,
             **details: Any) -> None:
        """Record one event (the console narrates it, /events serves it)."""
        self.events.emit(type_, text, nodes, key, **details)

    def emit_lazy(self, type_: str, render: Callable[..., str], args: tuple, nodes: Iterable[int] = (),
                  key: Optional[str] = None, **details: Any) -> None:
        """Record one event whose sentence `render(*args)` is written only when read (EventLog.emit_lazy)."""
        lazy = getattr(self.events, "emit_lazy", None)
        if lazy is None:  # a sink with emit only (real mode's event relay): write it now
            self.events.emit(type_, render(*args), nodes, key, **details)
        else:
            lazy(type_, render, args, nodes, key, **details)
