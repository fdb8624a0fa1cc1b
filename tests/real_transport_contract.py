"""The behaviour every transport owes the protocol, as a mixin a TestCase applies to one transport.

A TestCase mixes in TransportContractMixin and provides three hooks:
`make_transports(count, lock)` (transports[i] runs node i), `wait_for(predicate)`
(let the world run until it holds, or give up) and `set_faults(table)` (the
fault table every transport enforces). The messages are realmode.demo_node's
Ping and codec, so the contract needs no protocol code. The seam branch's
TransportContract can be applied to the HTTP transport the same way.
"""
from __future__ import annotations

import threading
from typing import Callable, Dict, List

from cluster.faults import FaultSet, LinkFault
from realmode.demo_node import Ping
from realmode.fault_table import FaultTable
from tests.mixins import TestMixin


class TransportContractMixin(TestMixin):
    """Delivery, self-delivery, timers, cancel, losses the fault table orders, duplicates only on retry."""

    # --- hooks a TestCase provides -------------------------------------------
    def make_transports(self, count: int, lock) -> list:
        raise NotImplementedError

    def wait_for(self, predicate: Callable[[], bool], timeout_s: float = 10.0) -> bool:
        raise NotImplementedError

    def set_faults(self, table: FaultTable) -> None:
        raise NotImplementedError

    # --- the contract ----------------------------------------------------------
    def build(self, count: int = 2):
        """Transports for `count` nodes, each recording what it delivers; the events each emits."""
        self.lock = threading.RLock()
        self.inboxes: Dict[int, List[Ping]] = {n: [] for n in range(count)}
        self.transports = self.make_transports(count, self.lock)
        for node, transport in enumerate(self.transports):
            transport.register(node, self.inboxes[node].append)
        return self.transports

    def test_a_message_is_delivered_once_to_its_destination(self):
        """Twenty messages sent without faults each arrive once, at the node they were addressed to."""
        t0, _ = self.build()
        for n in range(20):
            t0.send(Ping(0, 1, n, n))
        self.assertTrue(self.wait_for(lambda: len(self.inboxes[1]) >= 20))
        t0.send(Ping(0, 1, 99, 99))  # a late duplicate would show up before this marker's wait ends
        self.assertTrue(self.wait_for(lambda: any(m.n == 99 for m in self.inboxes[1])))
        self.assertEqual(sorted(m.n for m in self.inboxes[1]), [*range(20), 99])
        self.assertEqual(self.inboxes[0], [])

    def test_a_message_to_itself_is_delivered(self):
        """A node may send to itself (the seam's ask_self); the message arrives like any other."""
        t0, _ = self.build()
        t0.send(Ping(0, 0, 1, 7))
        self.assertTrue(self.wait_for(lambda: len(self.inboxes[0]) == 1))
        self.assertEqual(self.inboxes[0][0], Ping(0, 0, 1, 7))

    def test_timers_fire_no_earlier_than_asked(self):
        """A timer of 30 ms fires once, when now() has moved at least 30 ms."""
        t0, _ = self.build()
        fired: List[int] = []
        start = t0.now()
        t0.set_timer(0, 30, lambda: fired.append(t0.now()))
        self.assertTrue(self.wait_for(lambda: bool(fired)))
        self.assertGreaterEqual(fired[0] - start, 30)
        self.assertEqual(len(fired), 1)

    def test_a_cancelled_timer_never_fires(self):
        """A cancelled timer stays silent even after a later timer has fired."""
        t0, _ = self.build()
        fired: List[str] = []
        t0.set_timer(0, 10, lambda: fired.append("cancelled")).cancel()
        t0.set_timer(0, 40, lambda: fired.append("later"))
        self.assertTrue(self.wait_for(lambda: "later" in fired))
        self.assertEqual(fired, ["later"])

    def test_deliveries_and_timers_run_under_the_node_lock(self):
        """While a node handles a message or a timer, no other thread can take its lock."""
        t0, t1 = self.build()
        free_while_running: List[bool] = []

        def lock_is_free() -> bool:
            """Whether another thread can take the node's lock now (it gives it back at once)."""
            if not self.lock.acquire(blocking=False):
                return False
            self.lock.release()
            return True

        def probe():
            other = threading.Thread(target=lambda: free_while_running.append(lock_is_free()))
            other.start()
            other.join()

        t1.register(1, lambda msg: probe())
        t0.send(Ping(0, 1, 1, 1))
        t0.set_timer(0, 5, probe)
        self.assertTrue(self.wait_for(lambda: len(free_while_running) == 2))
        self.assertEqual(free_while_running, [False, False])

    def test_the_fault_table_loses_messages_on_a_down_link(self):
        """With the link 0 -> 1 down a message is lost; after healing, the next one arrives and the first never does."""
        t0, _ = self.build()
        self.set_faults(FaultTable(2, FaultSet(links={(0, 1): LinkFault(down=True)}), version=1))
        t0.send(Ping(0, 1, 1, 1))
        self.set_faults(FaultTable(2, version=2))
        t0.send(Ping(0, 1, 2, 2))
        self.assertTrue(self.wait_for(lambda: any(m.n == 2 for m in self.inboxes[1])))
        self.assertEqual([m.n for m in self.inboxes[1]], [2])
