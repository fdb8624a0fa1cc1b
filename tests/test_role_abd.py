"""The ABD (linearizable) coordinator's role alone, on a fake seam."""
import unittest

from cluster.linearizable import AbdOp
from cluster.messages import Get, GetReply, Put, PutAck
from models import Record, Version
from tests.fakes import make_node, seam_of

KEY = "color"  # replicas [1, 0, 3]


class AbdRoleTest(unittest.TestCase):
    """Query a majority, then propagate above the newest version (write) or write back (read)."""

    def test_a_write_queries_then_puts_a_version_above_the_newest_found(self):
        """After two answers, the newest at 5000@node-3, the write's Put carries a version above it to every replica."""
        node = make_node(1)
        seam = seam_of(node)
        op = AbdOp(node.next_op_id(), node, KEY, node.ring, 2, Record(KEY, "w", Version(0, 1)))
        op.start()
        self.assertEqual([(type(m), m.dst) for m in seam.take()], [(Get, 1), (Get, 0), (Get, 3)])
        newest = Record(KEY, "old", Version(5000, 3))
        seam.deliver(GetReply(1, 1, op.op_id, KEY, None))
        seam.deliver(GetReply(0, 1, op.op_id, KEY, newest))
        puts = seam.take()
        self.assertEqual([(type(m), m.dst) for m in puts], [(Put, 1), (Put, 0), (Put, 3)])
        self.assertEqual(puts[0].record.version, Version(5001, 1))  # the node's clock reads 1000: stamp_above
        for src in (1, 0):
            seam.deliver(PutAck(src, 1, op.op_id, KEY, "stored", puts[0].record.version))
        self.assertTrue(op.done)
        self.assertIsNone(op.failure)

    def test_a_read_writes_back_to_the_replicas_that_lack_the_newest(self):
        """A read that finds the newest on one replica only sends it to the others before answering."""
        node = make_node(1)
        seam = seam_of(node)
        op = AbdOp(node.next_op_id(), node, KEY, node.ring, 2)
        op.start()
        seam.take()
        newest = Record(KEY, "new", Version(7, 0))
        seam.deliver(GetReply(1, 1, op.op_id, KEY, None))
        seam.deliver(GetReply(0, 1, op.op_id, KEY, newest))
        back = seam.take()
        self.assertEqual([(m.dst, m.record, m.purpose) for m in back], [(1, newest, "repair"), (3, newest, "repair")])
        self.assertFalse(op.done)

    def test_no_majority_before_the_timeout_fails_without_stand_ins(self):
        """With one answer when the timer fires, the op fails and asks no other node."""
        node = make_node(1)
        seam = seam_of(node)
        op = AbdOp(node.next_op_id(), node, KEY, node.ring, 2)
        op.start()
        seam.take()
        seam.deliver(GetReply(1, 1, op.op_id, KEY, None))
        seam.fire()
        self.assertEqual(seam.take(), [])
        self.assertIn("query phase", str(op.failure))


if __name__ == "__main__":
    unittest.main()
