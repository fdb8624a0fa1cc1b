"""Live controls of the cluster: fault injection and step-by-step delivery.

Two mixins of ReplicationManager. Each control takes the cluster lock,
validates its input (faults.py says what is wrong in a sentence), changes the
Network, records an event, and lets the cluster run on (`settle`), waking any
request that waits on it.
"""
from __future__ import annotations

from errors import BadRequest, Conflict, NotFound
from faults import NetworkFault, check_node, parse_link, parse_network, parse_partition
from models import names, node_name

MAX_SKEW_MS = 86_400_000
MAX_TICK_MS = 3_600_000


class FaultControl:
    """Partitions, link faults, network-wide faults and clock skew."""

    def partition(self, groups) -> dict:
        """Split the nodes into sides that cannot reach each other."""
        with self.lock:
            sides = parse_partition(groups, len(self.nodes))
            self.network.faults.partition = sides
            text = " | ".join(names(sorted(side)) for side in sides)
            self.events.emit("partition", f"network partitioned: {text}; messages between sides "
                             "are dropped", range(len(self.nodes)), None,
                             groups=[sorted(side) for side in sides])
            self.settle()
            return self.faults_view()

    def heal(self) -> dict:
        """Remove the partition."""
        with self.lock:
            if self.network.faults.partition is None:
                raise Conflict("There is no partition to heal.")
            self.network.faults.partition = None
            self.events.emit("partition_healed", "partition healed: every node can reach every "
                             "other again", range(len(self.nodes)))
            self.settle()
            return self.faults_view()

    def _link_nodes(self, a: int, b: int):
        check_node(a, len(self.nodes))
        check_node(b, len(self.nodes))
        if a == b:
            raise BadRequest("A link joins two different nodes; a node does not message itself.")
        return a, b

    def set_link(self, a: int, b: int, data: dict) -> dict:
        """Fault the one-way link a -> b: down, a drop rate, extra delay."""
        with self.lock:
            a, b = self._link_nodes(a, b)
            fault = parse_link(data)
            self.network.faults.links[(a, b)] = fault
            what = "down" if fault.down else (f"drop rate {fault.drop_rate}, extra delay "
                                              f"{list(fault.delay_ms)} ms")
            self.events.emit("link_fault", f"link {node_name(a)} -> {node_name(b)} (one way): {what}",
                             [a, b], None, **fault.to_dict())
            self.settle()
            return self.faults_view()

    def clear_link(self, a: int, b: int) -> dict:
        """Repair the one-way link a -> b."""
        with self.lock:
            a, b = self._link_nodes(a, b)
            if self.network.faults.links.pop((a, b), None) is None:
                raise NotFound(f"The link {node_name(a)} -> {node_name(b)} has no fault.")
            self.events.emit("link_repaired", f"link {node_name(a)} -> {node_name(b)} repaired", [a, b])
            self.settle()
            return self.faults_view()

    def set_network(self, data: dict) -> dict:
        """Set whole-network drop rate, duplicate rate and extra delay."""
        with self.lock:
            fault = parse_network(data)
            self.network.faults.network = fault
            self.events.emit("network_fault", f"network now drops {fault.drop_rate:.0%}, duplicates "
                             f"{fault.duplicate_rate:.0%} and adds {list(fault.delay_ms)} ms to every "
                             "message", range(len(self.nodes)), None, **fault.to_dict())
            return self.faults_view()

    def set_skew(self, node_id: int, skew_ms) -> dict:
        """Make a node's clock run ahead (+) or behind (-) by skew_ms."""
        if isinstance(skew_ms, bool) or not isinstance(skew_ms, int) or abs(skew_ms) > MAX_SKEW_MS:
            raise BadRequest(f"\"skew_ms\" must be a whole number of milliseconds between "
                             f"-{MAX_SKEW_MS} and {MAX_SKEW_MS}, not {skew_ms!r}.", field="skew_ms")
        with self.lock:
            node = self.node(node_id)
            node.skew_ms = skew_ms
            where = "ahead of" if skew_ms > 0 else "behind"
            text = (f"{node.name}'s clock now runs {abs(skew_ms)} ms {where} the others" if skew_ms
                    else f"{node.name}'s clock is correct again")
            self.events.emit("clock_skew", text, [node_id], None, skew_ms=skew_ms)
            return self.faults_view()

    def faults_view(self) -> dict:
        """Every active fault in one answer."""
        with self.lock:
            return {"down": [{"node": n.name, "mode": n.failure} for n in self.nodes
                             if not self.is_up(n.node_id)],
                    **self.network.faults.describe(),
                    "clock_skew": [{"node": n.name, "skew_ms": n.skew_ms} for n in self.nodes if n.skew_ms],
                    "paused": self.network.paused}

    def clear_faults(self) -> dict:
        """Remove partitions, link and network faults and clock skews (down nodes stay down)."""
        with self.lock:
            before = self.faults_view()
            faults = self.network.faults
            faults.partition, faults.links, faults.network = None, {}, NetworkFault()
            for node in self.nodes:
                node.skew_ms = 0
            self.events.emit("faults_cleared", "every network fault and clock skew cleared "
                             "(failed nodes stay down: recover them one by one)", range(len(self.nodes)))
            self.settle()
            return {"cleared": before, "now": self.faults_view()}


class StepControl:
    """Pause the network and move its messages one by one."""

    def pause(self) -> dict:
        """Hold every message from now on; simulated time stands still."""
        with self.lock:
            if self.network.paused:
                raise Conflict("The network is already paused.")
            self.network.pause()
            self.clock.freeze()
            self.events.emit("network_paused", "network paused: messages are held until you deliver, "
                             "drop or step them; time moves only with /tick and /network/step", ())
            return self.messages_view()

    def resume(self) -> dict:
        """Deliver normally again, starting with every held message."""
        with self.lock:
            if not self.network.paused:
                raise Conflict("The network is not paused.")
            held = self.network.in_flight
            self.network.resume()
            self.clock.unfreeze()
            self.events.emit("network_resumed", f"network resumed: delivering the {held} held "
                             "message(s) and everything that follows", ())
            self.settle()
            return self.messages_view()

    def messages_view(self) -> dict:
        """The messages in flight, in delivery order."""
        with self.lock:
            return {"paused": self.network.paused, "time_ms": self.clock.elapsed(),
                    "messages": self.network.held(), "waiting_requests": self.parked}

    def _move(self, action, msg_id: int):
        with self.lock:
            result = action(msg_id)
            self.settle()
            return result

    def deliver_message(self, msg_id: int) -> dict:
        """Deliver one held message now."""
        self._move(self.network.deliver, msg_id)
        return self.messages_view()

    def drop_message(self, msg_id: int) -> dict:
        """Lose one held message."""
        self._move(self.network.drop, msg_id)
        return self.messages_view()

    def duplicate_message(self, msg_id: int) -> dict:
        """Add a copy of a held message; both will be delivered."""
        copy_id = self._move(self.network.duplicate, msg_id)
        return {"copy_id": copy_id, **self.messages_view()}

    def step_message(self) -> dict:
        """Deliver the next held message in the network's own order."""
        with self.lock:
            msg_id = self.network.step_message()
            if msg_id is None:
                raise Conflict("No message is in flight: there is nothing to step.")
            self.settle()
            return {"delivered": msg_id, **self.messages_view()}

    def tick(self, ms) -> dict:
        """Advance simulated time by `ms`, firing the timers and deliveries that come due."""
        if isinstance(ms, bool) or not isinstance(ms, int) or not 1 <= ms <= MAX_TICK_MS:
            raise BadRequest(f"\"ms\" must be a whole number from 1 to {MAX_TICK_MS}, not {ms!r}.",
                             field="ms")
        with self.lock:
            self.events.emit("tick", f"time moves forward {ms} ms", ())
            self.network.tick(ms)
            self.settle()
            return self.messages_view()
