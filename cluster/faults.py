"""Network faults: one-way link faults, whole-network settings, and the partition in force.

Only the Network consults these; nodes never check faults themselves. Each
`parse_*` function validates what a student sent and raises BadRequest with a
sentence saying exactly what is wrong.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, Optional, Tuple

from cluster.errors import BadRequest
from cluster.partitions import Partition
from models import node_name


@dataclass
class LinkFault:
    """Faults on the one-way link a -> b."""

    down: bool = False
    drop_rate: float = 0.0
    delay_ms: Tuple[int, int] = (0, 0)

    def to_dict(self) -> dict:
        """JSON form for /faults."""
        return {"down": self.down, "drop_rate": self.drop_rate, "delay_ms": list(self.delay_ms)}


@dataclass
class NetworkFault:
    """Faults on every message: drops, duplicates, extra delay (which reorders)."""

    drop_rate: float = 0.0
    duplicate_rate: float = 0.0
    delay_ms: Tuple[int, int] = (0, 0)

    def active(self) -> bool:
        """True if any setting differs from a perfect network."""
        return self != NetworkFault()

    def to_dict(self) -> dict:
        """JSON form for /faults."""
        return {"drop_rate": self.drop_rate, "duplicate_rate": self.duplicate_rate,
                "delay_ms": list(self.delay_ms)}


@dataclass
class FaultSet:
    """Every network fault in force."""

    partition: Optional[Partition] = None
    links: Dict[Tuple[int, int], LinkFault] = field(default_factory=dict)
    network: NetworkFault = field(default_factory=NetworkFault)

    def blocked(self, src: int, dst: int) -> Optional[str]:
        """Why a message src -> dst cannot pass at all (partition, link down), or None."""
        if self.partition is not None and self.partition.separates(src, dst):
            return f"{node_name(src)} and {node_name(dst)} are on different sides of a partition"
        link = self.links.get((src, dst))
        if link is not None and link.down:
            return f"the link {node_name(src)} -> {node_name(dst)} is down"
        return None

    def random_drop(self, src: int, dst: int, rng) -> Optional[str]:
        """Draw the link's and the network's drop chances; the reason if dropped."""
        link = self.links.get((src, dst))
        if link is not None and link.drop_rate and rng.random() < link.drop_rate:
            return f"lost on the link {node_name(src)} -> {node_name(dst)} (drop rate {link.drop_rate})"
        if self.network.drop_rate and rng.random() < self.network.drop_rate:
            return f"lost by the network (drop rate {self.network.drop_rate})"
        return None

    def extra_delay(self, src: int, dst: int, rng) -> int:
        """Extra milliseconds from the link and the network delay settings."""
        extra = 0
        link = self.links.get((src, dst))
        for low, high in ([link.delay_ms] if link else []) + [self.network.delay_ms]:
            if high:
                extra += rng.randint(low, high)
        return extra

    def duplicated(self, rng) -> bool:
        """Draw whether the network delivers this message twice."""
        return bool(self.network.duplicate_rate) and rng.random() < self.network.duplicate_rate

    def describe(self) -> dict:
        """Every active network fault, as /faults lists them."""
        return {"partition": self.partition.describe() if self.partition else None,
                "links": [{"from": node_name(a), "to": node_name(b), **f.to_dict()}
                          for (a, b), f in sorted(self.links.items())],
                "network": self.network.to_dict() if self.network.active() else None}


def down_reason(down, src: int, dst: int) -> Optional[str]:
    """Why a message cannot pass because its receiver or its sender is down, or None."""
    for node in (dst, src):
        if node in down:
            return f"{node_name(node)} is down"
    return None


# --- validation of what a student sends ---------------------------------------

def parse_rate(data: dict, name: str) -> float:
    """A probability between 0 and 1 (default 0)."""
    value = data.get(name, 0.0)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise BadRequest(f"\"{name}\" must be a number from 0 to 1 (a probability), not {value!r}.",
                         field=name)
    return float(value)


def parse_delay(data: dict, name: str = "delay_ms") -> Tuple[int, int]:
    """[min, max] milliseconds with 0 <= min <= max <= 60000 (default no delay)."""
    value = data.get(name, [0, 0])
    if isinstance(value, int) and not isinstance(value, bool):
        value = [value, value]
    if (not isinstance(value, list) or len(value) != 2
            or not all(isinstance(v, int) and not isinstance(v, bool) for v in value)
            or not 0 <= value[0] <= value[1] <= 60_000):
        raise BadRequest(f"\"{name}\" must be [min, max] whole milliseconds with "
                         f"0 <= min <= max <= 60000, e.g. [5, 50]; got {value!r}.", field=name)
    return value[0], value[1]


def parse_link(data: dict) -> LinkFault:
    """A link fault body: {"down": true} or {"drop_rate": 0.3, "delay_ms": [5, 50]}."""
    down = data.get("down", False)
    if not isinstance(down, bool):
        raise BadRequest(f"\"down\" must be true or false, not {down!r}.", field="down")
    fault = LinkFault(down, parse_rate(data, "drop_rate"), parse_delay(data))
    if fault == LinkFault():
        raise BadRequest('This link fault changes nothing; send {"down": true} or a drop_rate '
                         'or delay_ms, e.g. {"drop_rate": 0.3, "delay_ms": [5, 50]}.')
    return fault


def parse_network(data: dict) -> NetworkFault:
    """A whole-network body: {"drop_rate", "duplicate_rate", "delay_ms"}."""
    return NetworkFault(parse_rate(data, "drop_rate"), parse_rate(data, "duplicate_rate"),
                        parse_delay(data))
