"""The fault table: every network fault in force, as the front sends it to each node process.

In real mode no network hardware misbehaves on purpose; the transports do, as
labrpc and Maelstrom do: each node process holds the table the front last sent
and asks it about every message twice — at the sender (may it leave? with
what extra delay? twice?) and again at the receiver (is it still allowed in?
a partition may have begun while it was on the wire). The rules themselves
are the simulation's own (cluster/faults.py, cluster/partitions.py): this
file only carries them between processes as JSON and draws the dice.
"""
from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field
from typing import Callable, FrozenSet, List, Optional

from cluster.errors import BadRequest
from cluster.faults import FaultSet, down_reason, parse_link, parse_network
from cluster.partitions import check_node, parse_partition
from models import node_name

SENDER, RECEIVER = "sender", "receiver"


@dataclass(frozen=True)
class Verdict:
    """The fate of one message at one end: pass or not (and why), extra delay, a second copy."""

    passes: bool
    reason: Optional[str] = None
    delay_ms: int = 0
    duplicate: bool = False


# A table names at most this many nodes (config caps a cluster far below it) and counts versions
# in a 63-bit range: a hostile table can neither allocate per node nor freeze the version.
MAX_TABLE_NODES = 1000
MAX_TABLE_VERSION = 2 ** 63 - 1


@dataclass
class FaultTable:
    """One version of the faults in force: partition, link faults, network faults, down nodes, step mode.

    `paused` is step mode across processes (realmode/step_hold.py): while it is set, each
    sender holds what it sends until the front moves it, and the node's timers stand still.
    """

    nodes: int
    faults: FaultSet = field(default_factory=FaultSet)
    down: FrozenSet[int] = frozenset()
    version: int = 0
    paused: bool = False

    def verdict(self, src: int, dst: int, rng: random.Random, at: str = SENDER) -> Verdict:
        """What happens to a message src -> dst at the sender or at the receiver.

        The sender draws every chance, in the simulated Network's order (blocked,
        random drop, extra delay, duplicate); the receiver only re-checks what
        blocks a message outright, so one message's dice are thrown once.
        """
        reason = down_reason(self.down, src, dst) or self.faults.blocked(src, dst)
        if reason is None and at == SENDER:
            reason = self.faults.random_drop(src, dst, rng)
        if reason is not None:
            return Verdict(False, reason)
        if at != SENDER:
            return Verdict(True)
        return Verdict(True, None, self.faults.extra_delay(src, dst, rng), self.faults.duplicated(rng))

    def to_json(self) -> dict:
        """The table as JSON (node ids as ints), as the front POSTs it to each node."""
        faults = self.faults
        return {"version": self.version, "nodes": self.nodes, "paused": self.paused, "down": sorted(self.down),
                "partition": faults.partition.groups() if faults.partition else None,
                "links": [{"from": a, "to": b, **link.to_dict()} for (a, b), link in sorted(faults.links.items())],
                "network": faults.network.to_dict()}

    @classmethod
    def from_json(cls, data) -> FaultTable:
        """Rebuild a table from `to_json`'s form; BadRequest with a sentence on anything malformed."""
        if not isinstance(data, dict):
            raise BadRequest("A fault table must be a JSON object with version, nodes, paused, down, partition, "
                             "links and network.")
        nodes, version = data.get("nodes"), data.get("version", 0)
        for name, value, limit in (("nodes", nodes, MAX_TABLE_NODES), ("version", version, MAX_TABLE_VERSION)):
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= limit:
                raise BadRequest(f"\"{name}\" must be a whole number from 0 to {limit}, not "
                                 f"{str(value)[:20]!r}.", field=name)
        assert isinstance(nodes, int) and isinstance(version, int)  # checked just above
        paused = data.get("paused", False)
        if not isinstance(paused, bool):
            raise BadRequest(f"\"paused\" must be true or false, not {str(paused)[:20]!r}.", field="paused")
        faults = FaultSet()
        if data.get("partition") is not None:
            faults.partition = parse_partition(data["partition"], nodes)
        links = data.get("links", [])
        if not isinstance(links, list) or not all(isinstance(link, dict) for link in links):
            raise BadRequest("\"links\" must be a list of objects such as "
                             "{\"from\": 0, \"to\": 1, \"drop_rate\": 0.3}.", field="links")
        for link in links:
            pair = (check_node(link.get("from"), nodes), check_node(link.get("to"), nodes))
            faults.links[pair] = parse_link(link)
        network = data.get("network") or {}
        if not isinstance(network, dict):
            raise BadRequest("\"network\" must be an object such as {\"drop_rate\": 0.1}.", field="network")
        faults.network = parse_network(network)
        down = data.get("down", [])
        if not isinstance(down, list):
            raise BadRequest("\"down\" must be a list of node ids.", field="down")
        return cls(nodes, faults, frozenset(check_node(node, nodes) for node in down), version, paused)

    def describe(self) -> dict:
        """The faults as GET /faults shows them in simulated mode, plus the down nodes."""
        return {**self.faults.describe(), "down": [node_name(n) for n in sorted(self.down)]}


class LiveFaults:
    """The table a node process currently enforces; the front replaces it, never a node itself."""

    def __init__(self, table: FaultTable, rng: Optional[random.Random] = None):
        self._table = table
        self._lock = threading.Lock()
        # Real mode is not deterministic anyway; a private RNG keeps the dice of different
        # threads from sharing (and reseeding) the global one.
        self._rng = rng or random.Random()
        # Called with (old table, new table) after each adopted table: step mode starts and ends here.
        self.listeners: List[Callable[[FaultTable, FaultTable], None]] = []

    @property
    def table(self) -> FaultTable:
        """The table in force."""
        return self._table

    def replace(self, table: FaultTable) -> bool:
        """Adopt `table` unless an equal or newer version is in force (tables may arrive out of order).

        A table for another cluster size is refused: the size is fixed when the node starts.
        """
        if table.nodes != self._table.nodes:
            raise BadRequest(f"This node belongs to a cluster of {self._table.nodes} nodes; a fault table "
                             f"for {table.nodes} nodes is not for it.", field="nodes")
        with self._lock:
            if table.version < self._table.version:
                return False
            old, self._table = self._table, table
        for listener in self.listeners:
            listener(old, table)
        return True

    def verdict(self, src: int, dst: int, at: str = SENDER) -> Verdict:
        """The current table's verdict on a message src -> dst at one end."""
        with self._lock:  # random.Random is not safe to draw from in several threads at once
            return self._table.verdict(src, dst, self._rng, at)

