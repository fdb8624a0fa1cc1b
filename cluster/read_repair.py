"""Read repair: a quorum read fixes the stale replicas it happened to ask.

Once R answers are in, the coordinator knows the newest version among them.
Every preference-list node that answered with something older (or nothing) is
sent that version; stand-ins are left alone, because their copy is a hint that
hinted handoff will deliver. Repairs that get no ack before the timeout are
left to the other mechanisms (hint retry, anti-entropy). Only keys somebody
reads are repaired this way.
"""
from __future__ import annotations

from typing import Dict, List, Optional

from cluster import siblings
from cluster.messages import Put
from models import Record, node_name
from wording import plural


def stale_replicas(node, replies: Dict[int, Optional[Record]], stands_for: Dict[int, Optional[int]],
                   best: Optional[Record]) -> List[int]:
    """Preference-list nodes whose answer lacks something of `best` (older, or missing siblings), sorted."""
    if best is None:
        return []
    return sorted(n for n, rec in replies.items() if stands_for.get(n) is None and node.improves(best, rec))


def send_repairs(op, best: Record, stale: List[int]) -> None:
    """Send `best` to each stale replica (the coordinator too: its own copy comes back as an ack)."""
    node = op.node
    for peer in stale:
        had = op.replies[peer]
        own = peer == node.node_id  # the coordinator repairs its own copy: no "node-1 sends it" to node-1
        who = f"{node.name} (the coordinator)" if own else node_name(peer)
        fix = f" and keeps {_label(node, best)} instead" if own else f", {node.name} sends it {_label(node, best)}"
        op.seam.emit("read_repair", f"read repair: {who} had {_label(node, had) if had else 'nothing'} "
                     f"for {op.key}{fix}", [node.node_id, peer], op.key, op_id=op.op_id,
                     had=str(had.version) if had else None, newest=str(best.version))
        op.send(Put(node.node_id, peer, op.op_id, best, None, "repair"))


def _label(node, record: Record) -> str:
    """How a repair names what a replica had: its version, or (siblings mode) the merge's context."""
    if node.conflicts == "siblings":
        sset = siblings.of(record)
        assert sset is not None
        return f"{plural(len(sset.siblings), 'sibling')} seen up to {siblings.vv.readable(sset.context)}"
    return f"v{record.version}"
