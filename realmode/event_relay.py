"""One event log for many processes: each node process batches its events and POSTs them to the front.

A node process has no console a student watches and no /events of its own:
`EventRelay.emit` (the same signature as EventLog.emit) stamps each event with
the node's own clock and queues it; one thread sends the queue to the front in
batches. The front's `EventSink.accept` appends each batch to its one EventLog
in arrival order, keeping each event's node time, so the narration, /events,
/events/stream, stories and /history read as in simulated mode.

Memory stays bounded: while the front cannot be reached the relay keeps at
most `limit` events, drops the oldest beyond that, and the next batch that
gets through says how many were lost, which the front narrates.
"""
from __future__ import annotations

import collections
import json
import logging
import os
import threading
from typing import Any, Callable, Deque, Dict, List, Optional, TypeGuard

from cluster.errors import BadRequest
from models import node_name
from realmode.keepalive import KeepAliveClient, Unreachable

logger = logging.getLogger("replicalab")

EVENTS_PATH = "/peer/events"
MAX_BATCH = 500
# The front's start (epoch ms), given to the node processes it starts: their events' "t=" then counts
# from the cluster's start as the front's own do, and a restarted node does not start again at 0.
CLUSTER_START_ENV = "REPLICALAB_CLUSTER_START_MS"


def event_clock(owner) -> Callable[[], int]:
    """The clock `owner.transport` stamps events with: ms since the cluster started (else since it did).

    `owner.transport` is read at each call: the relay is built before the transport.
    """
    given = os.environ.get(CLUSTER_START_ENV, "")
    origin = int(given) if given.isdigit() and len(given) <= 15 else None
    return lambda: owner.transport.now() - (origin if origin is not None else owner.transport.epoch_ms)


class EventRelay:
    """A node process's side: queue events with the node's clock time, send them to the front in batches."""

    def __init__(self, node_id: int, front_url: str, clock_ms: Callable[[], int], token: Optional[str] = None,
                 interval_s: float = 0.05, limit: int = 20_000, timeout_s: float = 2.0):
        self.node_id = node_id
        self._clock_ms = clock_ms
        self._interval_s, self._timeout_s = interval_s, timeout_s
        self._queue: Deque[dict] = collections.deque(maxlen=limit)
        self._lost = 0  # events pushed out of the full queue, not yet reported
        self._wake = threading.Condition()
        self._running = True
        # One batch on the wire at a time: batches then arrive in order, and flush() waits for a
        # batch the relay thread is sending.
        self._sending = threading.Lock()
        address = front_url.split("//", 1)[-1].rstrip("/")
        self._client = KeepAliveClient(address, timeout_s, timeout_s,
                                       {"Authorization": f"Bearer {token}"} if token else None)
        self._thread = threading.Thread(target=self._loop, name=f"event-relay-{node_name(node_id)}", daemon=True)
        self._thread.start()

    def emit(self, type: str, text: str, nodes=(), key: Optional[str] = None, **details: Any) -> None:
        """Queue one event, timed by this node's clock (EventLog.emit's signature)."""
        event = {"type": type, "text": text, "time_ms": self._clock_ms(), "nodes": list(nodes), "key": key,
                 "details": details}
        with self._wake:
            if len(self._queue) == self._queue.maxlen:
                self._lost += 1  # the deque drops the oldest as this one goes in
            self._queue.append(event)
            if len(self._queue) >= MAX_BATCH:
                self._wake.notify()

    def flush(self, timeout_s: float = 5.0) -> bool:
        """Send everything queued now (on the caller's thread); True if the front took it all."""
        while True:
            with self._sending:
                batch = self._take()
                if batch is None:
                    return True
                if not self._send(batch, timeout_s):
                    return False

    def drain(self) -> Optional[dict]:
        """Take the oldest queued batch to hand over another way (in a control answer); None if empty.

        Waits for a batch the relay thread is sending, so batches still reach the front in order.
        """
        with self._sending:
            return self._take()

    def close(self) -> None:
        """Send what is queued, then stop the thread."""
        with self._wake:
            self._running = False
            self._wake.notify()
        self._thread.join(self._timeout_s + 1)
        self.flush(self._timeout_s)
        with self._sending:
            self._client.close()

    def _take(self) -> Optional[dict]:
        """The next batch (and the count of events lost before it), removed from the queue; None if empty."""
        with self._wake:
            if not self._queue and not self._lost:
                return None
            events = [self._queue.popleft() for _ in range(min(MAX_BATCH, len(self._queue)))]
            batch = {"node": self.node_id, "events": events, "lost": self._lost}
            self._lost = 0
            return batch

    def _putback(self, batch: dict) -> None:
        """Return a batch the front did not take to the head of the queue (oldest dropped if full)."""
        with self._wake:
            self._lost += batch["lost"]
            for event in reversed(batch["events"]):
                if len(self._queue) == self._queue.maxlen:
                    self._lost += 1
                    continue  # the batch's oldest events are the ones to give up
                self._queue.appendleft(event)

    def _send(self, batch: dict, timeout_s: float) -> bool:
        self._client.read_timeout_s = timeout_s
        try:
            # default=str: a detail the protocol passes as an object still reaches the front, as text.
            status, _ = self._client.post(EVENTS_PATH, json.dumps(batch, default=str).encode())
        except Unreachable as error:
            logger.debug("the front did not take %d events: %s", len(batch["events"]), error.reason)
            self._putback(batch)
            return False
        if status >= 500:  # the front is busy or restarting: keep the batch for later
            self._putback(batch)
            return False
        if status >= 400:  # refused for good (malformed, token): retrying will not help
            logger.warning("the front refused %d events: HTTP %d", len(batch["events"]), status)
        return True

    def _loop(self) -> None:
        while True:
            with self._wake:
                if self._running and len(self._queue) < MAX_BATCH:
                    self._wake.wait(self._interval_s)
                if not self._running:
                    return
            with self._sending:
                batch = self._take()
                sent = batch is None or self._send(batch, self._timeout_s)
            if not sent:
                with self._wake:
                    self._wake.wait(min(1.0, self._interval_s * 10))  # the front is away: do not spin


class EventSink:
    """The front's side: append node batches to the one EventLog, in arrival order, with node times."""

    def __init__(self, log, nodes: int):
        self._log = log
        self._nodes = nodes
        self._lock = threading.Lock()  # one batch at a time, so a node's events stay together and in order

    def accept(self, batch) -> int:
        """Append one batch; returns how many events it held. BadRequest with a sentence if malformed."""
        node, events, lost = self._check(batch)
        with self._lock:
            if lost:
                self._log.emit("events_lost", f"{node_name(node)} could not report {lost} events "
                                              "(the front was out of reach and its queue was full)", (node,),
                               lost=lost)
            for event in events:
                self._log.emit_at(event["time_ms"], event["type"], event["text"], event["nodes"], event["key"],
                                  **event["details"])
        return len(events)

    def _check(self, batch) -> tuple:
        """(node, events, lost) from a batch, every field checked."""
        shape = ('{"node": 2, "lost": 0, "events": [{"type": "...", "text": "...", "time_ms": 12, '
                 '"nodes": [2], "key": null, "details": {}}]}')
        if not isinstance(batch, dict):
            raise BadRequest(f"An event batch must be a JSON object such as {shape}.")
        node, events, lost = batch.get("node"), batch.get("events"), batch.get("lost", 0)
        if not _whole(node) or not 0 <= node < self._nodes:
            raise BadRequest(f"\"node\" must be a node id from 0 to {self._nodes - 1}, not {node!r}.")
        if not _whole(lost) or lost < 0:
            raise BadRequest(f"\"lost\" must be a whole number >= 0, not {lost!r}.")
        if not isinstance(events, list) or len(events) > MAX_BATCH:
            raise BadRequest(f"\"events\" must be a list of at most {MAX_BATCH} events shaped as in {shape}.")
        checked: List[Dict[str, Any]] = []
        for event in events:
            if not (isinstance(event, dict) and isinstance(event.get("type"), str)
                    and isinstance(event.get("text"), str) and _whole(event.get("time_ms"))
                    and isinstance(event.get("nodes"), list) and all(map(_whole, event["nodes"]))
                    and (event.get("key") is None or isinstance(event.get("key"), str))
                    and isinstance(event.get("details", {}), dict)):
                raise BadRequest(f"Each event must be shaped as in {shape}; got {str(event)[:200]}.")
            checked.append({**event, "details": event.get("details", {})})
        return node, checked, lost


def _whole(value) -> TypeGuard[int]:
    """True for a whole number (JSON has no separate integer type, and True is not 1 here)."""
    return isinstance(value, int) and not isinstance(value, bool)
