"""The parts of `run.py cluster --node-cmd` that need no process: the flag's values, ids, the passthrough codec."""
import os
import shutil
import sys
import tempfile
import unittest
from typing import Any

from byon.node_cmd import model_command, node_commands
from byon.node_host import MAX_EVENT_REPLY_CHARS, StudentProcess, student_name, student_node
from cluster import codec
from cluster.errors import BadMessage, BadRequest
from cluster.passthrough import Passthrough
from config import Config
from realmode.front import empty_node_dir
from tests.helpers import ROOT


class NodeCommandsTest(unittest.TestCase):
    """--node-cmd CMD and N=CMD become one command per node."""

    def test_one_command_runs_every_node(self):
        """A value without a node id is every node's program."""
        self.assertEqual(node_commands(["python3 my_node.py"], 3), dict.fromkeys(range(3), "python3 my_node.py"))

    def test_per_node_commands_leave_the_others_to_the_model_answer(self):
        """N=CMD replaces node N only; the others run the chosen lab 12 model stage."""
        commands = node_commands(["1=node mine.js", "2=python3 b.py"], 4, model_stage=2)
        self.assertEqual((commands[1], commands[2]), ("node mine.js", "python3 b.py"))
        self.assertEqual(commands[0], model_command(2))
        self.assertEqual(commands[3], model_command(2))
        self.assertIn("model_2_primary_backup.py", commands[0])

    def test_a_per_node_command_overrides_the_common_one(self):
        """CMD for all and N=CMD together: node N runs its own, the others the common one."""
        self.assertEqual(node_commands(["a", "0=b"], 2), {0: "b", 1: "a"})

    def test_mistakes_are_sentences(self):
        """A node out of range, a node named twice, two common commands or an empty one is refused, saying why."""
        for values, words in ((["7=x"], "0 to 2"), (["1=x", "1=y"], "twice"), (["a", "b"], "given twice"),
                              (["1="], "has no command")):
            with self.subTest(values=values), self.assertRaises(BadRequest) as caught:
                node_commands(values, 3)
            self.assertIn(words, caught.exception.message)

    def test_student_ids_name_the_nodes(self):
        """Node N is "nN" to a program, and only names of the cluster's nodes map back."""
        self.assertEqual(student_name(3), "n3")
        self.assertEqual([student_node(name, 5) for name in ("n0", "n4", "n5", "n01", "c1", "node-1", "n")],
                         [0, 4, None, None, None, None, None])


class PassthroughCodecTest(unittest.TestCase):
    """A student's message crosses the wire with its body verbatim and is checked where it arrives."""

    def test_round_trip_keeps_the_body_and_names_the_kind(self):
        """The decoded copy has the same body; its kind is the body's type, whatever ReplicaLab names exist."""
        msg = Passthrough(1, 2, {"type": "put", "msg_id": 7, "key": "k", "data": [1, {"a": None}]}, wire_id=11)
        copy: Any = codec.decode(codec.from_text(codec.to_text(codec.encode(msg))))
        self.assertEqual(copy, msg)
        self.assertEqual((copy.kind, copy.key, copy.summary()), ("put", "k", "put k data=[1,{a=null}]"))

    def test_a_huge_type_is_cut_in_the_kind_and_summary_that_events_keep(self):
        """A program's 900 KB "type" reaches the receiver whole, but kind and summary (an event's text) stay short."""
        msg = Passthrough(1, 2, {"type": "x" * 900_000, "key": "k"}, wire_id=3)
        self.assertLessEqual(len(msg.kind), 64)
        self.assertLessEqual(len(msg.summary()), 120)
        self.assertTrue(msg.kind.startswith("x" * 40))
        copy: Any = codec.decode(codec.from_text(codec.to_text(codec.encode(msg))))
        self.assertEqual(len(copy.body["type"]), 900_000)

    def test_a_malformed_student_body_is_refused_with_the_bridge_rules(self):
        """A payload without a type, or with a string msg_id, is a BadMessage saying what is wrong."""
        for payload, words in (({"x": 1}, 'no "type"'), ({"type": "a", "msg_id": "3"}, "msg_id")):
            envelope = {"src": "node-0", "dest": "node-1",
                        "body": {"type": "passthrough", "msg_id": 1, "op_id": "", "payload": payload}}
            with self.subTest(payload=payload), self.assertRaises(BadMessage) as caught:
                codec.decode(envelope)
            self.assertIn(words, caught.exception.message)


class HugeReplyTest(unittest.TestCase):
    """A program's huge reply reaches the front whole, but the event that narrates it stays small."""

    def test_a_megabyte_reply_is_kept_cut_in_its_event(self):
        """A 500 KB "type", a 400 KB value: request() returns them whole; its client_failed event stays small."""
        data_dir = tempfile.mkdtemp(prefix="replicalab-huge-reply-")
        self.addCleanup(shutil.rmtree, data_dir, ignore_errors=True)
        command = f"{sys.executable} {os.path.join(ROOT, 'tests', 'fixtures', 'huge_reply_node.py')}"
        process = StudentProcess(Config(nodes=1, data_dir=data_dir), 0, {}, None, None, command)
        self.addCleanup(process.close)
        events: list = []
        process.emit = lambda type_, text, nodes=(), key=None, **details: events.append((type_, text, details))
        process.start()
        reply, _ = process.request({"type": "read", "key": "k"}, 20)
        self.assertEqual(len((reply or {}).get("value", "")), 400_000)
        type_, text, details = events[-1]
        self.assertEqual(type_, "client_failed")
        self.assertLess(len(text), 400)
        self.assertLess(len(repr(details["reply"])), MAX_EVENT_REPLY_CHARS)


class FreshTest(unittest.TestCase):
    """--fresh starts every node empty, its student program's files included."""

    def test_fresh_deletes_the_program_data_dir(self):
        """The program's folder (what a previous program saved) goes with the node's files; its log stays."""
        with tempfile.TemporaryDirectory() as node_dir:
            os.makedirs(os.path.join(node_dir, "program"))
            with open(os.path.join(node_dir, "program", "n1.json"), "w", encoding="utf-8") as old:
                old.write('{"from": "last week\'s starter"}')
            with open(os.path.join(node_dir, "node.log"), "w", encoding="utf-8") as log:
                log.write("kept\n")
            empty_node_dir(node_dir)
            self.assertEqual(os.listdir(node_dir), ["node.log"])


if __name__ == "__main__":
    unittest.main()
