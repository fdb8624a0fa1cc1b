"""EventLog: every thing the cluster does, numbered, timed and narrated.

Events are appended in order under the cluster lock; the console narrates each
one in a plain-English line, and /events pages through them.
"""
from __future__ import annotations

import logging
import threading
from collections import deque
from typing import Callable, Iterable, List, Optional

from models import Event

logger = logging.getLogger("replicalab")

# Per-message events are the most numerous; narrate=ops leaves them out of the console.
MESSAGE_EVENTS = frozenset({"message_sent", "message_delivered", "message_dropped"})


class EventLog:
    """Append-only, bounded log of Events with paging and console narration."""

    def __init__(self, clock, max_events: int = 100_000, narrate: str = "all"):
        self._clock = clock
        self._events: deque = deque(maxlen=max_events)
        self._next_seq = 1
        self._lock = threading.Lock()
        self._listeners: List[Callable[[Event], None]] = []
        self.narrate = narrate

    def emit(self, type: str, text: str, nodes: Iterable[int] = (), key: Optional[str] = None,
             **details) -> Event:
        """Record one event and narrate it; returns the Event."""
        with self._lock:
            event = Event(self._next_seq, self._clock.elapsed(), type, text,
                          tuple(nodes), key, details)
            self._next_seq += 1
            self._events.append(event)
            listeners = list(self._listeners)
        self._narrate(event)
        for listener in listeners:
            listener(event)
        return event

    def _narrate(self, event: Event) -> None:
        if self.narrate == "off" or (self.narrate == "ops" and event.type in MESSAGE_EVENTS):
            return
        logger.info("[t=%6dms #%d] %s", event.time_ms, event.seq, event.text)

    @property
    def last_seq(self) -> int:
        """Sequence number of the newest event (0 when there is none)."""
        return self._next_seq - 1

    def page(self, since: int = 0, limit: int = 100) -> List[Event]:
        """Return up to `limit` events whose seq is greater than `since`, oldest first."""
        with self._lock:
            found = []
            for event in self._events:
                if event.seq > since:
                    found.append(event)
                    if len(found) >= limit:
                        break
            return found

    def since(self, seq: int) -> List[Event]:
        """Return every retained event after `seq` (used to tell what a request caused)."""
        return self.page(seq, limit=len(self._events) or 1)

    @property
    def first_seq(self) -> int:
        """Sequence number of the oldest event still kept (older ones were forgotten)."""
        with self._lock:
            return self._events[0].seq if self._events else self._next_seq

    def subscribe(self, listener: Callable[[Event], None]) -> Callable[[], None]:
        """Call `listener` for each new event; returns a function that unsubscribes."""
        with self._lock:
            self._listeners.append(listener)

        def unsubscribe():
            """Stop calling the listener."""
            with self._lock:
                if listener in self._listeners:
                    self._listeners.remove(listener)
        return unsubscribe
