"""Fault control: partitions, one-way link faults, network-wide faults, clock skew.

One part of the cluster (the manager owns it as `faults`). Each control takes
the cluster lock, validates its input (faults.py and partitions.py say what is
wrong in a sentence), changes what the Network consults, records an event, and
lets the cluster run on (`settle`), waking any request that waits on it.
"""
from __future__ import annotations

from cluster.core import ClusterCore
from cluster.errors import BadRequest, Conflict, NotFound
from cluster.faults import NetworkFault, parse_link, parse_network
from cluster.partitions import check_node, parse_partition
from models import node_name

MAX_SKEW_MS = 86_400_000


class FaultControl:
    """Partitions, link faults, network-wide faults and clock skew."""

    def __init__(self, core: ClusterCore):
        self.core = core

    def partition(self, groups) -> dict:
        """Split the nodes into sides that cannot reach each other."""
        with self.core.lock:
            partition = parse_partition(groups, len(self.core.nodes))
            self.core.network.faults.partition = partition
            text = partition.text()
            self.core.events.emit("partition", f"network partitioned: {text}; messages between sides "
                             "are dropped", range(len(self.core.nodes)), None,
                             groups=partition.groups())
            self.core.settle()
            return self.faults_view()

    def heal(self) -> dict:
        """Remove the partition."""
        with self.core.lock:
            if self.core.network.faults.partition is None:
                raise Conflict("There is no partition to heal.")
            self.core.network.faults.partition = None
            self.core.events.emit("partition_healed", "partition healed: every node can reach every "
                             "other again", range(len(self.core.nodes)))
            self.core.settle()
            return self.faults_view()

    def _link_nodes(self, a: int, b: int):
        check_node(a, len(self.core.nodes))
        check_node(b, len(self.core.nodes))
        if a == b:
            raise BadRequest("A link joins two different nodes; a node does not message itself.")
        return a, b

    def set_link(self, a: int, b: int, data: dict) -> dict:
        """Fault the one-way link a -> b: down, a drop rate, extra delay."""
        with self.core.lock:
            a, b = self._link_nodes(a, b)
            fault = parse_link(data)
            self.core.network.faults.links[(a, b)] = fault
            what = "down" if fault.down else (f"drop rate {fault.drop_rate}, extra delay "
                                              f"{list(fault.delay_ms)} ms")
            self.core.events.emit("link_fault", f"link {node_name(a)} -> {node_name(b)} (one way): {what}",
                             [a, b], None, **fault.to_dict())
            self.core.settle()
            return self.faults_view()

    def clear_link(self, a: int, b: int) -> dict:
        """Repair the one-way link a -> b."""
        with self.core.lock:
            a, b = self._link_nodes(a, b)
            if self.core.network.faults.links.pop((a, b), None) is None:
                raise NotFound(f"The link {node_name(a)} -> {node_name(b)} has no fault.")
            self.core.events.emit("link_repaired", f"link {node_name(a)} -> {node_name(b)} repaired", [a, b])
            self.core.settle()
            return self.faults_view()

    def set_network(self, data: dict) -> dict:
        """Set whole-network drop rate, duplicate rate and extra delay."""
        with self.core.lock:
            fault = parse_network(data)
            self.core.network.faults.network = fault
            self.core.events.emit("network_fault", f"network now drops {fault.drop_rate:.0%}, duplicates "
                             f"{fault.duplicate_rate:.0%} and adds {list(fault.delay_ms)} ms to every "
                             "message", range(len(self.core.nodes)), None, **fault.to_dict())
            return self.faults_view()

    def set_skew(self, node_id: int, skew_ms) -> dict:
        """Make a node's clock run ahead (+) or behind (-) by skew_ms."""
        if isinstance(skew_ms, bool) or not isinstance(skew_ms, int) or abs(skew_ms) > MAX_SKEW_MS:
            raise BadRequest(f"\"skew_ms\" must be a whole number of milliseconds between "
                             f"-{MAX_SKEW_MS} and {MAX_SKEW_MS}, not {skew_ms!r}.", field="skew_ms")
        with self.core.lock:
            node = self.core.node(node_id)
            self.core.handles[node_id].set_skew(skew_ms)
            where = "ahead of" if skew_ms > 0 else "behind"
            text = (f"{node.name}'s clock now runs {abs(skew_ms)} ms {where} the others" if skew_ms
                    else f"{node.name}'s clock is correct again")
            self.core.events.emit("clock_skew", text, [node_id], None, skew_ms=skew_ms)
            return self.faults_view()

    def faults_view(self) -> dict:
        """Every active fault in one answer."""
        with self.core.lock:
            return {"down": [{"node": h.name, "mode": h.failure()} for h in self.core.handles
                             if not self.core.is_up(h.node_id)],
                    **self.core.network.faults.describe(),
                    "clock_skew": [{"node": h.name, "skew_ms": h.skew()} for h in self.core.handles if h.skew()],
                    "paused": self.core.network.paused}

    def clear_faults(self) -> dict:
        """Remove partitions, link and network faults and clock skews (down nodes stay down)."""
        with self.core.lock:
            before = self.faults_view()
            faults = self.core.network.faults
            faults.partition, faults.links, faults.network = None, {}, NetworkFault()
            for handle in self.core.handles:
                if handle.skew():  # a student's program has no clock to reset: asked anyway, it refuses (409)
                    handle.set_skew(0)
            self.core.events.emit("faults_cleared", "every network fault and clock skew cleared "
                             "(failed nodes stay down: recover them one by one)", range(len(self.core.nodes)))
            self.core.settle()
            return {"cleared": before, "now": self.faults_view()}
