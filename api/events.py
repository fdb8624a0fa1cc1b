"""Event routes: /events pages through the event log; /events/stream follows it live (SSE)."""
from __future__ import annotations

import queue
import threading

from flask import Blueprint, Response, current_app

from cluster.errors import TooManyRequests
from wording import plural

from .common import manager, query_int, success
from .pretty import compact_json

bp = Blueprint("events", __name__)


@bp.get("/events")
def events():
    """Events with seq greater than ?since= (default 0), at most ?limit= (default 100)."""
    log = manager().events
    since = query_int("since", 0, 0, 2 ** 62)
    limit = query_int("limit", 100, 1, 1000)
    page = log.page(since, limit)
    next_since = page[-1].seq if page else since
    return success(f"{plural(len(page), 'event')} after #{since}; newest is #{log.last_seq}.",
                   events=[e.to_dict() for e in page], next_since=next_since,
                   last_seq=log.last_seq, first_available=log.first_seq,
                   more=next_since < log.last_seq)


@bp.get("/events/stream")
def stream():
    """Server-Sent Events: every new event as it happens (curl -N); ?since=N replays from N."""
    config = manager().config
    log = manager().events
    since = query_int("since", log.last_seq, 0, 2 ** 62)
    limit = query_int("limit", 0, 0, 10 ** 6)  # 0: stream until the client leaves
    slots = stream_slots()
    if not slots.take():
        raise TooManyRequests(f"{slots.limit} live-event streams are open already, the most this server "
                              "allows (--max-streams) so that it keeps threads for everyone else. "
                              "Close one, or page with GET /events?since=N instead.", limit=slots.limit)
    feed = EventFeed(log, since, limit, config.stream_heartbeat_s)
    response = Response(feed.generate(), mimetype="text/event-stream",
                        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
    response.call_on_close(slots.give_back)  # runs even if the client leaves before the first event
    return response


class StreamSlots:
    """How many live-event streams are open, against --max-streams (each holds a server thread)."""

    def __init__(self, limit: int):
        self.limit = limit
        self.open = 0
        self._lock = threading.Lock()

    def take(self) -> bool:
        """Reserve a slot; False when every slot is taken."""
        with self._lock:
            if self.open >= self.limit:
                return False
            self.open += 1
            return True

    def give_back(self) -> None:
        """Free a slot when a stream ends."""
        with self._lock:
            self.open = max(0, self.open - 1)


def stream_slots() -> StreamSlots:
    """The app's stream slots (made on first use)."""
    extensions = current_app.extensions
    with _SLOTS_LOCK:
        if "replicalab_streams" not in extensions:
            extensions["replicalab_streams"] = StreamSlots(manager().config.max_streams)
        return extensions["replicalab_streams"]


_SLOTS_LOCK = threading.Lock()


class EventFeed:
    """One SSE client: the backlog after `since`, then live events, never blocking the cluster."""

    MAX_QUEUED = 10_000

    def __init__(self, log, since: int, limit: int, heartbeat_s: float = 2):
        self.log = log
        self.last = since
        self.limit = limit
        self.heartbeat_s = heartbeat_s
        self.queue: queue.Queue = queue.Queue(self.MAX_QUEUED)
        self.skipped = 0
        self.unsubscribe = log.subscribe(self._offer)  # before reading the backlog: no gap

    def _offer(self, event) -> None:
        try:
            self.queue.put_nowait(event)
        except queue.Full:  # a client that does not read must not slow the cluster down
            self.skipped += 1

    def generate(self):
        """Yield SSE frames until the limit is reached or the client disconnects."""
        sent = 0
        try:
            for event in self.log.since(self.last):
                yield self._frame(event)
                sent += 1
                if self.limit and sent >= self.limit:
                    return
            while True:
                try:
                    event = self.queue.get(timeout=self.heartbeat_s)
                except queue.Empty:
                    yield ": still here\n\n"  # a write to a gone client fails: its thread is freed
                    continue
                if event.seq <= self.last:
                    continue  # already sent from the backlog
                if self.skipped:
                    yield f": {plural(self.skipped, 'event')} skipped because this client read too slowly\n\n"
                    self.skipped = 0
                yield self._frame(event)
                sent += 1
                if (self.limit and sent >= self.limit) or event.type == "cluster_reset":
                    return  # after a reset this log has no future: the client reconnects to the new one
        finally:
            self.unsubscribe()

    def _frame(self, event) -> str:
        self.last = event.seq
        return f"id: {event.seq}\nevent: {event.type}\ndata: {compact_json(event.to_dict())}\n\n"
