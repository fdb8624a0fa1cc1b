"""The contract every transport passes (cluster/transport.py), as tests/test_db.py's contract for storage.

One mixin for every Transport: the simulated Network (tests/test_transport_contract.py)
and the HTTP transport between node processes (tests/test_realmode_http_transport.py,
three HttpTransports driven as one). A test class mixes `TransportContract` into a
`unittest.TestCase` and provides:

- `make_transport(lock)`: a fresh transport for nodes 0, 1 and 2, whose deliveries and
  timers run under `lock` (the node's lock in a node process; the cluster's lock in the
  simulation, which the driver holds while the network runs);
- `settle(transport, ms)`: let `ms` milliseconds of the transport's time pass and
  everything due be delivered (the simulation runs its queue; a real transport waits);
- `cut_link(transport, src, dst)` and `heal(transport)`: make the transport lose every
  message from src to dst, as the fault table says, and stop losing them.

It asserts only what a real network also promises: delivery of a decoded copy, once
per send when no duplicate fault is set, to another node or to the sender itself;
timers that fire once and no earlier than asked, and never once cancelled; a monotonic
`now()`; deliveries and timers under the node's lock; loss when a fault says so, and
only then. It assumes no ordering between messages. The messages are the protocol's
own (cluster/messages.py), so the seam's JSON codec is on the wire of a real transport.
"""
from __future__ import annotations

import threading
from typing import Any, Callable, Dict, List

from cluster.messages import Get, Put
from models import Record, Version
from tests.mixins import TestMixin


class TransportContract(TestMixin):
    """Mixed into a TestCase: the behaviour every Transport must show."""

    lock: Any

    def make_transport(self, lock) -> Any:
        """A fresh transport for nodes 0, 1 and 2, running deliveries and timers under `lock`."""
        raise NotImplementedError

    def settle(self, transport: Any, ms: int) -> None:
        """Let `ms` milliseconds pass on the transport and deliver what is due."""
        raise NotImplementedError

    def cut_link(self, transport: Any, src: int, dst: int) -> None:
        """Make the transport lose every message from `src` to `dst`."""
        raise NotImplementedError

    def heal(self, transport: Any) -> None:
        """Make the transport lose nothing any more."""
        raise NotImplementedError

    def build(self, nodes=(0, 1, 2)):
        """A transport with an inbox recording every delivery to each node; (transport, inboxes)."""
        self.lock = threading.RLock()
        transport = self.make_transport(self.lock)
        inboxes: Dict[int, List[Any]] = {n: [] for n in nodes}
        for n in nodes:
            transport.register(n, inboxes[n].append)
        return transport, inboxes

    def until(self, transport: Any, holds: Callable[[], bool], ms: int = 5_000) -> bool:
        """Settle in steps of 10 ms until `holds()` (at most `ms`); whether it held."""
        for _ in range(ms // 10):
            if holds():
                return True
            self.settle(transport, 10)
        return holds()

    def test_a_message_arrives_as_an_equal_decoded_copy(self):
        """A sent message reaches its destination once, equal to the original but not the same object."""
        transport, inboxes = self.build()
        msg = Put(0, 1, "node-0:1", Record("k", {"nested": [1, 2]}, Version(5, 0)))
        transport.send(msg)
        self.settle(transport, 1_000)
        self.assertEqual(inboxes[1], [msg])
        self.assertIsNot(inboxes[1][0].record.value, msg.record.value)
        self.assertEqual(inboxes[0] + inboxes[2], [])

    def test_every_message_arrives_exactly_once_in_some_order(self):
        """Twenty messages to one node all arrive, each once (no late copy before a later marker); no order promised."""
        transport, inboxes = self.build()
        sent = [Get(0, 2, f"node-0:{i}", f"k{i}") for i in range(20)]
        for msg in sent:
            transport.send(msg)
        self.assertTrue(self.until(transport, lambda: len(inboxes[2]) >= 20))
        transport.send(Get(0, 2, "node-0:marker", "marker"))  # a late duplicate would arrive before it
        self.assertTrue(self.until(transport, lambda: any(m.op_id == "node-0:marker" for m in inboxes[2])))
        self.assertEqual(sorted(m.op_id for m in inboxes[2]), sorted([m.op_id for m in sent] + ["node-0:marker"]))
        self.assertEqual(inboxes[0] + inboxes[1], [])

    def test_a_message_to_itself_is_delivered(self):
        """A node may send to itself (the seam's ask_self); the message arrives like any other."""
        transport, inboxes = self.build()
        transport.send(Get(0, 0, "node-0:1", "mine"))
        self.assertTrue(self.until(transport, lambda: len(inboxes[0]) == 1))
        self.assertEqual(inboxes[0], [Get(0, 0, "node-0:1", "mine")])

    def test_a_timer_fires_once_no_earlier_than_asked(self):
        """A timer set for 200 ms has not fired at once, then fires once, when now() has moved 200 ms or more."""
        transport, _ = self.build()
        fired: List[int] = []
        start = transport.now()
        transport.set_timer(0, 200, lambda: fired.append(transport.now()))
        self.assertEqual(fired, [])
        self.settle(transport, 1_000)
        self.assertEqual(len(fired), 1)
        self.assertGreaterEqual(fired[0] - start, 200)

    def test_a_cancelled_timer_never_fires(self):
        """cancel() before the time comes means the callback is never called, even after a later timer fired."""
        transport, _ = self.build()
        fired: List[str] = []
        transport.set_timer(0, 10, lambda: fired.append("cancelled")).cancel()
        transport.set_timer(0, 40, lambda: fired.append("later"))
        self.assertTrue(self.until(transport, lambda: "later" in fired))
        self.settle(transport, 100)
        self.assertEqual(fired, ["later"])

    def test_now_never_goes_back(self):
        """now() is monotonic across sends, timers and settling."""
        transport, _ = self.build()
        readings = [transport.now()]
        transport.set_timer(1, 10, lambda: readings.append(transport.now()))
        transport.send(Get(0, 1, "node-0:1", "k"))
        self.settle(transport, 100)
        readings.append(transport.now())
        self.assertEqual(readings, sorted(readings))

    def test_deliveries_and_timers_run_under_the_node_lock(self):
        """While a node handles a message or a timer, no other thread can take its lock."""
        transport, _ = self.build()
        free_while_running: List[bool] = []

        def lock_is_free() -> bool:
            """Whether another thread can take the node's lock now (it gives it back at once)."""
            if not self.lock.acquire(blocking=False):
                return False
            self.lock.release()
            return True

        def probe(*_):
            other = threading.Thread(target=lambda: free_while_running.append(lock_is_free()))
            other.start()
            other.join()

        transport.register(1, probe)
        transport.send(Get(0, 1, "node-0:1", "k"))
        transport.set_timer(0, 5, probe)
        self.assertTrue(self.until(transport, lambda: len(free_while_running) == 2))
        self.assertEqual(free_while_running, [False, False])

    def test_a_cut_link_loses_its_messages_and_only_those(self):
        """With 0 -> 1 cut, a message on it never arrives, while 0 -> 2 and 1 -> 0 still deliver."""
        transport, inboxes = self.build()
        self.cut_link(transport, 0, 1)
        transport.send(Get(0, 1, "node-0:1", "lost"))
        transport.send(Get(0, 2, "node-0:2", "kept"))
        transport.send(Get(1, 0, "node-1:1", "back"))
        self.settle(transport, 1_000)
        self.assertEqual(inboxes[1], [])
        self.assertEqual([m.key for m in inboxes[2]], ["kept"])
        self.assertEqual([m.key for m in inboxes[0]], ["back"])

    def test_a_healed_link_delivers_again_and_its_lost_message_stays_lost(self):
        """A message sent while 0 -> 1 was cut never arrives; after healing, the next one does."""
        transport, inboxes = self.build()
        self.cut_link(transport, 0, 1)
        transport.send(Get(0, 1, "node-0:1", "lost"))
        self.heal(transport)
        transport.send(Get(0, 1, "node-0:2", "after"))
        self.assertTrue(self.until(transport, lambda: bool(inboxes[1])))
        self.settle(transport, 200)
        self.assertEqual([m.key for m in inboxes[1]], ["after"])
