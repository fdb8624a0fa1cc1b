"""Siblings mode on the cluster: concurrent writes kept, contexts resolving them, repairs merging by causality."""
import json
import threading
import unittest

from cluster import siblings
from cluster.errors import BadRequest, NeedsLww
from config import ConfigError, simulation_config
from tests.helpers import make_app, make_cluster, write

KEY = "cart"


def values(record):
    """The sorted values (None for tombstones) of a siblings-mode record."""
    return sorted(json.dumps(s.value) for s in siblings.of(record).siblings)


class SiblingsClusterTest(unittest.TestCase):
    """Two sides of a partition write the same key; the cluster keeps both."""

    def setUp(self):
        self.cluster = make_cluster(conflicts="siblings")
        self.pref = self.cluster.ring.preference_list(KEY)
        self.a, self.b, self.c = self.pref

    def partitioned_writes(self):
        """One client per side of a partition isolating replica a adds an item to the cart it read."""
        first = self.cluster.write(KEY, ["milk"])
        ctx = siblings.encode_context(siblings.of(first.record).context, KEY)
        rest = [n for n in range(5) if n != self.a]
        self.cluster.faults.partition([[self.a], rest])
        self.cluster.write(KEY, ["milk", "eggs"], w=1, coordinator=self.a, context=ctx)
        self.cluster.write(KEY, ["milk", "bread"], coordinator=self.b, context=ctx)
        self.cluster.faults.heal()

    def test_partition_makes_exactly_two_siblings(self):
        """Both sides' writes stand as siblings; the value they both read is superseded."""
        self.partitioned_writes()
        result = self.cluster.read(KEY, r=3)
        self.assertEqual(values(result.record), ['["milk", "bread"]', '["milk", "eggs"]'])
        self.assertEqual(result.repaired, sorted(result.repaired))
        dots = {s.dot[0] for s in siblings.of(result.record).siblings}
        self.assertEqual(dots, {self.a, self.b})

    def test_context_write_resolves_the_siblings(self):
        """A write with the context of the read that saw both siblings replaces both, everywhere."""
        self.partitioned_writes()
        seen = self.cluster.read(KEY, r=3)
        merged = sorted({item for s in siblings.of(seen.record).live for item in s.value})
        self.cluster.write(KEY, merged, context=siblings.encode_context(siblings.of(seen.record).context, KEY))
        after = self.cluster.read(KEY, r=3)
        self.assertEqual(values(after.record), ['["bread", "eggs", "milk"]'])

    def test_blind_write_is_concurrent_with_everything(self):
        """A write without context supersedes nothing, even from the same coordinator."""
        self.cluster.write(KEY, "one")
        self.cluster.write(KEY, "two")
        self.assertEqual(values(self.cluster.read(KEY).record), ['"one"', '"two"'])

    def test_skewed_clock_never_loses_a_causally_newer_write(self):
        """A coordinator set an hour back still supersedes the value its client read, and keeps it."""
        first = self.cluster.write(KEY, "old", coordinator=self.a)
        self.cluster.faults.set_skew(self.b, -3_600_000)
        ctx = siblings.encode_context(siblings.of(first.record).context, KEY)
        self.cluster.write(KEY, "new", coordinator=self.b, context=ctx)
        self.cluster.jobs.anti_entropy_round(0)
        for node in self.pref:
            self.assertEqual(values(self.cluster.nodes[node].store.get(KEY)), ['"new"'])

    def test_replicas_converge_after_heal_and_anti_entropy(self):
        """After heal and N-1 anti-entropy rounds, all replicas hold the same sibling set and digest."""
        self.partitioned_writes()
        for _ in range(4):
            self.cluster.jobs.anti_entropy_round(0)
        held = [self.cluster.nodes[n].store.get(KEY) for n in self.pref]
        self.assertEqual({siblings.digest(r) for r in held}, {siblings.digest(held[0])})
        self.assertEqual(values(held[0]), ['["milk", "bread"]', '["milk", "eggs"]'])

    def test_hinted_handoff_merges_and_keeps_both(self):
        """A write kept as a hint while its owner was down joins the owner's copy as a sibling."""
        self.cluster.write(KEY, "x")
        self.cluster.fail(self.c)
        self.cluster.write(KEY, "y")
        recovered = self.cluster.recover(self.c)
        self.assertIn(KEY, recovered["hints_received"])
        self.assertEqual(values(self.cluster.nodes[self.c].store.get(KEY)), ['"x"', '"y"'])

    def test_read_repair_sends_the_merge(self):
        """A replica that missed a sibling gets it from the next read that asked it."""
        self.cluster.write(KEY, "x")
        self.cluster.faults.partition([[self.c], [n for n in range(5) if n != self.c]])
        self.cluster.write(KEY, "y", coordinator=self.a)
        self.cluster.faults.heal()
        self.cluster.nodes[self.c].hints.wipe()
        for node in self.cluster.nodes:
            node.hints.wipe()  # no handoff: only the read can fix node c
        result = self.cluster.read(KEY, r=3)
        self.assertIn(self.c, result.repaired)
        self.assertEqual(values(self.cluster.nodes[self.c].store.get(KEY)), ['"x"', '"y"'])

    def test_delete_concurrent_with_a_write_leaves_the_write(self):
        """A tombstone supersedes what its read saw; a write it did not see stays, not resurrected."""
        self.cluster.write(KEY, "x")
        rest = [n for n in range(5) if n != self.a]
        self.cluster.faults.partition([[self.a], rest])
        self.cluster.write(KEY, "y", w=1, coordinator=self.a)
        self.cluster.delete(KEY, coordinator=self.b)
        self.cluster.faults.heal()
        result = self.cluster.read(KEY, r=3)
        self.assertEqual(values(result.record), ['"y"', 'null'])
        self.assertTrue(result.found)
        live = siblings.of(result.record).live
        self.assertEqual([s.value for s in live], ["y"])

    def test_sync_after_recovery_merges(self):
        """A node back from a stop catches up by sync: it merges the siblings it missed."""
        self.cluster.write(KEY, "x")
        self.cluster.fail(self.c)
        self.cluster.write(KEY, "y")
        for node in self.cluster.nodes:
            node.hints.wipe()
        self.cluster.recover(self.c)
        self.assertEqual(values(self.cluster.nodes[self.c].store.get(KEY)), ['"x"', '"y"'])

    def test_cas_and_linearizable_are_refused(self):
        """CAS answers NeedsLww, consistency=linearizable BadRequest, and the config pair is refused."""
        with self.assertRaises(NeedsLww):
            self.cluster.cas(KEY, None, "v")
        with self.assertRaises(BadRequest):
            self.cluster.read(KEY, consistency="linearizable")
        with self.assertRaises(ConfigError):
            simulation_config(conflicts="siblings", consistency="linearizable").validate()

    def test_context_refused_in_lww_mode(self):
        """An LWW cluster refuses a context rather than silently ignoring it."""
        lww = make_cluster()
        ctx = siblings.encode_context(siblings.vv.make({0: 1}), KEY)
        with self.assertRaises(BadRequest):
            lww.write(KEY, "v", context=ctx)


class SiblingsStorageReplayTest(unittest.TestCase):
    """Sibling sets survive sqlite storage, a restart, and scenario replay."""

    def test_sqlite_run_restarts_and_replays_identically(self):
        """A siblings run on sqlite reloads the same sets after a restart and replays to the same digest."""
        import shutil
        import tempfile

        from cluster.scenario import event_digest
        from labs.replay import replay
        from tests.test_scenario import run_script
        data_dir = tempfile.mkdtemp()
        try:
            app, client = make_app(storage="sqlite", data_dir=data_dir, seed=11, conflicts="siblings")
            run_script(client)
            exported = client.get("/scenario").get_json()
            cluster = app.extensions["replicalab"]
            before = [{k: node.store.get(k) for k in node.store.keys()} for node in cluster.nodes]
            cluster.close()
            reopened = make_cluster(storage="sqlite", data_dir=data_dir, conflicts="siblings")
            after = [{k: node.store.get(k) for k in node.store.keys()} for node in reopened.nodes]
            reopened.close()
        finally:
            shutil.rmtree(data_dir)
        self.assertEqual(before, after)
        self.assertTrue(any(len(siblings.of(r).siblings) > 1 for node in after for r in node.values()))
        self.assertEqual(exported["settings"]["conflicts"], "siblings")
        replayed, _ = replay(exported)
        events = replayed.extensions["replicalab"].events.page(0, 10 ** 9)
        self.assertEqual(event_digest(events), exported["event_digest"])


class SiblingsStepModeTest(unittest.TestCase):
    """Step mode: two clients read the same cart and write while every message is held."""

    def test_concurrent_writes_in_step_mode_make_two_siblings(self):
        """Two W=1 writes carrying the same context, their puts held, end as exactly two siblings."""
        app, client = make_app(conflicts="siblings", client_timeout_ms=10_000)
        cluster = app.extensions["replicalab"]
        pref = cluster.ring.preference_list(KEY)
        context = write(client, KEY, ["milk"]).get_json()["context"]
        client.post("/network/pause")
        answers = []

        def add(item, coordinator):
            answers.append(write(app.test_client(), KEY, ["milk", item], w=1, coordinator=coordinator,
                                 context=context))
        threads = [threading.Thread(target=add, args=(item, node)) for item, node in
                   (("eggs", pref[0]), ("bread", pref[1]))]
        for thread in threads:
            thread.start()
            thread.join(10)  # W=1: the coordinator's own copy answers at once
        held = client.get("/network/messages").get_json()["messages"]
        self.assertEqual({m["kind"] for m in held}, {"put"})
        client.post("/network/resume")
        body = client.get(f"/read/{KEY}?r=3").get_json()
        self.assertEqual(sorted(json.dumps(s["value"]) for s in body["siblings"]),
                         ['["milk", "bread"]', '["milk", "eggs"]'])
        self.assertIsNone(body["value"])
        self.assertIn("concurrent", body["conflict"])
        self.assertEqual([a.status_code for a in answers], [200, 200])


class SiblingsApiTest(unittest.TestCase):
    """The answers show siblings, vectors and the context; bad contexts are 400s."""

    def setUp(self):
        self.app, self.client = make_app(conflicts="siblings")

    def test_write_and_read_show_vectors_and_context(self):
        """A write names its dot and what it superseded; a read returns the value, siblings and context."""
        body = write(self.client, KEY, ["milk"]).get_json()
        self.assertEqual(body["supersedes"], "nothing: no context was sent, so it is concurrent with "
                                             "every earlier value")
        self.assertRegex(body["dot"], r"^\{node-\d: 1\}$")
        again = write(self.client, KEY, ["milk", "eggs"], context=body["context"]).get_json()
        self.assertTrue(again["supersedes"].startswith("what its context saw: {node-"))
        read = self.client.get(f"/read/{KEY}").get_json()
        self.assertEqual(read["value"], ["milk", "eggs"])
        self.assertEqual(len(read["siblings"]), 1)
        self.assertIsNone(read["conflict"])
        self.assertRegex(read["context_vector"], r"^\{node-\d: 2\}$")
        self.assertEqual(self.client.get("/config").get_json()["config"]["conflicts"], "siblings")

    def test_context_of_another_key_is_a_400_and_loses_no_sibling(self):
        """A context read from another key is refused (write and delete) and k1's sibling stays."""
        write(self.client, "k1", "alice-item", coordinator=1)
        for i in range(5):
            write(self.client, KEY, [i], coordinator=1)
        other = self.client.get(f"/read/{KEY}").get_json()["context"]
        response = write(self.client, "k1", "bob-item", context=other)
        self.assertEqual(response.status_code, 400)
        self.assertIn("this context came from a read of another key; send back the context a read "
                      "of \"k1\" answered with", response.get_json()["message"])
        deleted = self.client.delete(f"/delete/k1?context={other}")
        self.assertEqual(deleted.status_code, 400)
        self.assertIn("another key", deleted.get_json()["message"])
        self.assertEqual(self.client.get("/read/k1").get_json()["value"], "alice-item")
        own = self.client.get("/read/k1").get_json()["context"]
        self.assertEqual(write(self.client, "k1", "bob-item", context=own).status_code, 200)

    def test_bad_context_is_400_with_a_sentence(self):
        """Malformed, forged or wrongly typed contexts answer 400 naming the field, never 500."""
        for bad in ["not base64!", "e30", 5, siblings.encode_context(siblings.vv.make({42: 1}), KEY)]:
            with self.subTest(bad=bad):
                response = write(self.client, KEY, "v", context=bad)
                self.assertEqual(response.status_code, 400)
                self.assertIn("context", response.get_json()["message"])
        self.assertEqual(self.client.delete(f"/delete/{KEY}?context=zz").status_code, 400)

    def test_cas_is_409_needs_lww(self):
        """POST /cas refuses siblings mode with a sentence."""
        response = self.client.post("/cas", data=json.dumps({"key": KEY, "expected": None, "value": 1}))
        self.assertEqual(response.status_code, 409)
        self.assertIn("siblings", response.get_json()["message"])


if __name__ == "__main__":
    unittest.main()
