"""Merkle trees over key ranges, and their top-down comparison.

Keys fall into 2^depth buckets by the top bits of their ring hash, so a bucket
is a contiguous key range. A leaf hashes the (key, version, tombstone) entries
of its bucket; an inner node hashes its two children. Two trees with the same
root hold the same data; otherwise the comparison descends only into children
whose hashes differ, and ends at the few buckets that really differ.
"""
from __future__ import annotations

import hashlib
from typing import Dict, List, Sequence, Tuple

from cluster.ring import ring_hash

DEPTH = 10  # 1,024 buckets: ~100 keys a bucket at 100,000 keys
EMPTY = hashlib.sha1(b"").hexdigest()

Entry = Tuple[int, int, bool]  # (timestamp, node, deleted): a key's version, compactly


def bucket_of(key: str, depth: int = DEPTH) -> int:
    """The bucket (key range) a key falls into."""
    return ring_hash(key) >> (64 - depth)


def _leaf_hash(entries: Dict[str, Entry]) -> str:
    if not entries:
        return EMPTY
    digest = hashlib.sha1()
    for key in sorted(entries):
        ts, node, deleted = entries[key]
        digest.update(f"{key}\0{ts}\0{node}\0{int(deleted)}\n".encode())
    return digest.hexdigest()


class MerkleTree:
    """A complete binary hash tree; levels[0] is [root], levels[depth] are the leaves."""

    def __init__(self, entries: Dict[str, Entry], depth: int = DEPTH):
        self.depth = depth
        self.buckets: Dict[int, Dict[str, Entry]] = {}
        for key, entry in entries.items():
            self.buckets.setdefault(bucket_of(key, depth), {})[key] = entry
        # Most buckets of a pair's tree are empty (a few hundred keys in 1,024 ranges): skip them cheaply.
        leaves = [_leaf_hash(self.buckets[b]) if b in self.buckets else EMPTY for b in range(2 ** depth)]
        self.levels: List[List[str]] = [leaves]
        while len(self.levels[0]) > 1:
            below = self.levels[0]
            self.levels.insert(0, [_join(below[i], below[i + 1]) for i in range(0, len(below), 2)])

    @property
    def root(self) -> str:
        """The hash of everything."""
        return self.levels[0][0]

    def entries_in(self, buckets) -> Dict[int, Dict[str, Entry]]:
        """The entries of the given buckets."""
        return {b: dict(self.buckets.get(b, {})) for b in buckets}


def _join(left: str, right: str) -> str:
    if left == EMPTY and right == EMPTY:
        return EMPTY  # keeps empty ranges cheap to recognise
    return hashlib.sha1((left + right).encode("ascii")).hexdigest()


def compare(mine: Sequence[Sequence[str]], theirs: Sequence[Sequence[str]]) -> Tuple[List[int], int]:
    """Differing leaf buckets between two trees' levels, and how many tree nodes were compared."""
    compared = 0
    frontier = [0]
    for level in range(len(mine)):
        differing = []
        for index in frontier:
            compared += 1
            if mine[level][index] != theirs[level][index]:
                differing.append(index)
        if level == len(mine) - 1:
            return differing, compared
        frontier = [child for index in differing for child in (2 * index, 2 * index + 1)]
    return [], compared
