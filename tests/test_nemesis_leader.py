"""The grader's nemesis hits the leader: episodes planned from the seed, the leader found from message counts."""
import unittest

from chaos.leader import LeaderTargets, busiest, sender_counts, swap_nodes
from chaos.nemesis import GRADER_KINDS, HOLD_S, LEADER_ISOLATE_EXTRA_S, LEADER_KILL_AFTER_S, describe, plan

STAGE_2_FAULTS = ("crash", "recover", "drop", "delay", "clear")


def sent(src, dst, time_ms):
    """A message_sent event as GET /events shows it."""
    return {"type": "message_sent", "nodes": [src, dst], "time_ms": time_ms, "details": {"kind": "replicate"}}


def episodes(steps):
    """{episode number: its steps} for the steps of a plan that hit the leader."""
    found: dict = {}
    for step in steps:
        if "stand_in" in step:
            found.setdefault(step["episode"], []).append(step)
    return found


class LeaderEpisodesPlanTest(unittest.TestCase):
    """plan() marks the episodes that hit the leader, decided by the seed alone."""

    def test_seed_one_of_stage_two_starts_with_a_leader_kill_under_its_late_and_lost_messages(self):
        """Seed 1 with stage 2's faults: late and lost messages from the stand-in, its kill 2-4 s later, then repair."""
        steps = episodes(plan(1, 5, 20, STAGE_2_FAULTS))[1]
        self.assertEqual([s["kind"] for s in steps], ["links", "crash", "clear", "recover"])
        links, kill = steps[0], steps[1]
        self.assertEqual(links["arg"], {"from": 2, "to": [0, 1, 3, 4], "delay_ms": [150, 600], "drop_rate": 0.55})
        self.assertEqual((kill["arg"], steps[3]["arg"]), (2, 2))
        self.assertTrue(all(s["stand_in"] == 2 for s in steps))
        self.assertTrue(LEADER_KILL_AFTER_S[0] <= kill["at_s"] - links["at_s"] <= LEADER_KILL_AFTER_S[1] + 0.01)

    def test_about_half_the_episodes_hit_the_leader_and_each_kind_does(self):
        """Over 20 seeds, kills, pauses and partitions all hit the leader (planned: a stand-in), about half of them."""
        kinds, leader_steps, all_steps = set(), 0, 0
        for seed in range(1, 21):
            steps = plan(seed, 5, 30, GRADER_KINDS)
            all_steps += len({s["at_s"] for s in steps if s["kind"] in ("crash", "stop", "partition")})
            for group in episodes(steps).values():
                self.assertEqual(len({s["stand_in"] for s in group}), 1)
                fault = next((s for s in group if s["kind"] in ("crash", "stop", "partition")), None)
                if fault is None:  # its fault would come after the end
                    continue
                kinds.add(fault["kind"])
                leader_steps += 1
                nodes = fault["arg"] if fault["kind"] != "partition" else min(fault["arg"], key=len)
                self.assertIn(group[0]["stand_in"], nodes if isinstance(nodes, list) else [nodes])
        self.assertEqual(kinds, {"crash", "stop", "partition"})
        self.assertTrue(0.3 < leader_steps / all_steps < 0.7, leader_steps / all_steps)

    def test_a_leader_cut_off_stays_cut_off_longer(self):
        """A partition that cuts off the leader lasts at least 6 s (2 s beyond the others): its queue drains first."""
        holds = []
        for seed in range(1, 21):
            steps = plan(seed, 5, 60, GRADER_KINDS)
            for number, step in enumerate(steps):
                heal = next((s for s in steps[number:] if s["kind"] == "heal"), None)
                if step["kind"] == "partition" and "stand_in" in step and heal is not None:
                    holds.append(heal["at_s"] - step["at_s"])
        self.assertGreater(len(holds), 10)
        self.assertGreaterEqual(min(holds), HOLD_S["isolate"][0] + LEADER_ISOLATE_EXTRA_S - 0.01)

    def test_no_leader_episode_without_its_repair_nor_link_faults_without_clear(self):
        """Without recover no kill hits the leader; without clear a leader's kill comes without link faults."""
        for seed in range(1, 11):
            self.assertFalse(episodes(plan(seed, 5, 30, ("crash", "drop", "delay", "clear"))))
            steps = plan(seed, 5, 30, ("crash", "recover", "drop", "delay"))
            self.assertNotIn("links", [s["kind"] for s in steps])

    def test_planned_and_applied_leader_steps_in_words(self):
        """describe() says a planned step hits the leader in the stand-in's place, and an applied one who led."""
        planned = {"at_s": 2.0, "kind": "crash", "arg": 2, "episode": 1, "stand_in": 2}
        self.assertEqual(describe(planned), "at 2.0 s: kill -9 node-2 [the leader then, in node-2's place]")
        self.assertEqual(describe({**planned, "arg": 4, "leader": 4}), "at 2.0 s: kill -9 node-4 [node-4 led]")
        self.assertEqual(describe({**planned, "leader": None}), "at 2.0 s: kill -9 node-2 [no leader found]")
        links = {"at_s": 1.0, "kind": "links", "arg": {"from": 3, "to": [0, 1], "drop_rate": 0.4}}
        self.assertEqual(describe(links), "at 1.0 s: messages from node-3: drop_rate 0.4")


class LeaderFromMessagesTest(unittest.TestCase):
    """The leader is the node that sent the most node-to-node messages in the last second."""

    def test_counts_only_node_to_node_messages_of_the_last_second(self):
        """Older messages, client messages and other events are not counted."""
        events = [sent("node-1", "node-0", 100), sent("node-1", "node-2", 2100), sent("node-2", "node-0", 1500),
                  sent("c1", "node-0", 2000), {"type": "message_delivered", "nodes": ["node-2", "node-1"],
                                               "time_ms": 2050}, sent("node-2", "node-1", 2200)]
        self.assertEqual(sender_counts(events), {1: 1, 2: 2})
        self.assertEqual(sender_counts([]), {})

    def test_the_busiest_node_not_down_is_the_leader(self):
        """Most messages wins, the lowest id breaks a tie, a down node is skipped, no message means no leader."""
        self.assertEqual(busiest({0: 5, 3: 40, 4: 12}), 3)
        self.assertEqual(busiest({1: 7, 2: 7}), 1)
        self.assertEqual(busiest({0: 5, 3: 40, 4: 12}, down={3}), 4)
        self.assertIsNone(busiest({}))
        self.assertIsNone(busiest({2: 9}, down=[2]))

    def test_swapping_the_stand_in_and_the_leader_in_each_kind_of_argument(self):
        """Node ids trade places in a node, a partition's groups and a links fault; other values stay."""
        swap = {2: 4, 4: 2}
        self.assertEqual(swap_nodes(2, swap), 4)
        self.assertEqual(swap_nodes([[0, 2], [1, 3, 4]], swap), [[0, 4], [1, 2, 3]])
        self.assertEqual(swap_nodes({"from": 2, "to": [0, 1, 3, 4], "drop_rate": 0.4}, swap),
                         {"from": 4, "to": [0, 1, 2, 3], "drop_rate": 0.4})
        self.assertEqual(swap_nodes({"delay_ms": [0, 2]}, swap), {"delay_ms": [0, 2]})


class LeaderTargetsTest(unittest.TestCase):
    """At run time the leader found when an episode begins takes its stand-in's place in all its steps."""

    def test_one_lookup_per_episode_and_the_same_node_repaired(self):
        """The leader is looked up at the episode's first step; its kill and recovery hit the same node."""
        asked = []
        leaders = iter([3, 0])

        def find(down):
            asked.append(sorted(down))
            return next(leaders)
        targets = LeaderTargets(find)
        steps = [{"at_s": 1, "kind": "links", "arg": {"from": 1, "to": [0, 2, 3, 4], "delay_ms": [150, 300]}},
                 {"at_s": 2, "kind": "crash", "arg": 1}, {"at_s": 4, "kind": "clear", "arg": None},
                 {"at_s": 4, "kind": "recover", "arg": 1}]
        applied = [targets.resolve({**s, "episode": 1, "stand_in": 1}) for s in steps]
        self.assertEqual(applied[0]["arg"]["from"], 3)
        self.assertEqual([a["arg"] for a in applied[1::2]], [3, 3])
        self.assertTrue(all(a["leader"] == 3 for a in applied))
        plain = targets.resolve({"at_s": 5, "kind": "crash", "arg": 2})
        self.assertEqual((plain["arg"], "leader" in plain), (2, False))
        pause = targets.resolve({"at_s": 6, "kind": "stop", "arg": 4, "episode": 2, "stand_in": 4})
        self.assertEqual((pause["arg"], asked), (0, [[], [2]]))

    def test_no_leader_found_keeps_the_seeds_stand_in(self):
        """When no node sent messages lately, the episode hits the stand-in the seed chose."""
        targets = LeaderTargets(lambda down: None)
        step = targets.resolve({"at_s": 1, "kind": "partition", "arg": [[1], [0, 2]], "episode": 1, "stand_in": 1})
        self.assertEqual((step["arg"], step["leader"]), ([[1], [0, 2]], None))


if __name__ == "__main__":
    unittest.main()
