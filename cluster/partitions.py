"""Partitions: the network split into sides that cannot reach each other.

A partition is a set of disjoint sides covering every node; a message between
two sides is dropped by the Network (faults.py asks `separates`). Nodes a
student does not name form one more side together, so {"groups": [[0, 1]]}
cuts nodes 0 and 1 off from the rest.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Tuple

from cluster.errors import BadRequest
from models import MAX_NODE_DIGITS, names, node_name, node_ref, shown


@dataclass(frozen=True)
class Partition:
    """Disjoint sides covering every node."""

    sides: Tuple[frozenset, ...]

    def separates(self, src: int, dst: int) -> bool:
        """True when src and dst are on different sides."""
        return not any(src in side and dst in side for side in self.sides)

    def describe(self) -> List[List[str]]:
        """The sides as lists of node names, as /faults shows them."""
        return [[node_name(n) for n in sorted(side)] for side in self.sides]

    def text(self) -> str:
        """One line for the event log: 'node-0, node-1 | node-2, node-3'."""
        return " | ".join(names(sorted(side)) for side in self.sides)

    def groups(self) -> List[List[int]]:
        """The sides as sorted lists of node ids."""
        return [sorted(side) for side in self.sides]


def check_node(value, nodes: int, what: str = "node") -> int:
    """A node id in range (given as 1, "1" or "node-1"), or BadRequest."""
    node_id = node_ref(value)
    if node_id is None:
        raise BadRequest(f"Each {what} must be a node id such as 1 or \"node-1\" (at most {MAX_NODE_DIGITS} "
                         f"digits), not {shown(value)}.")
    if not 0 <= node_id < nodes:
        raise BadRequest(f"There is no node {value}: node ids go from 0 to {nodes - 1}.")
    return node_id


def parse_partition(groups, nodes: int) -> Partition:
    """Groups of node ids; nodes not named form one more group together."""
    example = 'for example {"groups": [[0, 1], [2, 3, 4]]}'
    if not isinstance(groups, list) or not groups or not all(isinstance(g, list) and g for g in groups):
        raise BadRequest(f"\"groups\" must be a list of non-empty lists of node ids, {example}.",
                         field="groups")
    seen: Dict[int, int] = {}  # node -> index of its group
    for index, group in enumerate(groups):
        for member in group:
            node = check_node(member, nodes, "member of a group")
            if node in seen:
                where = "twice in the same group" if seen[node] == index else "in two groups"
                raise BadRequest(f"node {node} is {where}; each node belongs to exactly one side.",
                                 field="groups")
            seen[node] = index
    sides = [frozenset(n for n, i in seen.items() if i == index) for index in range(len(groups))]
    rest = frozenset(range(nodes)) - frozenset(seen)
    if rest:
        sides.append(rest)
    if len(sides) < 2:
        raise BadRequest(f"A partition needs at least two sides; these groups put every node "
                         f"together, {example}.", field="groups")
    return Partition(tuple(sides))
