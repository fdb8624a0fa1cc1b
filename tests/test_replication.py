"""The replication model: quorums, LWW, tombstones, hints, read repair, recovery."""
import unittest

from api.results import result_fields
from cluster.errors import BadRequest, Conflict, KeyNotFound, NodeNotFound, NoQuorum
from models import Record, Version, node_id_of
from tests.helpers import make_cluster


class QuorumArithmeticTest(unittest.TestCase):
    """Writes count acks against W, reads count answers against R."""

    def setUp(self):
        self.cluster = make_cluster()
        self.key = "color"
        self.replicas = self.cluster.ring.preference_list(self.key)
        self.others = [n for n in range(5) if n not in self.replicas]

    def test_healthy_write_is_acked_by_every_replica(self):
        """With all nodes up a write is acknowledged by exactly the RF preference-list nodes."""
        result = self.cluster.write(self.key, "blue")
        self.assertEqual(sorted(a["node"] for a in result.acks),
                         sorted(f"node-{n}" for n in self.replicas))
        for n in self.replicas:
            self.assertEqual(self.cluster.nodes[n].store.get(self.key).value, "blue")
        for n in self.others:
            self.assertIsNone(self.cluster.nodes[n].store.get(self.key))

    def test_write_with_w_equal_rf_fails_when_stand_ins_are_also_down(self):
        """W=3 cannot be met when only two nodes are up at all: the answer is NoQuorum."""
        for n in [self.replicas[2], *self.others]:
            self.cluster.fail(n)
        with self.assertRaises(NoQuorum) as caught:
            self.cluster.write(self.key, "blue", w=3)
        self.assertEqual(result_fields(caught.exception.result)["quorum"], {"w": 3, "acks": 2, "met": False})

    def test_w1_succeeds_with_a_single_node_up(self):
        """W=1 is met by the one live node, which stores the value."""
        for n in range(1, 5):
            self.cluster.fail(n)
        result = self.cluster.write(self.key, "blue", w=1)
        self.assertTrue(result.ok)
        self.assertEqual([a["node"] for a in result.acks], ["node-0"])

    def test_read_needs_r_answers(self):
        """A read with R=2 fails when only one node is up, and R=1 then succeeds."""
        self.cluster.write(self.key, "blue")
        for n in range(5):
            if n != self.replicas[0]:
                self.cluster.fail(n)
        with self.assertRaises(NoQuorum) as caught:
            self.cluster.read(self.key)
        self.assertEqual(result_fields(caught.exception.result)["quorum"]["answers"], 1)
        self.assertEqual(self.cluster.read(self.key, r=1).record.value, "blue")

    def test_quorum_override_out_of_range_is_refused(self):
        """A per-request W of 0, 4 (> RF) or a non-integer is a BadRequest."""
        for bad in (0, 4, "2", 1.5, True):
            with self.assertRaises(BadRequest):
                self.cluster.write(self.key, "x", w=bad)


class MissedQuorumTest(unittest.TestCase):
    """A write that misses W answers 503 and tells the truth about where it landed."""

    def test_partial_write_names_where_the_value_landed(self):
        """With 4 of 5 nodes down, the write is refused but reported stored on the live node."""
        cluster = make_cluster()
        for n in range(1, 5):
            cluster.fail(n)
        with self.assertRaises(NoQuorum) as caught:
            cluster.write("color", "blue")
        data = result_fields(caught.exception.result)
        self.assertEqual(data["stored_on"], ["node-0"])
        self.assertIn("node-0", caught.exception.message)
        self.assertEqual(cluster.nodes[0].newest_local("color").value, "blue")
        for n in range(1, 5):  # and nowhere else
            self.assertIsNone(cluster.nodes[n].newest_local("color"))

    def test_failed_write_with_nothing_stored_says_so(self):
        """When every node is down the write is refused and claims no storage."""
        cluster = make_cluster()
        for n in range(5):
            cluster.fail(n)
        with self.assertRaises(NoQuorum) as caught:
            cluster.write("color", "blue")
        self.assertIn("Every node is down", caught.exception.message)

    def test_success_is_only_claimed_for_stored_writes(self):
        """Every node a successful write lists in stored_on really holds the new version."""
        cluster = make_cluster()
        cluster.fail(cluster.ring.preference_list("k")[1])
        result = cluster.write("k", "v")
        for ack in result.acks:
            node = cluster.nodes[node_id_of(ack["node"])]
            self.assertEqual(node.newest_local("k").version, result.record.version)


class LastWriterWinsTest(unittest.TestCase):
    """Versions are (timestamp, node id); the newest wins everywhere."""

    def test_later_write_wins(self):
        """A second write to a key replaces the first on every replica."""
        cluster = make_cluster()
        first = cluster.write("k", 1).record.version
        second = cluster.write("k", 2).record.version
        self.assertGreater(second, first)
        self.assertEqual(cluster.read("k").record.value, 2)

    def test_older_version_is_ignored_by_a_replica(self):
        """A replica given an older version keeps its newer one and says so."""
        cluster = make_cluster()
        node = cluster.nodes[0]
        self.assertEqual(node.accept_put(Record("k", "new", Version(10, 1)), None), "stored")
        self.assertEqual(node.accept_put(Record("k", "old", Version(9, 4)), None), "kept_newer")
        self.assertEqual(node.accept_put(Record("k", "new", Version(10, 1)), None), "already_had")
        self.assertEqual(node.store.get("k").value, "new")

    def test_equal_timestamps_are_broken_by_node_id(self):
        """With equal timestamps the higher node id wins, on every node alike."""
        self.assertGreater(Version(5, 2), Version(5, 1))

    def test_node_timestamps_never_repeat(self):
        """A node's clock issues strictly increasing timestamps even when time stands still."""
        cluster = make_cluster()
        stamps = [cluster.nodes[0].timestamp() for _ in range(5)]
        self.assertEqual(stamps, sorted(set(stamps)))


class TombstoneTest(unittest.TestCase):
    """Deletes are tombstones, so a stale replica cannot bring a value back."""

    def test_deleted_key_reads_as_not_found(self):
        """After a delete the read is a KeyNotFound that mentions the tombstone."""
        cluster = make_cluster()
        cluster.write("k", "v")
        cluster.delete("k")
        with self.assertRaises(KeyNotFound) as caught:
            cluster.read("k")
        self.assertIn("deleted", caught.exception.message)

    def test_delete_of_absent_key_is_not_found(self):
        """Deleting a key that was never written is a KeyNotFound, and writes nothing."""
        cluster = make_cluster()
        with self.assertRaises(KeyNotFound):
            cluster.delete("never")
        self.assertEqual(sum(len(n.store.index) for n in cluster.nodes), 0)

    def test_stale_replica_does_not_undo_a_delete(self):
        """A replica that missed the delete is overruled by the tombstone after it recovers."""
        cluster = make_cluster()
        replicas = cluster.ring.preference_list("k")
        cluster.write("k", "v")
        cluster.fail(replicas[2])
        cluster.delete("k")
        self.assertFalse(cluster.nodes[replicas[2]].store.get("k").deleted)  # it missed it
        cluster.recover(replicas[2])
        self.assertTrue(cluster.nodes[replicas[2]].store.get("k").deleted)
        for _ in range(3):
            with self.assertRaises(KeyNotFound):
                cluster.read("k", r=3)

    def test_tombstone_wins_read_repair_against_old_value(self):
        """A read that sees a value and a newer tombstone answers not found and repairs."""
        cluster = make_cluster()
        replicas = cluster.ring.preference_list("k")
        cluster.write("k", "v")
        old = cluster.nodes[replicas[0]].store.get("k")
        cluster.delete("k")
        cluster.nodes[replicas[1]].store.put(old)  # make one replica stale
        with self.assertRaises(KeyNotFound) as caught:
            cluster.read("k", r=3)
        self.assertEqual(result_fields(caught.exception.result)["repaired"], [f"node-{replicas[1]}"])
        self.assertTrue(cluster.nodes[replicas[1]].store.get("k").deleted)


class HintedHandoffTest(unittest.TestCase):
    """A stand-in keeps writes for a down replica and hands them back."""

    def setUp(self):
        self.cluster = make_cluster()
        self.replicas = self.cluster.ring.preference_list("color")
        self.down = self.replicas[1]
        self.stand_in = next(n for n in self.cluster.ring.walk("color") if n not in self.replicas)

    def test_write_to_down_replica_leaves_a_hint_on_the_next_node(self):
        """The first node after the preference list keeps the write as a hint for the down one."""
        self.cluster.fail(self.down)
        result = self.cluster.write("color", "green")
        hints = [a for a in result.acks if a["stands_in_for"]]
        self.assertEqual(hints, [{"node": f"node-{self.stand_in}",
                                  "stands_in_for": f"node-{self.down}", "applied": True,
                                  "outcome": "stored", "durable": True}])
        holder = self.cluster.nodes[self.stand_in]
        self.assertEqual([r.value for r in holder.hints.for_owner(self.down)], ["green"])
        self.assertIsNone(holder.store.get("color"))  # kept apart from its own records

    def test_hint_is_handed_back_and_dropped_on_recovery(self):
        """On recovery the owner receives the hinted value and the holder forgets the hint."""
        self.cluster.fail(self.down)
        self.cluster.write("color", "green")
        summary = self.cluster.recover(self.down)
        self.assertEqual(summary["hints_received"], ["color"])
        self.assertEqual(self.cluster.nodes[self.down].store.get("color").value, "green")
        self.assertEqual(len(self.cluster.nodes[self.stand_in].hints), 0)

    def test_hints_survive_while_owner_is_down(self):
        """Recovering some other node does not drop hints whose owner is still down."""
        self.cluster.fail(self.down)
        self.cluster.write("color", "green")
        other = next(n for n in range(5) if n not in (self.down, self.stand_in))
        self.cluster.fail(other)
        self.cluster.recover(other)
        self.assertEqual(len(self.cluster.nodes[self.stand_in].hints), 1)

    def test_read_uses_the_stand_in(self):
        """With a replica down, a read asks the stand-in, which answers with the hinted value."""
        self.cluster.fail(self.down)
        self.cluster.write("color", "green")
        result = self.cluster.read("color", r=3)
        stand_in = [a for a in result.answers if a["stands_in_for"]]
        self.assertEqual(stand_in[0]["node"], f"node-{self.stand_in}")
        self.assertEqual(result.record.value, "green")


class ReadRepairTest(unittest.TestCase):
    """A read repairs the stale replicas it contacted."""

    def test_stale_replica_is_repaired_by_a_read(self):
        """A replica holding an older version is brought up to date by the next read."""
        cluster = make_cluster()
        replicas = cluster.ring.preference_list("k")
        cluster.write("k", "old")
        old = cluster.nodes[replicas[2]].store.get("k")
        cluster.write("k", "new")
        cluster.nodes[replicas[2]].store.put(old)
        result = cluster.read("k", r=3)
        self.assertEqual(result.record.value, "new")
        self.assertEqual(result.repaired, [replicas[2]])
        self.assertEqual(cluster.nodes[replicas[2]].store.get("k").value, "new")
        self.assertEqual(cluster.read("k", r=3).repaired, [])  # nothing left to repair

    def test_missing_copy_is_repaired(self):
        """A replica with no copy at all receives the value from a read."""
        cluster = make_cluster()
        replicas = cluster.ring.preference_list("k")
        cluster.write("k", "v")
        cluster.nodes[replicas[0]].store.forget("k")
        cluster.nodes[replicas[0]].store.cache.discard("k")
        self.assertIsNone(cluster.nodes[replicas[0]].store.get("k"))
        cluster.read("k", r=3)
        self.assertEqual(cluster.nodes[replicas[0]].store.get("k").value, "v")


class RecoveryTest(unittest.TestCase):
    """A recovered node catches up on every key it owns."""

    def test_recovered_node_catches_up_on_writes_and_deletes(self):
        """Writes and deletes made while a node was down reach it on recovery."""
        cluster = make_cluster()
        for i in range(30):
            cluster.write(f"k{i}", i)
        cluster.fail(2)
        for i in range(30):
            if i % 3 == 0:
                cluster.delete(f"k{i}")
            else:
                cluster.write(f"k{i}", i * 100)
        for i in range(30, 40):
            cluster.write(f"k{i}", i)
        cluster.recover(2)
        node = cluster.nodes[2]
        for key in [f"k{i}" for i in range(40)]:
            if 2 in cluster.ring.preference_list(key):
                newest = max((n.store.get(key) for n in cluster.nodes if n.store.get(key)),
                             key=lambda r: r.version)
                self.assertEqual(node.store.get(key), newest, key)

    def test_recovery_after_total_failure_loses_nothing(self):
        """All nodes down, then back one by one: every owner ends with the newest of each key."""
        cluster = make_cluster()
        for i in range(20):
            cluster.write(f"k{i}", "v1")
        cluster.fail(0)
        for i in range(20):
            cluster.write(f"k{i}", "v2")  # node 0 misses these
        for n in range(1, 5):
            cluster.fail(n)
        for n in [0, 3, 1, 4, 2]:  # node 0, the stale one, comes back first
            cluster.recover(n)
        for i in range(20):
            key = f"k{i}"
            for n in cluster.ring.preference_list(key):
                self.assertEqual(cluster.nodes[n].newest_local(key).value, "v2", (key, n))
            self.assertEqual(cluster.read(key, r=3).record.value, "v2")

    def test_first_node_back_pushes_writes_the_others_missed(self):
        """A write only the first-recovered node has is pushed to its peers, not deleted."""
        cluster = make_cluster()
        key = "solo"
        replicas = cluster.ring.preference_list(key)
        for n in range(5):
            if n != replicas[0]:
                cluster.fail(n)
        with self.assertRaises(NoQuorum):
            cluster.write(key, "only-here")  # stored on one node only
        for n in range(5):
            if n != replicas[0]:
                cluster.recover(n)
        for n in replicas:
            self.assertEqual(cluster.nodes[n].newest_local(key).value, "only-here")

    def test_last_node_back_pushes_the_write_only_it_holds(self):
        """A node holding the only copy of a write, back last, pushes it to its peers."""
        cluster = make_cluster()
        key = "solo"
        holder = cluster.ring.preference_list(key)[0]
        for n in range(5):
            if n != holder:
                cluster.fail(n)
        with self.assertRaises(NoQuorum):
            cluster.write(key, "only-here")
        cluster.fail(holder)  # total failure; the only copy is on a down node
        for n in range(5):
            if n != holder:
                cluster.recover(n)
        summary = cluster.recover(holder)
        self.assertEqual(sum(summary["pushed_to_peers"].values()), 2)
        for n in cluster.ring.preference_list(key):
            self.assertEqual(cluster.nodes[n].store.get(key).value, "only-here", n)

    def test_recover_reports_what_it_caught_up_on(self):
        """The recover summary lists the keys pulled and the peers that answered."""
        cluster = make_cluster()
        node = cluster.ring.preference_list("color")[0]
        cluster.fail(node)
        cluster.write("color", "green")
        summary = cluster.recover(node)
        self.assertIn("color", summary["pulled_keys"] + summary["hints_received"])
        self.assertEqual(len(summary["peers_answered"]), 4)
        self.assertEqual(summary["peers_silent"], [])


class NodeStateTest(unittest.TestCase):
    """fail and recover validate the node id and its current state."""

    def test_unknown_node_is_not_found(self):
        """Ids outside 0..N-1 raise NodeNotFound."""
        cluster = make_cluster()
        for bad in (-1, 5, 99):
            with self.assertRaises(NodeNotFound):
                cluster.fail(bad)

    def test_fail_twice_and_recover_alive_conflict(self):
        """Failing a down node or recovering an up node is a Conflict."""
        cluster = make_cluster()
        with self.assertRaises(Conflict):
            cluster.recover(1)
        cluster.fail(1)
        with self.assertRaises(Conflict):
            cluster.fail(1)

    def test_messages_to_a_down_node_are_dropped_as_events(self):
        """A write with a down replica records a message_dropped event naming the node."""
        cluster = make_cluster()
        down = cluster.ring.preference_list("k")[1]
        cluster.fail(down)
        cluster.write("k", "v")
        drops = [e for e in cluster.events.page(0, 10_000) if e.type == "message_dropped"]
        self.assertTrue(drops)
        self.assertIn(f"node-{down} is down", drops[0].text)


if __name__ == "__main__":
    unittest.main()
