"""The Paxos proposer's role alone, on a fake seam: which messages PaxosOp sends for given promises."""
import unittest

from cluster.messages import Accepted, Commit, Committed, Prepare, Promise, Propose
from cluster.paxos import PaxosOp
from models import Ballot, Record, Version
from tests.fakes import make_node, seam_of

KEY = "color"  # replicas [1, 0, 3]: a majority is 2


class PaxosProposerRoleTest(unittest.TestCase):
    """Prepare, then propose above the current version, then commit; a refusal restarts higher."""

    def setUp(self):
        self.node = make_node(1)
        self.seam = seam_of(self.node)
        self.op = PaxosOp(self.node.next_op_id(), self.node, KEY, None, "v", self.node.ring)

    def promise(self, src, ballot, ok=True, promised=None, current=None):
        """A promise from `src` for this op."""
        return Promise(src, 1, self.op.op_id, KEY, ballot, ok, promised or ballot, None, None, None, current)

    def test_prepare_goes_to_every_replica_with_a_fresh_ballot(self):
        """The first round asks all three replicas to promise ballot 1.node-1."""
        self.op.start()
        sent = self.seam.take()
        self.assertEqual([(type(m), m.dst, m.ballot) for m in sent], [(Prepare, n, Ballot(1, 1)) for n in (1, 0, 3)])

    def test_a_majority_of_promises_leads_to_a_proposal_above_the_current_version(self):
        """With the key absent as expected, Propose goes to all replicas with a version above what was found."""
        self.op.start()
        self.seam.take()
        current = Record(KEY, None, Version(5000, 3), True)  # a tombstone reads as absent
        for src in (1, 0):
            self.seam.deliver(self.promise(src, Ballot(1, 1), current=current))
        sent = self.seam.take()
        self.assertEqual([(type(m), m.dst) for m in sent], [(Propose, n) for n in (1, 0, 3)])
        self.assertGreater(sent[0].record.version, current.version)  # stamp_above: the node's clock is at 1000
        self.assertEqual(sent[0].record.value, "v")

    def test_accepts_from_a_majority_commit_and_commits_apply(self):
        """Two accepts lead to Commit to every replica; two committed answers apply the CAS."""
        self.op.start()
        for src in (1, 0):
            self.seam.deliver(self.promise(src, Ballot(1, 1)))
        self.seam.take()
        for src in (1, 0):
            self.seam.deliver(Accepted(src, 1, self.op.op_id, KEY, Ballot(1, 1), True, Ballot(1, 1)))
        self.assertEqual([type(m) for m in self.seam.take()], [Commit, Commit, Commit])
        for src in (1, 0):
            self.seam.deliver(Committed(src, 1, self.op.op_id, KEY, Ballot(1, 1), "stored"))
        self.assertEqual(self.op.outcome, "applied")

    def test_refusals_from_a_majority_restart_with_a_higher_ballot(self):
        """Refused by two acceptors that promised 7.node-3, the proposer prepares again at round 8."""
        self.op.start()
        self.seam.take()
        for src in (0, 3):
            self.seam.deliver(self.promise(src, Ballot(1, 1), ok=False, promised=Ballot(7, 3)))
        sent = self.seam.take()
        self.assertEqual({(type(m), m.ballot) for m in sent}, {(Prepare, Ballot(8, 1))})

    def test_accept_requests_out_and_no_ack_back_is_unknown_not_a_failure(self):
        """Promised by a majority, Propose sent, no Accepted before the timeout: the outcome is unknown (it may
        still be chosen: an acceptor may hold it with its ack lost), never a no_quorum a history records as fail."""
        self.op.start()
        self.seam.take()
        for src in (1, 0):
            self.seam.deliver(self.promise(src, Ballot(1, 1)))
        self.assertEqual({type(m) for m in self.seam.take()}, {Propose})
        self.seam.fire()  # the round's timeout: no acceptor answered
        self.assertEqual(self.op.outcome, "unknown")


if __name__ == "__main__":
    unittest.main()
