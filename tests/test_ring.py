"""Placement on the consistent-hash ring."""
import unittest
from collections import Counter

from cluster.ring import Ring
from config import Config


class RingTest(unittest.TestCase):
    """Preference lists are RF distinct nodes, stable, and evenly spread."""

    def setUp(self):
        config = Config()
        self.ring = Ring(config.nodes, config.vnodes, config.rf)
        self.keys = [f"key-{i}" for i in range(10_000)]

    def test_preference_list_is_rf_distinct_nodes(self):
        """Every preference list has RF distinct valid node ids."""
        for key in self.keys[:500]:
            prefs = self.ring.preference_list(key)
            self.assertEqual(len(prefs), 3)
            self.assertEqual(len(set(prefs)), 3)
            self.assertTrue(all(0 <= n < 5 for n in prefs))

    def test_walk_visits_every_node_once_starting_with_the_preference_list(self):
        """The ring walk yields all nodes once, its first RF being the preference list."""
        walk = list(self.ring.walk("color"))
        self.assertEqual(sorted(walk), [0, 1, 2, 3, 4])
        self.assertEqual(walk[:3], self.ring.preference_list("color"))

    def test_placement_is_the_same_in_every_process(self):
        """Placement depends only on md5, not on Python's salted hash()."""
        self.assertEqual(self.ring.preference_list("color"), [1, 4, 0])

    def test_primary_ownership_is_balanced(self):
        """No node is primary for more than 1.5x its fair share of 10,000 keys."""
        counts = Counter(self.ring.preference_list(k)[0] for k in self.keys)
        fair = len(self.keys) / 5
        self.assertEqual(len(counts), 5)
        self.assertLessEqual(max(counts.values()), 1.5 * fair, counts)

    def test_replica_load_is_balanced(self):
        """Counting all RF copies, no node holds more than 1.5x its fair share."""
        counts = Counter(n for k in self.keys for n in self.ring.preference_list(k))
        fair = len(self.keys) * 3 / 5
        self.assertLessEqual(max(counts.values()), 1.5 * fair, counts)

    def test_one_vnode_per_node_can_be_unbalanced(self):
        """With a single point per node the spread is visibly worse: vnodes matter."""
        coarse = Ring(5, 1, 3)
        counts = Counter(coarse.preference_list(k)[0] for k in self.keys)
        fine = Counter(self.ring.preference_list(k)[0] for k in self.keys)
        self.assertGreater(max(counts.values()) - min(counts.values()),
                           max(fine.values()) - min(fine.values()))

    def test_explain_reports_points_and_fallbacks(self):
        """explain() names the preference list, the ring points and the fallback order."""
        info = self.ring.explain("color")
        self.assertEqual(info["preference_list"], ["node-1", "node-4", "node-0"])
        self.assertEqual(len(info["points"]), 3)
        self.assertEqual(sorted(info["fallback_order"]), ["node-2", "node-3"])
        self.assertEqual(info["points"][0]["steps_clockwise"], 0)


if __name__ == "__main__":
    unittest.main()
