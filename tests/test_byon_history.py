"""lin-kv outcomes recorded as a history and checked: the model answer passes, a planted bug is caught."""
import random
import threading
import unittest

from tests.byon_harness import Harness, python_node


def clients_run(harness: Harness, clients: int, ops: int, seed: int) -> None:
    """`clients` threads each send `ops` random reads, writes and cas on two keys to random nodes."""
    def client(n):
        rng = random.Random(seed * 100 + n)
        for _ in range(ops):
            node, key = rng.choice(harness.node_ids), rng.choice(["a", "b"])
            f = rng.choice(["read", "write", "cas"])
            harness.kv(node, f, key, rng.randint(0, 3), expected=rng.randint(0, 3))
    threads = [threading.Thread(target=client, args=(n,), name=f"client-{n}") for n in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)


class HistoryTest(unittest.TestCase):
    """byon.lin_kv's outcomes feed cluster/history.py and the checker unchanged."""

    def test_model_answer_history_is_linearizable(self):
        """Three concurrent clients on the stage 3 model give a history the checker finds linearizable."""
        with Harness(python_node("model_3_majority_leader"), nodes=3) as h:
            clients_run(h, clients=3, ops=40, seed=1)
            verdict = h.check()
        self.assertEqual(h.history.recorded_ops, 120)
        self.assertTrue(verdict["linearizable"], verdict["violations"][:1])
        outcomes = {e["type"] for e in h.history.events}
        self.assertIn("fail", outcomes, "some cas saw another value (code 22), recorded as fail")

    def test_stale_read_of_a_leader_that_never_steps_down_is_a_violation(self):
        """The bug's old primary reads 1 after 2 was acknowledged; the checker names that read."""
        with Harness(python_node("model_3_majority_leader", "--bug", "leader-never-steps-down"), nodes=3) as h:
            h.kv("n1", "write", "k", 1)
            h.partition(["n1"])
            self.assertEqual(h.kv_until("n2", "write", "k", 2).type, "ok")
            self.assertEqual(h.kv("n1", "read", "k").value, 1)
            verdict = h.check()
        self.assertFalse(verdict["linearizable"])
        self.assertEqual(verdict["violations"][0]["key"], "k")
        self.assertEqual(verdict["violations"][0]["unplaceable"][0]["f"], "read")

    def test_same_run_on_the_model_answer_is_linearizable(self):
        """The correct model refuses the old primary's read (fail, dropped), so the same run checks out."""
        with Harness(python_node("model_3_majority_leader"), nodes=3) as h:
            h.kv("n1", "write", "k", 1)
            h.partition(["n1"])
            self.assertEqual(h.kv_until("n2", "write", "k", 2).type, "ok")
            self.assertEqual(h.kv("n1", "read", "k").type, "fail")
            verdict = h.check()
        self.assertTrue(verdict["linearizable"], verdict["violations"][:1])


if __name__ == "__main__":
    unittest.main()
