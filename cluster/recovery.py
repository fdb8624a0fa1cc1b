"""Recovery sync: a returning node catches up key by key with its replica peers.

The node asks every other node for the records whose preference list includes
it (tombstones too). It keeps whatever is newer than its own copy
(last-writer-wins, so nothing newer is ever overwritten and nothing is
deleted), then pushes back to each peer the shared keys the peer lacked or had
older. Push-pull matters when every node was down: the first one back may hold
writes the others missed, and they must not lose them.
"""
from __future__ import annotations

from typing import Dict, List

from cluster.messages import STORED, Put, SyncReply, SyncRequest
from cluster.operation import Operation
from models import names, node_name
from wording import plural


def answer_sync_request(node, msg) -> SyncReply:
    """A peer's side: every record whose preference list includes the requester."""
    records = tuple(node.store.get(k) for k in node.store.keys_replicated_by(msg.src))
    return SyncReply(node.node_id, msg.src, msg.op_id, records)


class SyncOp(Operation):
    """Pull newer records from every peer, then push back what each peer lacks."""

    name = "sync"

    def __init__(self, op_id: str, node, peers: List[int], ring):
        super().__init__(op_id, node)
        self.peers = peers
        self.ring = ring
        self.pulled: List[str] = []
        self.pushed: Dict[int, int] = {}
        self.answered_by: List[int] = []

    def start(self) -> None:
        """Ask every peer for the records this node should hold."""
        self.seam.emit("sync_started", f"{self.node.name} asks {names(self.peers)} for the keys "
                         f"it replicates, to catch up", [self.node.node_id, *self.peers], None,
                         op_id=self.op_id)
        for peer in self.peers:
            self.send(SyncRequest(self.node.node_id, peer, self.op_id))
        self.wait()

    def on_sync_reply(self, msg) -> None:
        """Keep the peer's newer records, push back the peer's missing or older ones."""
        peer = msg.src
        if not self.fresh(peer, "sync_reply"):
            return  # a duplicate reply
        self.answered_by.append(peer)
        theirs = {rec.key: rec for rec in msg.records}
        for record in msg.records:
            if self.node.accept_put(record, None, purpose="sync") == STORED:
                self.pulled.append(record.key)
        for key in self.node.store.keys_replicated_by(peer):
            mine = self.node.store.get(key)
            if self.node.improves(mine, theirs.get(key)):
                self.send(Put(self.node.node_id, peer, self.op_id, mine, None, "sync"))
        self.answered(peer)  # the reply; each push expects its own ack

    def on_put_ack(self, msg) -> None:
        """A peer stored a record this node pushed."""
        if self.fresh(msg.src, ("put_ack", msg.key)):
            self.pushed[msg.src] = self.pushed.get(msg.src, 0) + 1
            self.answered(msg.src)

    def on_all_answered(self) -> None:
        """Every peer answered or timed out: report the catch-up."""
        self.finish()
        pulled = sorted(set(self.pulled))
        done = "synced with every peer" if not self.silent else "synced with the peers that answered"
        self.seam.emit("sync_finished", f"{self.node.name} {done}: {plural(len(pulled), 'newer key')} "
                         f"from peers{': ' + ', '.join(pulled[:10]) if pulled else ''}"
                         f"{'...' if len(pulled) > 10 else ''}; pushed {sum(self.pushed.values())} "
                         f"back; {plural(len(self.answered_by), 'peer')} answered, "
                         f"{len(self.silent)} silent", [self.node.node_id], None, op_id=self.op_id,
                         pulled=pulled, pushed=sum(self.pushed.values()))

    def summary(self) -> dict:
        """What the sync achieved, for the recover answer."""
        return {"pulled_keys": sorted(set(self.pulled)),
                "pushed_to_peers": {node_name(p): c for p, c in sorted(self.pushed.items())},
                "peers_answered": [node_name(p) for p in sorted(self.answered_by)],
                "peers_silent": [node_name(p) for p in sorted(self.silent)]}
