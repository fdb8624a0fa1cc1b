"""Step mode on student nodes, the parts a human needs: requests wait through the pause, messages say what they carry.

In-process and fast: the wait of a client request in a student's node process
(byon/node_host.wait_through_pause) against a paused flag a test flips, the 504
sentence, the summary and key of a student message as GET /network/messages
lists it, and the --time-scale setting passed on to every program.
"""
import threading
import time
import types
import unittest

from byon import front_kv
from byon.lin_kv import KvOperation, no_reply
from byon.node_host import wait_through_pause
from cluster.errors import Conflict
from cluster.passthrough import SUMMARY_CHARS, Passthrough
from config import Config, ConfigError, from_args
from realmode.front import ProcessWorld, child_env
from realmode.front_steps import REAL_PAUSE, RealStepControl, student_pause


def reply_later(answered: threading.Condition, replies: dict, msg_id: int, after_s: float) -> threading.Thread:
    """A thread that puts a reply for `msg_id` after `after_s` seconds, as the program's stdout reader does."""
    def put():
        time.sleep(after_s)
        with answered:
            replies[msg_id] = {"type": "write_ok"}
            answered.notify_all()
    thread = threading.Thread(target=put, daemon=True)
    thread.start()
    return thread


class WaitThroughPauseTest(unittest.TestCase):
    """A request sent while the network is paused waits for its paused budget, not the running one."""

    def setUp(self):
        self.answered, self.replies = threading.Condition(), {}

    def test_a_reply_after_the_running_budget_still_arrives_while_paused(self):
        """Paused, a reply 0.4 s late is taken although the running budget is 0.05 s; the paused time is counted."""
        reply_later(self.answered, self.replies, 1, 0.4)
        reply, paused_s = wait_through_pause(self.answered, self.replies, 1, lambda: True, 0.05, 30)
        self.assertEqual(reply, {"type": "write_ok"})
        self.assertGreaterEqual(paused_s, 0.35)

    def test_the_paused_budget_bounds_the_wait(self):
        """Paused with a 0.3 s paused budget, it gives up at once past it, however long the running budget."""
        started = time.monotonic()
        reply, paused_s = wait_through_pause(self.answered, self.replies, 1, lambda: True, 60, 0.3)
        self.assertIsNone(reply)
        self.assertGreaterEqual(paused_s, 0.3)
        self.assertLess(time.monotonic() - started, 5)

    def test_a_running_network_uses_the_running_budget(self):
        """Not paused, the running budget (0.2 s) ends the wait; no paused time is counted."""
        started = time.monotonic()
        reply, paused_s = wait_through_pause(self.answered, self.replies, 1, lambda: False, 0.2, 30)
        self.assertEqual((reply, paused_s), (None, 0.0))
        self.assertGreaterEqual(time.monotonic() - started, 0.2, "it waited out the running budget")
        self.assertLess(time.monotonic() - started, 5)

    def test_without_a_paused_budget_paused_time_counts_as_running(self):
        """A request sent before the pause (paused budget 0) keeps its running budget through a pause."""
        reply_later(self.answered, self.replies, 1, 0.1)  # within the running budget: taken
        reply, paused_s = wait_through_pause(self.answered, self.replies, 1, lambda: True, 0.5, 0)
        self.assertEqual((reply, paused_s), ({"type": "write_ok"}, 0.0))
        started = time.monotonic()
        reply, paused_s = wait_through_pause(self.answered, self.replies, 2, lambda: True, 0.2, 0)
        self.assertEqual((reply, paused_s), (None, 0.0))
        self.assertGreaterEqual(time.monotonic() - started, 0.2, "paused time counted against the running budget")


class PausedTimeoutSentenceTest(unittest.TestCase):
    """The 504 of a request that waited through the pause says so and what to do."""

    def test_a_write_that_waited_on_the_paused_network(self):
        """The sentence names the paused seconds and client_timeout_ms, and says to deliver or resume; info, 504."""
        result = no_reply(KvOperation("write", "x", 1), "n1", 5000, paused_ms=30_000)
        self.assertEqual((result.status, result.type), (504, "info"))
        self.assertIn("30 s it waited while the network was paused", result.message)
        self.assertIn("client_timeout_ms", result.message)
        self.assertIn("POST /network/resume", result.message)

    def test_a_plain_timeout_keeps_its_sentence(self):
        """Not paused: the sentence gives the running wait only."""
        result = no_reply(KvOperation("read", "x"), "n1", 5000)
        self.assertEqual(result.message, "n1 did not answer the read of 'x' within 5000 ms; nothing changed.")


class StudentMessageSummaryTest(unittest.TestCase):
    """A student message is listed with its type, its key, and its other fields, cut short."""

    def test_a_heartbeat_and_a_change_differ(self):
        """`replicate view=3 change=null` and `replicate view=3 change={key=x value=1 ...}`: told apart."""
        beat = Passthrough(0, 1, {"type": "replicate", "msg_id": 4, "view": 3, "change": None})
        change = Passthrough(0, 1, {"type": "replicate", "msg_id": 5, "view": 3,
                                    "change": {"key": "x", "value": 1, "version": [3, 7]}})
        self.assertEqual(beat.summary(), "replicate view=3 change=null")
        self.assertEqual(change.summary(), "replicate view=3 change={key=x value=1 version=[3,7]}")

    def test_the_key_comes_first_and_plumbing_is_left_out(self):
        """A forwarded write reads `write x value=1 hops=1`; msg_id and in_reply_to are not shown."""
        msg = Passthrough(1, 0, {"type": "write", "msg_id": 9, "in_reply_to": 2, "key": "x", "value": 1, "hops": 1})
        self.assertEqual(msg.summary(), "write x value=1 hops=1")

    def test_the_key_of_a_carried_change(self):
        """The key of a body, else of an object field; none when neither has a string key."""
        self.assertEqual(Passthrough(0, 1, {"type": "replicate", "change": {"key": "x"}}).key, "x")
        self.assertEqual(Passthrough(0, 1, {"type": "put", "key": "k"}).key, "k")
        self.assertIsNone(Passthrough(0, 1, {"type": "replicate", "change": None}).key)

    def test_huge_and_deep_bodies_stay_short(self):
        """A 1 MB string, 100,000 list items and 500 nested lists make a summary of at most SUMMARY_CHARS."""
        deep: list = []
        for _ in range(500):
            deep = [deep]
        msg = Passthrough(0, 1, {"type": "big", "v": "y" * 1_000_000, "w": list(range(100_000)), "d": deep})
        started = time.monotonic()
        text = msg.summary()
        self.assertLessEqual(len(text), SUMMARY_CHARS)
        self.assertTrue(text.startswith("big v=yyy"))
        self.assertLess(time.monotonic() - started, 1.0)


class TimeScaleSettingTest(unittest.TestCase):
    """--time-scale is checked, passed to every program, and stretches the front's wait for a reply."""

    def test_zero_is_refused_with_a_sentence(self):
        """--time-scale 0 is a ConfigError naming the flag."""
        with self.assertRaises(ConfigError) as refused:
            from_args(["--time-scale", "0"], environ={})
        self.assertIn("--time-scale must be at least 1", str(refused.exception))

    def test_every_node_process_and_its_program_get_the_variable(self):
        """child_env (the node processes' environment, which their programs inherit) sets REPLICALAB_TIME_SCALE."""
        self.assertEqual(child_env(Config(time_scale=50))["REPLICALAB_TIME_SCALE"], "50")

    def test_the_fronts_reply_wait_follows_the_programs_clock(self):
        """5 s of the program's clock: 5 s unscaled, 250 s at scale 50, at most 10 minutes."""
        self.assertEqual(front_kv.reply_timeout_ms(Config()), 5000)
        self.assertEqual(front_kv.reply_timeout_ms(Config(time_scale=50)), 250_000)
        self.assertEqual(front_kv.reply_timeout_ms(Config(time_scale=10_000)), front_kv.MAX_REPLY_TIMEOUT_MS)


class StudentPauseSentenceTest(unittest.TestCase):
    """Pausing a cluster of student programs says what happens to their clocks, not that their timers stop."""

    def test_the_sentence_follows_the_time_scale(self):
        """Slowed: names the scale; unslowed: says the timers run and how to slow them."""
        self.assertIn("run 100 times slower than real time (--time-scale 100)", student_pause(100))
        self.assertIn("their own timers keep running", student_pause(1))
        self.assertIn("--time-scale 100", student_pause(1))

    def test_only_a_student_cluster_gets_it(self):
        """The front's network carries the scale for --node-cmd clusters, 0 (ReplicaLab's sentence) otherwise."""
        student = ProcessWorld(node_cmds={0: "python3 my_node.py"}).network(None, None, Config(time_scale=7))
        own = ProcessWorld().network(None, None, Config(time_scale=7))
        self.assertEqual((student.student_scale, own.student_scale), (7, 0))
        self.assertIn("timers stand still", REAL_PAUSE)

    def test_tick_says_it_cannot_move_a_programs_timers(self):
        """Paused, /tick on a cluster of programs only is a 409 saying their timers are their own; mixed, it ticks."""
        programs = ProcessWorld(node_cmds={0: "a", 1: "b"}).network(None, None, Config(nodes=2, rf=2, r=1, w=1))
        mixed = ProcessWorld(node_cmds={0: "a"}).network(None, None, Config(nodes=2, rf=2, r=1, w=1))
        self.assertEqual((programs.programs_only, mixed.programs_only), (True, False))
        programs.paused = True
        core = types.SimpleNamespace(network=programs, config=Config())
        with self.assertRaises(Conflict) as refused:
            RealStepControl(core).tick(100)
        self.assertIn("Your programs' timers are their own", refused.exception.message)


if __name__ == "__main__":
    unittest.main()
