"""Answers that agree with their own data: messages, health, node ids, hints (issue 10)."""
import unittest

from tests.helpers import make_app, write


class AnswerTestCase(unittest.TestCase):
    """A fresh app and client per test."""

    def setUp(self):
        self.app, self.client = make_app()

    def message(self, response, status=None):
        """The answer's message, after checking its status when one is given."""
        if status is not None:
            self.assertEqual(response.status_code, status, response.data)
        return response.get_json()["message"]


class WriteMessageTest(AnswerTestCase):
    """A write's message counts the nodes that stored it, as stored_on does."""

    def test_write_through_a_skewed_node_says_it_was_stored_nowhere(self):
        """Lab 4 step 10: every ack is kept_newer, so the message says nothing was stored."""
        write(self.client, "color", "blue")
        self.client.post("/nodes/4/clock", json={"skew_ms": -5000})
        write(self.client, "color", "fast", coordinator=1)
        body = write(self.client, "color", "slow", coordinator=4).get_json()
        self.assertEqual(body["stored_on"], [])
        self.assertTrue(all(a["outcome"] == "kept_newer" for a in body["acks"]))
        self.assertNotIn("Stored", body["message"])
        self.assertIn("stored nowhere", body["message"])

    def test_ordinary_write_counts_the_nodes_that_stored_it(self):
        """A write every replica applied says it was stored on as many nodes as stored_on lists."""
        body = write(self.client, "color", "blue").get_json()
        self.assertIn(f"Stored 'color' on {len(body['stored_on'])} nodes", body["message"])


class HealthTest(AnswerTestCase):
    """GET /health says ok, degraded or down in its body while answering 200."""

    def test_health_names_the_cluster_state(self):
        """All up is ok, one down is degraded, every node down is down (the server still answers 200)."""
        self.assertEqual(self.client.get("/health").get_json()["health"], "ok")
        self.client.post("/fail/1")
        self.assertEqual(self.client.get("/health").get_json()["health"], "degraded")
        for node in (0, 2, 3, 4):
            self.client.post(f"/fail/{node}")
        response = self.client.get("/health")
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response.get_json()["health"], "down")
        self.assertIn("Down", response.get_json()["message"])

    def test_health_is_down_below_the_quorum(self):
        """With fewer nodes alive than W, health is down even though some nodes answer."""
        for node in (1, 2, 3, 4):
            self.client.post(f"/fail/{node}")
        self.assertEqual(self.client.get("/health").get_json()["health"], "down")


class NodeIdTest(AnswerTestCase):
    """Node ids are accepted as 1 and "node-1" in bodies too."""

    def test_partition_groups_accept_node_names(self):
        """POST /partition takes "node-1" as well as 1, and mixes of both."""
        response = self.client.post("/partition", json={"groups": [["node-1", "2"]]})
        self.assertEqual(response.status_code, 200, response.data)
        self.assertEqual(response.get_json()["faults"]["partition"],
                         [["node-1", "node-2"], ["node-0", "node-3", "node-4"]])

    def test_coordinator_accepts_a_node_name(self):
        """A write's "coordinator": "node-4" picks node-4."""
        body = write(self.client, "color", "blue", coordinator="node-4").get_json()
        self.assertEqual(body["coordinator"], "node-4")

    def test_a_bad_node_name_is_still_refused(self):
        """A member that names no node is a 400 with an example of both spellings."""
        response = self.client.post("/partition", json={"groups": [["nodeX"]]})
        self.assertEqual(response.status_code, 400)
        self.assertIn('"node-1"', response.get_json()["message"])


class HintTest(AnswerTestCase):
    """Error hints fit the mistake."""

    def test_trailing_slash_is_named(self):
        """GET /nodes/ says to drop the trailing slash, not to read a key."""
        message = self.message(self.client.get("/nodes/"), 404)
        self.assertIn("trailing slash", message)
        self.assertNotIn("/read/", message)

    def test_form_body_is_named(self):
        """A form-encoded body is called form fields, not a quoting mistake."""
        response = self.client.post("/write", data="key=color&value=blue",
                                    content_type="application/x-www-form-urlencoded")
        message = self.message(response, 400)
        self.assertIn("form fields", message)
        self.assertNotIn("double quotes", message)

    def test_single_quotes_get_the_quoting_hint(self):
        """A body with single quotes is told to use double quotes."""
        message = self.message(self.client.post("/write", data="{'key': 'color'}"), 400)
        self.assertIn("double quotes", message)


class RecoverMessageTest(AnswerTestCase):
    """A quiet recovery does not claim it caught up."""

    def test_catch_up_none_does_not_claim_a_catch_up(self):
        """recover?catch_up=none says no catch-up ran instead of "caught up on 0 key(s)"."""
        self.client.post("/fail/1")
        message = self.message(self.client.post("/recover/1?catch_up=none"), 200)
        self.assertNotIn("caught up on", message)
        self.assertIn("without catching up", message)


class FailAnswerTest(AnswerTestCase):
    """POST /fail names the node and the mode; /nodes/<id> and a wipe use the stories' words."""

    def test_fail_says_the_node_the_mode_and_what_it_means(self):
        """Each mode's answer names node-1, the mode and what the node kept or lost; /nodes/1 says 'down (mode)'."""
        meanings = {"stop": "keeps its memory and disk", "crash": "lost its memory",
                    "wipe": "lost its memory and its disk"}
        for mode, meaning in meanings.items():
            with self.subTest(mode=mode):
                message = self.message(self.client.post(f"/fail/1?mode={mode}"), 200)
                self.assertTrue(message.startswith(f"node-1 is down ({mode}): "), message)
                self.assertIn(meaning, message)
                self.assertTrue(self.message(self.client.get("/nodes/1"), 200).startswith(f"node-1 is down ({mode}):"))
                self.assertNotIn("dead", self.message(self.client.get("/nodes/1")))
                self.message(self.client.post("/recover/1"), 200)
        self.assertTrue(self.message(self.client.get("/nodes/1")).startswith("node-1 is up:"))

    def test_a_wipe_names_the_keys_and_hints_it_lost(self):
        """A wiped node's answer lists the keys it held and the hints it kept (bounded), as a crash names its own."""
        for key in ("apple", "banana", "cherry", "date"):
            write(self.client, key, 1)
        self.client.post("/fail/1")
        answer = write(self.client, "color", "green").get_json()
        self.assertEqual(answer["hints"], [{"held_by": "node-2", "for": "node-1"}])
        held = sorted(r["key"] for r in self.client.get("/nodes/2").get_json()["records"])
        self.assertTrue(held)
        wiped = self.client.post("/fail/2?mode=wipe").get_json()
        self.assertEqual(wiped["lost"]["lost_keys"], held)
        self.assertEqual(wiped["lost"]["keys_lost"], len(held))
        self.assertEqual(wiped["lost"]["lost_hints"], ["color for node-1"])
        for name in held + ["color for node-1"]:
            self.assertIn(name, wiped["message"])


class JobAnswerTest(AnswerTestCase):
    """POST /scheduler/run/<job> says in a sentence what the job did, with the cluster clock's time."""

    def setUp(self):
        self.app, self.client = make_app(durability="batch")

    def test_each_cluster_job_says_what_it_did(self):
        """flush counts the writes it committed, hint_retry the hints handed back, anti_entropy its exchanges."""
        write(self.client, "color", "blue")
        self.client.post("/fail/4")
        write(self.client, "color", "green")                     # node-4's copy waits as a hint
        self.client.post("/recover/4?catch_up=none")
        flushed = self.client.post("/scheduler/run/flush").get_json()
        committed = sum(flushed["result"]["committed"].values())
        self.assertGreater(committed, 0)
        self.assertTrue(flushed["message"].startswith(f"Ran flush: committed {committed} pending writes to disk ("))
        self.assertIn("no write was pending", self.message(self.client.post("/scheduler/run/flush")))
        retried = self.client.post("/scheduler/run/hint_retry").get_json()
        self.assertEqual(retried["message"], "Ran hint_retry: handed back 1 hint in 1 handoff "
                                             f"({', '.join(retried['result']['delivered'])}); 0 hints still held.")
        entropy = self.client.post("/scheduler/run/anti_entropy").get_json()
        exchanges = len(entropy["result"]["exchanges"])
        self.assertRegex(entropy["message"], rf"^Ran anti-entropy round 1: {exchanges} exchanges of Merkle trees "
                                             r"between node pairs, \d+ keys? moved\.$")
        for answer in (flushed, retried, entropy):
            self.assertNotIn("now", answer["result"])
            self.assertIsInstance(answer["at_time_ms"], int)


if __name__ == "__main__":
    unittest.main()
