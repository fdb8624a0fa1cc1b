"""Lab 12's stage 3 model answer keeps two rules of its views, checked in-process on the engine itself.

A grader schedule with long pauses found the model answer non-linearizable: a
primary paused with a client operation queued came back, heard of a newer view
in its next round, adopted it, and then applied the queued operation stamped
with the new view's number; the backups took it from a node that does not
lead that view. These tests drive `python/replica.py` with a recording node
(no process, no clock) and check both rules.
"""
import importlib.util
import os
import sys
import unittest

from tests.helpers import ROOT

MODELS = os.path.join(ROOT, "labs", "lab12_build_your_own_replica", "python")


def load(name: str):
    """Import MODELS/<name>.py under its own name (the model answers are a folder of scripts, not a package)."""
    spec = importlib.util.spec_from_file_location(name, os.path.join(MODELS, f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # replica.py imports node_loop by that name
    spec.loader.exec_module(module)
    return module


node_loop = load("node_loop")
replica = load("replica")
TEMPORARILY_UNAVAILABLE = node_loop.TEMPORARILY_UNAVAILABLE


class RecordingNode:
    """What the engine says and sends, kept in lists instead of printed."""

    def __init__(self, node_id, node_ids):
        self.node_id, self.node_ids = node_id, node_ids
        self.errors, self.replies, self.rpcs = [], [], []
        self.clock_s = 0.0  # the node's clock (Node.now): a test sets it

    def now(self):
        return self.clock_s

    def peers(self):
        return [n for n in self.node_ids if n != self.node_id]

    def error(self, request, code, text):
        self.errors.append((request["body"]["msg_id"], code, text))

    def reply(self, request, body):
        self.replies.append((request["body"].get("msg_id"), body))

    def rpc(self, dest, body, callback, timeout_ms):
        self.rpcs.append((dest, body))

    def after(self, delay_ms, function):
        pass


class MemoryStore:
    """Storage without a file."""

    def __init__(self, state):
        self.state = state

    def save(self):
        pass


def engine(node_id, view=0, led=0):
    """A stage 3 engine as node `node_id` of n0..n2, leading `view` if it is that view's primary."""
    r = replica.Replica(3)
    r.node = RecordingNode(node_id, ["n0", "n1", "n2"])
    r.store = MemoryStore({"view": view, "data": {}, "led": led})
    return r


class ViewRulesTest(unittest.TestCase):
    """A node applies client changes only while it leads its view, and backups take changes only from its primary."""

    def test_a_queued_operation_is_refused_once_the_node_no_longer_leads(self):
        """n0 leads view 0 with a write queued; it adopts view 1 (n1's): the write is refused with 11, not applied."""
        r = engine("n0")
        r.busy = True  # another operation is under way; the write waits in the queue
        r.queue.append({"src": "c1", "body": {"type": "write", "msg_id": 7, "key": "k", "value": 85}})
        r.adopt(1)  # a round's answer named view 1, led by n1
        r.busy = False
        r.next_operation()
        self.assertEqual([(m, c) for m, c, _ in r.node.errors], [(7, TEMPORARILY_UNAVAILABLE)])
        self.assertEqual(r.store.state["data"], {}, "nothing stored under a view this node does not lead")
        self.assertFalse([body for _, body in r.node.rpcs if body.get("change")], "no change sent to the backups")

    def test_a_backup_takes_changes_only_from_the_primary_of_their_view(self):
        """In view 1 (led by n1) a change from n0 is answered but not stored; the same change from n1 is stored."""
        r = engine("n2", view=1, led=None)
        change = {"key": "k", "value": 85, "version": [1, 9]}
        r.on_replicate({"src": "n0", "body": {"type": "replicate", "msg_id": 1, "view": 1, "change": change}})
        self.assertEqual(r.store.state["data"], {})
        r.on_replicate({"src": "n1", "body": {"type": "replicate", "msg_id": 2, "view": 1, "change": change}})
        self.assertEqual(r.store.state["data"], {node_loop.key_name("k"): [85, [1, 9]]})
        self.assertEqual(len(r.node.replies), 2, "both are answered (with the view), so the sender learns it")


if __name__ == "__main__":
    unittest.main()
