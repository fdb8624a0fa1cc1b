"""Background maintenance: hint retry, anti-entropy rounds, group commits.

One part of the cluster (the manager owns it as `jobs`). Each job is a plain
method taking `now` (the cluster's clock) and returning
what it did, so the scheduler only calls it, a student can trigger it with
POST /scheduler/run/<job>, and a test can call it directly.
"""
from __future__ import annotations

from typing import Optional

from cluster.core import ClusterCore
from cluster.errors import BadRequest, Conflict
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
            handles = self.core.handles
            ops = [(holder, handles[holder].start_handoff(owner))
                   for holder, owner in owed_handoffs(handles, self.core.is_up)]
            self.core.settle()
            delivered = {f"{node_name(holder)} -> {node_name(op.owner)}": op.delivered
                         for holder, op in ops if op.delivered}
            left = sum(h.hint_count() for h in self.core.handles)
            return {"now": now, "handoffs_tried": len(ops), "delivered": delivered, "hints_left": left}

    def anti_entropy(self, node_id: int, peer_id: int) -> dict:
        """One Merkle-tree exchange between two nodes."""
        with self.core.lock:
            node, peer = self.core.node(node_id), self.core.node(peer_id)
            if node is peer:
                raise BadRequest("Anti-entropy needs two different nodes.")
            if not self.core.is_up(node_id):
                raise Conflict(f"{node.name} is down; it cannot start anti-entropy.")
            op = self.core.handles[node_id].start_anti_entropy(peer.node_id)
            self.core.settle()
            return op.summary()

    def anti_entropy_round(self, now: int) -> dict:
        """Every up node runs anti-entropy with one peer, a different peer each round.

        One exchange (one node pair's trees) per lock hold: requests run between
        two exchanges. A caller that already holds the lock runs the round whole.
        """
        with self.core.lock:
            count = len(self.core.nodes)
            self._rounds += 1
            number, offset = self._rounds, 1 + (self._rounds - 1) % max(1, count - 1)
        exchanges = []
        for node in self.core.nodes if count > 1 else ():
            with self.core.lock:  # a slice; the node may have gone down since the last one
                if self.core.is_up(node.node_id):
                    exchanges.append(self.anti_entropy(node.node_id, (node.node_id + offset) % count))
        moved = sum(e["keys_transferred"] for e in exchanges)
        with self.core.lock:
            sentence = (f"anti-entropy round {number}: {plural(len(exchanges), 'exchange')} in "
                        f"{plural(len(exchanges), 'slice')} of one node pair each (the lock is free between "
                        f"two), {plural(moved, 'key')} moved")
            self.core.events.emit("anti_entropy_round", sentence, [], None, round=number,
                                  slices=len(exchanges), keys_transferred=moved)
        return {"now": now, "round": number, "exchanges": exchanges, "slices": len(exchanges),
                "keys_transferred": moved}

    def flush_batches(self, now: int) -> dict:
        """Group-commit every up node's pending (batch-mode) writes."""
        with self.core.lock:
            committed = {h.name: h.flush() for h in self.core.handles if self.core.is_up(h.node_id)}
            total = sum(committed.values())
            if total:
                batching = [h.node_id for h in self.core.handles] if self.core.config.durability == "batch" else []
                self.core.events.emit("group_commit", f"group commit: {plural(total, 'pending write')} reached the "
                                      f"disk ({', '.join(f'{k}: {v}' for k, v in committed.items() if v)})", batching)
            return {"now": now, "committed": {k: v for k, v in committed.items() if v}}


def owed_handoffs(handles, is_up, recovered: Optional[int] = None):
    """(holder id, owner id) pairs that can be handed off now: both up, hints held (the control plane's view).

    With `recovered`, only pairs involving that node: hints others hold for it,
    and hints it holds for nodes that are up.
    """
    pairs = []
    for holder in handles:
        if not is_up(holder.node_id):
            continue
        for owner in holder.owed_hints():
            if is_up(owner) and (recovered is None or recovered in (holder.node_id, owner)):
                pairs.append((holder.node_id, owner))
    return pairs

