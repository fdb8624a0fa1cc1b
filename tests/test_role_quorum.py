"""The quorum coordinator's role alone, on a fake seam: what a WriteOp and a ReadOp send for given answers."""
import unittest

from cluster.messages import Get, GetReply, Put, PutAck
from cluster.quorum import ReadOp, WriteOp
from models import Record, Version
from tests.fakes import make_node, seam_of

KEY = "color"  # preference list [1, 0, 3] on Ring(5, 16, 3); node 2 is next clockwise after them


class WriteOpRoleTest(unittest.TestCase):
    """A write sends one Put per replica, counts acks, and asks a stand-in for a silent replica."""

    def setUp(self):
        self.node = make_node(1)
        self.seam = seam_of(self.node)
        self.record = Record(KEY, "blue", Version(5, 1))
        self.op = WriteOp(self.node.next_op_id(), self.node, self.record, self.node.ring, 2)

    def test_a_write_puts_to_every_replica_itself_included_and_arms_one_timer(self):
        """Starting the write sends a Put to each preference-list node, in order, and sets the timeout."""
        self.op.start()
        sent = self.seam.take()
        self.assertEqual([(type(m), m.dst, m.record, m.hint_for) for m in sent],
                         [(Put, n, self.record, None) for n in self.node.ring.preference_list(KEY)])
        self.assertEqual([t.delay_ms for t in self.seam.armed()], [100])

    def test_acks_from_every_replica_confirm_the_write(self):
        """W acks decide the write; the last ack ends it and cancels the timer."""
        self.op.start()
        for peer in (1, 0):
            self.seam.deliver(PutAck(peer, 1, self.op.op_id, KEY, "stored", self.record.version))
        self.assertTrue(self.op.decided)
        self.assertFalse(self.op.done)
        self.seam.deliver(PutAck(3, 1, self.op.op_id, KEY, "stored", self.record.version))
        self.assertTrue(self.op.done and self.op.result.ok)
        self.assertEqual(self.seam.armed(), [])

    def test_a_silent_replica_is_replaced_by_the_next_node_with_a_hint(self):
        """When the timer fires with node-3 silent, the next untried node gets the Put with hint_for=3."""
        self.op.start()
        self.seam.take()
        for peer in (1, 0):
            self.seam.deliver(PutAck(peer, 1, self.op.op_id, KEY, "stored", self.record.version))
        self.seam.fire()
        sent = self.seam.take()
        self.assertEqual(len(sent), 1)
        self.assertEqual((sent[0].dst, sent[0].hint_for), (list(self.node.ring.walk(KEY))[3], 3))
        self.assertIn("fallback", self.seam.event_types())

    def test_a_duplicate_ack_counts_once(self):
        """The same replica's ack delivered twice is one ack."""
        self.op.start()
        for _ in range(2):
            self.seam.deliver(PutAck(0, 1, self.op.op_id, KEY, "stored", self.record.version))
        self.assertEqual(list(self.op.acks), [0])


class ReadOpRoleTest(unittest.TestCase):
    """A read asks every replica and repairs the stale ones that answered."""

    def test_a_read_gets_from_every_replica_then_repairs_the_stale_one(self):
        """After answers where node-3 is behind, the coordinator sends node-3 a repair Put of the newest record."""
        node = make_node(1)
        seam = seam_of(node)
        op = ReadOp(node.next_op_id(), node, KEY, node.ring, 2)
        op.start()
        self.assertEqual([(type(m), m.dst) for m in seam.take()], [(Get, 1), (Get, 0), (Get, 3)])
        new, old = Record(KEY, "new", Version(9, 0)), Record(KEY, "old", Version(2, 1))
        seam.deliver(GetReply(1, 1, op.op_id, KEY, new))
        seam.deliver(GetReply(0, 1, op.op_id, KEY, new))
        seam.deliver(GetReply(3, 1, op.op_id, KEY, old))
        repairs = seam.take()
        self.assertEqual([(m.dst, m.record, m.purpose) for m in repairs], [(3, new, "repair")])
        seam.deliver(PutAck(3, 1, op.op_id, KEY, "stored", new.version))
        self.assertTrue(op.done)
        self.assertEqual(op.result.repaired, [3])


if __name__ == "__main__":
    unittest.main()
