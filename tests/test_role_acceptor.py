"""The Paxos acceptor's role alone, on a fake seam: what a replica answers to prepare, propose and commit."""
import unittest

from cluster.messages import Accepted, Commit, Committed, Prepare, Promise, Propose
from models import Ballot, Record, Version
from tests.fakes import make_node, seam_of


class AcceptorRoleTest(unittest.TestCase):
    """A replica promises the highest ballot, refuses lower ones, accepts and stores commits."""

    def setUp(self):
        self.node = make_node(0)
        self.seam = seam_of(self.node)

    def answer(self, msg):
        """Deliver `msg` and return the single answer the acceptor sent."""
        self.seam.deliver(msg)
        sent = self.seam.take()
        self.assertEqual(len(sent), 1)
        return sent[0]

    def test_a_prepare_is_promised_and_a_lower_one_refused(self):
        """Ballot 5 is promised; ballot 4 afterwards is refused naming 5."""
        first = self.answer(Prepare(1, 0, "node-1:1", "k", Ballot(5, 1)))
        self.assertEqual((type(first), first.dst, first.ok), (Promise, 1, True))
        second = self.answer(Prepare(2, 0, "node-2:1", "k", Ballot(4, 2)))
        self.assertEqual((second.ok, second.promised, second.op_id), (False, Ballot(5, 1), "node-2:1"))

    def test_a_proposal_at_the_promised_ballot_is_accepted_and_remembered(self):
        """Propose at the promised ballot is accepted, and the next promise reports it."""
        record = Record("k", "v", Version(9, 1))
        self.answer(Prepare(1, 0, "node-1:1", "k", Ballot(5, 1)))
        accepted = self.answer(Propose(1, 0, "node-1:1", "k", Ballot(5, 1), record))
        self.assertEqual((type(accepted), accepted.ok), (Accepted, True))
        promise = self.answer(Prepare(2, 0, "node-2:1", "k", Ballot(6, 2)))
        self.assertEqual((promise.accepted, promise.record), (Ballot(5, 1), record))

    def test_a_commit_stores_the_record_as_a_normal_version(self):
        """Commit makes the record the node's own copy and answers Committed stored."""
        record = Record("k", "v", Version(9, 1))
        done = self.answer(Commit(1, 0, "node-1:1", "k", Ballot(5, 1), record))
        self.assertEqual((type(done), done.outcome), (Committed, "stored"))
        self.assertEqual(self.node.store.get("k"), record)


if __name__ == "__main__":
    unittest.main()
