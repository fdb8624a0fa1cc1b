"""Step mode: pause the network, move messages by hand, tick time, 504 on impatience."""
import json
import threading
import unittest

from tests.helpers import make_app, write


class StepModeTest(unittest.TestCase):
    """A write waits on held messages while a student moves them one by one."""

    settings = {"client_timeout_ms": 10_000}

    def setUp(self):
        self.app, self.client = make_app(**self.settings)
        self.cluster = self.app.extensions["replicalab"]

    def start_write(self, key="color", value="blue"):
        """POST /write on another thread; returns (thread, dict filled with the answer)."""
        answer: dict = {}

        def run():
            response = write(self.app.test_client(), key, value)
            answer.update(status=response.status_code, body=response.get_json())
        thread = threading.Thread(target=run)
        thread.start()
        with self.cluster.lock:  # wait (event-driven, bounded) until the request is parked
            self.assertTrue(self.cluster.changed.wait_for(lambda: self.cluster.parked >= 1 or answer,
                                                          timeout=10))
        return thread, answer

    def held(self):
        return self.client.get("/network/messages").get_json()["messages"]

    def test_pause_holds_messages_and_deliver_completes_the_write(self):
        """Paused, a write's puts are listed; delivering puts and acks answers the write."""
        self.assertEqual(self.client.post("/network/pause").status_code, 200)
        thread, answer = self.start_write()
        messages = self.held()
        self.assertEqual([(m["kind"], m["to"]) for m in messages], [("put", "node-4"), ("put", "node-0")])
        self.assertEqual(answer, {})  # still waiting: only the coordinator's own copy is acked
        for message in messages:
            self.client.post(f"/network/deliver/{message['id']}")
        acks = self.held()
        self.assertEqual({m["kind"] for m in acks}, {"put_ack"})
        self.client.post(f"/network/deliver/{acks[0]['id']}")  # second ack: W=2 met
        thread.join(10)  # answered now, although one ack is still held
        self.assertEqual(answer["status"], 200)
        self.assertEqual(answer["body"]["quorum"], {"w": 2, "acks": 2, "met": True})
        self.assertEqual(len(self.held()), 1)
        self.assertEqual(self.client.post("/network/resume").status_code, 200)
        self.assertEqual(self.held(), [])

    def test_step_delivers_in_network_order(self):
        """POST /network/step delivers the first message of the listing each time."""
        self.client.post("/network/pause")
        thread, answer = self.start_write()
        while self.held():
            first = self.held()[0]["id"]
            stepped = self.client.post("/network/step").get_json()
            self.assertEqual(stepped["delivered"], first)
        thread.join(10)
        self.assertEqual(answer["status"], 200)

    def test_dropped_put_times_out_after_a_tick_and_a_stand_in_gets_a_hint(self):
        """Drop a replica's put: the client is answered at W=2; a tick later, a hinted put appears."""
        self.client.post("/network/pause")
        thread, answer = self.start_write()
        to_node4, to_node0 = self.held()
        self.client.post(f"/network/drop/{to_node4['id']}")
        self.client.post(f"/network/deliver/{to_node0['id']}")
        self.client.post("/network/step")  # node-0's ack: W=2 is met
        thread.join(10)
        self.assertEqual(answer["status"], 200)
        self.assertEqual(answer["body"]["hints"], [])  # node-4 is not given up on yet
        self.assertEqual(self.held(), [])
        ticked = self.client.post("/tick", data=json.dumps({"ms": 100})).get_json()
        hinted = [m for m in ticked["messages"] if "hint for node-4" in m["summary"]]
        self.assertEqual(len(hinted), 1)
        self.assertTrue(any("gave up waiting 100ms for node-4" in line for line in ticked["story"]))
        self.client.post("/network/resume")
        holder = self.client.get("/nodes/2").get_json()
        self.assertEqual(holder["hints_held"][0]["for"], "node-4")

    def test_duplicate_is_delivered_twice_and_acked_as_already_had(self):
        """A duplicated put reaches the replica twice; the second time it already had it."""
        self.client.post("/network/pause")
        thread, answer = self.start_write()
        first = self.held()[0]
        copy = self.client.post(f"/network/duplicate/{first['id']}").get_json()["copy_id"]
        self.client.post(f"/network/deliver/{first['id']}")
        self.client.post(f"/network/deliver/{copy}")
        outcomes = sorted(m["summary"] for m in self.held() if m["kind"] == "put_ack")
        self.assertEqual(outcomes, ["ack color", "ack color (already had)"])
        self.client.post("/network/resume")
        thread.join(10)
        self.assertEqual(answer["status"], 200)

    def test_time_stands_still_while_paused(self):
        """While paused, simulated time moves only with /tick."""
        self.client.post("/network/pause")
        before = self.client.get("/network/messages").get_json()["time_ms"]
        after = self.client.post("/tick", data='{"ms": 250}').get_json()["time_ms"]
        self.assertEqual(after - before, 250)

    def test_step_mode_errors(self):
        """Unknown or malformed message ids, nothing to step, double pause/resume, bad ticks."""
        cases = [
            (self.client.post("/network/resume"), 409),
            (self.client.post("/network/step"), 409),
            (self.client.post("/network/deliver/99"), 404),
            (self.client.post("/network/drop/abc"), 400),
            (self.client.post("/network/duplicate/99"), 404),
            (self.client.post("/tick", data='{"ms": 0}'), 400),
            (self.client.post("/tick", data='{"ms": "5"}'), 400),
            (self.client.post("/tick", data='{"seconds": 5}'), 400),
            (self.client.post("/tick", data="five"), 400),
            (self.client.get("/network/pause"), 405),
        ]
        self.client.post("/network/pause")
        cases.append((self.client.post("/network/pause"), 409))
        for answer, status in cases:
            body = answer.get_json()
            self.assertEqual(answer.status_code, status, body)
            self.assertEqual(body["status"], "error")
            self.assertTrue(body["message"])


class ImpatientClientTest(unittest.TestCase):
    """A client whose patience runs out gets 504 with the acks so far; the write goes on."""

    def test_504_with_acks_so_far_and_the_write_finishes_later(self):
        """After client_timeout_ms the answer is 504 naming the acks; resuming completes the write."""
        app, client = make_app(client_timeout_ms=50)
        cluster = app.extensions["replicalab"]
        client.post("/network/pause")
        answer = write(client, "color", "blue")  # waits 50 ms of real time, then gives up
        body = answer.get_json()
        self.assertEqual(answer.status_code, 504)
        self.assertEqual(body["error"], "timeout")
        self.assertEqual(body["quorum"], {"w": 2, "acks": 1, "met": False})
        self.assertEqual(body["waiting_for"], ["node-0", "node-4"])
        self.assertIn("goes on inside the cluster", body["message"])
        client.post("/network/resume")
        done = [e for e in cluster.events.page(0, 10**6) if e.type == "write_succeeded"]
        self.assertEqual(len(done), 1)
        self.assertEqual(client.get("/read/color").get_json()["value"], "blue")

    def test_a_504_names_key_coordinator_and_replicas_like_every_write_answer(self):
        """The 504 of a write and of a read carry key, coordinator and replicas, as their 200s do."""
        app, client = make_app(client_timeout_ms=50)
        ok = write(client, "color", "blue").get_json()
        client.post("/network/pause")
        answers = (write(client, "color", "red", coordinator=1), client.get("/read/color?coordinator=4"))
        for answer, coordinator in zip(answers, ("node-1", "node-4")):
            body = answer.get_json()
            self.assertEqual(answer.status_code, 504)
            self.assertEqual(body["key"], "color")
            self.assertEqual(body["replicas"], ok["replicas"])
            self.assertEqual(body["coordinator"], coordinator)
        client.post("/network/resume")


if __name__ == "__main__":
    unittest.main()
