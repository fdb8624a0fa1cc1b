"""Lab 12's starter and model nodes speak lin-kv through the bridge; each planted bug shows its failure."""
import itertools
import json
import os
import shutil
import subprocess
import tempfile
import unittest

from byon.child_process import alive
from tests.byon_harness import JS_NODES, Harness, python_node
from tests.mixins import TestMixin

NODE_JS = shutil.which("node")
MODELS = ("model_1_single_copy", "model_2_primary_backup", "model_3_majority_leader")


class StarterContract(TestMixin):
    """What a starter node answers on its own (mixed into one test class per language)."""

    command: list

    def test_single_node_round_trips_and_codes(self):
        """write, read, cas answer *_ok; a missing key is 20, a wrong `from` is 22, an unknown type is 10."""
        with Harness(self.command) as h:
            self.assertEqual(h.kv("n1", "read", "k").error.code, 20)
            self.assertEqual(h.kv("n1", "cas", "k", 2, expected=1).error.code, 20)
            self.assertEqual(h.kv("n1", "write", "k", 1).type, "ok")
            self.assertEqual(h.kv("n1", "read", "k").value, 1)
            wrong = h.kv("n1", "cas", "k", 3, expected=2)
            self.assertEqual((wrong.type, wrong.error.code), ("fail", 22))
            self.assertEqual(h.kv("n1", "cas", "k", 3, expected=1).type, "ok")
            self.assertEqual(h.kv("n1", "read", "k").value, 3)
            self.assertEqual(h.kv("n1", "write", 7, [1, {"a": None}]).type, "ok", "keys and values are any JSON")
            self.assertEqual(h.kv("n1", "read", 7).value, [1, {"a": None}])
            self.assertEqual(h.request("n1", {"type": "echo"})["code"], 10)
            self.assertEqual(h.problems, [])

    def test_restart_after_kill_recovers_from_the_data_directory(self):
        """A node killed with -9 and restarted on its data directory still has its acknowledged write."""
        with Harness(self.command) as h:
            self.assertEqual(h.kv("n1", "write", "k", "durable").type, "ok")
            pid = h.kill("n1")
            self.assertFalse(alive(pid))
            h.start("n1")
            self.assertEqual(h.kv("n1", "read", "k").value, "durable")

    def test_storage_creates_its_data_folder(self):
        """Run by hand with REPLICALAB_DATA_DIR naming a folder that does not exist yet, a write is saved there."""
        with tempfile.TemporaryDirectory() as top:
            folder = os.path.join(top, "not", "yet")
            lines = [{"src": "c0", "dest": "n1", "body": {"type": "init", "msg_id": 1, "node_id": "n1",
                                                          "node_ids": ["n1"]}},
                     {"src": "c1", "dest": "n1", "body": {"type": "write", "msg_id": 2, "key": "k", "value": 1}}]
            ran = subprocess.run(self.command, input="".join(json.dumps(line) + "\n" for line in lines),
                                 capture_output=True, text=True, timeout=30,
                                 env={**os.environ, "REPLICALAB_DATA_DIR": folder})
            self.assertIn('"write_ok"', ran.stdout, ran.stderr[-500:])
            self.assertEqual(os.listdir(folder), ["n1.json"])

    def test_starter_does_not_replicate_yet(self):
        """As handed out, each node keeps its own copy: a write on n1 is not readable on n2 (the lab's TODO)."""
        with Harness(self.command, nodes=2) as h:
            self.assertEqual(h.kv("n1", "write", "k", 1).type, "ok")
            self.assertEqual(h.kv("n2", "read", "k").error.code, 20)


class PythonStarterTest(StarterContract, unittest.TestCase):
    """The Python starter."""

    command = python_node("starter")


@unittest.skipUnless(NODE_JS, "Node.js is missing: install the Debian package nodejs (apt-get install nodejs)")
class JavaScriptStarterTest(StarterContract, unittest.TestCase):
    """The JavaScript starter (Node.js)."""

    command = [NODE_JS or "node", f"{JS_NODES}/starter.js"]


@unittest.skipUnless(NODE_JS, "Node.js is missing: install the Debian package nodejs (apt-get install nodejs)")
class JavaScriptModelTest(unittest.TestCase):
    """The JavaScript model answers: stage 1 forwards to the holder; stages 2 and 3 survive a killed primary."""

    def test_single_copy_serves_from_any_node(self):
        """A write on n2 is read on n3 through the holder n1; a stale cas is 22; n1 down makes n2 answer 0."""
        with Harness([NODE_JS or "node", f"{JS_NODES}/model_1_single_copy.js"], nodes=3) as h:
            self.assertEqual(h.kv("n2", "write", "k", 1).type, "ok")
            self.assertEqual(h.kv("n3", "read", "k").value, 1)
            self.assertEqual(h.kv("n3", "cas", "k", 2, expected=5).error.code, 22)
            h.kill("n1")
            result = h.kv("n2", "write", "k", 3)
            self.assertEqual((result.type, result.error.code), ("info", 0))

    def test_stages_2_and_3_serve_and_keep_acknowledged_writes_when_the_primary_is_killed(self):
        """replica.js: cas codes as in Python; after kill -9 of the primary n1 a backup reads the acknowledged write."""
        for model in MODELS[1:]:
            with self.subTest(model), Harness([NODE_JS or "node", f"{JS_NODES}/{model}.js"], nodes=3) as h:
                self.assertEqual(h.kv("n3", "write", "k", "acked").type, "ok")
                self.assertEqual(h.kv("n2", "cas", "k", "b", expected="acked").type, "ok")
                self.assertEqual(h.kv("n1", "cas", "k", "c", expected="acked").error.code, 22)
                self.assertEqual(h.kv("n2", "read", "nothing").error.code, 20)
                h.kill("n1")
                self.assertEqual(h.kv_until("n2", "read", "k").value, "b")
                self.assertEqual(h.kv_until("n3", "write", "k", "later").type, "ok")


def first_change_to(node: str):
    """A block rule that drops only the first replicated change sent to `node` (one lost message)."""
    count = itertools.count()
    return lambda e: (e.dest == node and e.body.get("type") == "replicate" and e.body.get("change")
                      and next(count) == 0)


def changes_to(node: str):
    """A block rule that drops every replicated change (not heartbeats) sent to `node`."""
    return lambda e: e.dest == node and e.body.get("type") == "replicate" and bool(e.body.get("change"))


class ModelAnswerTest(unittest.TestCase):
    """The model answers serve lin-kv from any node; stages 2 and 3 survive a crashed primary."""

    def test_every_stage_serves_from_any_node(self):
        """A write on n2 is read on n3; cas answers cas_ok, or 22 when `from` is stale, or 20 on no key."""
        for model in MODELS:
            with self.subTest(model), Harness(python_node(model), nodes=3) as h:
                self.assertEqual(h.kv("n2", "write", "k", 1).type, "ok")
                self.assertEqual(h.kv("n3", "read", "k").value, 1)
                self.assertEqual(h.kv("n3", "cas", "k", 2, expected=1).type, "ok")
                self.assertEqual(h.kv("n1", "cas", "k", 3, expected=1).error.code, 22)
                self.assertEqual(h.kv("n2", "read", "nothing").error.code, 20)

    def test_stages_2_and_3_keep_acknowledged_writes_when_the_primary_is_killed(self):
        """After kill -9 of the primary n1, a backup takes over and still reads the acknowledged write."""
        for model in MODELS[1:]:
            with self.subTest(model), Harness(python_node(model), nodes=3) as h:
                self.assertEqual(h.kv("n3", "write", "k", "acked").type, "ok")
                h.kill("n1")
                self.assertEqual(h.kv_until("n2", "read", "k").value, "acked")
                self.assertEqual(h.kv_until("n3", "write", "k", "later").type, "ok")
                pids = [bridge.pid for bridge in h.bridges.values()]
            self.assertEqual([pid for pid in pids if alive(pid)], [], "no node process outlives the harness")

    def test_restarted_primary_keeps_ordering_its_writes(self):
        """A primary killed and restarted on its data directory numbers new writes above the ones it saved."""
        for model in MODELS:
            with self.subTest(model), Harness(python_node(model), nodes=3) as h:
                for value in (1, 2, 3):
                    self.assertEqual(h.kv("n1", "write", "k", value).type, "ok")
                h.kill("n1")
                h.start("n1")
                self.assertEqual(h.kv_until("n1", "write", "k", 4).type, "ok")
                self.assertEqual(h.kv_until("n2", "read", "k").value, 4)

    def test_stage_3_minority_primary_refuses_and_majority_goes_on(self):
        """Cut off from the majority, the old primary answers error 11 to reads; the majority elects and serves."""
        with Harness(python_node("model_3_majority_leader"), nodes=3) as h:
            self.assertEqual(h.kv("n1", "write", "k", 1).type, "ok")
            h.partition(["n1"])
            self.assertEqual(h.kv_until("n2", "write", "k", 2).type, "ok")
            stale = h.kv("n1", "read", "k")
            self.assertEqual((stale.type, stale.error.code), ("fail", 11))
            refused = h.kv("n1", "write", "k", 3)
            self.assertNotEqual(refused.type, "ok")
            h.heal()
            self.assertEqual(h.kv_until("n1", "read", "k").value, 2)


class PlantedBugTest(unittest.TestCase):
    """Each planted bug gives a run that the correct model does not (the grader will find these)."""

    def test_ack_before_replicating_loses_an_acknowledged_write(self):
        """With the backups not getting the change, the bug acknowledges it; after a failover it is gone."""
        for bug, acked in ((None, False), ("ack-before-replicating", True)):
            args = ("--bug", bug) if bug else ()
            with self.subTest(bug), Harness(python_node("model_2_primary_backup", *args), nodes=3) as h:
                h.block = lambda e: changes_to("n2")(e) or changes_to("n3")(e)
                self.assertEqual(h.kv("n1", "write", "k", "v").type == "ok", acked)
                # Kill before healing: a primary still retrying would otherwise race the kill.
                h.kill("n1")
                h.heal()
                after = h.kv_until("n2", "read", "k")
                self.assertEqual(after.error.code if after.error else None, 20, "no backup ever had it")

    def test_no_retry_loses_a_write_after_one_lost_message(self):
        """One lost change to n2: the model resends it; the bug takes n2 for crashed, so n2 misses the write."""
        for bug, survives in ((None, True), ("no-retry", False)):
            args = ("--bug", bug) if bug else ()
            with self.subTest(bug), Harness(python_node("model_2_primary_backup", *args), nodes=3) as h:
                h.block = first_change_to("n2")
                self.assertEqual(h.kv("n1", "write", "k", "v").type, "ok")
                h.kill("n1")
                h.kill("n3")  # n2 alone must take over, and shows what it holds
                self.assertEqual(h.kv_until("n2", "read", "k", want="ok").value == "v", survives)

    def test_read_one_replica_returns_a_stale_value(self):
        """n3 misses a change: the model's read on n3 still sees it (via the primary), the bug's does not."""
        for bug, sees in ((None, True), ("read-one-replica", False)):
            args = ("--bug", bug) if bug else ()
            with self.subTest(bug), Harness(python_node("model_3_majority_leader", *args), nodes=3) as h:
                h.block = changes_to("n3")
                self.assertEqual(h.kv("n1", "write", "k", "new").type, "ok")
                self.assertEqual(h.kv("n3", "read", "k").value == "new", sees)

    def test_cas_compared_without_quorum_fails_wrongly(self):
        """n3 holds an old value: the model's cas from the acknowledged value succeeds, the bug's says 22."""
        for bug, succeeds in ((None, True), ("cas-compares-without-quorum", False)):
            args = ("--bug", bug) if bug else ()
            with self.subTest(bug), Harness(python_node("model_3_majority_leader", *args), nodes=3) as h:
                self.assertEqual(h.kv("n1", "write", "k", 1).type, "ok")
                h.block = changes_to("n3")
                self.assertEqual(h.kv("n1", "write", "k", 2).type, "ok")
                self.assertEqual(h.kv("n3", "cas", "k", 3, expected=2).type == "ok", succeeds)

    def test_leader_that_never_steps_down_serves_stale_reads(self):
        """Partitioned away, the model's old primary refuses reads; the bug's answers the old value."""
        for bug, stale in ((None, False), ("leader-never-steps-down", True)):
            args = ("--bug", bug) if bug else ()
            with self.subTest(bug), Harness(python_node("model_3_majority_leader", *args), nodes=3) as h:
                self.assertEqual(h.kv("n1", "write", "k", 1).type, "ok")
                h.partition(["n1"])
                self.assertEqual(h.kv_until("n2", "write", "k", 2).type, "ok")
                self.assertEqual(h.kv("n1", "read", "k").value == 1, stale)


if __name__ == "__main__":
    unittest.main()
