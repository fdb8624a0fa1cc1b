"""A minimal node process over the real transport: it answers pings with pongs.

Until `python run.py node` runs a ReplicaNode (after the seam is merged), the
tests and bench/real_mode.py use this process to exercise HttpTransport,
node_server and processes.py end to end with a tiny message and codec of the
seam's envelope shape: `python -m realmode.demo_node --id 1 --listen
127.0.0.1:7001 --peers 0=127.0.0.1:7000`.
"""
from __future__ import annotations

import argparse
import itertools
import json
import os
import signal
import statistics
import threading
import time
from dataclasses import dataclass
from typing import Dict, List, Optional

from flask import jsonify, request

from cluster.errors import BadRequest
from models import node_name, node_ref
from realmode.fault_table import FaultTable, LiveFaults
from realmode.http_transport import HttpSettings, HttpTransport
from realmode.node_server import NodeServer, create_node_app


@dataclass(frozen=True)
class Ping:
    """A demo message: `n` counts pings; a reply carries `reply=True`."""

    src: int
    dst: int
    op_id: int = 0
    n: int = 0
    reply: bool = False
    kind = "ping"

    def summary(self) -> str:
        """One phrase for the event log."""
        return f"{'pong' if self.reply else 'ping'} {self.n}"


_msg_ids = itertools.count(1)


def encode(msg: Ping) -> dict:
    """The seam's envelope shape: src, dest, body with type and msg_id."""
    return {"src": node_name(msg.src), "dest": node_name(msg.dst),
            "body": {"type": msg.kind, "msg_id": next(_msg_ids), "in_reply_to": None,
                     "op_id": msg.op_id, "n": msg.n, "reply": msg.reply}}


def decode(envelope) -> Ping:
    """Inverse of encode; BadRequest with a sentence on anything malformed."""
    body = envelope.get("body") if isinstance(envelope, dict) else None
    src, dst = (node_ref(envelope.get(k)) if isinstance(envelope, dict) else None for k in ("src", "dest"))
    if not isinstance(body, dict) or src is None or dst is None or body.get("type") != "ping":
        raise BadRequest('An envelope must look like {"src": "node-0", "dest": "node-1", '
                         '"body": {"type": "ping", "msg_id": 1, ...}}.')
    n, op_id, reply = body.get("n", 0), body.get("op_id", 0), body.get("reply", False)
    if not (isinstance(n, int) and isinstance(op_id, int) and isinstance(reply, bool)):
        raise BadRequest('A ping\'s "n" and "op_id" must be whole numbers and "reply" true or false.')
    return Ping(src, dst, op_id, n, reply)


class PingNode:
    """The node behind the transport: answers pings, and measures round trips when asked to ping."""

    def __init__(self, node_id: int):
        self.node_id = node_id
        self.transport: Optional[HttpTransport] = None
        self._answered: Dict[int, float] = {}  # n -> when its pong arrived
        self._round = 0  # pings carry their round as op_id: a late pong of an earlier round is not counted
        self._arrived = threading.Condition()

    def receive(self, msg: Ping) -> None:
        """Answer a ping; note the arrival of a pong."""
        assert self.transport is not None
        if not msg.reply:
            self.transport.send(Ping(self.node_id, msg.src, msg.op_id, msg.n, reply=True))
            return
        with self._arrived:
            if msg.op_id != self._round:
                return
            self._answered[msg.n] = time.perf_counter()
            self._arrived.notify_all()

    def ping_pong(self, peer: int, count: int, window: int, timeout_s: float = 30.0) -> dict:
        """Send `count` pings to `peer`, at most `window` unanswered at once; round trips and rate."""
        assert self.transport is not None
        sent_at: List[float] = []
        with self._arrived:
            self._answered.clear()
            self._round += 1
            round_ = self._round
        start = time.perf_counter()
        deadline = start + timeout_s
        for n in range(count):
            with self._arrived:
                while n - len(self._answered) >= window and time.perf_counter() < deadline:
                    self._arrived.wait(0.5)
            sent_at.append(time.perf_counter())
            self.transport.send(Ping(self.node_id, peer, round_, n))
        with self._arrived:
            while len(self._answered) < count and time.perf_counter() < deadline:
                self._arrived.wait(0.5)
            answered = dict(self._answered)
        seconds = max(answered.values(), default=start) - start
        trips = sorted((answered[n] - sent_at[n]) * 1000 for n in answered)
        return {"pings": count, "pongs": len(answered), "seconds": round(seconds, 4),
                "messages_per_s": round(2 * len(answered) / seconds) if seconds else 0,
                "round_trip_ms": {"p50": round(statistics.median(trips), 3) if trips else None,
                                  "p99": round(trips[int(0.99 * (len(trips) - 1))], 3) if trips else None}}


def parse_peers(text: str) -> Dict[int, str]:
    """'0=127.0.0.1:7000,2=10.0.0.5:7002' -> {0: '127.0.0.1:7000', 2: '10.0.0.5:7002'}."""
    peers = {}
    for item in filter(None, text.split(",")):
        node, _, address = item.partition("=")
        peers[int(node)] = address
    return peers


def main(argv=None) -> int:
    """Run one ping node until SIGTERM."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--id", type=int, required=True)
    parser.add_argument("--listen", required=True, help="host:port to bind")
    parser.add_argument("--peers", default="", help="id=host:port,... of the other nodes")
    parser.add_argument("--front", default="127.0.0.1", help="IP address of the front (allowed to call)")
    parser.add_argument("--token", default=None)
    args = parser.parse_args(argv)
    host, _, port = args.listen.rpartition(":")
    peers = parse_peers(args.peers)
    node = PingNode(args.id)
    lock = threading.RLock()
    faults = LiveFaults(FaultTable(max([args.id, *peers]) + 1))
    transport = HttpTransport(args.id, peers, encode, decode, lock, faults,
                              settings=HttpSettings(token=args.token))
    transport.register(args.id, node.receive)
    node.transport = transport
    allowed = {args.front} | {address.rpartition(":")[0] for address in peers.values()}
    app = create_node_app(args.id, args.listen, transport.receive, faults, allowed, args.token)

    @app.post("/demo/ping")
    def ping():
        """Measure round trips to a peer: body {"to": 1, "count": 1000, "window": 1, "timeout_s": 30}."""
        data = request.get_json(force=True, silent=True) or {}
        return jsonify(node.ping_pong(int(data.get("to", 0)), int(data.get("count", 100)),
                                      int(data.get("window", 1)), float(data.get("timeout_s", 30))))

    server = NodeServer(app, host, int(port))
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    print(json.dumps({"node": node_name(args.id), "pid": os.getpid(), "address": server.address}), flush=True)
    server.serve_forever()
    transport.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
