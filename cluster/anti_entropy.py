"""Anti-entropy: two replicas compare Merkle trees and copy only what differs.

Node A sends B its tree over the keys both replicate (TreeOffer). B compares it
top-down with its own tree and answers with its entries in the differing
buckets (TreeDiff). A then pushes the records it has newer (or B lacks) and
fetches the ones B has newer (or A lacks). Unlike recovery sync, which ships
every shared record, this moves only the keys that differ — and unlike read
repair and hinted handoff, it also heals keys nobody reads and hints that were
lost.

In siblings mode (--conflicts siblings) a leaf hashes each key's sibling-set
digest instead of its version, and every differing key moves both ways: the
receiver merges by causality, so neither side loses a sibling it has not seen
superseded, and after the exchange both hold the same set.
"""
from __future__ import annotations

from typing import Dict, List, Optional

from cluster import siblings
from cluster.merkle import MerkleTree, compare
from cluster.messages import STORED, Fetch, Put, SyncReply, TreeDiff, TreeOffer
from cluster.operation import Operation
from models import node_name
from wording import agrees, plural


def shared_tree(node, peer: int) -> MerkleTree:
    """The node's Merkle tree over the keys whose preference list holds both it and `peer`."""
    entries = {}
    for key in node.store.keys_replicated_by(peer, node.node_id):  # the store's replica index, no scan
        version, deleted = node.store.index[key]
        if node.conflicts == "siblings":  # equal sets hash equal, whatever their version
            entries[key] = (siblings.digest(node.store.get(key)), 0, deleted)
        else:
            entries[key] = (version.timestamp, version.node, deleted)
    return MerkleTree(entries)


def _ahead(node, mine: tuple, theirs: tuple) -> bool:
    """True when an entry should move to the side holding `theirs` (LWW: newer; siblings: different)."""
    if node.conflicts == "siblings":
        return mine[:2] != theirs[:2]
    return mine[:2] > theirs[:2]


def answer_offer(node, msg: TreeOffer) -> TreeDiff:
    """B's side: compare the offered tree with ours; return our entries where they differ."""
    mine = shared_tree(node, msg.src)
    differing, compared = compare(mine.levels, msg.levels)
    entries = tuple((bucket, tuple((k, *e) for k, e in sorted(found.items())))
                    for bucket, found in sorted(mine.entries_in(differing).items()))
    return TreeDiff(node.node_id, msg.src, msg.op_id, entries, compared)


def answer_fetch(node, msg: Fetch) -> SyncReply:
    """B's side: the records asked for."""
    records = tuple(node.store.get(k) for k in msg.keys if node.store.get(k) is not None)
    return SyncReply(node.node_id, msg.src, msg.op_id, records)


class AntiEntropyOp(Operation):
    """One anti-entropy exchange between this node and `peer`."""

    name = "anti-entropy"

    def __init__(self, op_id: str, node, peer: int):
        super().__init__(op_id, node)
        self.peer = peer
        self.tree: Optional[MerkleTree] = None  # ours, built when the exchange starts
        self.compared = 0
        self.buckets_differing = 0
        self.entries_exchanged = 0  # (key, version) pairs the peer sent for the differing buckets
        self.pushed: List[str] = []
        self.pulled: List[str] = []

    def start(self) -> None:
        """Offer our tree to the peer."""
        self.tree = shared_tree(self.node, self.peer)
        levels = tuple(tuple(level) for level in self.tree.levels)
        self.send(TreeOffer(self.node.node_id, self.peer, self.op_id, levels))
        self.wait()

    def on_tree_diff(self, msg: TreeDiff) -> None:
        """Push what we have newer, fetch what they have newer, in the differing buckets only."""
        if not self.fresh(msg.src, "tree_diff"):
            return  # a duplicate diff
        self.compared = msg.compared
        self.buckets_differing = len(msg.entries)
        theirs: Dict[str, tuple] = {}
        buckets = []
        for bucket, entries in msg.entries:
            buckets.append(bucket)
            for key, ts, node, deleted in entries:
                theirs[key] = (ts, node, deleted)
        self.entries_exchanged = len(theirs)
        assert self.tree is not None, "a diff answers the offer that start() sent with our tree"
        mine = {k: e for found in self.tree.entries_in(buckets).values() for k, e in found.items()}
        to_fetch = sorted(k for k in theirs if k not in mine or _ahead(self.node, theirs[k], mine[k]))
        to_push = sorted(k for k in mine if k not in theirs or _ahead(self.node, mine[k], theirs[k]))
        for key in to_push:
            self.send(Put(self.node.node_id, self.peer, self.op_id, self.node.store.get(key), None, "anti-entropy"))
        if to_fetch:
            self.send(Fetch(self.node.node_id, self.peer, self.op_id, tuple(to_fetch)))
        self.answered(msg.src)  # the diff; each push and the fetch expect their own answer

    def on_put_ack(self, msg) -> None:
        """The peer took a record we pushed."""
        if self.fresh(msg.src, ("put_ack", msg.key)):
            self.pushed.append(msg.key)
            self.answered(msg.src)

    def on_sync_reply(self, msg: SyncReply) -> None:
        """Records we fetched: keep those that are newer."""
        if not self.fresh(msg.src, "sync_reply"):
            return  # a duplicate reply
        for record in msg.records:
            if self.node.accept_put(record, None, purpose="anti-entropy") == STORED:
                self.pulled.append(record.key)
        self.answered(msg.src)

    def on_all_answered(self) -> None:
        """Report what was compared and what moved."""
        self.finish()
        moved = len(self.pushed) + len(self.pulled)
        silent = " (no answer: peer unreachable)" if self.silent else ""
        self.seam.emit("anti_entropy", f"anti-entropy {self.node.name} <-> {node_name(self.peer)}: "
                         f"compared {plural(self.compared, 'tree node')}, "
                         f"{plural(self.buckets_differing, 'bucket')} "
                         f"{agrees(self.buckets_differing, 'differs', 'differ')}, moved {plural(moved, 'key')} "
                         f"({len(self.pushed)} pushed, {len(self.pulled)} pulled){silent}",
                         [self.node.node_id, self.peer], None, op_id=self.op_id,
                         compared=self.compared, buckets_differing=self.buckets_differing,
                         pushed=len(self.pushed), pulled=len(self.pulled))

    def summary(self) -> dict:
        """What this exchange did, for answers and the benchmark."""
        return {"node": self.node.name, "peer": node_name(self.peer), "tree_nodes_compared": self.compared,
                "buckets_differing": self.buckets_differing,
                "version_entries_exchanged": self.entries_exchanged, "keys_pushed": sorted(self.pushed),
                "keys_pulled": sorted(self.pulled),
                "keys_transferred": len(self.pushed) + len(self.pulled),
                "answered": not self.silent}
