"""A request's work does not grow with the server's age: story lookup, event paging, the scenario record."""
import json
import unittest
from typing import Any

from cluster.codec import round_trip
from cluster.event_log import EventLog
from cluster.messages import Put
from cluster.scenario import ScenarioRecord
from models import Record, Version
from tests.helpers import make_app, make_cluster, write


class CountingSlots(list):
    """A list that counts the items read through indexing or slicing."""

    examined = 0

    def __getitem__(self, index):
        found = super().__getitem__(index)
        self.examined += len(found) if isinstance(index, slice) else 1
        return found


class FakeClock:
    """A clock that never moves: these tests look at sequence numbers only."""

    def elapsed(self):
        return 0


def story_lookup_cost(history: int) -> int:
    """Events the story lookup examined for one read, after `history` earlier writes."""
    app, client = make_app()
    for i in range(history):
        write(client, f"k{i % 50}", i)
    log = app.extensions["replicalab"].events
    log._slots = CountingSlots(log._slots)
    answer = client.get("/read/k1").get_json()
    assert answer["status"] == "success", answer
    return log._slots.examined


class StoryLookupTest(unittest.TestCase):
    """Finding what a request caused reads only that request's events."""

    def test_story_lookup_does_not_depend_on_the_log_length(self):
        """A read after 1,000 writes examines as many events as a read after 20 writes."""
        young, old = story_lookup_cost(20), story_lookup_cost(1000)
        self.assertEqual(young, old)
        self.assertLess(young, 30)  # about the read's own events, nothing like the log's thousands

    def test_the_ring_keeps_the_newest_events_in_order(self):
        """Past capacity, the log keeps the newest events; paging and since() find them by seq."""
        log = EventLog(FakeClock(), max_events=10, narrate="off")
        for i in range(25):
            log.emit("note", f"event {i + 1}", key=f"k{i}", n=i)
        self.assertEqual(log.first_seq, 16)
        self.assertEqual([e.seq for e in log.page(0, 100)], list(range(16, 26)))
        self.assertEqual([e.seq for e in log.page(17, 3)], [18, 19, 20])
        self.assertEqual([e.seq for e in log.since(22)], [23, 24, 25])
        self.assertEqual(log.since(25), [])
        self.assertEqual(log.page(19, 5)[0].to_dict()["details"], {"n": 19})

    def test_paging_examines_only_the_page(self):
        """GET /events?since=N reads `limit` events, however many the log holds."""
        log = EventLog(FakeClock(), max_events=1000, narrate="off")
        for i in range(5000):
            log.emit("note", f"event {i}")
        log._slots = CountingSlots(log._slots)
        self.assertEqual(len(log.page(4500, 7)), 7)
        self.assertEqual(log._slots.examined, 7)


class ScenarioRecordTest(unittest.TestCase):
    """The scenario record stays within its memory budget and says when it stopped."""

    def test_the_record_keeps_its_first_requests_within_the_budget(self):
        """Past the budget the first requests stay, later ones are only counted."""
        record = ScenarioRecord(max_bytes=2000)
        entries = [{"method": "GET", "path": f"/read/k{i}", "body": None} for i in range(100)]
        for entry in entries:
            record.record(entry)
        kept = record.requests
        self.assertLess(len(kept), 100)
        self.assertEqual(kept, entries[:len(kept)])
        self.assertEqual(record.not_recorded, 100 - len(kept))
        self.assertFalse(record.complete)

    def test_an_export_that_cannot_replay_exactly_says_so(self):
        """GET /scenario of a run larger than the record says it replays only the beginning."""
        app, client = make_app()
        app.extensions["replicalab"].scenario = ScenarioRecord(max_bytes=1500)
        for i in range(30):
            write(client, f"k{i}", i)
        exported = client.get("/scenario").get_json()
        self.assertFalse(exported["requests_complete"])
        self.assertEqual(len(exported["requests"]) + exported["requests_not_recorded"], 30)
        self.assertTrue(any("beginning of this run only" in note for note in exported["notes"]))
        self.assertEqual(json.loads(json.dumps(exported["requests"][0]))["path"], "/write")


if __name__ == "__main__":
    unittest.main()


class DeliveryCopyTest(unittest.TestCase):
    """Delivery copies only what a receiver could change in place."""

    def test_nodes_never_share_a_mutable_value(self):
        """After a write, each replica's value is its own object, nested lists and objects included."""
        cluster = make_cluster(storage="memory")
        cluster.write("reading", {"samples": [1, {"kwh": 2}]})
        holders = [cluster.nodes[n].store.get("reading") for n in cluster.ring.preference_list("reading")]
        values = [record.value for record in holders]
        self.assertTrue(all(value == {"samples": [1, {"kwh": 2}]} for value in values))
        self.assertEqual(len({id(v) for v in values}), 3)
        self.assertEqual(len({id(v["samples"][1]) for v in values}), 3)

    def test_delivered_messages_are_decoded_copies(self):
        """What a receiver gets went through the JSON codec: equal to what was sent, sharing no value."""
        nested = Put(0, 1, "node-0:7", Record("color", {"rgb": [0, 0, 255]}, Version(3, 0)), 2, "repair")
        copied: Any = round_trip(nested)
        self.assertEqual(copied, nested)
        self.assertIsNot(copied.record.value["rgb"], nested.record.value["rgb"])
