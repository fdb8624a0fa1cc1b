"""Merkle trees, anti-entropy exchanges, and the scheduler that runs them."""
import unittest

from cluster import siblings
from cluster.errors import BadRequest, Conflict, NotFound
from cluster.merkle import MerkleTree, bucket_of, compare
from models import Record, Version
from scheduler import should_start
from tests.helpers import make_app, make_cluster


def entries(count, **changes):
    data = {f"k{i}": (1, 0, False) for i in range(count)}
    data.update(changes)
    return data


class MerkleTreeTest(unittest.TestCase):
    """Equal data gives equal roots; a comparison finds exactly the differing buckets."""

    def test_equal_data_equal_roots_and_one_comparison(self):
        """Identical entries build identical trees; comparing them looks at the root only."""
        a, b = MerkleTree(entries(500)), MerkleTree(entries(500))
        self.assertEqual(a.root, b.root)
        self.assertEqual(compare(a.levels, b.levels), ([], 1))

    def test_one_changed_key_is_found_in_its_bucket(self):
        """A single newer version shows up as exactly its bucket, via one path down the tree."""
        a = MerkleTree(entries(500))
        b = MerkleTree(entries(500, k7=(2, 1, False)))
        differing, compared = compare(a.levels, b.levels)
        self.assertEqual(differing, [bucket_of("k7")])
        self.assertEqual(compared, 1 + 2 * 10)  # the root, then both children on each level

    def test_tombstone_and_missing_key_change_the_hash(self):
        """A tombstone or an absent key makes the trees differ."""
        base = MerkleTree(entries(50))
        self.assertNotEqual(base.root, MerkleTree(entries(50, k3=(1, 0, True))).root)
        missing = entries(50)
        del missing["k3"]
        self.assertNotEqual(base.root, MerkleTree(missing).root)


class AntiEntropyTest(unittest.TestCase):
    """One exchange copies only the differing keys, both ways."""

    def setUp(self):
        self.cluster = make_cluster(nodes=3, rf=3)
        for i in range(300):
            self.cluster.write(f"k{i}", i)
        self.a, self.b = self.cluster.nodes[0].store, self.cluster.nodes[1].store

    def test_exchange_moves_only_differing_keys_both_ways(self):
        """A newer key on each side and a key missing on one side: exactly three keys move."""
        self.a.put(Record("k1", "a-newer", Version(10**9, 0)))
        self.b.put(Record("k2", "b-newer", Version(10**9, 1)))
        self.b.forget("k3")
        summary = self.cluster.jobs.anti_entropy(0, 1)
        self.assertEqual(summary["keys_pushed"], ["k1", "k3"])
        self.assertEqual(summary["keys_pulled"], ["k2"])
        self.assertEqual(summary["keys_transferred"], 3)
        self.assertEqual(self.a.index, self.b.index)
        self.assertEqual(self.cluster.jobs.anti_entropy(0, 1)["keys_transferred"], 0)

    def test_tombstones_propagate(self):
        """A delete one replica missed reaches it by anti-entropy, never the reverse."""
        old = self.b.get("k5")
        self.cluster.delete("k5")
        self.b.put(old)
        self.cluster.jobs.anti_entropy(1, 0)
        self.assertTrue(self.b.get("k5").deleted)
        self.assertTrue(self.a.get("k5").deleted)

    def test_unreachable_peer_is_reported(self):
        """With the peer down, the exchange times out and says so, moving nothing."""
        self.cluster.fail(1)
        summary = self.cluster.jobs.anti_entropy(0, 1)
        self.assertFalse(summary["answered"])
        self.assertEqual(summary["keys_transferred"], 0)

    def test_round_heals_every_pair_over_rounds(self):
        """Rounds rotate peers: after N-1 rounds every replica has every key."""
        self.b.forget("k9")
        self.cluster.nodes[2].store.forget("k10")
        for _ in range(2):
            self.cluster.jobs.anti_entropy_round(0)
        for node in self.cluster.nodes:
            self.assertIn("k9", node.store.index)
            self.assertIn("k10", node.store.index)

    def test_errors(self):
        """Same node twice, a down starter and unknown nodes are refused."""
        with self.assertRaises(BadRequest):
            self.cluster.jobs.anti_entropy(1, 1)
        self.cluster.fail(2)
        with self.assertRaises(Conflict):
            self.cluster.jobs.anti_entropy(2, 0)
        from cluster.errors import NodeNotFound
        with self.assertRaises(NodeNotFound):
            self.cluster.jobs.anti_entropy(0, 7)


class SiblingsAntiEntropyTest(unittest.TestCase):
    """Siblings mode: an exchange merges by causality, so both sides end with the same sibling set."""

    def setUp(self):
        self.cluster = make_cluster(nodes=3, rf=3, conflicts="siblings")
        for i in range(50):
            self.cluster.write(f"k{i}", i)
        self.a, self.b = self.cluster.nodes[0].store, self.cluster.nodes[1].store

    def concurrent(self, key):
        """Give node 0 and node 1 each a sibling of `key` the other has not seen."""
        for node, value in ((0, "from-0"), (1, "from-1")):
            record = siblings.new_write(self.cluster.nodes[node], key, value, False, siblings.vv.EMPTY)
            self.cluster.nodes[node].accept_put(record, None)

    def test_exchange_keeps_both_sides_siblings(self):
        """Concurrent siblings on each side move both ways; both hold all three, and a rerun moves nothing."""
        self.concurrent("k7")
        summary = self.cluster.jobs.anti_entropy(0, 1)
        self.assertEqual((summary["keys_pushed"], summary["keys_pulled"]), (["k7"], ["k7"]))
        held = [siblings.of(store.get("k7")) for store in (self.a, self.b)]
        self.assertEqual(held[0], held[1])
        self.assertEqual(sorted(str(s.value) for s in held[0].siblings), ["7", "from-0", "from-1"])
        self.assertEqual(self.cluster.jobs.anti_entropy(0, 1)["keys_transferred"], 0)

    def test_superseded_sibling_is_not_brought_back(self):
        """A replica that missed a context write gets it; the value it superseded does not come back."""
        old = self.b.get("k3")
        read = self.cluster.read("k3")
        self.cluster.write("k3", "new", context=siblings.encode_context(siblings.of(read.record).context, "k3"))
        self.b.put(old)  # node 1 missed the new write
        self.cluster.jobs.anti_entropy(0, 1)
        for store in (self.a, self.b):
            self.assertEqual([s.value for s in siblings.of(store.get("k3")).siblings], ["new"])


class MaintenanceJobTest(unittest.TestCase):
    """Hint retry and group commit as plain functions of now."""

    def test_hint_retry_hands_back_hints_once_the_owner_is_reachable(self):
        """A hint whose owner was unreachable is delivered by the retry job after healing."""
        cluster = make_cluster()
        replicas = cluster.ring.preference_list("color")
        cluster.faults.partition([[replicas[1]], [n for n in range(5) if n != replicas[1]]])
        cluster.write("color", "blue")
        self.assertEqual(sum(len(n.hints) for n in cluster.nodes), 1)
        blocked = cluster.jobs.retry_hints(cluster.clock.now())
        self.assertEqual((blocked["delivered"], blocked["hints_left"]), ({}, 1))
        cluster.faults.heal()
        done = cluster.jobs.retry_hints(cluster.clock.now())
        self.assertEqual(done["hints_left"], 0)
        self.assertEqual(cluster.nodes[replicas[1]].store.get("color").value, "blue")

    def test_flush_commits_pending_batch_writes(self):
        """The flush job group-commits what batch mode left pending."""
        cluster = make_cluster(durability="batch", batch_size=100)
        cluster.write("k", "v")
        result = cluster.jobs.flush_batches(0)
        self.assertEqual(sum(result["committed"].values()), 3)
        self.assertEqual(sum(len(n.store.pending) for n in cluster.nodes), 0)


class SchedulerTest(unittest.TestCase):
    """Jobs are listed, run by hand over HTTP, and never started twice by the reloader."""

    def test_jobs_listed_and_run_by_hand(self):
        """GET /scheduler/jobs lists the three maintenance jobs, then the applications'; one runs by hand."""
        app, client = make_app()
        listing = client.get("/scheduler/jobs").get_json()
        self.assertEqual([j["job"] for j in listing["jobs"]], ["hint_retry", "anti_entropy", "flush", "dispatch_move",
                                                               "sensor_simulate", "alert_rules", "alert_outbox"])
        self.assertIn("scheduler off", listing["jobs"][0]["next_run"])
        ran = client.post("/scheduler/run/anti_entropy").get_json()
        self.assertEqual(ran["result"]["round"], 1)
        self.assertIsNotNone(client.get("/scheduler/jobs").get_json()["jobs"][1]["last_run"])
        self.assertEqual(client.post("/scheduler/run/nope").status_code, 404)
        self.assertEqual(client.get("/scheduler/run/flush").status_code, 405)

    def test_running_scheduler_has_next_run_times(self):
        """With the scheduler on, every job has a next run time; shutdown stops it."""
        from app import shutdown
        app, client = make_app(scheduler="on", hint_retry_s=3600, anti_entropy_s=3600, flush_s=3600)
        try:
            jobs = client.get("/scheduler/jobs").get_json()["jobs"]
            scheduled = [j for j in jobs if j["every_s"]]
            self.assertTrue(scheduled and all(j["next_run"] and "T" in j["next_run"] for j in scheduled))
            off = {j["job"]: j["next_run"] for j in jobs if not j["every_s"]}
            self.assertIn("POST /scheduler/run/sensor_simulate", off["sensor_simulate"])  # opt-in building
        finally:
            shutdown(app)
        self.assertFalse(app.extensions["replicalab_scheduler"].running)

    def test_reloader_watcher_does_not_start_jobs(self):
        """Under Flask's reloader only the serving child starts jobs."""
        self.assertTrue(should_start(False, {}))
        self.assertFalse(should_start(True, {}))
        self.assertTrue(should_start(True, {"WERKZEUG_RUN_MAIN": "true"}))

    def test_unknown_job_is_not_found(self):
        """Running a job that does not exist is a NotFound naming the real jobs."""
        app, _ = make_app()
        with self.assertRaises(NotFound) as caught:
            app.extensions["replicalab_scheduler"].run("gc")
        self.assertIn("hint_retry", caught.exception.message)


if __name__ == "__main__":
    unittest.main()


class BenchmarkScriptTest(unittest.TestCase):
    """bench/merkle_transfer.py still runs and meets its 2x target (small scale, not timed)."""

    def test_benchmark_runs_and_converges(self):
        """At 3,000 keys with 5% differing, the script exits 0: converged, ratio <= 2."""
        import contextlib
        import io

        from bench import merkle_transfer
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            code = merkle_transfer.main(["--keys", "3000", "--differ", "0.05"])
        self.assertEqual(code, 0, out.getvalue())
        self.assertIn("transfer ratio                1.00x", out.getvalue())
