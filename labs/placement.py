"""Where the lab's key lives, read from the placement answer a lab saved.

Labs 2, 3, 4 and 6 save `GET /placement/color` as "placement" in their first
steps, so every later step can name "the second replica" or "the stand-in"
whatever the ring decided for this seed.
"""
from __future__ import annotations

from typing import List, Set

from models import node_id_of


def replica(ctx: dict, i: int) -> int:
    """The i-th node of the key's preference list, as an id."""
    return node_id_of(ctx["placement"]["preference_list"][i])


def replicas(ctx: dict) -> List[int]:
    """Every node of the key's preference list, as ids."""
    return [node_id_of(name) for name in ctx["placement"]["preference_list"]]


def stand_in(ctx: dict) -> int:
    """The first node after the preference list: it stands in when a replica is silent."""
    return node_id_of(ctx["placement"]["fallback_order"][0])


def names(*ids: int) -> Set[str]:
    """A set of node names: names(0, 2) == {"node-0", "node-2"}."""
    return {f"node-{i}" for i in ids}
