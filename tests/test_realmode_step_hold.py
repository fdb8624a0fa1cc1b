"""Step mode at a real-mode sender, without processes: the held list, its bound, ids, frozen timers, the table."""
import threading
import time
import unittest

from cluster import codec
from cluster.errors import BadRequest, Conflict, NotFound
from cluster.messages import Put
from cluster.passthrough import Passthrough
from models import Record, Version
from realmode.fault_table import FaultTable, LiveFaults
from realmode.front import FrontNetwork
from realmode.step_hold import MessageIds, StepHold
from realmode.timers import TimerThread


class FakeTransport:
    """What StepHold uses of HttpTransport: the hook, timers, a hand POST and a release, recorded."""

    def __init__(self):
        self.hold = None
        self.timers = TimerThread(threading.RLock(), name="test-step-hold")
        self.posted: list = []
        self.released: list = []

    def post_now(self, envelope, msg):
        """Record a hand delivery; nothing lost."""
        self.posted.append(envelope["body"]["msg_id"])
        return None

    def release(self, envelope, msg):
        """Record an envelope posted on resume."""
        self.released.append(envelope["body"]["msg_id"])


def put(dst: int, key: str = "color") -> Put:
    """A write's put from node-1."""
    return Put(1, dst, "node-1:1", Record(key, "blue", Version(5, 1), False))


class StepHoldTest(unittest.TestCase):
    """A paused sender keeps envelopes in a bounded list; the front moves them by id."""

    def setUp(self):
        self.faults = LiveFaults(FaultTable(5))
        self.transport = FakeTransport()
        self.addCleanup(self.transport.timers.close)
        self.events: list = []
        self.ids = MessageIds(1, 5)
        self.hold = StepHold(self.transport, self.faults, self.record, self.ids, limit=3)
        self.encode = self.ids.encoder(codec.encode)

    def record(self, type_, text, nodes=(), key=None, **details):
        """The emit the hold narrates through."""
        self.events.append((type_, text, details))

    def pause(self, paused: bool = True, version: int = 1):
        """Adopt a table with `paused` set or cleared, as the front publishes it."""
        self.faults.replace(FaultTable(5, version=version, paused=paused))

    def send(self, msg) -> bool:
        """What HttpTransport._dispatch asks the hook; True if held (or lost)."""
        assert self.transport.hold is not None
        return self.transport.hold(self.encode(msg), msg)

    def test_ids_are_unique_in_the_cluster_and_name_their_sender(self):
        """Node n numbers k * nodes + n: ids of different nodes never collide and id % nodes is the sender."""
        seen = set()
        for node in range(5):
            ids = MessageIds(node, 5)
            for _ in range(20):
                msg_id = ids.next()
                self.assertEqual(msg_id % 5, node)
                seen.add(msg_id)
        self.assertEqual(len(seen), 100)

    def test_nothing_is_held_unless_the_table_says_paused(self):
        """Unpaused, the hook lets every envelope go; paused, it keeps them, listed oldest first."""
        self.assertFalse(self.send(put(4)))
        self.pause()
        self.assertTrue(self.send(put(4)))
        self.assertTrue(self.send(put(0)))
        listed = [entry for _, entry in self.hold.listing()]
        self.assertEqual([(m["to"], m["kind"], m["summary"]) for m in listed],
                         [("node-4", "put", put(4).summary()), ("node-0", "put", put(0).summary())])
        self.assertTrue(all(m["id"] % 5 == 1 for m in listed))

    def test_past_the_bound_a_new_message_is_lost_and_narrated(self):
        """The 4th envelope past a bound of 3 is not posted, not held, and a message_dropped event names the bound."""
        self.pause()
        for _ in range(4):
            self.assertTrue(self.send(put(4)))
        self.assertEqual(len(self.hold.listing()), 3)
        dropped = [e for e in self.events if e[0] == "message_dropped"]
        self.assertEqual(len(dropped), 1)
        self.assertIn("already holds 3 messages while the network is paused", dropped[0][1])

    def test_past_the_byte_bound_a_big_message_is_lost_and_a_delivery_frees_room(self):
        """Held student messages of 400 KB against 1 MB: the 3rd is lost, naming the bytes; after a drop one fits."""
        hold = StepHold(self.transport, self.faults, self.record, self.ids, limit_bytes=1024 * 1024)
        self.pause()
        big = [Passthrough(1, 2, {"type": "blob", "data": "x" * 400_000}, 0) for _ in range(4)]
        for msg in big[:3]:
            self.assertTrue(hold.hold(self.encode(msg), msg))
        self.assertEqual(len(hold.listing()), 2)
        self.assertIn("bytes of messages (at most 1048576)", self.events[-1][1])
        with self.assertRaises(Conflict):
            hold.duplicate(hold.listing()[0][1]["id"])
        hold.drop(hold.listing()[0][1]["id"])
        self.assertTrue(hold.hold(self.encode(big[3]), big[3]))
        self.assertEqual(len(hold.listing()), 2)

    def test_deliver_drop_and_duplicate_by_id(self):
        """Deliver posts and forgets one; drop narrates 'dropped by hand' with its id; a duplicate gets a new id."""
        self.pause()
        self.send(put(4))
        self.send(put(0))
        first, second = (entry["id"] for _, entry in self.hold.listing())
        copy_id = self.hold.duplicate(first)["copy_id"]
        self.assertNotIn(copy_id, (first, second))
        self.assertEqual(self.hold.deliver(first), {"delivered": first, "to": 4, "lost": None})
        self.hold.drop(second)
        self.assertEqual(self.transport.posted, [first])
        self.assertEqual([entry["id"] for _, entry in self.hold.listing()], [copy_id])
        types = [e[0] for e in self.events]
        self.assertEqual(types, ["message_duplicated", "message_dropped"])
        self.assertIn(f"dropped message {second}, node-1 -> node-0", self.events[1][1])
        self.assertIn("(dropped by hand)", self.events[1][1])
        with self.assertRaises(NotFound):
            self.hold.deliver(first)

    def test_resume_posts_what_is_held_in_order_and_the_timers_run_again(self):
        """A table without the pause unfreezes the timers and releases every held envelope, oldest first."""
        self.pause()
        self.assertTrue(self.transport.timers.frozen)
        self.send(put(4))
        self.send(put(0))
        order = [entry["id"] for _, entry in self.hold.listing()]
        self.pause(False, version=2)
        self.assertFalse(self.transport.timers.frozen)
        self.assertEqual(self.transport.released, order)
        self.assertEqual(self.hold.listing(), [])


class FrozenTimersTest(unittest.TestCase):
    """While paused a node's timers stand still; calls due now still run; /tick moves them."""

    def test_a_frozen_timer_waits_for_advance_while_calls_due_now_run(self):
        """A 30 ms timer does not fire in 150 real ms while frozen; a 0 ms call does; advance(30) fires it."""
        timers = TimerThread(threading.RLock(), name="test-frozen")
        self.addCleanup(timers.close)
        fired, now = threading.Event(), threading.Event()
        timers.freeze()
        timers.call_later(30, fired.set)
        timers.call_later(0, now.set)
        self.assertTrue(now.wait(5))
        time.sleep(0.15)  # real time passing, which a frozen clock ignores
        self.assertFalse(fired.is_set())
        timers.advance(30)
        self.assertTrue(fired.wait(5))

    def test_unfreeze_continues_from_where_the_clock_stood(self):
        """The frozen interval does not count: a 200 ms timer set while frozen still waits ~200 ms after unfreeze."""
        timers = TimerThread(threading.RLock(), name="test-unfreeze")
        self.addCleanup(timers.close)
        fired = threading.Event()
        timers.freeze()
        timers.call_later(200, fired.set)
        time.sleep(0.25)
        timers.unfreeze()
        self.assertFalse(fired.wait(0.05))
        self.assertTrue(fired.wait(5))


class PausedTableTest(unittest.TestCase):
    """The fault table carries step mode's flag across processes."""

    def test_paused_survives_the_round_trip_and_bad_values_are_refused(self):
        """to_json/from_json keep `paused`; a non-boolean is a 400 with a sentence."""
        table = FaultTable(3, version=4, paused=True)
        self.assertTrue(FaultTable.from_json(table.to_json()).paused)
        self.assertFalse(FaultTable.from_json({"nodes": 3}).paused)
        with self.assertRaises(BadRequest) as caught:
            FaultTable.from_json({**table.to_json(), "paused": "yes"})
        self.assertIn("\"paused\" must be true or false", caught.exception.message)


class FrontTableTest(unittest.TestCase):
    """The front publishes step mode as a new version of the fault table."""

    def test_pause_and_resume_each_publish_a_new_version(self):
        """Pausing and resuming change the table's shape, so each gets a new version with `paused` as it is now."""
        network = FrontNetwork(3)
        network.run()
        self.assertEqual((network.version, network.table().paused), (1, False))
        network.pause()
        self.assertEqual((network.version, network.table().paused), (2, True))
        network.run()  # nothing changed: nothing published
        self.assertEqual(network.version, 2)
        network.resume()
        self.assertEqual((network.version, network.table().to_json()["paused"]), (3, False))


if __name__ == "__main__":
    unittest.main()
