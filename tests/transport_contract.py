"""The contract every transport passes (cluster/transport.py), as tests/test_db.py's contract for storage.

A test class mixes `TransportContract` into a `unittest.TestCase` and provides:

- `make_transport()`: a fresh transport;
- `settle(transport, ms)`: let `ms` milliseconds of the transport's time pass and
  everything due be delivered (the simulation runs its queue; a real transport waits);
- `cut_link(transport, src, dst)`: make the transport lose every message from src to dst,
  as the fault table says.

It asserts only what a real network also promises: delivery of a decoded copy
(at most once per send when no duplicate fault is set), timers that fire no
earlier than asked and never once cancelled, a monotonic `now()`, and loss when
a fault says so. It assumes no ordering between messages.
"""
from __future__ import annotations

import unittest
from typing import TYPE_CHECKING, Any, Dict, List

from cluster.messages import Get, Put
from models import Record, Version

# A mixin for TestCase classes: type-checked as one, but not collected as a test by itself.
ContractBase: Any = unittest.TestCase if TYPE_CHECKING else object


class TransportContract(ContractBase):
    """Mixed into a TestCase: the behaviour every Transport must show."""

    def make_transport(self) -> Any:
        """A fresh transport."""
        raise NotImplementedError

    def settle(self, transport: Any, ms: int) -> None:
        """Let `ms` milliseconds pass on the transport and deliver what is due."""
        raise NotImplementedError

    def cut_link(self, transport: Any, src: int, dst: int) -> None:
        """Make the transport lose every message from `src` to `dst`."""
        raise NotImplementedError

    def _inboxes(self, transport: Any, nodes=(0, 1, 2)) -> Dict[int, List[Any]]:
        inboxes: Dict[int, List[Any]] = {n: [] for n in nodes}
        for n in nodes:
            transport.register(n, inboxes[n].append)
        return inboxes

    def test_a_message_arrives_as_an_equal_decoded_copy(self):
        """A sent message reaches its destination once, equal to the original but not the same object."""
        transport = self.make_transport()
        inboxes = self._inboxes(transport)
        msg = Put(0, 1, "node-0:1", Record("k", {"nested": [1, 2]}, Version(5, 0)))
        transport.send(msg)
        self.settle(transport, 1_000)
        self.assertEqual(inboxes[1], [msg])
        self.assertIsNot(inboxes[1][0].record.value, msg.record.value)
        self.assertEqual(inboxes[0] + inboxes[2], [])

    def test_every_message_arrives_in_some_order(self):
        """Several messages to one node all arrive, each once; no order between them is promised."""
        transport = self.make_transport()
        inboxes = self._inboxes(transport)
        sent = [Get(0, 2, f"node-0:{i}", f"k{i}") for i in range(1, 6)]
        for msg in sent:
            transport.send(msg)
        self.settle(transport, 1_000)
        self.assertEqual(sorted(m.op_id for m in inboxes[2]), sorted(m.op_id for m in sent))

    def test_a_timer_fires_no_earlier_than_asked(self):
        """A timer set for 200 ms has not fired at once, and has fired once its time has passed."""
        transport = self.make_transport()
        self._inboxes(transport)
        fired: List[int] = []
        start = transport.now()
        transport.set_timer(0, 200, lambda: fired.append(transport.now()))
        self.assertEqual(fired, [])
        self.settle(transport, 1_000)
        self.assertEqual(len(fired), 1)
        self.assertGreaterEqual(fired[0] - start, 200)

    def test_a_cancelled_timer_never_fires(self):
        """cancel() before the time comes means the callback is never called."""
        transport = self.make_transport()
        self._inboxes(transport)
        fired: List[str] = []
        timer = transport.set_timer(0, 50, lambda: fired.append("no"))
        timer.cancel()
        self.settle(transport, 1_000)
        self.assertEqual(fired, [])

    def test_now_never_goes_back(self):
        """now() is monotonic across sends, timers and settling."""
        transport = self.make_transport()
        self._inboxes(transport)
        readings = [transport.now()]
        transport.set_timer(1, 10, lambda: readings.append(transport.now()))
        transport.send(Get(0, 1, "node-0:1", "k"))
        self.settle(transport, 100)
        readings.append(transport.now())
        self.assertEqual(readings, sorted(readings))

    def test_a_cut_link_loses_its_messages_and_only_those(self):
        """With 0 -> 1 cut, a message on it never arrives, while 0 -> 2 and 1 -> 0 still deliver."""
        transport = self.make_transport()
        inboxes = self._inboxes(transport)
        self.cut_link(transport, 0, 1)
        transport.send(Get(0, 1, "node-0:1", "lost"))
        transport.send(Get(0, 2, "node-0:2", "kept"))
        transport.send(Get(1, 0, "node-1:1", "back"))
        self.settle(transport, 1_000)
        self.assertEqual(inboxes[1], [])
        self.assertEqual([m.key for m in inboxes[2]], ["kept"])
        self.assertEqual([m.key for m in inboxes[0]], ["back"])
