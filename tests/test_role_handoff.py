"""Hinted handoff's role alone, on a fake seam: send each hint home, drop it on the owner's ack."""
import unittest

from cluster.handoff import HandoffOp
from cluster.messages import Put, PutAck
from models import Record, Version
from tests.fakes import make_node, seam_of


class HandoffRoleTest(unittest.TestCase):
    """The holder sends every hint for the owner and drops each one the owner acknowledges."""

    def setUp(self):
        self.holder = make_node(2)
        self.seam = seam_of(self.holder)
        self.records = [Record("a", 1, Version(5, 0)), Record("b", 2, Version(6, 0))]
        for record in self.records:
            self.holder.accept_put(record, hint_for=3)
        self.op = HandoffOp(self.holder.next_op_id(), self.holder, 3)

    def test_every_hint_goes_home_as_a_handoff_put(self):
        """One Put per hinted record, to the owner, with purpose handoff and no hint."""
        self.op.start()
        sent = self.seam.take()
        self.assertEqual(sorted((m.dst, m.record.key, m.purpose, m.hint_for) for m in sent if isinstance(m, Put)),
                         [(3, "a", "handoff", None), (3, "b", "handoff", None)])

    def test_acks_drop_the_hints_and_a_duplicate_ack_counts_once(self):
        """Each ack drops its hint; a duplicated ack does not end the handoff early; the last ack ends it."""
        self.op.start()
        self.seam.take()
        ack_a = PutAck(3, 2, self.op.op_id, "a", "stored", Version(5, 0))
        self.seam.deliver(ack_a)
        self.seam.deliver(ack_a)
        self.assertFalse(self.op.done)
        self.assertEqual([r.key for r in self.holder.hints.for_owner(3)], ["b"])
        self.seam.deliver(PutAck(3, 2, self.op.op_id, "b", "stored", Version(6, 0)))
        self.assertTrue(self.op.done)
        self.assertEqual(self.op.delivered, ["a", "b"])
        self.assertEqual(len(self.holder.hints), 0)

    def test_a_silent_owner_keeps_the_hints(self):
        """If the timer fires before any ack, the hints stay and the handoff says so."""
        self.op.start()
        self.seam.fire()
        self.assertEqual(len(self.holder.hints), 2)
        self.assertIn("handoff_incomplete", self.seam.event_types())


if __name__ == "__main__":
    unittest.main()
