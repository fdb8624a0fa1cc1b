"""The checker never runs away: easiest keys first, stop at the first violation, deadline and memory budgets."""
import json
import random
import threading
import unittest
from unittest import mock

import api.history
from checker import MODELS, check_history, parse_history
from checker.history import pair
from checker.wgl import check_ops
from tests.helpers import make_app


def register_history(key, ops, seed, clients=8, stale=False):
    """A linearizable register history on one key (overlapping ops), optionally with a read of 99."""
    rng = random.Random(seed)
    planned, state, clock = [], None, [0.0] * clients
    for n in range(ops):
        process = n % clients
        start = clock[process] + rng.uniform(0, 3)
        effect = start + rng.uniform(0, 5)
        end = effect + rng.uniform(0, 5)
        clock[process] = end
        planned.append((effect, start, end, process, rng.choice(["read", "write"]), rng.randrange(4)))
    events = []
    for _effect, start, end, process, f, value in sorted(planned):
        out = state if f == "read" else value
        if f == "write":
            state = value
        events.append({"process": f"{key}-{process}", "type": "invoke", "f": f, "key": key,
                       "value": None if f == "read" else value, "time": start})
        events.append({"process": f"{key}-{process}", "type": "ok", "f": f, "key": key,
                       "value": out, "time": end})
    if stale:
        reads = [e for e in events if e["f"] == "read" and e["type"] == "ok"]
        reads[len(reads) // 2]["value"] = 99  # nobody ever wrote 99
    return events


def mixed(hard_ops=3000, easy_keys=3):
    """One big key with a violation deep inside, and small keys that each fail at once."""
    events = register_history("hard", hard_ops, 1, stale=True)
    for i in range(easy_keys):
        events += register_history(f"easy{i}", 12, 10 + i, stale=True)
    return sorted(events, key=lambda e: (e["time"], e["type"] != "invoke"))


class OrderAndStopTest(unittest.TestCase):
    """Keys are searched easiest first and the check stops at the first violation."""

    def test_first_violation_names_an_easy_key_and_skips_the_rest(self):
        """With a big key and failing small keys, the answer names a small key; later keys are skipped."""
        verdict = check_history(mixed(), "register")
        self.assertEqual(verdict.result, "not_linearizable")
        self.assertEqual(len(verdict.violations), 1)
        self.assertTrue(str(verdict.violations[0].key).startswith("easy"))
        self.assertEqual(verdict.unknown_reasons.get("hard"), "skipped")
        self.assertEqual(verdict.keys_checked, 1)

    def test_all_keys_when_asked(self):
        """stop_at_first=False decides every key and reports every violation."""
        verdict = check_history(mixed(hard_ops=200), "register", stop_at_first=False)
        self.assertEqual(sorted(v.key for v in verdict.violations),
                         ["easy0", "easy1", "easy2", "hard"])
        self.assertEqual(verdict.unknown_reasons, {})


class BudgetTest(unittest.TestCase):
    """A budget that runs out makes a key unknown, with the budget named."""

    def test_memory_budget_makes_the_key_unknown(self):
        """A search that would hold more than --memory allows stops with reason 'memory'."""
        events = register_history("k", 600, 3, stale=True)
        verdict = check_history(events, "register", memory_mb=0.05)
        self.assertEqual(verdict.result, "unknown")
        self.assertEqual(verdict.unknown_reasons, {"k": "memory"})
        self.assertEqual(check_history(events, "register").result, "not_linearizable")

    def test_deadline_makes_the_key_unknown(self):
        """A deadline already past stops the search with reason 'deadline'."""
        ops = pair(parse_history(json.dumps(register_history("k", 3000, 4)), "json"))
        self.assertEqual(check_ops(MODELS["register"], ops, deadline=0).reason, "deadline")

    def test_reasons_are_in_the_json_verdict(self):
        """to_dict() lists each unknown key with its reason."""
        verdict = check_history(register_history("k", 600, 3, stale=True), "register", memory_mb=0.05)
        self.assertEqual(verdict.to_dict()["unknown_reasons"], [{"key": "k", "reason": "memory"}])


class ServerCheckTest(unittest.TestCase):
    """/check on the server runs within its budgets and outside the cluster lock."""

    def setUp(self):
        self.app, self.http = make_app()
        for value in ("a", "b"):
            self.http.post("/write", data=json.dumps({"key": "color", "value": value}))
            self.http.get("/read/color")

    def test_check_passes_both_budgets(self):
        """GET /check hands the checker what is left of the server's deadline, and the memory budget."""
        seen: dict = {}

        def spy(events, model, timeout, memory_mb, initial):
            seen.update(timeout=timeout, memory_mb=memory_mb)
            return check_history(events, model, timeout, memory_mb, initial)
        with mock.patch.object(api.history, "check_history", spy):
            self.assertEqual(self.http.get("/check").status_code, 200)
        self.assertLessEqual(seen["timeout"], api.history.CHECK_TIMEOUT_S)
        self.assertGreater(seen["timeout"], api.history.CHECK_TIMEOUT_S - 1)
        self.assertEqual(seen["memory_mb"], api.history.CHECK_MEMORY_MB)

    def test_memory_budget_answer_names_it(self):
        """A check that runs out of memory answers unknown and says which budget ran out."""
        with mock.patch.object(api.history, "CHECK_MEMORY_MB", 0):
            answer = self.http.get("/check").get_json()
        self.assertIsNone(answer["linearizable"])
        self.assertIn("memory budget", answer["message"])

    def test_cluster_lock_is_free_while_checking(self):
        """Other requests can take the cluster lock while a check searches."""
        lock_free = []

        def probe(events, model, timeout, memory_mb, initial):
            lock = api.history.manager().lock
            other = threading.Thread(target=lambda: lock_free.append(lock.acquire(timeout=2)
                                                                     and (lock.release() or True)))
            other.start()
            other.join()
            return check_history(events, model, timeout, memory_mb, initial)
        with mock.patch.object(api.history, "check_history", probe):
            self.assertEqual(self.http.get("/check").status_code, 200)
        self.assertEqual(lock_free, [True])


if __name__ == "__main__":
    unittest.main()
