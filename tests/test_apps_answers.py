"""The applications' answers agree with their data, refuse typos clearly, and narrate what they do."""
import json
import unittest

from tests.helpers import make_app, write


def post(client, path, body):
    return client.post(path, data=json.dumps(body))


class CasExpectedVersionTest(unittest.TestCase):
    """`expected` is a version text; a malformed one is a 400, never a misleading 409."""

    def setUp(self):
        self.app, self.client = make_app()
        self.version = write(self.client, "k", 1).get_json()["version"]["text"]

    def test_the_v_prefix_the_stories_print_is_accepted(self):
        """Stories print versions as v27@node-4; copying that works."""
        answer = post(self.client, "/cas", {"key": "k", "expected": "v" + self.version, "value": 2})
        self.assertEqual(answer.status_code, 200, answer.get_json()["message"])

    def test_malformed_versions_are_400(self):
        """A negative timestamp, an unknown node or garbage is refused with a sentence naming the form."""
        for bad in ["-5@node-1", "12@node-99", "27@node", "latest", 5, ["1@node-0"]]:
            answer = post(self.client, "/cas", {"key": "k", "expected": bad, "value": 2})
            self.assertEqual(answer.status_code, 400, bad)
            self.assertIn("version text", answer.get_json()["message"])

    def test_a_cas_that_loses_for_lack_of_majority_says_who_answered(self):
        """The 503 names how many replicas agreed and which stayed silent, as its rounds show."""
        manager = self.app.extensions["replicalab"]
        replicas = manager.ring.preference_list("k")
        for node in replicas[1:]:
            self.client.post(f"/fail/{node}")
        answer = post(self.client, "/cas", {"key": "k", "expected": self.version, "value": 2})
        self.assertEqual(answer.status_code, 503)
        message = answer.get_json()["message"]
        self.assertIn("1 agreed", message)
        self.assertIn("stayed silent", message)


class SensorReadingIdentityTest(unittest.TestCase):
    """A reading is identified by its sensor and time."""

    def setUp(self):
        self.app, self.client = make_app()

    def test_same_time_different_value_is_a_duplicate(self):
        """Two readings of one sensor at the same millisecond count once, whatever their values."""
        first = post(self.client, "/sensors/readings", {"sensor": "s", "value": 22, "at": 10000})
        second = post(self.client, "/sensors/readings", {"sensor": "s", "value": 23, "at": 10000})
        self.assertEqual(first.status_code, 201)
        self.assertEqual(second.get_json()["stored"]["s"]["added"], 0)
        self.assertEqual(self.client.get("/sensors/s").get_json()["total_readings"], 1)

    def test_a_duplicate_creates_no_new_version_and_says_so(self):
        """Nothing new: 200, the same version, and a message that does not claim anything was stored."""
        first = post(self.client, "/sensors/readings", {"sensor": "s", "value": 22, "at": 10000}).get_json()
        again = post(self.client, "/sensors/readings", {"sensor": "s", "value": 22, "at": 10000})
        self.assertEqual(again.status_code, 200)
        body = again.get_json()
        self.assertEqual(body["stored"]["s"]["version"], first["stored"]["s"]["version"])
        self.assertIn("nothing new", body["message"])
        self.assertFalse(any("paxos" in line.lower() for line in body["story"]))

    def test_huge_times_and_numbers_are_refused_with_the_limit(self):
        """`at` beyond 2^53 and values beyond 1e9 are 400s that state the limit, shown as JSON."""
        answer = post(self.client, "/sensors/readings", {"sensor": "s", "value": 1, "at": 10 ** 23})
        self.assertEqual(answer.status_code, 400)
        self.assertIn(str(2 ** 53), answer.get_json()["message"])
        answer = post(self.client, "/sensors/readings", {"sensor": "s", "value": 1e300})
        self.assertIn("between -1,000,000,000 and 1,000,000,000", answer.get_json()["message"])
        answer = post(self.client, "/dispatch/drones", {"id": "d1", "x": True, "y": 0})
        self.assertIn("(got true)", answer.get_json()["message"])


class NarrationTest(unittest.TestCase):
    """The notifier, the outbox and the breaker tell the console what they do."""

    def test_breaker_notifier_and_alerts_are_narrated(self):
        """Configuring the notifier, firing, failing calls and opening the breaker each leave an event."""
        app, client = make_app(breaker_failures=1)
        manager = app.extensions["replicalab"]
        post(client, "/alerts/rules", {"sensor": "floor-1", "above": 30})
        post(client, "/sensors/readings", {"sensor": "floor-1", "value": 35, "at": 1000})
        answer = post(client, "/alerts/notifier", {"fail_rate": 1.0})
        self.assertTrue(any("notifier now fails 100%" in line for line in answer.get_json()["story"]))
        client.post("/scheduler/run/alert_rules")
        client.post("/scheduler/run/alert_outbox")
        texts = [e.text for e in manager.events.page(0, 10 ** 6)]
        self.assertTrue(any(t.startswith("alert r1-1000 fired") for t in texts))
        self.assertTrue(any("attempt 1: the notifier failed" in t for t in texts))
        self.assertTrue(any("circuit breaker closed -> open" in t for t in texts))


class BoundedMemoryTest(unittest.TestCase):
    """The notifier and the breaker remember a bounded past: a class server runs for hours."""

    def test_notifier_and_breaker_memory_stays_bounded(self):
        """12,000 alerts and 200 breaker transitions later, their lists have not grown past the bounds."""
        from apps.breaker import KEEP_TRANSITIONS, CircuitBreaker
        from apps.notifier import DEDUPE_WINDOW, KEEP_DELIVERED, Notifier
        notifier = Notifier()
        for i in range(12_000):
            notifier.send({"id": f"a{i}", "text": "x"}, i)
        self.assertEqual(len(notifier.delivered), KEEP_DELIVERED)
        self.assertEqual(len(notifier._counts), DEDUPE_WINDOW)
        self.assertEqual(notifier.send({"id": "a11999", "text": "x"}, 0)[1], "already delivered a11999: "
                         "duplicate suppressed")  # recent ids are still deduplicated
        breaker = CircuitBreaker(failure_threshold=1, cooldown_ms=0)
        for now in range(100):
            breaker.failure(now)  # closed -> open
            breaker.allow(now)  # open -> half-open (cooldown 0)
            breaker.success(now)  # half-open -> closed
        self.assertEqual(breaker.moves, 300)
        self.assertEqual(len(breaker.transitions), KEEP_TRANSITIONS)


class DispatchAnswersTest(unittest.TestCase):
    """An assignment that assigns nothing says why."""

    def test_no_idle_drone_is_named_as_the_reason(self):
        """With a delivery waiting and no drone, the answer says no drone is idle."""
        app, client = make_app()
        answer = client.post("/dispatch/assign")
        self.assertIn("no delivery is waiting", answer.get_json()["message"])
        post(client, "/dispatch/deliveries", {"id": "p1", "pickup": [1, 1], "dropoff": [2, 2]})
        answer = client.post("/dispatch/assign")
        self.assertIn("no drone is idle", answer.get_json()["message"])


if __name__ == "__main__":
    unittest.main()
