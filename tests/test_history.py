"""Client histories (/history), the checker over HTTP (/check) and the linearizable mode."""
import json
import unittest

from checker import check_history, parse_history
from tests.helpers import make_app


class Client:
    """A test client that names itself with X-Client-Id."""

    def __init__(self, http, name):
        self.http, self.name = http, name

    def write(self, key, value, **extra):
        """POST /write; returns (status, answer)."""
        r = self.http.post("/write", data=json.dumps({"key": key, "value": value, **extra}),
                           headers={"X-Client-Id": self.name})
        return r.status_code, r.get_json()

    def read(self, key, query=""):
        """GET /read/<key>; returns (status, answer)."""
        r = self.http.get(f"/read/{key}{query}", headers={"X-Client-Id": self.name})
        return r.status_code, r.get_json()


def post(http, path, body=None):
    """POST a JSON body; returns (status, answer)."""
    r = http.post(path, data=json.dumps(body) if body is not None else None)
    return r.status_code, r.get_json()


def split_x(http):
    """Write x=1, then cut x's primary node-1 (with node-0) off from node-2, node-3, node-4."""
    Client(http, "a").write("x", 1)
    post(http, "/partition", {"groups": [[0, 1], [2, 3, 4]]})


class HistoryRecordingTest(unittest.TestCase):
    """What /history records for each operation and outcome."""

    def setUp(self):
        """A fresh deterministic cluster per test."""
        self.app, self.http = make_app()
        self.a = Client(self.http, "a")

    def events(self, **query):
        """The recorded events (first page)."""
        return self.http.get("/history", query_string=query).get_json()["events"]

    def test_write_and_read_are_invoke_then_ok_with_the_client_name(self):
        """A write and a read appear as invoke/ok pairs named by X-Client-Id, in clock order."""
        self.a.write("k", "v")
        self.a.read("k")
        events = self.events()
        self.assertEqual([(e["process"], e["type"], e["f"], e["value"]) for e in events],
                         [("a", "invoke", "write", "v"), ("a", "ok", "write", "v"),
                          ("a", "invoke", "read", None), ("a", "ok", "read", "v")])
        times = [e["time"] for e in events]
        self.assertEqual(times, sorted(times))
        self.assertEqual(len(set(times)), len(times), "consecutive events must not share a time")

    def test_missing_key_reads_ok_null_and_delete_of_missing_fails(self):
        """A 404 read happened (it saw nothing); a 404 delete did not happen."""
        self.a.read("nothing")
        self.http.delete("/delete/nothing")
        kinds = [(e["f"], e["type"], e["value"]) for e in self.events() if e["type"] != "invoke"]
        self.assertEqual(kinds, [("read", "ok", None), ("delete", "fail", None)])

    def test_delete_records_one_operation_not_its_inner_read_and_write(self):
        """DELETE /delete/<key> is one client operation in the history."""
        self.a.write("k", 1)
        self.http.delete("/delete/k")
        self.assertEqual([e["f"] for e in self.events()], ["write", "write", "delete", "delete"])

    def test_unconfirmed_write_that_stored_somewhere_is_info(self):
        """A 503 write stored on some replicas may surface later, so its outcome is info."""
        walk = self.http.get("/placement/k").get_json()["preference_list"]
        for node in {"node-0", "node-1", "node-2", "node-3", "node-4"} - set(walk[:2]):
            self.http.post(f"/fail/{node}")  # only two nodes are left: W=3 cannot be met
        status, _ = self.a.write("k", 1, w=3)
        self.assertEqual(status, 503)
        self.assertEqual(self.events()[-1]["type"], "info")

    def test_a_request_to_a_down_coordinator_is_a_fail(self):
        """Refused by a down coordinator (503 node_down), a write, a read and a cas did not happen: fail."""
        self.http.post("/fail/1")
        self.assertEqual(self.a.write("k", 1, coordinator=1)[1]["error"], "node_down")
        self.a.read("k", "?coordinator=1")
        post(self.http, "/cas", {"key": "k", "expected": None, "value": 2, "coordinator": 1})
        done = [(e["f"], e["type"], e.get("error")) for e in self.events() if e["type"] != "invoke"]
        self.assertEqual(done, [("write", "fail", "node_down"), ("read", "fail", "node_down"),
                                ("cas", "fail", "node_down")])

    def test_cas_records_the_value_it_compared_with_and_conflicts_as_fail(self):
        """An applied CAS shows [compared value, new]; a 409 is a fail the checker accepts."""
        post(self.http, "/cas", {"key": "c", "expected": None, "value": 1})
        post(self.http, "/cas", {"key": "c", "expected": None, "value": 2})
        events = self.events()
        self.assertEqual(events[0]["value"], [None, 1])
        self.assertEqual(events[-1]["type"], "fail")
        self.assertEqual(events[-1]["observed"]["value"], 1)
        self.assertTrue(self.http.get("/check").get_json()["linearizable"])

    def test_history_is_bounded_and_says_what_it_dropped(self):
        """With --max-history 3, only the last 3 operations stay and /history says 2 were dropped."""
        self.app, self.http = make_app(max_history=3)
        for i in range(5):
            Client(self.http, "a").write("k", i)
        page = self.http.get("/history").get_json()
        self.assertEqual((page["dropped_ops"], page["truncated"], page["total_events"]), (2, True, 6))
        self.assertIn("2 older operations were dropped", page["message"])
        self.assertEqual([e["value"] for e in page["events"] if e["type"] == "invoke"], [2, 3, 4])
        self.assertTrue(self.http.get("/check").get_json()["linearizable"])

    def test_paging_key_filter_and_clear(self):
        """?key= filters, ?limit= pages with next_offset, DELETE /history forgets everything."""
        self.a.write("k", 1)
        self.a.write("j", 2)
        self.assertEqual({e["key"] for e in self.events(key="j")}, {"j"})
        page = self.http.get("/history?limit=1").get_json()
        self.assertEqual((len(page["events"]), page["next_offset"]), (1, 1))
        answer = self.http.delete("/history").get_json()
        self.assertEqual(answer["forgotten_ops"], 2)
        self.assertEqual(self.events(), [])

    def test_edn_export_reads_back_as_the_same_history(self):
        """GET /history?format=edn is Jepsen's EDN, one map per line, that the checker parses."""
        self.a.write("k", [1, {"a": True}])
        self.a.read("k")
        text = self.http.get("/history?format=edn").get_data(as_text=True)
        self.assertTrue(text.startswith('{:process "a", :type :invoke, :f :write, :key "k"'))
        parsed = parse_history(text, "edn")
        self.assertEqual([(e.type, e.f, e.value) for e in parsed],
                         [(e["type"], e["f"], e["value"]) for e in self.events()])

    def test_bad_parameters_are_json_errors(self):
        """An unknown format, model or consistency is a 400 with a sentence."""
        for path in ("/history?format=xml", "/check?model=queue", "/read/k?consistency=strong"):
            r = self.http.get(path)
            self.assertEqual(r.status_code, 400, path)
            self.assertEqual(r.get_json()["status"], "error")


class CheckEndpointTest(unittest.TestCase):
    """GET /check on histories the cluster made, POST /check on posted ones."""

    def setUp(self):
        """A fresh deterministic cluster per test."""
        self.app, self.http = make_app()

    def test_partition_in_eventual_mode_is_not_linearizable_and_explained(self):
        """A minority-side write acknowledged by a stand-in, then a stale majority-side read: a violation."""
        split_x(self.http)
        status, _ = Client(self.http, "a").write("x", 2, coordinator=1)
        self.assertEqual(status, 200)
        status, answer = Client(self.http, "b").read("x", "?coordinator=3")
        self.assertEqual(answer["value"], 1)
        verdict = self.http.get("/check").get_json()
        self.assertFalse(verdict["linearizable"])
        self.assertIn("process b's read -> 1", verdict["violations"][0]["message"])
        self.assertIn("NOT linearizable", verdict["message"])

    def test_partition_in_linearizable_mode_refuses_the_minority_and_stays_linearizable(self):
        """In linearizable mode the minority side answers 503 and the history checks out."""
        split_x(self.http)
        status, answer = Client(self.http, "a").write("x", 2, coordinator=1, consistency="linearizable")
        self.assertEqual(status, 503)
        self.assertIn("never asks a stand-in", answer["message"])
        self.assertEqual(Client(self.http, "b").write("x", 3, coordinator=3, consistency="linearizable")[0], 200)
        status, answer = Client(self.http, "b").read("x", "?coordinator=4&consistency=linearizable")
        self.assertEqual((status, answer["value"]), (200, 3))
        self.assertTrue(self.http.get("/check").get_json()["linearizable"])

    def test_post_check_accepts_edn_and_our_json(self):
        """POST /check reads an EDN history and a {"history": [...]} body alike."""
        split_x(self.http)
        Client(self.http, "a").write("x", 2, coordinator=1)
        Client(self.http, "b").read("x", "?coordinator=3")
        edn = self.http.get("/history?format=edn").get_data()
        self.assertFalse(self.http.post("/check", data=edn).get_json()["linearizable"])
        events = self.http.get("/history").get_json()["events"][:2]
        status, answer = post(self.http, "/check", {"history": events})
        self.assertEqual((status, answer["linearizable"]), (200, True))

    def test_post_check_explains_an_unreadable_history(self):
        """A history that cannot be parsed is a 400 naming the line."""
        r = self.http.post("/check", data='{:process 0, :type :invoke, :f :write, :value 1}\n{:process 0 :type')
        self.assertEqual(r.status_code, 400)
        self.assertIn("line 2", r.get_json()["message"])


class LinearizableModeTest(unittest.TestCase):
    """ABD: versions above the newest, blocking write-back, strict majorities."""

    def setUp(self):
        """A fresh deterministic cluster per test."""
        self.app, self.http = make_app()
        self.c = Client(self.http, "c")

    def test_a_clock_behind_cannot_order_a_write_backwards(self):
        """With node-2 an hour behind, its later write loses under eventual but wins under linearizable."""
        post(self.http, "/nodes/2/clock", {"skew_ms": -3_600_000})
        for mode, expected in (("eventual", "first"), ("linearizable", "second")):
            self.c.write(f"{mode}-k", "first", coordinator=0, consistency=mode)
            self.c.write(f"{mode}-k", "second", coordinator=2, consistency=mode)
            self.assertEqual(self.c.read(f"{mode}-k", f"?consistency={mode}")[1]["value"], expected, mode)

    def test_read_writes_the_newest_version_back_before_answering(self):
        """A value held by one replica only is written back to a majority by a linearizable read."""
        for node in (2, 4):
            self.http.post(f"/fail/{node}")  # x lives on node-1, node-4, node-2
        self.c.write("x", "lonely", w=1)
        for node in (2, 4):
            self.http.post(f"/recover/{node}?catch_up=none")
        status, answer = self.c.read("x", "?consistency=linearizable&coordinator=1")
        self.assertEqual((status, answer["value"]), (200, "lonely"))
        self.assertTrue(answer["repaired"], answer["story"])
        self.assertTrue(any("writes it back" in line for line in answer["story"]))

    def test_default_mode_comes_from_the_server_setting(self):
        """--consistency linearizable makes plain requests use ABD."""
        self.app, self.http = make_app(consistency="linearizable")
        status, answer = Client(self.http, "c").write("k", 1)
        self.assertEqual(status, 200)
        self.assertTrue(any("linearizable write" in line for line in answer["story"]))

    def test_checker_agrees_on_a_linearizable_history_of_many_clients(self):
        """Interleaved clients writing and reading in linearizable mode give a linearizable history."""
        self.app, self.http = make_app(consistency="linearizable")
        clients = [Client(self.http, f"p{i}") for i in range(3)]
        for step in range(12):
            client = clients[step % 3]
            client.write("k", step) if step % 2 else client.read("k")
        events = self.http.get("/history").get_json()["events"]
        self.assertTrue(check_history(events).linearizable)


if __name__ == "__main__":
    unittest.main()


class ConcurrentAbdWritesTest(unittest.TestCase):
    """Two linearizable writes in flight at once on one coordinator."""

    def test_concurrent_writes_on_one_coordinator_get_distinct_versions(self):
        """Both see the same newest version; the second must still be stamped above the first."""
        from cluster.linearizable import AbdOp
        from models import Record, Version
        from tests.helpers import make_cluster
        cluster = make_cluster()
        cluster.faults.set_skew(0, 60_000)  # node-0 stamps far ahead: the others write above it
        cluster.write("k", "ahead", coordinator=0)
        node = cluster.nodes[1]
        ops = [AbdOp(node.next_op_id(), node, "k", cluster.ring, 2, Record("k", v, Version(0, 1)))
               for v in ("one", "two")]
        with cluster.lock:
            for op in ops:
                op.start()  # both query before either propagates
            cluster.settle()
        self.assertFalse(any(op.failure for op in ops))
        self.assertNotEqual(ops[0].record.version, ops[1].record.version)
        newest = max(ops, key=lambda op: op.record.version).record.value
        self.assertEqual(cluster.read("k", r=3).record.value, newest)
