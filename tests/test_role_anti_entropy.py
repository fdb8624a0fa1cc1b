"""The anti-entropy exchange's role alone, on a fake seam: offer a tree, push and fetch only what differs."""
import unittest

from cluster.anti_entropy import AntiEntropyOp, answer_offer
from cluster.messages import Fetch, Put, PutAck, SyncReply, TreeOffer
from models import Record, Version
from tests.fakes import make_node, seam_of

KEY, OTHER = "color", "size"  # both replicated by node-0 and node-1 on Ring(5, 16, 3)


class AntiEntropyRoleTest(unittest.TestCase):
    """A compares its tree with B's answer, pushes what it has newer, fetches what B has newer."""

    def setUp(self):
        self.a, self.b = make_node(0), make_node(1)
        self.assertTrue({0, 1} <= set(self.a.ring.preference_list(KEY)))
        self.assertTrue({0, 1} <= set(self.a.ring.preference_list(OTHER)))

    def test_the_exchange_moves_only_the_differing_keys_both_ways(self):
        """A pushes its newer color and fetches B's newer size; the acks and the fetched records end the exchange."""
        mine, theirs = Record(KEY, "a", Version(9, 0)), Record(OTHER, "b", Version(8, 1))
        self.a.accept_put(mine, None)
        self.a.accept_put(Record(OTHER, "old", Version(1, 0)), None)
        self.b.accept_put(theirs, None)
        op = AntiEntropyOp(self.a.next_op_id(), self.a, 1)
        op.start()
        offer = seam_of(self.a).take()
        self.assertEqual([type(m) for m in offer], [TreeOffer])
        diff = answer_offer(self.b, offer[0])
        seam_of(self.a).deliver(diff)
        sent = seam_of(self.a).take()
        self.assertEqual([(type(m), m.dst) for m in sent], [(Put, 1), (Fetch, 1)])
        self.assertEqual((sent[0].record, sent[1].keys), (mine, (OTHER,)))
        seam_of(self.a).deliver(PutAck(1, 0, op.op_id, KEY, "stored", mine.version))
        self.assertFalse(op.done)
        seam_of(self.a).deliver(SyncReply(1, 0, op.op_id, (theirs,)))
        self.assertTrue(op.done)
        self.assertEqual((op.pushed, op.pulled), ([KEY], [OTHER]))
        self.assertEqual(self.a.store.get(OTHER), theirs)

    def test_equal_replicas_exchange_nothing_after_the_diff(self):
        """When both trees match, the diff is empty, nothing is pushed or fetched, and the exchange ends."""
        record = Record(KEY, "same", Version(3, 0))
        self.a.accept_put(record, None)
        self.b.accept_put(record, None)
        op = AntiEntropyOp(self.a.next_op_id(), self.a, 1)
        op.start()
        seam_of(self.a).deliver(answer_offer(self.b, seam_of(self.a).take()[0]))
        self.assertEqual(seam_of(self.a).take(), [])
        self.assertTrue(op.done)


if __name__ == "__main__":
    unittest.main()
