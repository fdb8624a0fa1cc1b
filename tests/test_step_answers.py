"""Step-mode answers tell the whole story, and a read asks stand-ins only to meet R (issue 10)."""
import threading
import unittest

from tests.helpers import make_app, write


class StepStoryTest(unittest.TestCase):
    """Lab 5 steps 6-8: drop a put, then step the ack that releases the waiting write."""

    def setUp(self):
        self.app, self.client = make_app(client_timeout_ms=10_000)
        self.cluster = self.app.extensions["replicalab"]
        self.client.post("/network/pause")
        self.answer: dict = {}

        def run():
            response = write(self.app.test_client(), "color", "blue")
            self.answer.update(status=response.status_code, body=response.get_json())
        self.thread = threading.Thread(target=run)
        self.thread.start()
        with self.cluster.lock:  # event-driven, bounded wait until the request is parked
            self.assertTrue(self.cluster.changed.wait_for(lambda: self.cluster.parked >= 1, timeout=10))
        self.puts = [m["id"] for m in self.client.get("/network/messages").get_json()["messages"]]

    def tearDown(self):
        self.client.post("/network/resume")
        self.thread.join(10)

    def test_drop_answers_with_the_dropped_message(self):
        """POST /network/drop/<id> tells in its story which message was lost."""
        story = self.client.post(f"/network/drop/{self.puts[1]}").get_json()["story"]
        self.assertEqual(len(story), 1)
        self.assertIn(f"dropped message {self.puts[1]}", story[0])

    def test_the_step_that_releases_the_write_says_so(self):
        """The step delivering the quorum's ack narrates the answer and no longer counts the request as waiting."""
        self.client.post(f"/network/deliver/{self.puts[0]}")
        self.client.post(f"/network/drop/{self.puts[1]}")
        stepped = self.client.post("/network/step").get_json()
        self.assertEqual(stepped["waiting_requests"], 0)
        self.assertTrue(any("client is answered now" in line for line in stepped["story"]), stepped["story"])
        self.thread.join(10)
        body = self.answer["body"]
        self.assertEqual(self.answer["status"], 200)
        self.assertEqual(body["waiting_for"], ["node-0"])
        self.assertIn("No answer yet from node-0", body["message"])
        self.assertTrue(any("W=2" in line and "answered now" in line for line in body["story"]))

    def test_the_writes_story_tells_the_hand_drop_that_explains_waiting_for(self):
        """The write's own answer tells the put to node-0 dropped by hand, the reason waiting_for names node-0."""
        self.client.post(f"/network/deliver/{self.puts[0]}")
        self.client.post(f"/network/drop/{self.puts[1]}")
        self.client.post("/network/step")
        self.thread.join(10)
        body = self.answer["body"]
        self.assertEqual(body["waiting_for"], ["node-0"])
        dropped = [line for line in body["story"] if f"dropped message {self.puts[1]}" in line]
        self.assertEqual(len(dropped), 1, body["story"])
        self.assertIn("node-0", dropped[0])
        self.assertIn("(dropped by hand)", dropped[0])


class ReadStandInTest(unittest.TestCase):
    """A read asks a stand-in only while it has fewer than R answers."""

    def setUp(self):
        self.app, self.client = make_app()
        write(self.client, "color", "blue")
        self.client.post("/fail/4")

    def test_r1_read_asks_no_stand_in(self):
        """With R=1 met by the coordinator's own copy, no stand-in is asked and the wait says why."""
        body = self.client.get("/read/color?r=1").get_json()
        self.assertFalse(any("stand in" in line for line in body["story"]), body["story"])
        self.assertFalse(any(a["stands_in_for"] for a in body["replicas_read"]))
        timeout = [line for line in body["story"] if "gave up waiting" in line]
        self.assertEqual(len(timeout), 1)
        self.assertIn("R=1 was already met", timeout[0])

    def test_stand_in_still_fills_a_read_quorum(self):
        """With two replicas down, R=2 needs a stand-in, and one is asked."""
        self.client.post("/fail/0")
        body = self.client.get("/read/color").get_json()
        self.assertTrue(any("stand in" in line for line in body["story"]), body["story"])


if __name__ == "__main__":
    unittest.main()
