"""EventLog: every thing the cluster does, numbered, timed and narrated.

Events are appended in order under the cluster lock; the console narrates each
one in a plain-English line, and /events pages through them.

The log is a ring buffer of `max_events` slots. Sequence numbers are
contiguous, so the event numbered `seq` sits in slot `(seq - 1) % max_events`:
finding a request's story or a page of /events costs as many steps as events
returned, however long the server has run.

The ring also has a budget in bytes (`max_bytes`, 48 MiB by default, of
estimated size: see `event_bytes`): events with long keys or long details
(512-character keys, a crash listing the keys it lost) would otherwise let
100,000 events take hundreds of MiB. Past the budget the oldest events are
forgotten first, exactly as past `max_events`; `first_seq` says where the log
starts. Events never carry values, only previews of at most 40 characters.

Narration is buffered: the lines of one request go to the console in one write
when the network settles (ClusterCore.settle) or the request ends (`flush`),
instead of one logging call and one system call per event.
"""
from __future__ import annotations

import logging
import threading
from typing import Callable, Dict, Iterable, List, Optional

from models import Event

logger = logging.getLogger("replicalab")

# Per-message events are the most numerous; narrate=ops leaves them out of the console.
MESSAGE_EVENTS = frozenset({"message_sent", "message_delivered", "message_dropped"})
# A long network run (a recovery sync) prints its lines in chunks of this many.
NARRATION_BATCH = 256
MAX_BYTES = 48 * 1024 * 1024  # the whole log, estimated by event_bytes
EVENT_OVERHEAD = 200  # the Event object, its slots, the shared tuples, the text's header
ARGS_OVERHEAD = 64  # a lazy sentence's arguments tuple, beyond its slots
# Per argument of a lazy sentence: its slot (8) and a share of what the arguments hold of
# their own (a Version of 48 bytes, a preview of up to 40 characters; names, the key, the
# format function and small numbers are shared). tracemalloc measured ~480 bytes per lazy
# message event in all, against ~450 for a written one.
LAZY_ARG_BYTES = 24


def detail_bytes(value) -> int:
    """A detail value's estimated size: strings by length, containers by their items."""
    if isinstance(value, str):
        return len(value)
    if isinstance(value, (list, tuple, set, frozenset)):
        return 8 * len(value) + sum(detail_bytes(item) for item in value)
    if isinstance(value, dict):
        return 16 * len(value) + sum(detail_bytes(k) + detail_bytes(v) for k, v in value.items())
    return 8


def event_bytes(text, key: Optional[str], details: dict, args: Optional[tuple] = None) -> int:
    """An event's estimated size in memory: its sentence, key and details plus a fixed overhead.

    A lazy sentence (`args` not None, `text` its format function) is estimated by what the
    event holds instead of the sentence: its arguments, LAZY_ARG_BYTES each (by emit_lazy's
    contract they are small: names, numbers, versions, 40-character previews, the event's own
    key). Called per event, so nothing here loops over the arguments, and the common detail
    types are sized inline.
    """
    size = EVENT_OVERHEAD + (len(key) if key else 0)
    size += len(text) if args is None else ARGS_OVERHEAD + LAZY_ARG_BYTES * len(args)
    for value in details.values():
        kind = type(value)
        if kind is str:
            size += len(value)
        elif kind is int or kind is bool or value is None:
            size += 8
        else:
            size += detail_bytes(value)
    return size


class EventLog:
    """Append-only, bounded log of Events with paging and console narration."""

    def __init__(self, clock, max_events: int = 100_000, narrate: str = "all", max_bytes: int = MAX_BYTES):
        self._clock = clock
        self._capacity = max(1, max_events)
        self._slots: list = []  # grows to capacity, then each new event overwrites the oldest
        self._sizes: list = []  # event_bytes of the event in the same slot
        self._next_seq = 1
        self._first = 1  # the oldest event kept; older slots hold forgotten events (or None)
        self.bytes = 0
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._listeners: List[Callable[[Event], None]] = []
        self._node_tuples: Dict[tuple, tuple] = {}
        self._unnarrated: List[str] = []  # console lines waiting for the next flush
        self.narrate = narrate

    def emit(self, type: str, text: str, nodes: Iterable[int] = (), key: Optional[str] = None,
             **details) -> Event:
        """Record one event and narrate it; returns the Event."""
        return self._append(self._clock.elapsed(), type, text, None, nodes, key, details)

    def emit_lazy(self, type: str, render: Callable[..., str], args: tuple, nodes: Iterable[int] = (),
                  key: Optional[str] = None, **details) -> Event:
        """Record one event whose sentence is `render(*args)`, written only when it is read.

        The console's narration reads it at once when it narrates this type (and
        the event then keeps the written sentence); otherwise /events, a story or
        a listener writes it when asked. `args` must be a flat tuple of small
        immutable fields (names, numbers, versions, previews of at most 40
        characters), never a value, so the event reads the same whenever it is
        read and its size stays what `event_bytes` estimates.
        """
        return self._append(self._clock.elapsed(), type, render, args, nodes, key, details)

    def emit_at(self, time_ms: int, type: str, text: str, nodes: Iterable[int] = (), key: Optional[str] = None,
                **details) -> Event:
        """Record one event timed by another clock (a node process's, in real mode); returns the Event."""
        return self._append(time_ms, type, text, None, nodes, key, details)

    def _append(self, time_ms: int, type: str, text, args: Optional[tuple], nodes: Iterable[int],
                key: Optional[str], details: dict) -> Event:
        narrated = self.narrate == "all" or (self.narrate == "ops" and type not in MESSAGE_EVENTS)
        if narrated and args is not None:  # the console reads it now: write it once, keep it written
            text, args = text(*args), None
        nodes = tuple(nodes)
        with self._lock:
            seq = self._next_seq
            if len(nodes) <= 2:  # one shared tuple per node or pair: most events are messages
                nodes = self._node_tuples.setdefault(nodes, nodes)
            event = Event(seq, time_ms, type, text, nodes, key, details, args)
            size = event_bytes(text, key, details, args)
            self._next_seq = seq + 1
            if len(self._slots) < self._capacity:
                self._slots.append(event)
                self._sizes.append(size)
            else:
                if self._first <= seq - self._capacity:  # the slot's event is still counted: forget it
                    self._forget_oldest()
                self._slots[(seq - 1) % self._capacity] = event
                self._sizes[(seq - 1) % self._capacity] = size
            self.bytes += size
            while self.bytes > self.max_bytes and self._first < seq:
                self._forget_oldest()
            listeners = self._listeners
            if narrated:
                self._unnarrated.append(f"[t={time_ms:6d}ms #{seq}] {text}")
                if len(self._unnarrated) >= NARRATION_BATCH:
                    self._flush_locked()
        for listener in listeners:
            listener(event)
        return event

    def flush(self) -> None:
        """Print the narration lines not printed yet, in one write."""
        with self._lock:
            self._flush_locked()

    def _forget_oldest(self) -> None:
        """Drop the oldest kept event (its slot is reused or stays empty)."""
        slot = (self._first - 1) % self._capacity
        self.bytes -= self._sizes[slot]
        self._sizes[slot] = 0
        self._slots[slot] = None
        self._first += 1

    def _flush_locked(self) -> None:
        if self._unnarrated:
            lines, self._unnarrated = self._unnarrated, []
            logger.info("%s", "\n".join(lines))

    @property
    def last_seq(self) -> int:
        """Sequence number of the newest event (0 when there is none)."""
        return self._next_seq - 1

    def page(self, since: int = 0, limit: int = 100) -> List[Event]:
        """Return up to `limit` events whose seq is greater than `since`, oldest first."""
        with self._lock:
            first = max(since + 1, self._first)
            return self._range(first, min(first + limit, self._next_seq))

    def since(self, seq: int) -> List[Event]:
        """Return every retained event after `seq` (used to tell what a request caused)."""
        with self._lock:
            return self._range(max(seq + 1, self._first), self._next_seq)

    def _range(self, first: int, stop: int) -> List[Event]:
        """Events numbered first..stop-1 (all retained): one or two slices of the ring."""
        if first >= stop:
            return []
        start, end = (first - 1) % self._capacity, (stop - 1) % self._capacity
        if start < end:
            return self._slots[start:end]
        return self._slots[start:] + self._slots[:end]  # the range wraps around the ring

    @property
    def first_seq(self) -> int:
        """Sequence number of the oldest event still kept (older ones were forgotten)."""
        with self._lock:
            return self._first

    def subscribe(self, listener: Callable[[Event], None]) -> Callable[[], None]:
        """Call `listener` for each new event; returns a function that unsubscribes."""
        with self._lock:
            # Copy on change, so emit can call the current list without copying it each time.
            self._listeners = [*self._listeners, listener]

        def unsubscribe():
            """Stop calling the listener."""
            with self._lock:
                self._listeners = [known for known in self._listeners if known is not listener]
        return unsubscribe
