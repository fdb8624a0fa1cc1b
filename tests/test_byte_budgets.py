"""Every in-memory record of the past has a budget in bytes: the history and the event log."""
import json
import unittest

from cluster.clock import VirtualClock
from cluster.event_log import EventLog
from cluster.history import VALUE_BYTES, History, Outcome, kept_value
from tests.helpers import make_app, write

BIG = "x" * (512 * 1024)  # an allowed value, as in the hostile run


class HistoryValueTest(unittest.TestCase):
    """The history keeps short values whole and long ones as a digest and a length."""

    def test_a_long_value_is_kept_as_its_digest_and_length(self):
        """A value over VALUE_BYTES of JSON becomes {"digest": "sha256:...", "bytes": N}."""
        kept = kept_value(BIG)
        self.assertEqual(set(kept), {"digest", "bytes"})
        self.assertTrue(kept["digest"].startswith("sha256:"))
        self.assertEqual(kept["bytes"], len(json.dumps(BIG)))

    def test_equal_values_keep_equal_digests_and_short_values_stay_whole(self):
        """Equal long values give equal stand-ins (the checker compares them); short ones are kept."""
        self.assertEqual(kept_value({"a": BIG, "b": 1}), kept_value({"b": 1, "a": BIG}))
        self.assertNotEqual(kept_value(BIG), kept_value(BIG + "y"))
        small = {"status": "idle", "n": [1, 2, 3]}
        self.assertIs(kept_value(small), small)
        self.assertEqual(kept_value("é" * VALUE_BYTES)["bytes"], len(("é" * VALUE_BYTES).encode()) + 2)

    def test_the_history_stays_within_its_byte_budget(self):
        """Past max_bytes the oldest operations leave, and dropped_ops counts them."""
        history = History(VirtualClock(), limit=10_000, max_bytes=100_000)
        for _ in range(500):
            invoke = history.begin("p", "write", "k" * 512, BIG)
            history.end(invoke, Outcome())
        self.assertLessEqual(history.bytes, 100_000)
        self.assertGreater(history.dropped_ops, 400)
        self.assertEqual(history.recorded_ops, 500)
        events = history.complete_events()
        self.assertEqual(events[0]["type"], "invoke")
        self.assertEqual(len(events) % 2, 0)

    def test_big_writes_through_http_are_recorded_small_and_still_checked(self):
        """/history shows 512 KiB writes and reads as digests; /check still says linearizable."""
        app, client = make_app()
        for i in range(20):
            self.assertEqual(write(client, f"big{i % 3}", BIG + str(i)).status_code, 200)
            self.assertEqual(client.get(f"/read/big{i % 3}").status_code, 200)
        history = app.extensions["replicalab"].history
        self.assertLess(history.bytes, 40 * 1024)
        page = client.get("/history?limit=4").get_json()
        self.assertEqual(page["events"][0]["value"], kept_value(BIG + "0"))
        self.assertEqual(page["events"][3]["value"], kept_value(BIG + "0"))  # the read saw that write
        self.assertTrue(client.get("/check").get_json()["linearizable"])

    def test_a_cas_keeps_its_pair_with_long_values_as_digests(self):
        """A CAS over long values stays [compared, new] with both digested, and checks."""
        app, client = make_app()
        client.post("/cas", data=json.dumps({"key": "c", "expected": None, "value": BIG}))
        version = client.get("/read/c").get_json()["version"]["text"]
        client.post("/cas", data=json.dumps({"key": "c", "expected": version, "value": BIG + "2"}))
        events = client.get("/history?key=c").get_json()["events"]
        self.assertEqual(events[-2]["value"], [kept_value(BIG), kept_value(BIG + "2")])
        self.assertTrue(client.get("/check").get_json()["linearizable"])


class EventLogBudgetTest(unittest.TestCase):
    """The event log forgets its oldest events past its byte budget, as past max_events."""

    def test_long_events_are_forgotten_past_the_byte_budget(self):
        """Events with 512-character keys stay within max_bytes; paging starts at first_seq."""
        log = EventLog(VirtualClock(), max_events=100_000, narrate="off", max_bytes=200_000)
        for i in range(2000):
            log.emit("note", "k" * 512 + f" event {i}", key="k" * 511 + str(i % 10), lost=["q" * 100] * 3)
        self.assertLessEqual(log.bytes, 200_000)
        self.assertGreater(log.first_seq, 1500)
        page = log.page(0, 5)
        self.assertEqual([e.seq for e in page], list(range(log.first_seq, log.first_seq + 5)))
        self.assertEqual(log.since(1998)[-1].seq, 2000)

    def test_the_count_ring_and_the_byte_budget_agree(self):
        """Past max_events the log keeps exactly the newest events and counts only their bytes."""
        log = EventLog(VirtualClock(), max_events=10, narrate="off")
        for i in range(35):
            log.emit("note", f"event {i}")
        self.assertEqual(log.first_seq, 26)
        self.assertEqual(len(log.page(0, 100)), 10)
        sizes = [200 + len(f"event {i}") for i in range(25, 35)]
        self.assertEqual(log.bytes, sum(sizes))


if __name__ == "__main__":
    unittest.main()
