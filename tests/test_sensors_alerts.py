"""Sensors and alerts on the store: statistics, quorum loss, crossings, the breaker, exactly-once delivery."""
import json
import unittest

from apps.breaker import CLOSED, HALF_OPEN, OPEN, CircuitBreaker
from models import node_id_of
from tests.helpers import make_app


def post(client, path, body=None):
    """POST a JSON body the way curl -d does; returns (status, answer)."""
    response = client.post(path, data=json.dumps(body) if body is not None else None)
    return response.status_code, response.get_json()


def job(client, name):
    """Run one scheduler job by hand; returns its result."""
    status, answer = post(client, f"/scheduler/run/{name}")
    assert status == 200, answer
    return answer["result"]


def readings(client, sensor, values, start=1000):
    """Post one reading per value at times start, start+1000, ..."""
    batch = [{"sensor": sensor, "value": v, "at": start + 1000 * i} for i, v in enumerate(values)]
    return post(client, "/sensors/readings", {"readings": batch})


class SensorsTest(unittest.TestCase):
    """Readings are stored with CAS; statistics and anomalies come from the window."""

    def test_statistics_and_anomalies_over_the_window(self):
        """count, min, max, mean, std are those of the readings; a spike is flagged by threshold and z-score."""
        _, client = make_app(sensor_threshold=40, sensor_z=2)
        self.assertEqual(readings(client, "floor-1", [10, 10, 10, 10, 10, 10, 10, 50])[0], 201)
        stats = client.get("/sensors/floor-1").get_json()
        self.assertEqual((stats["count"], stats["min"], stats["max"], stats["mean"]), (8, 10, 50, 15.0))
        self.assertAlmostEqual(stats["std"], 13.229, places=3)
        self.assertEqual(stats["last"], {"at": 8000, "value": 50})
        [spike] = stats["anomalies"]
        self.assertEqual(spike["value"], 50)
        self.assertEqual(spike["reasons"], ["above threshold 40", "z-score 2.65"])
        self.assertEqual(client.get("/sensors").get_json()["sensors"][0]["sensor"], "floor-1")

    def test_the_window_keeps_only_the_newest_readings(self):
        """With a window of 3, statistics cover the last three readings; the total counts all."""
        _, client = make_app(sensor_window=3)
        readings(client, "s", [1, 2, 3, 4, 5])
        stats = client.get("/sensors/s").get_json()
        self.assertEqual((stats["count"], stats["min"], stats["total_readings"]), (3, 3, 5))

    def test_readings_are_refused_during_a_quorum_loss_and_a_retry_counts_once(self):
        """Two of the key's replicas down: 503 with retry; after recovery the same request stores it once."""
        _, client = make_app()
        readings(client, "floor-9", [20])
        owners = [node_id_of(n) for n in client.get("/placement/sensor:floor-9").get_json()["preference_list"]]
        for n in owners[:2]:
            post(client, f"/fail/{n}")
        body = {"sensor": "floor-9", "value": 21, "at": 5000}
        status, refused = post(client, "/sensors/readings", body)
        self.assertEqual((status, refused["error"], refused["retry"]), (503, "no_quorum", True))
        self.assertIn("Retry", refused["message"])
        for n in owners[:2]:
            post(client, f"/recover/{n}")
        self.assertEqual(post(client, "/sensors/readings", body)[0], 201)
        status, again = post(client, "/sensors/readings", body)
        self.assertEqual(again["stored"]["floor-9"]["duplicates_ignored"], 1)
        stats = client.get("/sensors/floor-9").get_json()
        self.assertEqual((stats["count"], stats["total_readings"]), (2, 2))

    def test_the_simulated_building_is_seeded(self):
        """Two clusters with the same seed simulate the same readings."""
        runs = []
        for _ in range(2):
            _, client = make_app(seed=5)
            for _ in range(4):
                job(client, "sensor_simulate")
            runs.append([(s["sensor"], s["mean"], s["count"]) for s in client.get("/sensors").get_json()["sensors"]])
        self.assertEqual(runs[0], runs[1])
        self.assertEqual(len(runs[0]), 3)

    def test_scheduled_application_jobs_skip_while_the_network_is_paused(self):
        """In step mode a scheduled simulation would wait on a student's steps, so it skips its turn."""
        app, client = make_app()
        scheduler = app.extensions["replicalab_scheduler"]
        post(client, "/network/pause")
        scheduler._scheduled("sensor_simulate")
        self.assertNotIn("sensor_simulate", scheduler.last)
        post(client, "/network/resume")
        scheduler._scheduled("sensor_simulate")
        self.assertEqual(len(scheduler.last["sensor_simulate"]["result"]["stored"]), 3)

    def test_bad_readings_are_400_and_unknown_sensors_404(self):
        """Missing fields, wrong types, negative times and empty batches are refused with a sentence."""
        _, client = make_app()
        body: dict
        for body in ({"value": 1}, {"sensor": "s", "value": "1"}, {"sensor": "s", "value": 1, "at": -1},
                     {"sensor": "s 1", "value": 1}, {"readings": []}, {"readings": [{"sensor": "s"}]},
                     {"sensor": "s", "value": 1, "unit": "kW"}):
            with self.subTest(body=body):
                status, answer = post(client, "/sensors/readings", body)
                self.assertEqual((status, answer["status"]), (400, "error"))
        self.assertEqual(client.get("/sensors/nope").status_code, 404)


class BreakerTest(unittest.TestCase):
    """closed -> open after N failures -> half-open after the cooldown -> closed or open."""

    def test_transitions(self):
        """Three failures open it; it refuses calls until the cooldown; a failed trial reopens, a good one closes."""
        breaker = CircuitBreaker(failure_threshold=3, cooldown_ms=1000)
        for t in range(3):
            self.assertTrue(breaker.allow(t))
            breaker.failure(t)
        self.assertEqual(breaker.state, OPEN)
        self.assertFalse(breaker.allow(500))
        self.assertTrue(breaker.allow(1002))
        self.assertEqual(breaker.state, HALF_OPEN)
        self.assertFalse(breaker.allow(1002), "only one trial call while half-open")
        breaker.failure(1003)
        self.assertEqual(breaker.state, OPEN)
        self.assertTrue(breaker.allow(2003))
        breaker.success(2004)
        self.assertEqual(breaker.state, CLOSED)
        self.assertEqual([t["to"] for t in breaker.transitions], [OPEN, HALF_OPEN, OPEN, HALF_OPEN, CLOSED])
        self.assertEqual(breaker.rejected, 2)

    def test_a_success_resets_the_failure_count(self):
        """Failures must be consecutive to open the breaker."""
        breaker = CircuitBreaker(failure_threshold=2, cooldown_ms=1000)
        breaker.failure(0)
        breaker.success(1)
        breaker.failure(2)
        self.assertEqual(breaker.state, CLOSED)


class AlertsTest(unittest.TestCase):
    """Rules fire once per crossing; the outbox delivers each alert exactly once."""

    def setUp(self):
        """A cluster whose breaker opens after two failures and cools down in one second."""
        self.app, self.client = make_app(breaker_failures=2, breaker_cooldown_ms=1000)

    def fire_two_alerts(self):
        """Rule floor-1 above 30 and readings that cross it twice."""
        post(self.client, "/alerts/rules", {"sensor": "floor-1", "above": 30})
        readings(self.client, "floor-1", [10, 35, 36, 12, 40])
        return job(self.client, "alert_rules")

    def test_one_alert_per_crossing_not_per_reading(self):
        """Five readings, three above 30 in two runs: two alerts; evaluating again fires nothing."""
        self.assertEqual(self.fire_two_alerts()["fired"], ["r1-2000", "r1-5000"])
        self.assertEqual(job(self.client, "alert_rules")["fired"], [])
        self.assertEqual(len(self.client.get("/alerts").get_json()["alerts"]), 2)

    def test_exactly_once_with_a_failing_then_recovering_notifier(self):
        """Failures trip the breaker, the outbox holds the alerts, and after recovery each is delivered once."""
        self.fire_two_alerts()
        post(self.client, "/alerts/notifier", {"fail_rate": 1.0})
        first = job(self.client, "alert_outbox")
        self.assertEqual((len(first["failed"]), first["breaker"]), (2, "open"))
        held = job(self.client, "alert_outbox")
        self.assertEqual((held["sent"], len(held["held_by_breaker"])), ([], 2))
        post(self.client, "/alerts/notifier", {"fail_rate": 0.0})
        post(self.client, "/tick", {"ms": 1000})
        recovered = job(self.client, "alert_outbox")
        self.assertEqual(len(recovered["sent"]), 2)
        self.assertEqual(job(self.client, "alert_outbox")["sent"], [])
        view = self.client.get("/alerts/notifier").get_json()
        self.assertEqual(view["notifier"]["deliveries_per_alert"], {"r1-2000": 1, "r1-5000": 1})
        self.assertEqual([t["to"] for t in view["breaker"]["transitions"]], [OPEN, HALF_OPEN, CLOSED])
        statuses = [a["outbox"]["status"] for a in self.client.get("/alerts").get_json()["alerts"]]
        self.assertEqual(statuses, ["delivered", "delivered"])

    def test_a_retry_after_a_timeout_is_suppressed_by_the_alert_id(self):
        """A slow notifier delivers but times out; the retry carries the same id and is not delivered again."""
        self.app, self.client = make_app(breaker_failures=5)  # two timeouts must not open it
        self.fire_two_alerts()
        post(self.client, "/alerts/notifier", {"delay_ms": 1500})
        self.assertEqual(len(job(self.client, "alert_outbox")["failed"]), 2)
        post(self.client, "/alerts/notifier", {"delay_ms": 0})
        self.assertEqual(len(job(self.client, "alert_outbox")["sent"]), 2)
        view = self.client.get("/alerts/notifier").get_json()["notifier"]
        self.assertEqual((view["calls"], view["duplicates_suppressed"]), (4, 2))
        self.assertEqual(view["deliveries_per_alert"], {"r1-2000": 1, "r1-5000": 1})

    def test_without_the_id_check_the_retry_sends_twice(self):
        """The same retry with deduplication off delivers each alert twice."""
        self.app, self.client = make_app(breaker_failures=5)  # two timeouts must not open it
        self.fire_two_alerts()
        post(self.client, "/alerts/notifier", {"delay_ms": 1500, "dedupe": False})
        job(self.client, "alert_outbox")
        post(self.client, "/alerts/notifier", {"delay_ms": 0, "dedupe": False})
        job(self.client, "alert_outbox")
        view = self.client.get("/alerts/notifier").get_json()["notifier"]
        self.assertEqual(view["deliveries_per_alert"], {"r1-2000": 2, "r1-5000": 2})

    def test_rules_crud_and_bad_rules(self):
        """Rules are listed and deleted; bad rules are 400, unknown ones 404."""
        post(self.client, "/alerts/rules", {"sensor": "floor-1", "below": 5})
        status, anomaly = post(self.client, "/alerts/rules", {"sensor": "floor-2", "anomaly": True})
        self.assertEqual((status, anomaly["rule"]["id"]), (201, "r2"))
        self.assertEqual([r["id"] for r in self.client.get("/alerts/rules").get_json()["rules"]], ["r1", "r2"])
        self.assertEqual(self.client.delete("/alerts/rules/r1").status_code, 200)
        self.assertEqual(self.client.delete("/alerts/rules/r1").status_code, 404)
        self.assertEqual([r["id"] for r in self.client.get("/alerts/rules").get_json()["rules"]], ["r2"])
        for body in ({"above": 3}, {"sensor": "s"}, {"sensor": "s", "above": 1, "below": 0},
                     {"sensor": "s", "anomaly": False}, {"sensor": "s", "above": "3"}):
            with self.subTest(body=body):
                self.assertEqual(post(self.client, "/alerts/rules", body)[0], 400)
        for body in ({"fail_rate": 2}, {"delay_ms": -1}, {"dedupe": "no"}, {"fail": 1}):
            with self.subTest(body=body):
                self.assertEqual(post(self.client, "/alerts/notifier", body)[0], 400)


if __name__ == "__main__":
    unittest.main()
