"""Network faults, clock skew and crash kinds, through the cluster and over HTTP."""
import json
import unittest

from api.results import result_fields
from cluster.errors import BadRequest, Conflict, NotFound
from tests.helpers import make_app, make_cluster, write


def events_of(cluster, type_):
    return [e for e in cluster.events.page(0, 10**7) if e.type == type_]


class PartitionTest(unittest.TestCase):
    """Nodes on different sides of a partition cannot exchange messages."""

    def test_both_sides_accept_writes_and_lww_keeps_one(self):
        """Each side of a partition takes a write (sloppy quorum); after healing LWW keeps the later."""
        cluster = make_cluster()
        a, b, c = cluster.ring.preference_list("color")  # node-1, node-4, node-0
        cluster.write("color", "before")
        cluster.faults.partition([[a, 2], [b, c, 3]])
        left = cluster.write("color", "left", coordinator=a)
        right = cluster.write("color", "right", coordinator=b)
        self.assertTrue(left.ok and right.ok)
        # Each side's write reached only its own side, helped by a stand-in from that side.
        self.assertEqual({x["node"] for x in left.acks}, {f"node-{a}", "node-2"})
        self.assertEqual({x["node"] for x in right.acks}, {f"node-{b}", f"node-{c}", "node-3"})
        self.assertEqual([x["stands_in_for"] for x in right.acks if x["stands_in_for"]], [f"node-{a}"])
        self.assertGreater(right.record.version, left.record.version)
        drops = [e for e in events_of(cluster, "message_dropped") if "partition" in e.text]
        self.assertTrue(drops)
        cluster.faults.heal()
        result = cluster.read("color", r=3)
        self.assertEqual(result.record.value, "right")  # "left" was acknowledged, and is gone
        self.assertIn(f"node-{a}", [f"node-{n}" for n in result.repaired])

    def test_coordinator_must_be_up_and_valid(self):
        """A down or unknown coordinator is refused; a chosen one coordinates."""
        cluster = make_cluster()
        self.assertEqual(cluster.write("k", 1, coordinator=3).coordinator, 3)
        cluster.fail(3)
        from cluster.errors import NodeNotFound, NoQuorum
        with self.assertRaises(NoQuorum):
            cluster.write("k", 1, coordinator=3)
        with self.assertRaises(NodeNotFound):
            cluster.read("k", coordinator=9)
        with self.assertRaises(BadRequest):
            cluster.write("k", 1, coordinator="three")

    def test_unlisted_nodes_form_the_other_side(self):
        """Groups naming only some nodes put the rest together on one more side."""
        cluster = make_cluster()
        view = cluster.faults.partition([[0, 1]])
        self.assertEqual(view["partition"], [["node-0", "node-1"], ["node-2", "node-3", "node-4"]])

    def test_invalid_partitions(self):
        """A node in two groups, an unknown node, or a single side is refused with a sentence."""
        cluster = make_cluster()
        cases = [([[0, 1], [1, 2]], "in two groups"), ([[0, 9]], "no node 9"), ([[0, 1, 2, 3, 4]], "two sides"),
                 ([], "non-empty"), ("0,1", "list"), ([[0, 0]], "twice"), ([["a"]], "node id such as")]
        for groups, expected in cases:
            with self.subTest(groups=groups), self.assertRaises(BadRequest) as caught:
                cluster.faults.partition(groups)
            self.assertIn(expected, caught.exception.message)

    def test_heal_without_partition_conflicts(self):
        """Healing when nothing is partitioned is a Conflict."""
        with self.assertRaises(Conflict):
            make_cluster().faults.heal()


class LinkFaultTest(unittest.TestCase):
    """One-way link faults affect only their direction."""

    def test_down_link_blocks_one_direction_only(self):
        """With a -> b down, messages a -> b are dropped but b -> a still arrive."""
        cluster = make_cluster()
        cluster.faults.set_link(1, 4, {"down": True})
        cluster.write("color", "blue")  # node-1 coordinates; its put to node-4 is lost
        self.assertIsNone(cluster.nodes[4].store.get("color"))
        drops = events_of(cluster, "message_dropped")
        self.assertTrue(all(e.nodes == (1, 4) for e in drops))
        cluster.faults.clear_link(1, 4)
        with self.assertRaises(NotFound):
            cluster.faults.clear_link(1, 4)

    def test_drop_rate_and_delay(self):
        """A link with drop_rate 1 drops every message; a delay adds to the latency."""
        cluster = make_cluster()
        cluster.faults.set_link(1, 0, {"drop_rate": 1.0})
        cluster.faults.set_link(1, 4, {"delay_ms": [50, 50]})
        cluster.write("color", "blue")
        sent = [e for e in events_of(cluster, "message_sent") if e.nodes == (1, 4)]
        self.assertTrue(all(e.details["latency_ms"] >= 51 for e in sent))
        self.assertTrue([e for e in events_of(cluster, "message_dropped") if "drop rate 1.0" in e.text])

    def test_invalid_link_faults(self):
        """Rates outside 0..1, bad delays, self-links and empty faults are refused."""
        cluster = make_cluster()
        for a, b, body in [(0, 0, {"down": True}), (0, 7, {"down": True}), (0, 1, {"drop_rate": 1.5}),
                           (0, 1, {"drop_rate": "x"}), (0, 1, {"delay_ms": [50, 5]}),
                           (0, 1, {"delay_ms": [1, 2, 3]}), (0, 1, {}), (0, 1, {"down": "yes"})]:
            with self.subTest(body=body), self.assertRaises(BadRequest):
                cluster.faults.set_link(a, b, body)


class NetworkFaultTest(unittest.TestCase):
    """Whole-network drops, duplicates and delays."""

    def test_duplicates_are_delivered_and_harmless(self):
        """With duplicate_rate 1 every message is doubled; the value is still stored once."""
        cluster = make_cluster()
        cluster.faults.set_network({"duplicate_rate": 1.0})
        result = cluster.write("k", "v")
        self.assertTrue(result.ok)
        self.assertTrue(events_of(cluster, "message_duplicated"))
        self.assertTrue(all(a["applied"] for a in result.acks))

    def test_delay_reorders_messages(self):
        """Extra random delay makes some messages arrive after ones sent later."""
        cluster = make_cluster()
        cluster.faults.set_network({"delay_ms": [0, 200]})
        for i in range(10):
            cluster.write(f"k{i}", i)
        delivered = [e.details["msg_id"] for e in events_of(cluster, "message_delivered")]
        self.assertNotEqual(delivered, sorted(delivered))

    def test_full_drop_rate_fails_writes_honestly(self):
        """When the network drops everything, a write reaches only its coordinator: 503."""
        cluster = make_cluster()
        cluster.faults.set_network({"drop_rate": 1.0})
        from cluster.errors import NoQuorum
        with self.assertRaises(NoQuorum) as caught:
            cluster.write("k", "v")
        self.assertEqual(len(result_fields(caught.exception.result)["stored_on"]), 1)

    def test_faults_view_and_clear(self):
        """GET-style view lists every fault; clearing removes them but keeps down nodes down."""
        cluster = make_cluster()
        cluster.faults.partition([[0], [1, 2, 3, 4]])
        cluster.faults.set_link(2, 3, {"down": True})
        cluster.faults.set_network({"drop_rate": 0.1})
        cluster.faults.set_skew(2, -5000)
        cluster.fail(4, "crash")
        view = cluster.faults.faults_view()
        self.assertEqual(view["down"], [{"node": "node-4", "mode": "crash"}])
        self.assertEqual(len(view["links"]), 1)
        self.assertEqual(view["network"]["drop_rate"], 0.1)
        self.assertEqual(view["clock_skew"], [{"node": "node-2", "skew_ms": -5000}])
        after = cluster.faults.clear_faults()["now"]
        self.assertEqual((after["partition"], after["links"], after["network"], after["clock_skew"]),
                         (None, [], None, []))
        self.assertEqual(after["down"], [{"node": "node-4", "mode": "crash"}])


class ClockSkewTest(unittest.TestCase):
    """A skewed clock makes LWW lose newer writes."""

    def test_slow_clock_loses_a_newer_write(self):
        """A write coordinated by a node 5 s behind is older than the write before it, and loses."""
        cluster = make_cluster()
        replicas = cluster.ring.preference_list("color")
        cluster.write("color", "first")
        cluster.faults.set_skew(replicas[0], -5000)
        later = cluster.write("color", "second")  # happens later, stamped earlier
        self.assertTrue(later.ok)
        self.assertFalse(any(a["applied"] for a in later.acks if a["node"] != f"node-{replicas[0]}"))
        self.assertEqual(cluster.read("color", r=3).record.value, "first")

    def test_invalid_skew(self):
        """Skews that are not whole milliseconds within a day are refused."""
        cluster = make_cluster()
        for bad in ("5", 1.5, None, 10**9, True):
            with self.assertRaises(BadRequest):
                cluster.faults.set_skew(0, bad)


class CrashKindTest(unittest.TestCase):
    """stop keeps everything, crash loses memory and uncommitted writes, wipe loses the disk."""

    def test_stop_keeps_uncommitted_writes(self):
        """A stopped node in batch mode still has its acknowledged, uncommitted writes."""
        cluster = make_cluster(durability="batch", batch_size=100)
        cluster.write("k", "v")
        node = cluster.ring.preference_list("k")[0]
        lost = cluster.fail(node, "stop")["lost"]
        self.assertNotIn("uncommitted_writes_lost", lost)
        self.assertEqual(cluster.nodes[node].store.get("k").value, "v")

    def test_crash_in_batch_mode_loses_acknowledged_writes(self):
        """A crash loses writes that were acknowledged but not yet committed, and says which."""
        cluster = make_cluster(durability="batch", batch_size=100)
        result = cluster.write("k", "v")
        node = cluster.ring.preference_list("k")[0]
        lost = cluster.fail(node, "crash")["lost"]
        self.assertEqual(lost["uncommitted_writes_lost"],
                         [{"key": "k", "version": result.record.version.to_dict()}])
        self.assertIsNone(cluster.nodes[node].store.get("k"))
        self.assertIn("acknowledged but uncommitted", events_of(cluster, "node_failed")[-1].text)
        cluster.recover(node)  # its peers still have it
        self.assertEqual(cluster.nodes[node].store.get("k").value, "v")

    def test_crash_in_sync_mode_loses_nothing_on_disk(self):
        """With sync durability a crash keeps every acknowledged write."""
        cluster = make_cluster()
        cluster.write("k", "v")
        node = cluster.ring.preference_list("k")[0]
        lost = cluster.fail(node, "crash")["lost"]
        self.assertEqual(lost["uncommitted_writes_lost"], [])
        self.assertEqual(cluster.nodes[node].store.get("k").value, "v")

    def test_acked_write_lost_everywhere_when_all_replicas_crash(self):
        """In batch mode, crashing every replica loses an acknowledged write for good."""
        cluster = make_cluster(durability="batch", batch_size=100)
        cluster.write("k", "v")
        for node in cluster.ring.preference_list("k"):
            cluster.fail(node, "crash")
        for node in cluster.ring.preference_list("k"):
            cluster.recover(node)
        from cluster.errors import KeyNotFound
        with self.assertRaises(KeyNotFound):
            cluster.read("k", r=3)

    def test_wipe_loses_disk_and_recovery_rebuilds(self):
        """A wiped node loses records and hints; recovery rebuilds its records from peers."""
        cluster = make_cluster()
        for i in range(20):
            cluster.write(f"k{i}", i)
        node = cluster.ring.preference_list("k0")[0]
        owned = list(cluster.nodes[node].store.keys())
        lost = cluster.fail(node, "wipe")["lost"]
        self.assertEqual(lost["keys_lost"], len(owned))
        self.assertEqual(len(cluster.nodes[node].store.index), 0)
        summary = cluster.recover(node)
        self.assertEqual(sorted(summary["pulled_keys"]), sorted(owned))
        self.assertEqual(cluster.nodes[node].store.keys(), sorted(owned))

    def test_crash_abandons_operations_it_coordinated(self):
        """A write whose coordinator crashes mid-way (step mode) ends with a clear error."""
        cluster = make_cluster(client_timeout_ms=5000)
        import threading

        from cluster.errors import NoQuorum
        cluster.steps.pause()
        outcome = {}

        def writer():
            try:
                cluster.write("color", "blue")
            except NoQuorum as error:
                outcome["error"] = error
        thread = threading.Thread(target=writer)
        thread.start()
        with cluster.lock:
            cluster.changed.wait_for(lambda: cluster.parked == 1, timeout=5)
        cluster.fail(cluster.ring.preference_list("color")[0], "crash")
        thread.join(5)
        self.assertIn("crashed", outcome["error"].message)

    def test_unknown_mode_is_refused(self):
        """?mode= other than stop, crash, wipe is a BadRequest."""
        with self.assertRaises(BadRequest):
            make_cluster().fail(1, "explode")


class FaultRoutesTest(unittest.TestCase):
    """The fault endpoints over HTTP, including their errors."""

    def setUp(self):
        self.app, self.client = make_app()

    def post(self, path, body):
        return self.client.post(path, data=json.dumps(body) if not isinstance(body, str) else body)

    def test_routes_work(self):
        """Each fault route answers 200 and GET /faults shows the result."""
        self.assertEqual(self.post("/partition", {"groups": [[0, 1], [2, 3, 4]]}).status_code, 200)
        self.assertEqual(self.client.post("/heal").status_code, 200)
        self.assertEqual(self.post("/links/0/1", {"drop_rate": 0.3, "delay_ms": [5, 50]}).status_code, 200)
        self.assertEqual(self.post("/faults/network", {"duplicate_rate": 0.1}).status_code, 200)
        self.assertEqual(self.post("/nodes/2/clock", {"skew_ms": -5000}).status_code, 200)
        self.assertEqual(self.client.post("/fail/3?mode=wipe").get_json()["mode"], "wipe")
        faults = self.client.get("/faults").get_json()
        self.assertEqual(faults["down"], [{"node": "node-3", "mode": "wipe"}])
        self.assertEqual(self.client.delete("/links/0/1").status_code, 200)
        self.assertEqual(self.client.delete("/faults").status_code, 200)
        self.assertEqual(self.client.get("/faults").get_json()["message"], "Active faults listed.")

    def test_route_errors(self):
        """Bad bodies, unknown nodes and conflicting states are JSON errors with sentences."""
        cases = [
            (self.post("/partition", {"groups": [[0, 1], [1, 2]]}), 400),
            (self.post("/partition", "nope"), 400),
            (self.post("/partition", {"grups": []}), 400),
            (self.client.post("/heal"), 409),
            (self.post("/links/0/9", {"down": True}), 400),
            (self.post("/links/x/1", {"down": True}), 400),
            (self.post("/links/0/1", {"drop_rate": 2}), 400),
            (self.client.delete("/links/0/1"), 404),
            (self.post("/faults/network", {"drop_rate": -0.1}), 400),
            (self.post("/faults/network", ""), 400),
            (self.post("/nodes/9/clock", {"skew_ms": 5}), 404),
            (self.post("/nodes/1/clock", {"skew_ms": "5"}), 400),
            (self.client.post("/fail/1?mode=melt"), 400),
        ]
        for answer, status in cases:
            body = answer.get_json()
            self.assertEqual(answer.status_code, status, body)
            self.assertEqual(body["status"], "error")
            self.assertTrue(body["message"])

    def test_fault_routes_need_the_admin_token(self):
        """With a token configured, fault routes answer 401 without it; GET /faults stays open."""
        app, client = make_app(admin_token="t")
        for method, path in [("post", "/partition"), ("post", "/heal"), ("post", "/links/0/1"),
                             ("delete", "/links/0/1"), ("post", "/faults/network"),
                             ("post", "/nodes/1/clock"), ("delete", "/faults"), ("post", "/network/pause"),
                             ("post", "/network/resume"), ("post", "/network/step"), ("post", "/tick"),
                             ("post", "/network/deliver/1"), ("post", "/network/drop/1"),
                             ("post", "/network/duplicate/1")]:
            self.assertEqual(getattr(client, method)(path).status_code, 401, path)
        self.assertEqual(client.get("/faults").status_code, 200)
        self.assertEqual(client.get("/network/messages").status_code, 200)


if __name__ == "__main__":
    unittest.main()


class NewerRouteErrorsTest(unittest.TestCase):
    """Quiet recovery, anti-entropy pairs and oversize fault bodies over HTTP."""

    def test_recover_catch_up_values(self):
        """?catch_up=none rejoins quietly; an unknown value is a 400."""
        app, client = make_app()
        client.post("/fail/1")
        self.assertEqual(client.post("/recover/1?catch_up=maybe").status_code, 400)
        quiet = client.post("/recover/1?catch_up=none").get_json()
        self.assertEqual(quiet["caught_up_keys"], [])
        self.assertIn("quietly", quiet["story"][0])

    def test_anti_entropy_route(self):
        """POST /anti-entropy/<a>/<b> runs one exchange; bad pairs are JSON errors."""
        app, client = make_app()
        write(client, "color", "blue")
        ok = client.post("/anti-entropy/1/4").get_json()
        self.assertEqual(ok["keys_transferred"], 0)
        self.assertEqual(client.post("/anti-entropy/1/1").status_code, 400)
        self.assertEqual(client.post("/anti-entropy/1/9").status_code, 404)
        self.assertEqual(client.post("/anti-entropy/x/1").status_code, 400)
        client.post("/fail/1")
        self.assertEqual(client.post("/anti-entropy/1/4").status_code, 409)

    def test_oversize_bodies_on_fault_routes(self):
        """A body over the request limit is a JSON 413 on every route that takes one."""
        app, client = make_app(max_value_bytes=1000)
        huge = json.dumps({"groups": [[0]] * 40_000})
        for path in ("/partition", "/links/0/1", "/faults/network", "/nodes/1/clock", "/tick", "/write"):
            answer = client.post(path, data=huge)
            self.assertEqual(answer.status_code, 413, path)
            self.assertEqual(answer.get_json()["status"], "error")
