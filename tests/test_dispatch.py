"""Dispatch on the store: double booking under a partition, idempotency keys, movement, errors."""
import json
import unittest

from cluster.errors import ReplicaLabError
from models import node_id_of
from tests.helpers import make_app


def post(client, path, body=None, **kwargs):
    """POST a JSON body the way curl -d does; returns (status, answer)."""
    response = client.post(path, data=json.dumps(body) if body is not None else None, **kwargs)
    return response.status_code, response.get_json()


def two_dispatchers_across_a_partition(claim):
    """One drone, two deliveries; a dispatcher on each side of a partition assigns one delivery each.

    The side holding two of the drone's three replicas is the majority side.
    Returns (client, answer of side A, answer of side B) after healing.
    """
    _, client = make_app()
    post(client, "/dispatch/drones", {"id": "d1", "x": 0, "y": 0})
    post(client, "/dispatch/deliveries", {"id": "p1", "pickup": [3, 4], "dropoff": [10, 0]})
    post(client, "/dispatch/deliveries", {"id": "p2", "pickup": [-3, 4], "dropoff": [-10, 0]})
    owners = [node_id_of(n) for n in client.get("/placement/drone:d1").get_json()["preference_list"]]
    side_a, side_b = owners[:2], [n for n in range(5) if n not in owners[:2]]
    post(client, "/partition", {"groups": [side_a, side_b]})
    a = post(client, "/dispatch/assign", {"claim": claim, "delivery": "p1", "coordinator": side_a[0]})
    b = post(client, "/dispatch/assign", {"claim": claim, "delivery": "p2", "coordinator": side_b[0]})
    post(client, "/heal")
    return client, a, b


class DoubleBookingTest(unittest.TestCase):
    """The same partition scenario double-books with read-then-write and never with CAS."""

    def test_read_then_write_books_one_drone_twice_across_a_partition(self):
        """Both sides read d1 idle and both write it busy: the audit finds d1 held by p1 and p2."""
        client, (status_a, a), (status_b, b) = two_dispatchers_across_a_partition("read-write")
        self.assertEqual((status_a, status_b), (200, 200))
        self.assertEqual([x["drone"] for x in a["assigned"] + b["assigned"]], ["d1", "d1"])
        audit = client.get("/dispatch/audit").get_json()
        self.assertFalse(audit["ok"])
        self.assertEqual(audit["double_booked_drones"], [{"drone": "d1", "deliveries": ["p1", "p2"]}])

    def test_cas_lets_only_the_majority_side_claim_the_drone(self):
        """With CAS the majority side wins and the minority side gets 503; the audit is clean."""
        client, (status_a, a), (status_b, b) = two_dispatchers_across_a_partition("cas")
        self.assertEqual((status_a, status_b), (200, 503))
        self.assertEqual(a["assigned"][0]["drone"], "d1")
        self.assertEqual(b["failed"][0]["error"], "no_quorum")
        audit = client.get("/dispatch/audit").get_json()
        self.assertTrue(audit["ok"], audit)
        self.assertEqual(client.get("/dispatch/deliveries/p2").get_json()["delivery"]["status"], "waiting")

    def test_a_second_cas_claim_from_a_stale_read_is_a_409(self):
        """Two claims from the same read of the drone: the second CAS finds a newer version."""
        app, client = make_app()
        post(client, "/dispatch/drones", {"id": "d1", "x": 0, "y": 0})
        dispatch = app.extensions["replicalab_apps"].dispatch
        drone = dispatch.store.read("drone:d1")
        dispatch.store.cas("drone:d1", drone.version, {**drone.value, "status": "busy"})
        with self.assertRaises(ReplicaLabError) as caught:
            dispatch.store.cas("drone:d1", drone.version, {**drone.value, "status": "busy"})
        self.assertEqual(caught.exception.status, 409)


class IdempotencyKeyTest(unittest.TestCase):
    """Creating a delivery with an Idempotency-Key is safe to retry."""

    BODY = {"id": "p1", "pickup": [1, 1], "dropoff": [2, 2]}

    def test_a_repeat_returns_the_first_answer_and_creates_nothing(self):
        """The same key and body: 201 with the first answer (same version), one delivery stored."""
        _, client = make_app()
        headers = {"Idempotency-Key": "order-42"}
        first = post(client, "/dispatch/deliveries", self.BODY, headers=headers)
        again = post(client, "/dispatch/deliveries", self.BODY, headers=headers)
        self.assertEqual((first[0], again[0]), (201, 201))
        self.assertEqual(again[1]["delivery"], first[1]["delivery"])
        self.assertEqual((first[1]["idempotent_replay"], again[1]["idempotent_replay"]), (False, True))
        self.assertEqual(len(client.get("/dispatch/deliveries").get_json()["deliveries"]), 1)

    def test_the_same_key_with_another_body_is_422(self):
        """Reusing a key for a different request is refused, naming the first request."""
        _, client = make_app()
        headers = {"Idempotency-Key": "order-42"}
        post(client, "/dispatch/deliveries", self.BODY, headers=headers)
        status, answer = post(client, "/dispatch/deliveries", {**self.BODY, "dropoff": [9, 9]}, headers=headers)
        self.assertEqual((status, answer["error"]), (422, "unprocessable"))
        self.assertEqual(answer["first_request"], self.BODY)

    def test_without_a_key_a_repeat_is_a_409(self):
        """No key: the second identical request collides with the delivery the first created."""
        _, client = make_app()
        post(client, "/dispatch/deliveries", self.BODY)
        self.assertEqual(post(client, "/dispatch/deliveries", self.BODY)[0], 409)


class MovementAndErrorsTest(unittest.TestCase):
    """The movement job completes deliveries; bad input gets clear errors."""

    def test_the_move_job_picks_up_and_delivers(self):
        """Run by hand, the job moves the drone to pickup, then dropoff, then frees it."""
        _, client = make_app(dispatch_speed=5)
        post(client, "/dispatch/drones", {"id": "d1", "x": 0, "y": 0})
        post(client, "/dispatch/deliveries", {"id": "p1", "pickup": [3, 4], "dropoff": [3, 14]})
        post(client, "/dispatch/assign")
        results = [post(client, "/scheduler/run/dispatch_move")[1]["result"] for _ in range(3)]
        self.assertEqual(results[0]["arrived"], ["d1 picked up p1"])
        self.assertEqual(results[2]["arrived"], ["d1 delivered p1"])
        drone = client.get("/dispatch/drones").get_json()["drones"][0]
        self.assertEqual((drone["status"], drone["x"], drone["y"]), ("idle", 3, 14))
        self.assertEqual(client.get("/dispatch/deliveries/p1").get_json()["delivery"]["status"], "delivered")

    def test_complete_by_hand_frees_the_drone(self):
        """POST .../complete delivers and frees; a second time is 409."""
        _, client = make_app()
        post(client, "/dispatch/drones", {"id": "d1", "x": 0, "y": 0})
        post(client, "/dispatch/deliveries", {"id": "p1", "pickup": [3, 4], "dropoff": [3, 14]})
        self.assertEqual(post(client, "/dispatch/deliveries/p1/complete")[0], 409)  # not assigned yet
        post(client, "/dispatch/assign")
        status, answer = post(client, "/dispatch/deliveries/p1/complete")
        self.assertEqual((status, answer["delivery"]["drone_freed"]), (200, True))
        self.assertEqual(post(client, "/dispatch/deliveries/p1/complete")[0], 409)

    def test_records_written_by_hand_under_the_app_prefixes_are_skipped(self):
        """A /write of 'drone:x' or 'sensor:y' that is not the app's shape is ignored, not a 500."""
        _, client = make_app()
        for key, value in (("drone:x", {"status": "idle"}), ("delivery:y", 3), ("sensor:z", "hot")):
            client.post("/write", data=json.dumps({"key": key, "value": value}))
        post(client, "/dispatch/drones", {"id": "d1", "x": 0, "y": 0})
        post(client, "/dispatch/deliveries", {"id": "p1", "pickup": [3, 4], "dropoff": [3, 14]})
        status, answer = post(client, "/dispatch/assign")
        self.assertEqual((status, [a["drone"] for a in answer["assigned"]]), (200, ["d1"]))
        self.assertEqual(client.get("/dispatch/audit").status_code, 200)
        self.assertEqual(client.get("/sensors").get_json()["sensors"], [])
        self.assertEqual(client.get("/sensors/z").status_code, 404)

    def test_bad_input_is_refused_with_a_sentence(self):
        """Malformed ids, points and claims are 400; unknown deliveries 404; duplicate drones 409."""
        _, client = make_app()
        cases = [("/dispatch/drones", {"id": "d 1", "x": 0, "y": 0}, 400),
                 ("/dispatch/drones", {"id": "d1", "x": "0", "y": 0}, 400),
                 ("/dispatch/drones", {"id": "d1", "x": 0}, 400),
                 ("/dispatch/deliveries", {"id": "p1", "pickup": [1], "dropoff": [2, 2]}, 400),
                 ("/dispatch/deliveries", {"id": "p1", "pickup": [1, True], "dropoff": [2, 2]}, 400),
                 ("/dispatch/assign", {"claim": "optimistic"}, 400),
                 ("/dispatch/assign", {"delivery": "nope"}, 404),
                 ("/dispatch/deliveries/nope/complete", None, 404)]
        for path, body, expected in cases:
            with self.subTest(path=path, body=body):
                status, answer = post(client, path, body)
                self.assertEqual((status, answer["status"]), (expected, "error"))
                self.assertTrue(answer["message"])
        self.assertEqual(client.get("/dispatch/deliveries/nope").status_code, 404)
        post(client, "/dispatch/drones", {"id": "d1", "x": 0, "y": 0})
        self.assertEqual(post(client, "/dispatch/drones", {"id": "d1", "x": 1, "y": 1})[0], 409)


class ApplicationsReplayTest(unittest.TestCase):
    """A run through the applications replays to the same event log."""

    def test_a_scenario_with_dispatch_sensors_and_alerts_replays_byte_for_byte(self):
        """Seeded faults, CAS claims, jobs and a flaky notifier: the replayed digest is the recorded one."""
        from cluster.scenario import event_digest
        from labs.replay import replay
        _, client = make_app(seed=4)
        post(client, "/faults/network", {"drop_rate": 0.2, "duplicate_rate": 0.2, "delay_ms": [0, 40]})
        post(client, "/dispatch/drones", {"id": "d1", "x": 0, "y": 0})
        post(client, "/dispatch/deliveries", {"id": "p1", "pickup": [3, 4], "dropoff": [10, 0]})
        for path in ("/dispatch/assign", "/scheduler/run/dispatch_move", "/scheduler/run/sensor_simulate"):
            post(client, path)
        post(client, "/alerts/rules", {"sensor": "floor-1", "above": 20})
        post(client, "/alerts/notifier", {"fail_rate": 0.5})
        for job in ("alert_rules", "alert_outbox", "alert_outbox"):
            post(client, f"/scheduler/run/{job}")
        exported = client.get("/scenario").get_json()
        replayed, _ = replay(exported)
        events = replayed.extensions["replicalab"].events.page(0, 10 ** 9)
        self.assertEqual(event_digest(events), exported["event_digest"])
        self.assertGreater(len(events), 300)


if __name__ == "__main__":
    unittest.main()
