"""One node process of real mode: `python run.py node --id 2 --listen 127.0.0.1:7002 --peers ... --data-dir ...`.

It runs one ReplicaNode, built by the same `build_node` as the simulated
cluster's (replication.py), on its own sqlite files, over a NodeSeam whose
transport is HttpTransport (the seam's JSON codec, this process's lock, the
fault table the front pushes). Its events go to the front through an
EventRelay. Besides the peer routes (node_server.py) it serves the front's
control routes (`/node/...`): coordinate a client's write, read or CAS and
answer with its result, and the NodeHandle calls — summary, detail, keys,
owed hints, skew, flush, handoff, sync, anti-entropy (realmode/node_routes.py),
and step mode's held messages (realmode/node_step_routes.py, step_hold.py).
SIGTERM flushes the store and exits cleanly; SIGKILL is a crash.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
import time
from typing import Any, Dict, Optional

from cluster import codec, siblings
from cluster.errors import GatewayTimeout, NoQuorum
from cluster.node_handle import LocalNodeHandle
from cluster.ring import Ring
from cluster.seam import NodeSeam
from config import Config, ConfigError, from_env
from db import DataDirLock
from models import node_name
from realmode.event_relay import EventRelay, event_clock
from realmode.fault_table import FaultTable, LiveFaults
from realmode.http_transport import HttpSettings, HttpTransport
from realmode.incarnation import next_incarnation
from realmode.node_routes import add_control_routes
from realmode.node_server import NodeServer, create_node_app
from realmode.node_step_routes import add_step_routes
from realmode.step_hold import MessageIds, StepHold
from replication import build_node

logger = logging.getLogger("replicalab")
BACKGROUND_OP_S = 10.0  # the longest a handoff, sync or anti-entropy exchange is waited for


class NodeProcess:
    """One ReplicaNode with its transport, relay and lock; `run(op)` waits for an op on real threads."""

    def __init__(self, config: Config, node_id: int, peers: Dict[int, str], front_url: Optional[str],
                 token: Optional[str] = None):
        self.config, self.node_id = config, node_id
        self.lock = threading.RLock()
        self.changed = threading.Condition(self.lock)  # notified after every timer and delivery
        self.faults = LiveFaults(FaultTable(config.nodes))
        # The relay stamps each event with the node's time since it started (its narration's "t=").
        self.relay = (EventRelay(node_id, front_url, event_clock(self), token)
                      if front_url else None)
        events: Any = self.relay or _Quiet()
        self.data_lock = DataDirLock(config.data_dir) if config.storage == "sqlite" else None
        incarnation = self._incarnation(config)
        # Message ids unique in the cluster (step_hold.py): the front finds a held message's sender by its id.
        ids = MessageIds(node_id, config.nodes, first=incarnation * 1_000_000 + 1)
        self.transport = HttpTransport(node_id, peers, ids.encoder(codec.encode), codec.decode, self.lock,
                                       self.faults, emit=events.emit, settings=HttpSettings(token=token))
        self.transport.timers.after_each = self.changed.notify_all
        # Versions are stamped from this clock: wall time, as a real server's, so a node restarted
        # after a crash does not start again from 0 and lose every last-writer-wins comparison.
        self.transport.epoch_ms = int(time.time() * 1000)
        self.node = build_node(config, Ring(config.nodes, config.vnodes, config.rf), node_id,
                               NodeSeam(node_id, self.transport, events))
        # Op ids ("node-2:n") must never repeat, or a late reply to an op of the process killed
        # before this one would count for a new op with the same id (a false quorum). The
        # simulated node keeps its counter across a crash; a new process starts each life
        # (its incarnation, counted on disk) a million ids further.
        self.node._op_numbers = incarnation * 1_000_000
        self.handle = LocalNodeHandle(self.node, self.run)
        self.waiting: list = []  # client operations whose request waits for them now
        self.hold = StepHold(self.transport, self.faults, events.emit, ids,
                             detail=siblings.message_detail if config.conflicts == "siblings" else None)
        self.faults.listeners.append(lambda old, new: self._wake())  # paused or not: when a client is answered

    @staticmethod
    def _incarnation(config: Config) -> int:
        """How many times a process has started on this data dir before (0 in memory storage)."""
        return next_incarnation(config.data_dir, "incarnation") if config.storage == "sqlite" else 0

    def run(self, op: Any) -> Any:
        """Start `op` and wait (lock released) until it is done; its result, or NoQuorum / GatewayTimeout.

        In step mode (the network paused) the client is answered as soon as the op is
        decided (its quorum met), as in simulated mode; the rest goes on in the background.
        """
        deadline = time.monotonic() + self.config.client_timeout_ms / 1000
        with self.changed:
            op.client_answered_early = lambda: self.faults.table.paused
            op.start()
            self.waiting.append(op)
            try:
                while not op.done and not op.abandoned and not (op.decided and op.client_answered_early()):
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        raise GatewayTimeout(f"{node_name(self.node_id)} stopped waiting for the {op.describe()} "
                                             f"after {self.config.client_timeout_ms} ms.", **op.progress())
                    self.changed.wait(remaining)
            finally:
                self.waiting.remove(op)
        if op.abandoned:
            raise NoQuorum(f"The {op.describe()} did not finish: {op.abandoned}. Retry it.", **op.progress())
        return op.result if op.done else op.snapshot()

    def waiting_count(self) -> int:
        """Client requests waiting on this node for their quorum (GET /network/messages' waiting_requests)."""
        with self.lock:
            return sum(1 for op in self.waiting if not op.decided and not op.abandoned)

    def _wake(self) -> None:
        with self.changed:
            self.changed.notify_all()

    def wait_done(self, op: Any) -> Any:
        """Wait (lock released) until a background op started on this node is done or gives up; returns it.

        In step mode it returns at once, as the simulated cluster does: the op's messages are
        held, and it finishes in the background once they are moved.
        """
        deadline = time.monotonic() + BACKGROUND_OP_S
        with self.changed:
            while (not op.done and not op.abandoned and not self.faults.table.paused
                   and time.monotonic() < deadline):
                self.changed.wait(deadline - time.monotonic())
        return op

    def close(self) -> None:
        """Flush and close the store, the transport and the relay (a clean stop)."""
        with self.lock:
            self.handle.close()
        self.transport.close()
        if self.relay is not None:
            self.relay.close()
        if self.data_lock is not None:
            self.data_lock.release()


class _Quiet:
    """The event sink of a node started without --front: its events go to its own log file."""

    def emit(self, type_: str, text: str, nodes=(), key=None, **details) -> None:
        """Log the event's sentence."""
        logger.info("%s", text)


def parse_peers(text: str) -> Dict[int, str]:
    """'0=127.0.0.1:7000,1=http://10.0.0.5:7001' -> {0: '127.0.0.1:7000', 1: '10.0.0.5:7001'}."""
    peers = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        node, sep, address = item.partition("=")
        if not sep or not node.strip().isdigit() or not address:
            raise ConfigError(f"--peers takes id=host:port pairs separated by commas, not {item!r}.")
        peers[int(node)] = address.strip().removeprefix("http://").rstrip("/")
    return peers


def build_parser() -> argparse.ArgumentParser:
    """The flags of `python run.py node` (cluster settings come from REPLICALAB_* variables)."""
    parser = argparse.ArgumentParser(prog="python run.py node", description=__doc__.splitlines()[0])
    parser.add_argument("--id", type=int, required=True, help="this node's id (0 .. nodes-1)")
    parser.add_argument("--listen", required=True, help="host:port this node binds")
    parser.add_argument("--peers", default="", help="id=host:port,... of the other nodes")
    parser.add_argument("--data-dir", required=True, help="directory of this node's sqlite files")
    parser.add_argument("--front", default=None, help="URL of the front's event intake (http://host:port)")
    parser.add_argument("--token", default=None, help="admin token peers and the front must send")
    parser.add_argument("--node-cmd", default=None, metavar="CMD",
                        help="run this student program (docs/node-protocol.md) as the node instead of ReplicaLab's")
    parser.add_argument("--node-cwd", default=None, help="the directory --node-cmd runs in")
    return parser


def main(argv=None) -> int:
    """Run one node process until SIGTERM; returns the exit code."""
    args = build_parser().parse_args(argv)
    try:
        config = from_env().replace(data_dir=args.data_dir).validate()
        peers = parse_peers(args.peers)
        if not 0 <= args.id < config.nodes:
            raise ConfigError(f"--id must be from 0 to {config.nodes - 1} (REPLICALAB_NODES={config.nodes}).")
    except ConfigError as error:
        print(f"replicalab node: {error}", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    host, _, port = args.listen.rpartition(":")
    token = args.token or config.admin_token
    front_host = (args.front or "http://127.0.0.1").split("//", 1)[-1].rsplit(":", 1)[0]
    allowed = {"127.0.0.1", front_host} | {address.rpartition(":")[0] for address in peers.values()}
    if token:
        allowed.add("*")  # peers named by host name (other machines, containers): the token is the guard
    process: Any
    if args.node_cmd:
        from byon.node_host import StudentProcess, add_student_routes
        process = StudentProcess(config, args.id, peers, args.front, token, args.node_cmd, args.node_cwd)
        app = create_node_app(args.id, args.listen, process.transport.receive, process.faults, allowed,
                              token, health=lambda: {"program": process.status()})
        add_student_routes(app, process)
    else:
        process = NodeProcess(config, args.id, peers, args.front, token)
        app = create_node_app(args.id, args.listen, process.transport.receive, process.faults, allowed,
                              token, health=lambda: {"keys": process.node.store.live_count()})
        add_control_routes(app, process)
    add_step_routes(app, process)
    server = NodeServer(app, host, int(port))  # bound now: peers' messages wait in its backlog
    if args.node_cmd:
        process.start()  # the program answers init before the front's health check sees this node
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown, daemon=True).start())
    print(json.dumps({"node": node_name(args.id), "pid": os.getpid(), "address": server.address}), flush=True)
    try:
        server.serve_forever()
    finally:
        process.close()
        print(f"{node_name(args.id)}: stopped" + ("; its program is stopped." if args.node_cmd
                                                  else "; its store is flushed and closed."), flush=True)
    return 0
