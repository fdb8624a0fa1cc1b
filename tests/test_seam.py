"""NodeSeam: a node's only way out — peers through the transport, itself through a zero-delay timer."""
import unittest

from cluster.messages import Get, Put
from cluster.seam import NodeSeam
from models import Record, Version


class RecordingTransport:
    """A transport that records sends and timers instead of acting."""

    def __init__(self):
        self.sent, self.timers, self.registered = [], [], {}

    def register(self, node_id, deliver):
        """Remember the handler."""
        self.registered[node_id] = deliver

    def send(self, msg):
        """Record the message."""
        self.sent.append(msg)

    def set_timer(self, node_id, delay_ms, callback):
        """Record the timer; it is fired by hand."""
        self.timers.append((node_id, delay_ms, callback))
        return self

    def cancel(self):
        """Timers of this fake are cancelled by not firing them."""

    def now(self):
        """A fixed time."""
        return 42


class EventSink:
    """Records emitted events."""

    def __init__(self):
        self.events = []

    def emit(self, type_, text, nodes=(), key=None, **details):
        """Record one event."""
        self.events.append((type_, text, tuple(nodes), key, details))


class NodeSeamTest(unittest.TestCase):
    """What each seam call does with the transport."""

    def setUp(self):
        self.transport, self.sink = RecordingTransport(), EventSink()
        self.inbox: list = []
        self.seam = NodeSeam(3, self.transport, self.sink)
        self.seam.attach(self.inbox.append)

    def test_attach_registers_the_node_with_the_transport(self):
        """The node's handler is what the transport delivers to."""
        self.assertEqual(self.transport.registered[3], self.inbox.append)

    def test_a_message_to_a_peer_goes_to_the_transport(self):
        """send() to another node hands the message to transport.send unchanged."""
        msg = Get(3, 1, "node-3:1", "k")
        self.seam.send(msg)
        self.assertEqual(self.transport.sent, [msg])

    def test_a_message_to_itself_never_crosses_the_transport(self):
        """send() to this node sets a zero-delay timer that delivers an equal, decoded copy."""
        msg = Put(3, 3, "node-3:1", Record("k", {"a": [1]}, Version(1, 3)))
        self.seam.send(msg)
        self.assertEqual(self.transport.sent, [])
        (node_id, delay, fire), = self.transport.timers
        self.assertEqual((node_id, delay, self.inbox), (3, 0, []))
        fire()
        self.assertEqual(self.inbox, [msg])
        self.assertIsNot(self.inbox[0].record.value, msg.record.value)

    def test_timers_time_and_events_pass_through(self):
        """set_timer names this node, now() is the transport's, emit() reaches the event sink."""
        self.seam.set_timer(100, lambda: None)
        self.assertEqual(self.transport.timers[0][:2], (3, 100))
        self.assertEqual(self.seam.now(), 42)
        self.seam.emit("hello", "node-3 says hello", [3], "k", n=1)
        self.assertEqual(self.sink.events, [("hello", "node-3 says hello", (3,), "k", {"n": 1})])


if __name__ == "__main__":
    unittest.main()
