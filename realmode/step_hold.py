"""Step mode across processes, at the sender: each node process holds what it sends while the network is paused.

The front pauses the network by publishing a fault table with `paused` set
(fault_table.py). From the moment a node adopts it:

- its HttpTransport hands every outgoing envelope to `StepHold.hold` instead of
  posting it (the transport's one hook); the envelope waits in a bounded list,
  oldest first. Past MAX_HELD held messages (or MAX_HELD_BYTES) a new one is lost, and a
  message_dropped event says so. Posts already on the wire finish normally;
- its timers stand still (TimerThread.freeze), as the simulation's clock does
  while paused: what is due now still runs (a delivery, the node asking
  itself), a coordinator's timeout waits for POST /tick (`advance`) or resume;
- the front lists the held messages (node_step_routes.py) and delivers, drops
  or duplicates one by its id. A delivery is POSTed at once, on the calling
  thread, so the front can then wait for the receiver to take it.

When a table without `paused` arrives, the clock follows real time again from
where it stood and every held envelope is posted, oldest first.

Message ids are unique in the whole cluster without asking anyone: node n
numbers its k-th message k * nodes + n (MessageIds), so the front finds the
holder of message i at i % nodes, and the events, the space-time diagram's
arrows and /network/messages all use the same id.
"""
from __future__ import annotations

import itertools
import json
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional

from cluster.errors import Conflict, NotFound
from cluster.network import _key_of, message_text
from models import node_name

MAX_HELD = 1_000  # envelopes one node process holds while paused; beyond that a new one is lost
MAX_HELD_BYTES = 64 * 1024 * 1024  # and their JSON size: a student's message may be 1 MB (1,000 of them: 1 GB)
Emit = Callable[..., Any]


class MessageIds:
    """Cluster-unique message ids without coordination: node n of `nodes` numbers k * nodes + n."""

    def __init__(self, node_id: int, nodes: int, first: int = 1):
        self.node_id, self.nodes = node_id, nodes
        self._counter = itertools.count(first)  # next() on a count is atomic under the GIL

    def next(self) -> int:
        """A new id, never given before by this process life (a restart starts `first` further on)."""
        return next(self._counter) * self.nodes + self.node_id

    def encoder(self, encode: Callable[..., dict]) -> Callable[[Any], dict]:
        """`encode(msg)` with a fresh id in the envelope's body (what HttpTransport takes as its encoder)."""
        return lambda msg: encode(msg, self.next())


@dataclass
class Held:
    """One envelope a paused sender keeps: its id, the message, when it was held."""

    msg_id: int
    envelope: dict
    msg: Any
    held_wall_ms: float  # wall time: the front orders the holds of all processes by it
    held_at: float  # monotonic: its age
    size: int = 0  # bytes of JSON, counted against MAX_HELD_BYTES

    def describe(self, detail: Optional[Callable[[Any], dict]] = None) -> dict:
        """The message as GET /network/messages lists it in simulated mode (held: due now)."""
        msg = self.msg
        return {"id": self.msg_id, "from": node_name(msg.src), "to": node_name(msg.dst), "kind": msg.kind,
                "key": _key_of(msg), "summary": msg.summary(), "op_id": msg.op_id,
                "age_ms": int((time.monotonic() - self.held_at) * 1000), "due_in_ms": 0,
                **(detail(msg) if detail else {})}


class StepHold:
    """The held envelopes of one node process, and what the front may do with them."""

    def __init__(self, transport, faults, emit: Emit, ids: MessageIds, limit: int = MAX_HELD,
                 detail: Optional[Callable[[Any], dict]] = None, limit_bytes: int = MAX_HELD_BYTES):
        self.transport, self.faults, self.ids = transport, faults, ids
        self.limit, self.limit_bytes = limit, limit_bytes
        self._bytes = 0
        self.detail = detail  # siblings mode: what each held put carries (its context and siblings)
        self._emit = emit
        self._held: Dict[int, Held] = OrderedDict()
        self._lock = threading.Lock()
        transport.hold = self.hold
        faults.listeners.append(self._table_changed)

    # --- the transport's hook ----------------------------------------------------

    def hold(self, envelope: dict, msg) -> bool:
        """Keep `envelope` while the network is paused; True if it is not to be posted (held or lost)."""
        if not self.faults.table.paused:
            return False
        msg_id = envelope["body"]["msg_id"]
        with self._lock:
            if msg_id in self._held:  # the network's own duplicate (a link fault): a copy with its own id
                msg_id = self.ids.next()
                envelope = {**envelope, "body": {**envelope["body"], "msg_id": msg_id}}
            size = len(json.dumps(envelope))  # only while paused: step mode moves messages by hand
            full = self._full(size)
            if not full:
                self._held[msg_id] = Held(msg_id, envelope, msg, time.time() * 1000, time.monotonic(), size)
                self._bytes += size
        if full:
            self._event("message_dropped", "dropped message", msg_id, msg,
                        reason=f"{node_name(msg.src)} already holds {full} while the network is "
                               "paused, its bound: this one is lost")
        return True

    def _full(self, size: int) -> str:
        """Which bound one more held message of `size` bytes would pass ("" if none); under the lock."""
        if len(self._held) >= self.limit:
            return f"{self.limit} messages"
        if self._bytes + size > self.limit_bytes:
            return f"{self._bytes} bytes of messages (at most {self.limit_bytes})"
        return ""

    # --- what the front asks ----------------------------------------------------------

    def listing(self) -> List[list]:
        """Every held message as [held at (wall ms), its /network/messages entry], oldest first."""
        with self._lock:
            held = list(self._held.values())
        return [[h.held_wall_ms, h.describe(self.detail)] for h in held]

    def _take(self, msg_id: int) -> Held:
        with self._lock:
            held = self._held.pop(msg_id, None)
            self._bytes -= held.size if held is not None else 0
        if held is None:
            raise NotFound(f"No message {msg_id} is in flight; GET /network/messages lists them.", msg_id=msg_id)
        return held

    def deliver(self, msg_id: int) -> dict:
        """POST one held message to its receiver now (any order you like); says where, and why lost if it was."""
        held = self._take(msg_id)
        lost = self.transport.post_now(held.envelope, held.msg)
        return {"delivered": msg_id, "to": held.msg.dst, "lost": lost}

    def drop(self, msg_id: int, reason: str = "dropped by hand") -> dict:
        """Lose one held message."""
        held = self._take(msg_id)
        self._event("message_dropped", "dropped message", msg_id, held.msg, reason=reason)
        return {"dropped": msg_id, "to": held.msg.dst}

    def duplicate(self, msg_id: int) -> dict:
        """Hold a second copy of a held message under a new id; both will be delivered."""
        with self._lock:
            original = self._held.get(msg_id)
            if original is None:
                raise NotFound(f"No message {msg_id} is in flight; GET /network/messages lists them.",
                               msg_id=msg_id)
            full = self._full(original.size)
            if full:
                raise Conflict(f"{node_name(original.msg.src)} already holds {full}, its bound "
                               "while the network is paused: deliver or drop some first.")
            copy_id = self.ids.next()
            envelope = {**original.envelope, "body": {**original.envelope["body"], "msg_id": copy_id}}
            self._held[copy_id] = Held(copy_id, envelope, original.msg, time.time() * 1000, time.monotonic(),
                                       original.size)
            self._bytes += original.size
        self._event("message_duplicated", f"message {msg_id} copied as", copy_id, original.msg,
                    original_id=msg_id, reason="duplicated by hand")
        return {"copy_id": copy_id}

    # --- pause and resume -------------------------------------------------------------

    def _table_changed(self, old, new) -> None:
        """Freeze the timers when a pause begins; when it ends, follow real time again and post what is held."""
        timers = self.transport.timers
        if new.paused and not timers.frozen:
            timers.freeze()
        elif not new.paused and old.paused:
            timers.unfreeze()
            with self._lock:
                held, self._held, self._bytes = list(self._held.values()), OrderedDict(), 0
            for item in held:
                self.transport.release(item.envelope, item.msg)

    def _event(self, type_: str, verb: str, msg_id: int, msg, **details) -> None:
        # The simulated Network's sentence ("dropped message 7, node-1 -> node-0: put ... (why)"), so a
        # story reads the same in both modes and names the message by the id the student used.
        summarize, parts = msg.summary_parts()
        text = message_text(verb, msg_id, msg.src, msg.dst, details.get("reason"), summarize, *parts)
        self._emit(type_, text, (msg.src, msg.dst), _key_of(msg), msg_id=msg_id, kind=msg.kind,
                   op_id=msg.op_id, **details)
