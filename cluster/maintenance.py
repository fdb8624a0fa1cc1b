"""Background maintenance: hint retry, anti-entropy rounds, group commits.

One part of the cluster (the manager owns it as `jobs`). Each job is a plain
method taking `now` (the cluster's clock) and returning
what it did, so the scheduler only calls it, a student can trigger it with
POST /scheduler/run/<job>, and a test can call it directly.
"""
from __future__ import annotations

from cluster.anti_entropy import AntiEntropyOp
from cluster.core import ClusterCore
from cluster.errors import BadRequest, Conflict
from cluster.handoff import HandoffOp, owed_handoffs
from models import node_name
from wording import plural


class Maintenance:
    """The jobs behind the scheduler: hint retry, anti-entropy rounds, group commit."""

    def __init__(self, core: ClusterCore):
        self.core = core
        self._rounds = 0

    def retry_hints(self, now: int) -> dict:
        """Try to hand every hint back to its owner (both must be up; the network decides)."""
        with self.core.lock:
            ops = [HandoffOp(self.core.next_op_id(), holder, owner)
                   for holder, owner in owed_handoffs(self.core.nodes, self.core.is_up)]
            for op in ops:
                op.start()
            self.core.settle()
            delivered = {f"{op.node.name} -> {node_name(op.owner)}": op.delivered for op in ops if op.delivered}
            left = sum(len(n.hints) for n in self.core.nodes)
            return {"now": now, "handoffs_tried": len(ops), "delivered": delivered, "hints_left": left}

    def anti_entropy(self, node_id: int, peer_id: int) -> dict:
        """One Merkle-tree exchange between two nodes."""
        with self.core.lock:
            node, peer = self.core.node(node_id), self.core.node(peer_id)
            if node is peer:
                raise BadRequest("Anti-entropy needs two different nodes.")
            if not self.core.is_up(node_id):
                raise Conflict(f"{node.name} is down; it cannot start anti-entropy.")
            op = AntiEntropyOp(self.core.next_op_id(), node, peer.node_id)
            op.start()
            self.core.settle()
            return op.summary()

    def anti_entropy_round(self, now: int) -> dict:
        """Every up node runs anti-entropy with one peer, a different peer each round."""
        with self.core.lock:
            count = len(self.core.nodes)
            self._rounds += 1
            offset = 1 + (self._rounds - 1) % max(1, count - 1)
            exchanges = [self.anti_entropy(n.node_id, (n.node_id + offset) % count)
                         for n in self.core.nodes if self.core.is_up(n.node_id) and count > 1]
            return {"now": now, "round": self._rounds, "exchanges": exchanges,
                    "keys_transferred": sum(e["keys_transferred"] for e in exchanges)}

    def flush_batches(self, now: int) -> dict:
        """Group-commit every up node's pending (batch-mode) writes."""
        with self.core.lock:
            committed = {n.name: n.store.flush() for n in self.core.nodes if self.core.is_up(n.node_id)}
            total = sum(committed.values())
            if total:
                self.core.events.emit("group_commit", f"group commit: {plural(total, 'pending write')} reached the "
                                 f"disk ({', '.join(f'{k}: {v}' for k, v in committed.items() if v)})",
                                 [n.node_id for n in self.core.nodes if n.store.durability == "batch"])
            return {"now": now, "committed": {k: v for k, v in committed.items() if v}}
