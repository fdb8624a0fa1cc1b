"""The recovery sync's role alone, on a fake seam: pull from every peer, push back what a peer lacks."""
import unittest

from cluster.messages import Put, PutAck, SyncReply, SyncRequest
from cluster.recovery import SyncOp
from models import Record, Version
from tests.fakes import make_node, seam_of

KEY = "color"  # replicas [1, 0, 3]


class SyncRoleTest(unittest.TestCase):
    """A returning node asks each peer, keeps what is newer, pushes what the peer lacks, and waits for those acks."""

    def setUp(self):
        self.node = make_node(0)
        self.seam = seam_of(self.node)
        self.op = SyncOp(self.node.next_op_id(), self.node, [1, 3], self.node.ring)

    def test_a_sync_asks_every_peer(self):
        """Starting sends one SyncRequest per peer and arms the timeout."""
        self.op.start()
        self.assertEqual([(type(m), m.dst) for m in self.seam.take()], [(SyncRequest, 1), (SyncRequest, 3)])
        self.assertEqual(len(self.seam.armed()), 1)

    def test_newer_records_are_pulled_and_older_peers_are_pushed_to(self):
        """node-1's newer copy is kept; node-3, which sent nothing, gets our copy and its ack ends the sync."""
        self.node.accept_put(Record(KEY, "old", Version(1, 0)), None)
        self.op.start()
        self.seam.take()
        newer = Record(KEY, "new", Version(9, 1))
        self.seam.deliver(SyncReply(1, 0, self.op.op_id, (newer,)))
        self.assertEqual(self.node.store.get(KEY), newer)
        self.assertEqual(self.seam.take(), [])  # node-1 already has what we have
        self.seam.deliver(SyncReply(3, 0, self.op.op_id, ()))
        pushed = self.seam.take()
        self.assertEqual([(type(m), m.dst, m.record, m.purpose) for m in pushed], [(Put, 3, newer, "sync")])
        self.assertFalse(self.op.done)  # waiting for node-3's ack of the push
        self.seam.deliver(PutAck(3, 0, self.op.op_id, KEY, "stored", newer.version))
        self.assertTrue(self.op.done)
        self.assertEqual(self.op.summary()["pushed_to_peers"], {"node-3": 1})

    def test_a_duplicate_reply_pushes_nothing_twice(self):
        """The same peer's reply delivered twice is taken once."""
        self.node.accept_put(Record(KEY, "mine", Version(4, 0)), None)
        self.op.start()
        self.seam.take()
        for _ in range(2):
            self.seam.deliver(SyncReply(3, 0, self.op.op_id, ()))
        self.assertEqual(len(self.seam.take()), 1)
        self.assertEqual(self.op.answered_by, [3])


if __name__ == "__main__":
    unittest.main()
