"""Events of node processes reach the front's one EventLog in arrival order, with each node's own time."""
import threading
import time
import unittest

from flask import Flask, jsonify, request

from cluster.clock import VirtualClock
from cluster.errors import BadRequest, ReplicaLabError
from cluster.event_log import EventLog
from realmode.event_relay import EVENTS_PATH, EventRelay, EventSink
from realmode.node_server import NodeServer


def event(text, time_ms, nodes=(0,), **details):
    """One event as a relay sends it."""
    return {"type": "note", "text": text, "time_ms": time_ms, "nodes": list(nodes), "key": None, "details": details}


class EventSinkTest(unittest.TestCase):
    """The front appends batches as they arrive and refuses malformed ones."""

    def setUp(self):
        self.clock = VirtualClock(1_000_000)  # the front's clock, far from the nodes' times
        self.log = EventLog(self.clock, narrate="none")
        self.sink = EventSink(self.log, nodes=3)

    def test_batches_are_merged_in_arrival_order_with_node_times(self):
        """Events of two nodes appear in arrival order, numbered in sequence, each with its node's time."""
        self.sink.accept({"node": 2, "events": [event("b1", 500, (2,)), event("b2", 510, (2,), acks=2)]})
        self.sink.accept({"node": 0, "events": [event("a1", 7)]})
        events = self.log.page(0, 10)
        self.assertEqual([(e.seq, e.text, e.time_ms) for e in events], [(1, "b1", 500), (2, "b2", 510), (3, "a1", 7)])
        self.assertEqual(events[1].details, {"acks": 2})
        self.assertEqual(events[0].nodes, (2,))

    def test_lost_events_are_narrated(self):
        """A batch reporting lost events adds one events_lost event naming the node and the count."""
        self.sink.accept({"node": 1, "events": [], "lost": 4})
        [lost] = self.log.page(0, 10)
        self.assertEqual((lost.type, lost.details["lost"]), ("events_lost", 4))
        self.assertIn("node-1 could not report 4 events", lost.text)

    def test_malformed_batches_are_refused(self):
        """Wrong node ids, wrong types and oversized batches raise BadRequest and append nothing."""
        cases = [[], {"node": 3, "events": []}, {"node": True, "events": []}, {"node": 0, "events": "x"},
                 {"node": 0, "events": [event("x", "late")]}, {"node": 0, "events": [{"type": "t"}]},
                 {"node": 0, "events": [], "lost": -1}, {"node": 0, "events": [event("x", 1)] * 501}]
        for batch in cases:
            with self.subTest(batch=str(batch)[:60]), self.assertRaises(BadRequest):
                self.sink.accept(batch)
        self.assertEqual(self.log.last_seq, 0)


class EventRelayTest(unittest.TestCase):
    """A node's relay delivers its events to a front over HTTP, bounded while the front is away."""

    def setUp(self):
        self.log = EventLog(VirtualClock(), narrate="none")
        sink = EventSink(self.log, nodes=3)
        self.accepting = True
        app = Flask("front")

        @app.post(EVENTS_PATH)
        def take():
            if not self.accepting:
                return jsonify(status="error", error="busy", message="restarting"), 503
            try:
                return jsonify(status="ok", accepted=sink.accept(request.get_json(force=True)))
            except ReplicaLabError as error:
                return jsonify(status="error", error=error.code, message=error.message), error.status

        server = NodeServer(app, "127.0.0.1", 0).start()
        self.addCleanup(server.shutdown)
        self.url = f"http://{server.address}"
        self.node_time = 40

    def relay(self, **options):
        """A relay for node 1 whose clock reads self.node_time."""
        relay = EventRelay(1, self.url, lambda: self.node_time, **options)
        self.addCleanup(relay.close)
        return relay

    def test_events_arrive_by_themselves_with_the_node_clock(self):
        """Emitted events reach the front's log without a flush, timed by the node's clock."""
        relay = self.relay()
        relay.emit("message_sent", "sent message node-1#1 -> node-2: ping 1", (1, 2), "k", msg_id=1)
        self.node_time = 45
        relay.emit("message_sent", "sent message node-1#2 -> node-2: ping 2", (1, 2), None, msg_id=2)
        deadline = time.monotonic() + 10
        while self.log.last_seq < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        events = self.log.page(0, 10)
        self.assertEqual([(e.time_ms, e.key, e.details["msg_id"]) for e in events], [(40, "k", 1), (45, None, 2)])

    def test_a_full_queue_keeps_the_newest_and_reports_the_loss(self):
        """While the front refuses, a relay of limit 5 keeps the 5 newest of 8 events and reports 3 lost."""
        self.accepting = False
        relay = self.relay(limit=5, interval_s=60)
        for n in range(8):
            relay.emit("note", f"event {n}", (1,))
        self.assertFalse(relay.flush())
        self.accepting = True
        self.assertTrue(relay.flush())
        texts = [e.text for e in self.log.page(0, 10)]
        self.assertEqual(texts[1:], [f"event {n}" for n in range(3, 8)])
        self.assertIn("could not report 3 events", texts[0])

    def test_a_nodes_events_arrive_in_the_order_it_emitted_them(self):
        """1,200 events (several batches, sent by the relay thread and by flush) reach the log in emit order."""
        relay = self.relay(interval_s=0.001)
        for n in range(1200):
            relay.emit("note", f"event {n}", (1,))
        self.assertTrue(relay.flush())
        self.assertEqual([e.text for e in self.log.page(0, 2000)], [f"event {n}" for n in range(1200)])

    def test_emit_is_safe_from_many_threads(self):
        """Four threads emitting 200 events each lose none and duplicate none."""
        relay = self.relay()
        threads = [threading.Thread(target=lambda t=t: [relay.emit("note", f"{t}-{n}", (1,)) for n in range(200)])
                   for t in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        self.assertTrue(relay.flush())
        texts = [e.text for e in self.log.page(0, 1000)]
        self.assertEqual(sorted(texts), sorted(f"{t}-{n}" for t in range(4) for n in range(200)))


if __name__ == "__main__":
    unittest.main()
