"""HttpTransport: the seam's Transport for one node process, each message a JSON envelope POSTed to its peer.

What it promises is what a real network can (docs/architecture.md, "Real mode"):
each send attempt arrives at most once, but a retry after a timeout may
deliver a second copy; nothing is ordered; timers fire no earlier than asked;
now() is this process's monotonic clock (plus the skew a student set).

- `send` never blocks: it asks the fault table (sender side), encodes the
  message and queues it for its peer. Each peer has a bounded queue and a
  few worker threads, each with its own kept-alive connection, so a peer
  frozen by SIGSTOP holds up only the messages addressed to it.
- A POST that fails to connect or times out is retried a bounded number of
  times; then the message is lost, as the network would lose it, and the
  protocol's own timeouts take over.
- An arriving envelope (node_server.py calls `receive`) is decoded, checked
  against the fault table again (receiver side) and handed to the node on the
  timer thread, under the node's lock, like every timer.
"""
from __future__ import annotations

import json
import logging
import queue
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Tuple

from cluster.errors import BadRequest, ReplicaLabError
from models import node_name
from realmode.fault_table import RECEIVER, SENDER, LiveFaults
from realmode.keepalive import KeepAliveClient, NoAnswer, Unreachable
from realmode.timers import TimerHandle, TimerThread

logger = logging.getLogger("replicalab")

MESSAGE_PATH = "/peer/message"
REPLIES_HEADER = "X-Replicalab-Takes-Replies"  # the sender takes the replies that ride back in the answer
Emit = Callable[..., Any]  # emit(type, text, nodes, key, **details), as EventLog.emit


@dataclass(frozen=True)
class HttpSettings:
    """Timeouts, retries and bounds of the transport; the defaults suit a lab room's network."""

    connect_timeout_s: float = 0.3
    read_timeout_s: float = 1.0
    retries: int = 2  # extra attempts after the first; each may duplicate a message that did arrive
    retry_backoff_s: float = 0.05
    workers_per_peer: int = 2
    queue_per_peer: int = 2_000  # messages waiting for one peer; beyond that they are lost
    queue_bytes_per_peer: int = 64 * 1024 * 1024  # and their JSON size: a message may carry a 1 MB value
    inbox_limit: int = 10_000  # deliveries and timers waiting on this node's thread
    token: Optional[str] = None  # sent as "Authorization: Bearer <token>" when set


class PeerLink:
    """The road to one peer: its address, a bounded queue and its worker threads, each with a kept-alive connection."""

    def __init__(self, transport: HttpTransport, peer: int, address: str):
        self.peer = peer
        self.address = address
        self._transport = transport
        settings = transport.settings
        self._queue: queue.Queue = queue.Queue(settings.queue_per_peer)
        self._queued_bytes = 0
        self._bytes_lock = threading.Lock()
        self._threads = [threading.Thread(target=self._work, name=f"realmode-to-{node_name(peer)}-{n}",
                                          daemon=True) for n in range(settings.workers_per_peer)]
        for thread in self._threads:
            thread.start()

    def enqueue(self, envelope: dict, msg) -> Optional[str]:
        """Queue one envelope (and its message, for the narration) for this peer; why not, if the queue is full."""
        settings = self._transport.settings
        body = json.dumps(envelope).encode()
        with self._bytes_lock:
            if self._queued_bytes + len(body) > settings.queue_bytes_per_peer:
                return (f"{self._queued_bytes:,} bytes of messages already wait for {node_name(self.peer)} "
                        f"(at most {settings.queue_bytes_per_peer:,})")
            try:
                self._queue.put_nowait((envelope, msg, body))
            except queue.Full:
                return f"{settings.queue_per_peer} messages already wait for {node_name(self.peer)}"
            self._queued_bytes += len(body)
        return None

    def close(self) -> None:
        """Stop the workers after the envelopes already queued; close the connections."""
        for _ in self._threads:
            self._queue.put(None)
        for thread in self._threads:
            thread.join(2.0)

    def client(self) -> KeepAliveClient:
        """A kept-alive connection to this peer (keepalive.py: requests cost more CPU than the node's work)."""
        settings = self._transport.settings
        headers = {REPLIES_HEADER: "1", **({"Authorization": f"Bearer {settings.token}"} if settings.token else {})}
        return KeepAliveClient(self.address, settings.connect_timeout_s, settings.read_timeout_s, headers)

    def _work(self) -> None:
        client = self.client()  # one connection per worker
        try:
            while (item := self._queue.get()) is not None:
                envelope, msg, body = item
                with self._bytes_lock:
                    self._queued_bytes -= len(body)
                self.post(client, envelope, msg, body)
        finally:
            client.close()

    def post(self, client: KeepAliveClient, envelope: dict, msg, body: Optional[bytes] = None) -> Optional[str]:
        """POST one envelope, retrying failures to connect or answer; returns why it was lost, or None."""
        settings = self._transport.settings
        why = ""
        body = json.dumps(envelope).encode() if body is None else body
        for attempt in range(settings.retries + 1):
            if attempt:
                time.sleep(settings.retry_backoff_s * attempt)
            try:
                status, answer = client.post(MESSAGE_PATH, body)
            except NoAnswer:
                why = f"{node_name(self.peer)} did not answer within {settings.read_timeout_s:g} s"
                continue
            except Unreachable:
                why = f"{node_name(self.peer)} refused or dropped the connection"
                continue
            if status < 300:
                self._transport.take_replies(answer)
                return None
            why = _refusal(self.peer, status, answer)
            if status != 503:  # 503: the peer is busy, worth another try; 4xx will not change
                break
        why = f"{why} (after {attempt + 1} attempt{'s' if attempt else ''})"
        self._transport.lost(envelope, msg, why)
        return why


def _refusal(peer: int, status: int, answer: bytes) -> str:
    """The peer's own sentence for refusing a message, or its status code."""
    try:
        message = json.loads(answer).get("message")
    except (ValueError, AttributeError):
        message = None
    return f"{node_name(peer)} refused it: {message or f'HTTP {status}'}"


class HttpTransport:
    """The Transport of one node process (register, send, set_timer, now) over HTTP."""

    def __init__(self, node_id: int, peers: Dict[int, str], encode: Callable[[Any], dict],
                 decode: Callable[[dict], Any], lock, faults: LiveFaults, emit: Optional[Emit] = None,
                 settings: HttpSettings = HttpSettings()):
        self.node_id = node_id
        self.settings = settings
        self.faults = faults
        self._encode, self._decode = encode, decode
        self._emit = emit or (lambda *args, **kwargs: None)
        self._peers = dict(peers)  # node id -> "host:port"
        self._links: Dict[int, PeerLink] = {}
        self._links_lock = threading.Lock()
        self._receivers: Dict[int, Callable[[Any], None]] = {}
        self._capture = threading.local()  # per server thread: the peer whose message is handled, its replies
        self._started = time.monotonic()
        self.epoch_ms = 0  # added to now(): a node process sets the wall time it started at (node_process.py)
        self.skew_ms = 0
        self.timers = TimerThread(lock, name=f"realmode-{node_name(node_id)}-timers")
        # Step mode (step_hold.py): hold(envelope, msg) -> True keeps an envelope from being posted.
        self.hold: Optional[Callable[[dict, Any], bool]] = None

    # --- the Transport protocol ---------------------------------------------

    def register(self, node_id: int, deliver: Callable[[Any], None]) -> None:
        """Deliver messages addressed to `node_id` (a node of this process) to `deliver`."""
        self._receivers[node_id] = deliver

    def send(self, msg) -> None:
        """Put a message on its way; returns at once, whatever the network does."""
        envelope = self._encode(msg)
        verdict = self.faults.verdict(msg.src, msg.dst, SENDER)
        if not verdict.passes:
            self._event("message_dropped", "dropped message", envelope, msg, reason=verdict.reason)
            return
        self._event("message_sent", "sent message", envelope, msg, extra_delay_ms=verdict.delay_ms)
        if verdict.duplicate:
            self._event("message_duplicated", "the network duplicated", envelope, msg)
        for _ in range(2 if verdict.duplicate else 1):
            if verdict.delay_ms and not self.faults.table.paused:  # paused: held at once, listed, moved by hand
                self.timers.call_later(verdict.delay_ms, lambda: self._dispatch(envelope, msg), under_lock=False)
            else:
                self._dispatch(envelope, msg)

    def set_timer(self, node_id: int, delay_ms: int, callback: Callable[[], None]) -> TimerHandle:
        """Call `callback` after `delay_ms` real milliseconds, on the timer thread, under the node's lock."""
        return self.timers.call_later(delay_ms, callback)

    def now(self) -> int:
        """Milliseconds since this transport started (monotonic) plus `epoch_ms`, shifted by the clock skew."""
        return int((time.monotonic() - self._started) * 1000) + self.epoch_ms + self.skew_ms

    # --- arrival (node_server.py) ---------------------------------------------

    def receive(self, envelope: dict, replies: bool = False) -> Tuple[bool, str, List[dict]]:
        """Take one envelope arriving over HTTP: (accepted, why it was lost, replies).

        Delivered at once on the calling (server) thread when the node is idle, else queued
        for the timer thread. The messages the node sends back to the same peer while it
        handles this one inline (an ack) are not queued when the sender takes `replies`
        (an HttpTransport says so with the REPLIES_HEADER): they ride back in the HTTP
        answer and save the ack its own POST. Raises the codec's error
        (a BadRequest) when the envelope is malformed, and BadRequest when it is addressed
        to a node this process does not run.
        """
        self._capture.peer, self._capture.replies = (envelope.get("src") if replies else None), []
        try:
            accepted, why = self._arrive(envelope, self.timers.call_soon)
            return accepted, why, self._capture.replies
        finally:
            self._capture.peer = self._capture.replies = None

    def _arrive(self, envelope: dict, run: Callable[[Callable[[], None]], Any]) -> Tuple[bool, str]:
        msg = self._decode(envelope)
        if msg.dst not in self._receivers:
            raise BadRequest(f"This process runs {', '.join(map(node_name, sorted(self._receivers)))}, "
                             f"not {node_name(msg.dst)}: check the --peers addresses.")
        if msg.src not in self._peers and msg.src not in self._receivers:
            # An unknown sender's reply could go nowhere, and the views would draw a lane for it.
            raise BadRequest(f"{node_name(msg.src)} is not a node of this cluster: this process knows "
                             f"{', '.join(map(node_name, sorted({*self._peers, *self._receivers})))}.")
        verdict = self.faults.verdict(msg.src, msg.dst, RECEIVER)
        if not verdict.passes:
            self._event("message_dropped", "dropped message", envelope, msg, reason=verdict.reason)
            return False, verdict.reason or ""
        if self.timers.pending() >= self.settings.inbox_limit:
            why = f"{node_name(msg.dst)} is overloaded ({self.settings.inbox_limit} messages waiting)"
            self._event("message_dropped", "dropped message", envelope, msg, reason=why)
            return False, why
        run(lambda: self._deliver(envelope, msg))
        return True, ""

    def take_replies(self, answer: bytes) -> None:
        """Take the replies that rode back in a peer's answer to a POST, as if each had been POSTed here."""
        try:
            replies = json.loads(answer).get("replies") or []
        except (ValueError, AttributeError):
            return
        for envelope in replies:
            try:
                self._arrive(envelope, self.timers.call_soon)
            except ReplicaLabError as error:
                logger.warning("a reply that rode back was refused: %s", error.message)

    def _deliver(self, envelope: dict, msg) -> None:
        self._event("message_delivered", "delivered message", envelope, msg)
        self._receivers[msg.dst](msg)

    # --- sending ----------------------------------------------------------------

    def _dispatch(self, envelope: dict, msg) -> None:
        """Hand an envelope to its peer's queue, or loop it back when its node lives in this process."""
        if self.hold is not None and self.hold(envelope, msg):
            return  # held while the network is paused (step mode), or lost past the bound
        if msg.dst in self._receivers:
            # ask_self and messages between nodes of one process: the same path as a POST, no socket.
            try:  # queued, never run inline: the sender holds the node's lock
                self._arrive(envelope, lambda deliver: self.timers.call_later(0, deliver))
            except ReplicaLabError as error:
                self.lost(envelope, msg, error.message)
            return
        if getattr(self._capture, "peer", None) == envelope.get("dest"):
            self._capture.replies.append(envelope)  # rides back in the answer to the POST being handled
            return
        link = self._link(msg.dst)
        if link is None:
            self.lost(envelope, msg, f"{node_name(msg.dst)} has no known address")
        elif (full := link.enqueue(envelope, msg)) is not None:
            self.lost(envelope, msg, full)

    def _link(self, peer: int) -> Optional[PeerLink]:
        with self._links_lock:
            link = self._links.get(peer)
            if link is None and peer in self._peers:
                link = self._links[peer] = PeerLink(self, peer, self._peers[peer])
            return link

    def set_peer(self, peer: int, address: str) -> None:
        """Use a new address for a peer (it restarted elsewhere); messages already queued go to the old one."""
        with self._links_lock:
            self._peers[peer] = address
            old = self._links.pop(peer, None)
        if old is not None:
            threading.Thread(target=old.close, daemon=True).start()

    # --- step mode (step_hold.py) ----------------------------------------------------

    def release(self, envelope: dict, msg) -> None:
        """Post an envelope step mode held (its sending was narrated when it was held)."""
        self._dispatch(envelope, msg)

    def post_now(self, envelope: dict, msg) -> Optional[str]:
        """POST one envelope on the calling thread, retried as usual (a hand delivery); why it was lost, or None."""
        link = self._link(msg.dst)
        if link is None:
            why = f"{node_name(msg.dst)} has no known address"
            self.lost(envelope, msg, why)
            return why
        client = link.client()
        try:
            return link.post(client, envelope, msg)
        finally:
            client.close()

    def lost(self, envelope: dict, msg, why: str) -> None:
        """Narrate a message the network lost after it left this node."""
        self._event("message_dropped", "dropped message", envelope, msg, reason=why)

    def _event(self, type_: str, verb: str, envelope: dict, msg, **details) -> None:
        msg_id = envelope.get("body", {}).get("msg_id")
        text = f"{verb} {node_name(msg.src)}#{msg_id} -> {node_name(msg.dst)}: {msg.summary()}"
        if details.get("reason"):
            text += f" ({details['reason']})"
        record = getattr(msg, "record", None)
        key = record.key if record is not None else getattr(msg, "key", None) or None
        self._emit(type_, text, (msg.src, msg.dst), key, msg_id=msg_id,
                   kind=msg.kind, op_id=msg.op_id, **details)

    def close(self) -> None:
        """Stop the timer thread and every peer's workers."""
        self.timers.close()
        with self._links_lock:
            links, self._links = list(self._links.values()), {}
        for link in links:
            link.close()

    def peers(self) -> List[int]:
        """The node ids this transport knows an address for."""
        return sorted(self._peers)
