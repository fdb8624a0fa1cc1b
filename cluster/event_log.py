"""EventLog: every thing the cluster does, numbered, timed and narrated.

Events are appended in order under the cluster lock; the console narrates each
one in a plain-English line, and /events pages through them.

The log is a ring buffer of `max_events` slots. Sequence numbers are
contiguous, so the event numbered `seq` sits in slot `(seq - 1) % max_events`:
finding a request's story or a page of /events costs as many steps as events
returned, however long the server has run.

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


class EventLog:
    """Append-only, bounded log of Events with paging and console narration."""

    def __init__(self, clock, max_events: int = 100_000, narrate: str = "all"):
        self._clock = clock
        self._capacity = max(1, max_events)
        self._slots: list = []  # grows to capacity, then each new event overwrites the oldest
        self._next_seq = 1
        self._lock = threading.Lock()
        self._listeners: List[Callable[[Event], None]] = []
        self._node_tuples: Dict[tuple, tuple] = {}
        self._unnarrated: List[str] = []  # console lines waiting for the next flush
        self.narrate = narrate

    def emit(self, type: str, text: str, nodes: Iterable[int] = (), key: Optional[str] = None,
             **details) -> Event:
        """Record one event and narrate it; returns the Event."""
        return self.emit_at(self._clock.elapsed(), type, text, nodes, key, **details)

    def emit_at(self, time_ms: int, type: str, text: str, nodes: Iterable[int] = (), key: Optional[str] = None,
                **details) -> Event:
        """Record one event timed by another clock (a node process's, in real mode); returns the Event."""
        with self._lock:
            seq = self._next_seq
            nodes = tuple(nodes)
            if len(nodes) <= 2:  # one shared tuple per node or pair: most events are messages
                nodes = self._node_tuples.setdefault(nodes, nodes)
            event = Event(seq, time_ms, type, text, nodes, key, details)
            self._next_seq = seq + 1
            if len(self._slots) < self._capacity:
                self._slots.append(event)
            else:
                self._slots[(seq - 1) % self._capacity] = event
            listeners = self._listeners
            if self.narrate == "all" or (self.narrate == "ops" and type not in MESSAGE_EVENTS):
                self._unnarrated.append(f"[t={event.time_ms:6d}ms #{seq}] {text}")
                if len(self._unnarrated) >= NARRATION_BATCH:
                    self._flush_locked()
        for listener in listeners:
            listener(event)
        return event

    def flush(self) -> None:
        """Print the narration lines not printed yet, in one write."""
        with self._lock:
            self._flush_locked()

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
            first = max(since + 1, self._next_seq - len(self._slots))
            return self._range(first, min(first + limit, self._next_seq))

    def since(self, seq: int) -> List[Event]:
        """Return every retained event after `seq` (used to tell what a request caused)."""
        with self._lock:
            return self._range(max(seq + 1, self._next_seq - len(self._slots)), self._next_seq)

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
            return self._next_seq - len(self._slots)

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
