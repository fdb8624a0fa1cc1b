"""Placement: a consistent-hash ring with virtual nodes.

Each node owns `vnodes` points on a 64-bit ring (md5 of "node-<id>#<i>"); a key
hashes to a point too, and its preference list is the first RF distinct nodes
met walking clockwise from there. md5 is used for spread, not security, and
gives the same ring on every machine (Python's hash() is salted per process).
"""
from __future__ import annotations

import bisect
import functools
import hashlib
from typing import Iterator, List, Optional

from models import node_name

RING_SIZE = 2 ** 64


def ring_hash(text: str) -> int:
    """Position of `text` on the ring: the first 8 bytes of its md5 digest."""
    return int.from_bytes(hashlib.md5(text.encode("utf-8")).digest()[:8], "big")


class Ring:
    """Consistent-hash ring over node ids 0..nodes-1."""

    def __init__(self, nodes: int, vnodes: int, rf: int):
        self.nodes = nodes
        self.vnodes = vnodes
        self.rf = rf
        points = sorted((ring_hash(f"{node_name(n)}#{i}"), n)
                        for n in range(nodes) for i in range(vnodes))
        self._positions = [p for p, _ in points]
        self._owners = [n for _, n in points]
        # Placement never changes for a ring, and sync and anti-entropy ask for it per key.
        self._cached_preference = functools.lru_cache(maxsize=1 << 18)(self._compute_preference)

    def _start(self, key: str) -> int:
        return bisect.bisect_right(self._positions, ring_hash(key)) % len(self._positions)

    def walk(self, key: str) -> Iterator[int]:
        """Yield every node once, in clockwise order from the key's position."""
        seen = set()
        start = self._start(key)
        count = len(self._positions)
        for step in range(count):
            owner = self._owners[(start + step) % count]
            if owner not in seen:
                seen.add(owner)
                yield owner
                if len(seen) == self.nodes:
                    return

    def preference_list(self, key: str) -> List[int]:
        """The RF distinct nodes that should hold `key`, primary first."""
        return list(self._cached_preference(key))

    def _compute_preference(self, key: str) -> tuple:
        walk = self.walk(key)
        return tuple(next(walk) for _ in range(self.rf))

    def explain(self, key: str, rf: Optional[int] = None) -> dict:
        """Describe where `key` lands and which ring points chose its replicas.

        `rf` asks "what if the replication factor were rf?": the preference list
        is always a prefix of the same clockwise walk.
        """
        rf = rf or self.rf
        position = ring_hash(key)
        start = self._start(key)
        count = len(self._positions)
        chosen, seen = [], set()
        for step in range(count):
            index = (start + step) % count
            owner = self._owners[index]
            if owner not in seen:
                seen.add(owner)
                chosen.append({"node": node_name(owner), "ring_position": self._positions[index],
                               "steps_clockwise": step})
            if len(chosen) == rf:
                break
        return {"key": key, "key_position": position,
                "key_position_fraction": round(position / RING_SIZE, 6),
                "preference_list": [c["node"] for c in chosen], "points": chosen,
                "rf": rf, "fallback_order": [node_name(n) for n in list(self.walk(key))[rf:]]}
