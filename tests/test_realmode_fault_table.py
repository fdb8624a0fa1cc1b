"""The fault table: the simulation's fault rules, carried to node processes as JSON, checked at both ends."""
import json
import random
import unittest

from cluster.errors import BadRequest
from cluster.faults import FaultSet, LinkFault, NetworkFault
from cluster.partitions import parse_partition
from realmode.fault_table import RECEIVER, SENDER, FaultTable, LiveFaults


def table_with(**changes) -> FaultTable:
    """A five-node table with the given faults."""
    faults = FaultSet()
    for name, value in changes.items():
        setattr(faults, name, value)
    return FaultTable(5, faults)


class FaultTableJsonTest(unittest.TestCase):
    """The table survives a trip through JSON and refuses malformed input with a sentence."""

    def test_round_trip_keeps_every_fault(self):
        """A table with a partition, link faults, network faults and down nodes comes back equal from JSON."""
        faults = FaultSet(parse_partition([[0, 1], [2, 3]], 5),
                          {(0, 2): LinkFault(down=True), (3, 1): LinkFault(drop_rate=0.25, delay_ms=(5, 9))},
                          NetworkFault(0.1, 0.2, (1, 3)))
        table = FaultTable(5, faults, frozenset({4}), version=7)
        again = FaultTable.from_json(json.loads(json.dumps(table.to_json())))
        self.assertEqual(again, table)

    def test_describe_has_the_simulated_faults_shape(self):
        """describe() gives /faults' partition, links and network fields, plus the down nodes by name."""
        table = table_with(partition=parse_partition([[0, 1]], 5))
        table.down = frozenset({3})
        described = table.describe()
        self.assertEqual(described["partition"], [["node-0", "node-1"], ["node-2", "node-3", "node-4"]])
        self.assertEqual(described["down"], ["node-3"])
        self.assertEqual(set(described), {"partition", "links", "network", "down"})

    def test_malformed_tables_are_refused_with_a_sentence(self):
        """Each malformed table raises BadRequest naming what is wrong."""
        good = FaultTable(3).to_json()
        cases = {"not an object": [1, 2],
                 "negative nodes": {**good, "nodes": -1},
                 "drop rate above 1": {**good, "links": [{"from": 0, "to": 1, "drop_rate": 2}]},
                 "unknown node in a link": {**good, "links": [{"from": 0, "to": 9, "down": True}]},
                 "links not a list": {**good, "links": "none"},
                 "unknown down node": {**good, "down": [7]},
                 "network not an object": {**good, "network": [0.1]}}
        for name, data in cases.items():
            with self.subTest(name), self.assertRaises(BadRequest) as caught:
                FaultTable.from_json(data)
            self.assertTrue(caught.exception.message.endswith("."), caught.exception.message)


class VerdictTest(unittest.TestCase):
    """verdict() applies the simulation's rules at the sender and re-checks blocking at the receiver."""

    def setUp(self):
        self.rng = random.Random(1)

    def test_a_perfect_network_passes_everything_at_both_ends(self):
        """With no fault a message passes at the sender and the receiver, undelayed and single."""
        table = FaultTable(5)
        self.assertEqual(table.verdict(0, 1, self.rng, SENDER), table.verdict(0, 1, self.rng, RECEIVER))
        self.assertTrue(table.verdict(0, 1, self.rng).passes)
        self.assertEqual(table.verdict(0, 1, self.rng).delay_ms, 0)

    def test_a_partition_blocks_across_sides_at_both_ends(self):
        """Across a partition a message is refused at the sender and at the receiver, with the simulation's reason."""
        table = table_with(partition=parse_partition([[0, 1]], 5))
        for at in (SENDER, RECEIVER):
            verdict = table.verdict(0, 3, self.rng, at)
            self.assertFalse(verdict.passes)
            self.assertEqual(verdict.reason, table.faults.blocked(0, 3))
            self.assertTrue(table.verdict(0, 1, self.rng, at).passes)

    def test_a_link_fault_is_one_way(self):
        """A link marked down blocks a -> b but not b -> a."""
        table = table_with(links={(1, 2): LinkFault(down=True)})
        self.assertFalse(table.verdict(1, 2, self.rng).passes)
        self.assertTrue(table.verdict(2, 1, self.rng).passes)

    def test_a_down_node_neither_sends_nor_receives(self):
        """A message to or from a node the table marks down does not pass."""
        table = FaultTable(5, down=frozenset({2}))
        self.assertEqual(table.verdict(0, 2, self.rng, RECEIVER).reason, "node-2 is down")
        self.assertEqual(table.verdict(2, 0, self.rng, SENDER).reason, "node-2 is down")

    def test_random_drops_are_drawn_at_the_sender_only(self):
        """A drop rate of 1 loses every message at the sender; the receiver does not draw again."""
        table = table_with(network=NetworkFault(drop_rate=1.0))
        self.assertFalse(table.verdict(0, 1, self.rng, SENDER).passes)
        self.assertTrue(table.verdict(0, 1, self.rng, RECEIVER).passes)

    def test_delay_and_duplicates_come_from_the_sender_verdict(self):
        """Extra delay lies in the link's plus the network's range, and duplicate_rate 1 always copies."""
        table = table_with(links={(0, 1): LinkFault(delay_ms=(10, 20))},
                           network=NetworkFault(duplicate_rate=1.0, delay_ms=(1, 2)))
        delays = {table.verdict(0, 1, self.rng).delay_ms for _ in range(200)}
        self.assertTrue(delays <= set(range(11, 23)) and len(delays) > 3, delays)
        self.assertTrue(table.verdict(0, 1, self.rng).duplicate)
        self.assertFalse(table.verdict(0, 1, self.rng, RECEIVER).duplicate)

    def test_a_drop_rate_drops_about_that_share(self):
        """A link drop rate of 0.3 loses roughly 30 % of 2,000 messages."""
        table = table_with(links={(0, 1): LinkFault(drop_rate=0.3)})
        lost = sum(not table.verdict(0, 1, self.rng).passes for _ in range(2000))
        self.assertTrue(500 < lost < 700, lost)


class LiveFaultsTest(unittest.TestCase):
    """The table in force changes only to an equal or newer version."""

    def test_an_older_table_does_not_replace_a_newer_one(self):
        """A table arriving late (lower version) is ignored; a newer one is adopted."""
        live = LiveFaults(FaultTable(3, version=5))
        self.assertFalse(live.replace(FaultTable(3, down=frozenset({1}), version=4)))
        self.assertTrue(live.verdict(0, 1).passes)
        self.assertTrue(live.replace(FaultTable(3, down=frozenset({1}), version=6)))
        self.assertFalse(live.verdict(0, 1).passes)
        self.assertEqual(live.table.version, 6)


if __name__ == "__main__":
    unittest.main()
