"""Lazy event sentences: written only when read, and then exactly as an eager sentence would be."""
import unittest

from cluster import messages
from cluster.clock import VirtualClock
from cluster.event_log import ARGS_OVERHEAD, EVENT_OVERHEAD, LAZY_ARG_BYTES, EventLog
from config import Config
from models import Record, Version
from replication import ReplicationManager


class CountingRender:
    """A format function that counts how often it is called."""

    def __init__(self):
        self.calls = 0

    def __call__(self, who: str, n: int) -> str:
        self.calls += 1
        return f"{who} did {n} things"


def run(narrate: str) -> list:
    """The event log of a small seeded run (writes, a failure, reads, a recovery) as /events shows it."""
    cluster = ReplicationManager(Config(storage="memory", narrate=narrate, clock="virtual", seed=5))
    try:
        for i in range(6):
            cluster.write(f"k{i % 3}", {"n": i})
        cluster.fail(2, "crash")
        for i in range(4):
            cluster.write(f"k{i}", [i, "x"])
            cluster.read(f"k{i % 3}")
        cluster.delete("k1")
        cluster.recover(2)
        return [event.to_dict() for event in cluster.events.page(0, 10_000)]
    finally:
        cluster.close()


class LazyEventTest(unittest.TestCase):
    """emit_lazy stores a format function and its fields; event.text writes the sentence on demand."""

    def test_a_lazy_sentence_is_written_only_when_read(self):
        """With narration off, emitting does not call the format function; each read of text does."""
        log = EventLog(VirtualClock(), narrate="off")
        render = CountingRender()
        event = log.emit_lazy("note", render, ("node-1", 3), [1], "k", size=3)
        self.assertEqual(render.calls, 0)
        self.assertEqual(event.text, "node-1 did 3 things")
        self.assertEqual(event.to_dict()["text"], "node-1 did 3 things")
        self.assertEqual(render.calls, 2)

    def test_a_narrated_lazy_event_is_written_once_and_narrated_like_an_eager_one(self):
        """With narration on, the console line is the eager one's, and later reads reuse the written text."""
        log = EventLog(VirtualClock(), narrate="all")
        render = CountingRender()
        with self.assertLogs("replicalab", "INFO") as logged:
            eager = log.emit("note", "node-1 did 3 things", [1], "k", size=3)
            lazy = log.emit_lazy("note", render, ("node-1", 3), [1], "k", size=3)
            log.flush()
        self.assertEqual(logged.records[0].getMessage().splitlines(),
                         ["[t=     0ms #1] node-1 did 3 things", "[t=     0ms #2] node-1 did 3 things"])
        self.assertEqual(lazy.text, eager.text)
        self.assertEqual(lazy.text, eager.text)
        self.assertEqual(render.calls, 1)

    def test_a_cluster_logs_the_same_events_with_narration_on_and_off(self):
        """The same seeded run gives the same event log, text included, whether sentences are written lazily."""
        narrated, silent = run("all"), run("off")
        self.assertGreater(len(narrated), 50)
        self.assertEqual(narrated, silent)
        sentences = [e["text"] for e in silent]
        self.assertTrue(any(text.startswith("sent message") and ": put k" in text for text in sentences))
        self.assertTrue(any(" stored k" in text and " = " in text for text in sentences))

    def test_a_lazy_event_is_sized_by_what_it_holds(self):
        """A lazy event counts its arguments (not a sentence it does not keep) against the byte budget."""
        log = EventLog(VirtualClock(), narrate="off", max_bytes=10_000)
        log.emit_lazy("note", CountingRender(), ("node-1", 3), key="kk", size=3)
        # the event, its key, the arguments tuple with its two arguments, the detail
        self.assertEqual(log.bytes, EVENT_OVERHEAD + 2 + ARGS_OVERHEAD + 2 * LAZY_ARG_BYTES + 8)
        for i in range(500):
            log.emit_lazy("note", CountingRender(), ("node-1", i))
        self.assertLessEqual(log.bytes, 10_000)
        self.assertGreater(log.first_seq, 400)


class SummaryPartsTest(unittest.TestCase):
    """A message's summary parts write its summary and hold none of its value."""

    def test_the_hot_kinds_write_their_summaries_from_fields(self):
        """Put, PutAck, Get and GetReply summaries read as the narration always said them."""
        record = Record("k", {"big": "value"}, Version(5, 0), deleted=True)
        cases = [
            (messages.Put(0, 1, "node-0:1", record, 2, "handoff"),
             "put k v5@node-0 (tombstone) as a hint for node-2 [handoff]"),
            (messages.Put(0, 1, "node-0:1", Record("k", 1, Version(5, 0))), "put k v5@node-0"),
            (messages.PutAck(1, 0, "node-0:1", "k", messages.KEPT_NEWER), "ack k (kept newer)"),
            (messages.PutAck(1, 0, "node-0:1", "k"), "ack k"),
            (messages.Get(0, 1, "node-0:2", "k"), "get k"),
            (messages.GetReply(1, 0, "node-0:2", "k", record), "reply k: v5@node-0"),
            (messages.GetReply(1, 0, "node-0:2", "k", None), "reply k: nothing"),
            (messages.SyncRequest(1, 0, "node-1:1"), "sync request"),
        ]
        for msg, expected in cases:
            with self.subTest(expected):
                render, args = msg.summary_parts()
                self.assertEqual(msg.summary(), expected)
                self.assertEqual(render(*args), expected)

    def test_summary_parts_hold_no_value(self):
        """A lazy message event keeps the record's key and version, never its value."""
        value = {"big": "x" * 1000}
        for msg in (messages.Put(0, 1, "node-0:1", Record("k", value, Version(5, 0))),
                    messages.GetReply(1, 0, "node-0:2", "k", Record("k", value, Version(5, 0)))):
            with self.subTest(msg.kind):
                _, args = msg.summary_parts()
                self.assertFalse(any(arg is value or isinstance(arg, Record) for arg in args))


if __name__ == "__main__":
    unittest.main()
