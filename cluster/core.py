"""ClusterCore: what every part of the cluster shares, and the one lock over it.

The manager (replication.py) and its parts — fault control, step mode,
maintenance — are separate objects that each take the core and nothing else.
The core holds the nodes, the ring, the network, the clock and the event log,
and it runs operations: start one on its node, let the network carry its
messages, and (in step mode) wait in real time until a client can be answered.
"""
from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Any, List

from cluster.errors import GatewayTimeout, NodeNotFound, NoQuorum
from cluster.event_log import EventLog
from cluster.network import Network
from cluster.ring import Ring

if TYPE_CHECKING:
    from cluster.clock import VirtualClock
    from cluster.node import ReplicaNode
    from cluster.node_handle import NodeHandle
    from config import Config


class ClusterCore:
    """The shared state of one cluster: nodes, ring, network, clock, log, lock."""

    def __init__(self, config: Config, clock: VirtualClock, events: EventLog,
                 network: Network, ring: Ring):
        self.config = config
        self.clock = clock
        self.events = events
        self.network = network
        self.ring = ring
        self.nodes: List[ReplicaNode] = []  # the protocol objects, for starting operations on them
        self.handles: List[NodeHandle] = []  # what the control plane does to each node (node_handle.py)
        self.lock = threading.RLock()
        self.changed = threading.Condition(self.lock)  # notified whenever the network moved
        self.parked = 0  # requests waiting in step mode for their operation now
        self.waiting_ops: list = []  # their operations (one per waiting request)
        self.parks = 0  # how many times a request started waiting (only grows)

    def node(self, node_id: int) -> ReplicaNode:
        """Return the node with this id, or raise NodeNotFound."""
        if not 0 <= node_id < len(self.nodes):
            raise NodeNotFound(f"There is no node {node_id}: node ids go from 0 to "
                               f"{len(self.nodes) - 1}.", node_id=node_id)
        return self.nodes[node_id]

    def is_up(self, node_id: int) -> bool:
        """True unless the node has been failed."""
        return node_id not in self.network.down

    def settle(self) -> None:
        """Run the network as far as it can go now, and wake requests waiting on it."""
        self.network.run()
        self.events.flush()
        self.changed.notify_all()

    def run(self, op: Any) -> Any:
        """Start `op`; return its result once the client can be answered.

        Unpaused, the network runs until it is quiet, so the result is final. In
        step mode the request waits (lock released) until the quorum is met or
        the op ends; whatever is still in flight finishes later, in the background.
        """
        op.client_answered_early = lambda: self.network.paused  # step mode answers at the quorum
        op.start()
        self.settle()
        if not op.decided:
            self._wait_for(op)
        if op.abandoned:
            raise NoQuorum(f"The {op.describe()} did not finish: {op.abandoned}. Retry it.",
                           **op.progress())
        return op.result if op.done else op.snapshot()

    def _wait_for(self, op: Any) -> None:
        """Wait in real time until `op` is decided, or answer 504 with what arrived so far."""
        # Real time on purpose: this is the HTTP client's patience, not simulated time.
        deadline = time.monotonic() + self.config.client_timeout_ms / 1000
        self.parked += 1
        self.parks += 1
        self.waiting_ops.append(op)
        self.changed.notify_all()
        try:
            while not op.decided:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise GatewayTimeout(
                        f"Stopped waiting after {self.config.client_timeout_ms} ms: the network is "
                        f"paused and the {op.describe()} has not reached its quorum. It goes on inside "
                        "the cluster: deliver its messages or POST /network/resume to let it finish.",
                        **op.progress())
                self.changed.wait(remaining)
        finally:
            self.parked -= 1
            self.waiting_ops.remove(op)

    def still_waiting(self) -> int:
        """Requests whose quorum is not met yet (a released one may not have woken up to answer)."""
        return sum(1 for op in self.waiting_ops if not op.decided and not op.abandoned)
