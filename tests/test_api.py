"""The HTTP API: the course client's routes and fields, and every error path."""
import json
import re
import unittest
from urllib.parse import quote

from tests.helpers import make_app, write


class ApiTestCase(unittest.TestCase):
    """A fresh app and client per test."""

    settings: dict = {}

    def setUp(self):
        self.app, self.client = make_app(**self.settings)
        self.cluster = self.app.extensions["replicalab"]

    def assertError(self, response, status, code=None):
        """The answer is a JSON error with this status, a code and a sentence."""
        self.assertEqual(response.status_code, status, response.data)
        body = response.get_json()
        self.assertIsNotNone(body, response.data)
        self.assertEqual(body["status"], "error")
        if code:
            self.assertEqual(body["error"], code)
        self.assertIsInstance(body["message"], str)
        self.assertGreater(len(body["message"]), 10)
        self.assertNotIn("Traceback", response.get_data(as_text=True))
        return body


class KeyValueTest(ApiTestCase):
    """The curl tour of the issue, field by field."""

    def test_write_then_read(self):
        """POST /write then GET /read/<key> returns the value and the replication details."""
        answer = write(self.client, "color", "blue")
        self.assertEqual(answer.status_code, 200)
        body = answer.get_json()
        for field in ("status", "key", "value", "version", "coordinator", "replicas", "acks",
                      "hints", "quorum", "story"):
            self.assertIn(field, body)
        self.assertEqual((body["status"], body["key"], body["value"]), ("success", "color", "blue"))
        self.assertEqual(body["replicas"], ["node-1", "node-4", "node-0"])
        read = self.client.get("/read/color").get_json()
        self.assertEqual(read["value"], "blue")
        self.assertEqual(read["version"], body["version"])
        self.assertEqual(len(read["replicas_read"]), 3)
        self.assertEqual(read["repaired"], [])

    def test_json_values_of_every_type(self):
        """Any JSON value round-trips: objects, lists, numbers, booleans, null."""
        for i, value in enumerate([{"a": [1, {"b": None}]}, [1, 2], 3.5, True, None, "", "ünï"]):
            self.assertEqual(write(self.client, f"k{i}", value).status_code, 200)
            self.assertEqual(self.client.get(f"/read/k{i}").get_json()["value"], value)

    def test_keys_with_slashes_colons_and_unicode(self):
        """Keys may contain /, //, :, spaces and unicode, written in the body and read in the path."""
        for key in ["energy:p1:12:00", "a/b/c", "a//b", "with space", "ключ", "50%", "q?x=1#y"]:
            self.assertEqual(write(self.client, key, key).status_code, 200, key)
            answer = self.client.get("/read/" + quote(key, safe="/:"))
            self.assertEqual(answer.status_code, 200, key)
            self.assertEqual(answer.get_json()["value"], key)

    def test_body_with_json_content_type_works_too(self):
        """A proper application/json body is accepted like curl's form-typed one."""
        answer = self.client.post("/write", json={"key": "k", "value": 1})
        self.assertEqual(answer.status_code, 200)

    def test_delete(self):
        """DELETE /delete/<key> writes a tombstone; the key then reads as 404."""
        write(self.client, "color", "blue")
        answer = self.client.delete("/delete/color")
        self.assertEqual(answer.status_code, 200)
        self.assertTrue(answer.get_json()["deleted"])
        body = self.assertError(self.client.get("/read/color"), 404, "key_not_found")
        self.assertIn("deleted", body["message"])
        self.assertError(self.client.delete("/delete/color"), 404, "key_not_found")

    def test_read_absent_key(self):
        """Reading a key never written is a 404 with the replicas that answered."""
        body = self.assertError(self.client.get("/read/nothing"), 404, "key_not_found")
        self.assertEqual(len(body["replicas_read"]), 3)

    def test_quorum_overrides(self):
        """w in the body and ?r= in the query override the configured quorums."""
        body = write(self.client, "k", 1, w=3).get_json()
        self.assertEqual(body["quorum"]["w"], 3)
        self.assertEqual(self.client.get("/read/k?r=1").get_json()["quorum"]["r"], 1)

    def test_keys_and_placement(self):
        """GET /keys lists live keys with holders; GET /placement/<key> explains the ring."""
        write(self.client, "color", "blue")
        write(self.client, "gone", 1)
        self.client.delete("/delete/gone")
        keys = self.client.get("/keys").get_json()
        self.assertEqual([k["key"] for k in keys["keys"]], ["color"])
        self.assertEqual(keys["deleted_keys"], ["gone"])
        self.assertEqual(keys["keys"][0]["held_by"], ["node-0", "node-1", "node-4"])
        place = self.client.get("/placement/energy:p1/12:00").get_json()
        self.assertEqual(place["key"], "energy:p1/12:00")
        self.assertEqual(len(place["preference_list"]), 3)
        self.assertEqual(place["coordinator"], place["preference_list"][0])

    def test_answers_are_indented(self):
        """Answers are pretty-printed JSON, readable in a terminal."""
        text = self.client.get("/health").get_data(as_text=True)
        self.assertIn('\n  "status": "success"', text)


class ClusterTest(ApiTestCase):
    """Nodes, failures and recovery over HTTP."""

    def test_nodes_listing(self):
        """GET /nodes lists every node with id, name, status, keys and hints."""
        write(self.client, "color", "blue")
        nodes = self.client.get("/nodes").get_json()["nodes"]
        self.assertEqual([n["node_id"] for n in nodes], [0, 1, 2, 3, 4])
        self.assertEqual({n["status"] for n in nodes}, {"alive"})
        self.assertEqual(sum(n["keys"] for n in nodes), 3)
        self.assertEqual(set(nodes[0]), {"node_id", "name", "status", "failure", "keys", "tombstones", "hints",
                                         "clock_skew_ms", "uncommitted_writes"})

    def test_the_issue_tour(self):
        """fail 1, write, recover 1: node 1 then holds color=green, and the answers say so."""
        write(self.client, "color", "blue")
        failed = self.client.post("/fail/1")
        self.assertEqual(failed.status_code, 200)
        self.assertEqual(failed.get_json()["message"], "node-1 is down (stop): it keeps its memory and disk, "
                                                       "but every message to or from it is dropped.")
        self.assertEqual(self.client.get("/nodes").get_json()["nodes"][1]["status"], "dead")
        green = write(self.client, "color", "green").get_json()
        self.assertEqual(green["hints"], [{"held_by": "node-2", "for": "node-1"}])
        recovered = self.client.post("/recover/1").get_json()
        self.assertTrue(recovered["message"].startswith("node-1 recovered"))
        self.assertIn("color", recovered["caught_up_keys"])
        node = self.client.get("/nodes/1").get_json()
        self.assertEqual(node["node"]["status"], "alive")
        self.assertEqual([(r["key"], r["value"]) for r in node["records"]], [("color", "green")])

    def test_node_detail_shows_tombstones_hints_and_cache(self):
        """GET /nodes/<id> shows tombstones, hints held and cache statistics."""
        write(self.client, "color", "blue")
        self.client.delete("/delete/color")
        self.client.post("/fail/1")
        write(self.client, "color", "red")
        holder = self.client.get("/nodes/2").get_json()
        self.assertEqual(holder["hints_held"][0]["for"], "node-1")
        self.assertIn("cache", holder)
        owner = self.client.get("/nodes/node-4").get_json()
        self.assertEqual(owner["records"][0]["value"], "red")

    def test_write_503_when_quorum_unreachable(self):
        """With 4 nodes down a write answers 503 naming the acks and where it landed."""
        for n in (1, 2, 3, 4):
            self.client.post(f"/fail/{n}")
        body = self.assertError(write(self.client, "color", "blue"), 503, "no_quorum")
        self.assertEqual(body["stored_on"], ["node-0"])
        self.assertEqual(body["quorum"], {"w": 2, "acks": 1, "met": False})
        self.assertIn("not confirmed", body["message"])
        self.assertTrue(body["story"])
        self.assertError(self.client.get("/read/color"), 503, "no_quorum")

    def test_health_config_and_index(self):
        """/health counts live nodes, /config shows settings, / lists endpoints."""
        self.client.post("/fail/0")
        health = self.client.get("/health").get_json()
        self.assertEqual((health["nodes_alive"], health["nodes_total"]), (4, 5))
        config = self.client.get("/config").get_json()["config"]
        self.assertEqual((config["nodes"], config["rf"]), (5, 3))
        self.assertIn("POST /write", self.client.get("/").get_json()["endpoints"])

    def test_index_lists_every_route_flask_serves(self):
        """GET / is generated from the URL map: every route appears, with a sentence about it."""
        endpoints = self.client.get("/").get_json()["endpoints"]
        for rule in self.app.url_map.iter_rules():
            if rule.rule in ("/read/", "/delete/", "/static/<path:filename>"):
                continue
            path = re.sub(r"<(?:\w+:)?(?:raw_)?(\w+)>", r"<\1>", rule.rule)
            for method in rule.methods - {"HEAD", "OPTIONS"}:
                self.assertTrue(endpoints.get(f"{method} {path}"), f"{method} {path} is not listed")
        self.assertIn("POST /network/drop/<id>", endpoints)
        self.assertIn("POST /network/duplicate/<id>", endpoints)

    def test_events_paging(self):
        """GET /events pages with since and limit and says whether more remain."""
        write(self.client, "color", "blue")
        first = self.client.get("/events?limit=3").get_json()
        self.assertEqual([e["seq"] for e in first["events"]], [1, 2, 3])
        self.assertTrue(first["more"])
        second = self.client.get(f"/events?since={first['next_since']}&limit=2").get_json()
        self.assertEqual([e["seq"] for e in second["events"]], [4, 5])
        types = {e["type"] for e in self.client.get("/events?limit=1000").get_json()["events"]}
        self.assertTrue({"cluster_started", "write_started", "message_sent", "message_delivered",
                         "replica_stored", "write_succeeded"} <= types)


class ErrorPathTest(ApiTestCase):
    """Wrong types, missing fields, oversize bodies, unknown ids, non-JSON bodies."""

    settings = {"max_value_bytes": 1000, "max_key_length": 20}

    def test_write_bad_bodies(self):
        """Each malformed /write body is a 400 with a sentence, and nothing is stored."""
        cases = [
            ("", "needs a JSON body"),
            ("not json", "not valid JSON"),
            ("{'key': 'a'}", "not valid JSON"),
            ('["key", "value"]', "must be a JSON object"),
            ('"just a string"', "must be a JSON object"),
            ('{"value": 1}', 'no "key"'),
            ('{"key": "a"}', 'no "value"'),
            ('{"key": 5, "value": 1}', "must be a string"),
            ('{"key": null, "value": 1}', "must be a string"),
            ('{"key": "", "value": 1}', "must not be empty"),
            ('{"key": "a", "value": 1, "vaule": 2}', "Unknown field"),
            ('{"key": "a", "value": 1, "w": "two"}', "w must be a whole number"),
            ('{"key": "a", "value": 1, "w": 9}', "w must be a whole number from 1"),
            ('{"key": "' + "k" * 21 + '", "value": 1}', "the limit is 20"),
            (b"\xff\xfe", "not valid JSON"),
        ]
        for body, expected in cases:
            with self.subTest(body=body):
                answer = self.client.post("/write", data=body)
                error = self.assertError(answer, 400)
                self.assertIn(expected, error["message"])
        self.assertEqual(sum(len(n.store.index) for n in self.cluster.nodes), 0)

    def test_oversize_value_and_body(self):
        """A value over max_value_bytes is 413; so is a body over the request limit."""
        body = self.assertError(write(self.client, "k", "x" * 1000), 413, "too_large")
        self.assertIn("limit is 1000 bytes", body["message"])
        huge = json.dumps({"key": "k", "value": "x" * 200_000})
        self.assertError(self.client.post("/write", data=huge), 413)
        self.assertEqual(write(self.client, "k", "x" * 900).status_code, 200)

    def test_read_and_delete_bad_input(self):
        """Bad quorum query values and over-long keys are 400s; a missing key is 400 too."""
        self.assertError(self.client.get("/read/k?r=abc"), 400)
        self.assertError(self.client.get("/read/k?r=0"), 400)
        self.assertError(self.client.get("/read/" + "k" * 21), 400)
        self.assertError(self.client.delete("/delete/k?w=x"), 400)
        self.assertError(self.client.get("/read/"), 400)
        self.assertError(self.client.delete("/delete/"), 400)

    def test_unknown_and_malformed_node_ids(self):
        """Unknown ids are 404 on every node route; non-numeric ids are 400."""
        for path in ("/fail/9", "/recover/9", "/fail/-1"):
            self.assertError(self.client.post(path), 404, "node_not_found")
        self.assertError(self.client.get("/nodes/9"), 404, "node_not_found")
        for path in ("/fail/abc", "/recover/1.5", "/fail/node-x"):
            self.assertError(self.client.post(path), 400)
        self.assertError(self.client.get("/nodes/zero"), 400)

    def test_state_conflicts(self):
        """Failing a dead node or recovering a live one is 409."""
        self.assertError(self.client.post("/recover/1"), 409, "conflict")
        self.client.post("/fail/1")
        self.assertError(self.client.post("/fail/1"), 409, "conflict")

    def test_unknown_routes_and_methods(self):
        """Unknown routes are JSON 404s; wrong methods are JSON 405s naming the right one."""
        self.assertError(self.client.get("/nope"), 404, "not_found")
        self.assertError(self.client.post("/nodes"), 405, "method_not_allowed")
        body = self.assertError(self.client.get("/write"), 405)
        self.assertIn("POST", body["message"])
        self.assertError(self.client.get("/fail/1"), 405)

    def test_events_bad_query(self):
        """Non-numeric or out-of-range since/limit are 400s."""
        for query in ("since=x", "limit=0", "limit=5000", "since=-1"):
            self.assertError(self.client.get(f"/events?{query}"), 400)

    def test_internal_errors_are_json_without_traceback(self):
        """An unexpected exception becomes a JSON 500 without a stack trace."""
        def boom(*args, **kwargs):
            raise RuntimeError("secret internals")
        self.cluster.nodes_view = boom
        import logging
        logging.getLogger("replicalab").disabled = True
        try:
            body = self.assertError(self.client.get("/nodes"), 500, "internal_error")
        finally:
            logging.getLogger("replicalab").disabled = False
        self.assertNotIn("secret internals", json.dumps(body))


class AdminTokenTest(ApiTestCase):
    """With an admin token configured, fault endpoints need it."""

    settings = {"admin_token": "s3cret"}

    def test_fault_endpoints_need_the_token(self):
        """fail/recover without or with a wrong token are 401; with it they work."""
        self.assertError(self.client.post("/fail/1"), 401, "unauthorized")
        self.assertError(self.client.post("/fail/1", headers={"Authorization": "Bearer nope"}), 401)
        ok = self.client.post("/fail/1", headers={"Authorization": "Bearer s3cret"})
        self.assertEqual(ok.status_code, 200)
        self.assertEqual(self.client.get("/config").get_json()["config"]["admin_token"], "(set)")

    def test_reads_and_writes_need_no_token(self):
        """Key-value routes stay open to students."""
        self.assertEqual(write(self.client, "k", 1).status_code, 200)


class NoTokenTest(ApiTestCase):
    """Without an admin token, an Authorization header is accepted and ignored."""

    def test_header_is_ignored(self):
        """A stray bearer header does not break fault endpoints."""
        answer = self.client.post("/fail/1", headers={"Authorization": "Bearer whatever"})
        self.assertEqual(answer.status_code, 200)


if __name__ == "__main__":
    unittest.main()
