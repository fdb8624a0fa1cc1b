"""HttpTransport: the transport contract over real HTTP on loopback, plus what only a real network does."""
import json
import threading
import time
import unittest
from typing import Dict, List

from cluster import codec
from cluster.errors import BadRequest
from cluster.faults import FaultSet, LinkFault, NetworkFault
from cluster.partitions import parse_partition
from realmode import demo_node
from realmode.demo_node import Ping
from realmode.fault_table import FaultTable, LiveFaults
from realmode.http_transport import HttpSettings, HttpTransport
from realmode.keepalive import KeepAliveClient
from realmode.node_server import NodeServer, create_node_app
from tests.transport_contract import TransportContract

FAST = HttpSettings(connect_timeout_s=0.2, read_timeout_s=0.3, retries=2, retry_backoff_s=0.01)
# For the contract: a copy comes twice only when a retry follows a read timeout (RealNetworkTest shows it),
# so the contract's peers get time to answer even on a loaded machine.
PATIENT = HttpSettings(connect_timeout_s=1.0, read_timeout_s=10.0, retry_backoff_s=0.01)


def poll(predicate, timeout_s: float = 10.0) -> bool:
    """Wait until `predicate()` holds (real threads deliver in their own time); False on timeout."""
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)
    return True


class HttpWorld:
    """Transports with their node servers on free loopback ports, one per node, all in this process."""

    def __init__(self, test: unittest.TestCase, count: int, lock, settings: HttpSettings = FAST,
                 receive_wrapper=None, codec=(demo_node.encode, demo_node.decode)):
        self.servers: List[NodeServer] = []
        self.faults = [LiveFaults(FaultTable(count)) for _ in range(count)]
        self.events: Dict[int, list] = {n: [] for n in range(count)}
        self.transports: List[HttpTransport] = []
        for node in range(count):
            transport = HttpTransport(node, {}, codec[0], codec[1], lock, self.faults[node],
                                      emit=self._recorder(node), settings=settings)
            receive = receive_wrapper(node, transport.receive) if receive_wrapper else transport.receive
            app = create_node_app(node, "", receive, self.faults[node], {"127.0.0.1"}, settings.token)
            server = NodeServer(app, "127.0.0.1", 0).start()
            test.addCleanup(server.shutdown)
            test.addCleanup(transport.close)
            self.servers.append(server)
            self.transports.append(transport)
        for transport in self.transports:
            for node, server in enumerate(self.servers):
                if node != transport.node_id:
                    transport.set_peer(node, server.address)

    def _recorder(self, node: int):
        def emit(type_, text, nodes=(), key=None, **details):
            self.events[node].append((type_, text, details))
        return emit

    def set_faults(self, table: FaultTable) -> None:
        """Give every node the same table, as the front does."""
        for live in self.faults:
            live.replace(table)

    def dropped(self, node: int) -> List[str]:
        """The reasons of the message_dropped events node `node` narrated."""
        return [details["reason"] for type_, _, details in list(self.events[node]) if type_ == "message_dropped"]


class ThreeTransports:
    """Three HttpTransports (one per node, each behind its own server) driven as the one transport of the contract."""

    def __init__(self, world: HttpWorld):
        self.world = world

    def register(self, node_id, deliver):
        """Node `node_id`'s own transport delivers to it."""
        self.world.transports[node_id].register(node_id, deliver)

    def send(self, msg):
        """The sender's transport POSTs it."""
        self.world.transports[msg.src].send(msg)

    def set_timer(self, node_id, delay_ms, callback):
        """The node's own transport runs the timer."""
        return self.world.transports[node_id].set_timer(node_id, delay_ms, callback)

    def now(self):
        """One process, one monotonic clock: node 0's transport reads it."""
        return self.world.transports[0].now()


class HttpTransportContractTest(TransportContract, unittest.TestCase):
    """The transport contract (tests/transport_contract.py) holds for HttpTransport, real sockets on loopback."""

    def make_transport(self, lock):
        """Three nodes on loopback sharing `lock` (one process), the seam's JSON codec on the wire."""
        return ThreeTransports(HttpWorld(self, 3, lock, PATIENT, codec=(codec.encode, codec.decode)))

    def settle(self, transport, ms):
        """Real time passes: the contract's timers are at most 200 ms, so 400 ms (or `ms`) covers them."""
        time.sleep(min(ms, 400) / 1000 + 0.05)

    def cut_link(self, transport, src, dst):
        """Take the link down in the fault table every node holds."""
        transport.world.set_faults(FaultTable(3, FaultSet(links={(src, dst): LinkFault(down=True)}), version=1))

    def heal(self, transport):
        """A newer table without faults, as the front publishes after /heal."""
        transport.world.set_faults(FaultTable(3, version=2))


class RealNetworkTest(unittest.TestCase):
    """What a real network does that the simulation does not: retries, duplicates, queues, late faults."""

    def world(self, count=2, settings=FAST, receive_wrapper=None):
        self.lock = threading.RLock()
        self.inboxes: Dict[int, list] = {n: [] for n in range(count)}
        world = HttpWorld(self, count, self.lock, settings, receive_wrapper)
        for node, transport in enumerate(world.transports):
            transport.register(node, self.inboxes[node].append)
        return world

    def test_send_returns_before_the_peer_has_the_message(self):
        """send() returns while the peer is still busy taking the message: the caller never waits on the network."""
        gate = threading.Event()
        self.addCleanup(gate.set)

        def slow(node, receive):
            return lambda envelope, *rest: (gate.wait(5), receive(envelope, *rest))[1]
        world = self.world(receive_wrapper=slow)
        world.transports[0].send(Ping(0, 1, 1, 1))
        self.assertEqual(self.inboxes[1], [])  # the peer is held at the gate, yet send has returned
        gate.set()
        self.assertTrue(poll(lambda: len(self.inboxes[1]) == 1))

    def test_a_retry_after_a_timeout_can_duplicate_a_message(self):
        """A peer that takes the message but answers after the read timeout gets it again from the retry."""
        calls = []

        def late(node, receive):
            def wrapped(envelope, *rest):
                calls.append(envelope)
                answer = receive(envelope, *rest)
                if len(calls) == 1:
                    time.sleep(FAST.read_timeout_s + 0.2)  # the message is in, the answer is late
                return answer
            return wrapped
        world = self.world(receive_wrapper=late)
        world.transports[0].send(Ping(0, 1, 1, 1))
        self.assertTrue(poll(lambda: len(self.inboxes[1]) == 2))
        self.assertEqual(self.inboxes[1][0], self.inboxes[1][1])
        self.assertEqual(calls[0], calls[1])  # the same envelope (same msg_id), sent twice

    def test_without_retries_a_late_answer_means_a_lost_message_not_a_duplicate(self):
        """With retries=0 the same late peer gets the message once and the sender narrates it as lost."""
        settings = HttpSettings(connect_timeout_s=0.2, read_timeout_s=0.3, retries=0)

        def late(node, receive):
            def answer_late(envelope, *rest):
                """Take the message, but answer after the sender's read timeout."""
                answer = receive(envelope, *rest)
                time.sleep(0.5)
                return answer
            return answer_late
        world = self.world(settings=settings, receive_wrapper=late)
        world.transports[0].send(Ping(0, 1, 1, 1))
        self.assertTrue(poll(lambda: bool(world.dropped(0))))
        self.assertIn("did not answer", world.dropped(0)[0])
        time.sleep(0.6)  # a second copy, if any, would have arrived by now
        self.assertEqual(len(self.inboxes[1]), 1)

    def test_a_refused_connection_is_retried_a_bounded_number_of_times_then_lost(self):
        """Sending to an address nobody listens on ends, after the retries, in one narrated loss."""
        world = self.world()
        world.servers[1].shutdown()
        world.transports[0].send(Ping(0, 1, 1, 1))
        self.assertTrue(poll(lambda: bool(world.dropped(0))))
        self.assertEqual(world.dropped(0), ["node-1 refused or dropped the connection (after 3 attempts)"])

    def stuck_peer(self, **bounds):
        """A world whose node-1 is stuck on its first message (one worker), the queue bounded by `bounds`.

        Returns (world, sender, gate): set the gate to unstick node-1.
        """
        gate = threading.Event()
        self.addCleanup(gate.set)

        def stuck(node, receive):
            return lambda envelope, *rest: (gate.wait(5), receive(envelope, *rest))[1]
        world = self.world(settings=HttpSettings(read_timeout_s=5, workers_per_peer=1, **bounds),
                           receive_wrapper=stuck)
        sender = world.transports[0]
        sender.send(Ping(0, 1, 1, 1))
        self.assertTrue(poll(lambda: sender._links[1]._queue.empty()))  # the worker holds the first
        return world, sender, gate

    def test_a_full_queue_loses_messages_instead_of_growing(self):
        """With one worker and a queue of one for a stuck peer, the third message is lost at once."""
        world, sender, gate = self.stuck_peer(queue_per_peer=1)
        sender.send(Ping(0, 1, 2, 2))
        sender.send(Ping(0, 1, 3, 3))
        self.assertEqual(world.dropped(0), ["1 messages already wait for node-1"])
        gate.set()
        self.assertTrue(poll(lambda: len(self.inboxes[1]) == 2))

    def test_a_queue_is_bounded_in_bytes_too(self):
        """Past the byte bound of a stuck peer's queue a message is lost at once, with a sentence naming the bound."""
        world, sender, gate = self.stuck_peer(queue_bytes_per_peer=300)
        for n in range(2, 12):
            sender.send(Ping(0, 1, n, n))
        lost = world.dropped(0)
        self.assertTrue(lost, "ten queued pings exceed 300 bytes")
        self.assertIn("bytes of messages already wait for node-1 (at most 300)", lost[0])
        self.assertLessEqual(sender._links[1]._queued_bytes, 300)
        gate.set()
        self.assertTrue(poll(lambda: len(self.inboxes[1]) == 11 - len(lost)))
        self.assertTrue(poll(lambda: sender._links[1]._queued_bytes == 0))

    def test_the_receiver_checks_the_fault_table_again(self):
        """A message the sender let go is refused by a receiver whose table has a partition (it began in flight)."""
        world = self.world()
        world.faults[1].replace(FaultTable(2, FaultSet(partition=parse_partition([[0]], 2)), version=1))
        world.transports[0].send(Ping(0, 1, 1, 1))
        self.assertTrue(poll(lambda: bool(world.dropped(1))))
        self.assertEqual(world.dropped(0), [])
        self.assertIn("different sides of a partition", world.dropped(1)[0])
        self.assertEqual(self.inboxes[1], [])

    def test_the_network_duplicate_rate_delivers_two_copies(self):
        """duplicate_rate 1 in the fault table makes every message arrive twice."""
        world = self.world()
        world.set_faults(FaultTable(2, FaultSet(network=NetworkFault(duplicate_rate=1.0)), version=1))
        world.transports[0].send(Ping(0, 1, 1, 1))
        self.assertTrue(poll(lambda: len(self.inboxes[1]) == 2))

    def test_a_delay_in_the_table_holds_the_message_back(self):
        """A network delay of 150 ms makes a message arrive at least 150 ms after it was sent."""
        world = self.world()
        world.set_faults(FaultTable(2, FaultSet(network=NetworkFault(delay_ms=(150, 150))), version=1))
        arrived: List[int] = []
        world.transports[1].register(1, lambda msg: arrived.append(world.transports[0].now()))
        sent = world.transports[0].now()
        world.transports[0].send(Ping(0, 1, 1, 1))
        self.assertTrue(poll(lambda: bool(arrived)))
        self.assertGreaterEqual(arrived[0] - sent, 150)

    def test_receive_refuses_malformed_or_misaddressed_envelopes(self):
        """An envelope the codec cannot read, or for a node this process does not run, is a BadRequest."""
        world = self.world()
        with self.assertRaises(BadRequest):
            world.transports[1].receive({"src": "node-0"})
        with self.assertRaises(BadRequest) as caught:
            world.transports[1].receive(demo_node.encode(Ping(0, 5, 1, 1)))
        self.assertIn("not node-5", caught.exception.message)

    def test_receive_refuses_a_sender_that_is_no_node_of_the_cluster(self):
        """A forged envelope from node-7 (or node-999999) is a BadRequest naming the known nodes, not a delivery."""
        world = self.world()
        for src in (7, 999_999):
            with self.subTest(src=src), self.assertRaises(BadRequest) as caught:
                world.transports[1].receive(demo_node.encode(Ping(src, 1, 1, 1)))
            self.assertIn(f"node-{src} is not a node of this cluster", caught.exception.message)

    def test_the_token_travels_with_every_message(self):
        """With an admin token set, messages carry it and peers that require it accept them."""
        world = self.world(settings=HttpSettings(token="s3cret"))
        world.transports[0].send(Ping(0, 1, 1, 1))
        self.assertTrue(poll(lambda: len(self.inboxes[1]) == 1))

    def pinged_world_counting_posts(self):
        """Two nodes, node 1 answering each ping with a pong, and the POSTs each node's server took."""
        posts: Dict[int, int] = {0: 0, 1: 0}

        def counting(node, receive):
            def wrapped(envelope, *rest):
                posts[node] += 1
                return receive(envelope, *rest)
            return wrapped
        world = self.world(receive_wrapper=counting)
        world.transports[1].register(1, lambda msg: world.transports[1].send(Ping(1, 0, msg.op_id, msg.n, True)))
        return world, posts

    def test_a_reply_sent_while_handling_rides_back_in_the_answer(self):
        """A pong sent while the ping is handled reaches the pinger in the answer to its POST: no POST of its own."""
        world, posts = self.pinged_world_counting_posts()
        world.transports[0].send(Ping(0, 1, 1, 1))
        self.assertTrue(poll(lambda: len(self.inboxes[0]) == 1))
        self.assertTrue(self.inboxes[0][0].reply)
        self.assertEqual(posts, {0: 0, 1: 1})

    def test_a_sender_that_does_not_take_replies_gets_them_posted(self):
        """A POST without the replies header (not an HttpTransport) is answered without replies; the pong is POSTed."""
        world, posts = self.pinged_world_counting_posts()
        client = KeepAliveClient(world.servers[1].address, 1.0, 5.0)
        self.addCleanup(client.close)
        status, answer = client.post("/peer/message", json.dumps(demo_node.encode(Ping(0, 1, 1, 1))).encode())
        self.assertEqual((status, json.loads(answer)["replies"]), (202, []))
        self.assertTrue(poll(lambda: len(self.inboxes[0]) == 1))
        self.assertEqual(posts, {0: 1, 1: 1})

    def test_the_loss_is_narrated_with_its_reason(self):
        """A message lost to a partition shows as message_dropped at the sender, with the simulation's sentence."""
        world = self.world()
        world.set_faults(FaultTable(2, FaultSet(partition=parse_partition([[0]], 2)), version=1))
        world.transports[0].send(Ping(0, 1, 1, 1))
        self.assertEqual(world.dropped(0), ["node-0 and node-1 are on different sides of a partition"])

    def test_now_is_monotonic_and_shifted_by_skew(self):
        """now() never goes back, and a skew of 5 s moves it forward by 5 s."""
        transport = self.world().transports[0]
        first = transport.now()
        transport.skew_ms = 5000
        self.assertGreaterEqual(transport.now(), first + 5000)


if __name__ == "__main__":
    unittest.main()
