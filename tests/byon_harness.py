"""TEST HARNESS ONLY, not a network: routes envelopes between bridged node programs in one test.

Real runs route a node's messages over ReplicaLab's transports (fault table,
step mode, event log). This harness only forwards each envelope a node prints
to the node it names, hands replies to client ids ("c...") back to the test,
and drops the messages a test's `block` rule names, so tests can drive student
and model nodes through `byon.stdio_bridge` today.
"""
from __future__ import annotations

import itertools
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
from typing import Callable, Dict, List, Optional

from byon import child_process
from byon.envelope import Envelope
from byon.lin_kv import KvOperation, KvResult, interpret, no_reply
from byon.stdio_bridge import Problem, StdioBridge
from checker import check_history
from cluster.history import History
from tests.helpers import ROOT

LAB12 = os.path.join(ROOT, "labs", "lab12_build_your_own_replica")
PYTHON_NODES = os.path.join(LAB12, "python")
JS_NODES = os.path.join(LAB12, "js")


def python_node(name: str, *args: str) -> List[str]:
    """The command that runs labs/lab12.../python/<name>.py with this interpreter."""
    return [sys.executable, os.path.join(PYTHON_NODES, f"{name}.py"), *args]


def wait_until(condition: Callable[[], bool], limit_s: float = 10.0) -> bool:
    """Poll `condition` until it holds or `limit_s` passed (real processes take real time)."""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


class MonotonicClock:
    """Milliseconds of real time, for the history (the nodes are real processes)."""

    def now(self) -> float:
        """Milliseconds since an arbitrary start."""
        return round(time.monotonic() * 1000, 3)


class Harness:
    """Start nodes n1..nN running `command`, route their messages, and play a client."""

    def __init__(self, command, nodes: int = 1, data_dir: Optional[str] = None, **bridge_options):
        self.node_ids = [f"n{i}" for i in range(1, nodes + 1)]
        self.command = command
        self._own_dir = data_dir is None
        self.data_dir = data_dir or tempfile.mkdtemp(prefix="byon-test-")
        self.bridge_options = bridge_options
        self.bridges: Dict[str, StdioBridge] = {}
        self.problems: List[Problem] = []
        self.logs: List[str] = []
        self.block: Callable[[Envelope], bool] = lambda envelope: False  # True: drop this message
        self.dropped = 0
        self._replies: Dict[int, dict] = {}
        self._changed = threading.Condition()
        self._ids = itertools.count(1)
        self.history = History(MonotonicClock(), 10_000)  # every kv() is recorded, as /history would
        self._history_lock = threading.Lock()  # the cluster lock guards History in the app

    def __enter__(self):
        for node in self.node_ids:
            self.start(node)
        return self

    def __exit__(self, *exc):
        self.stop_all()

    def start(self, node: str) -> StdioBridge:
        """Start (or restart, on its data directory) one node."""
        command = self.command(node) if callable(self.command) else self.command
        bridge = StdioBridge(node, self.node_ids, command, self.route, on_log=self._log,
                             on_problem=self.problems.append, data_dir=self.data_dir, **self.bridge_options)
        self.bridges[node] = bridge
        bridge.start()
        return bridge

    def kill(self, node: str) -> int:
        """kill -9 one node (its process group), as a crash would; returns its PID."""
        bridge = self.bridges[node]
        pid = bridge.pid
        child_process.signal_group(bridge.process, signal.SIGKILL)
        bridge.stop(grace_s=0)
        assert pid is not None, f"{node} was never started"
        return pid

    def stop_all(self) -> None:
        """Stop every node by its PID."""
        for bridge in self.bridges.values():
            bridge.stop(grace_s=0.2)
        if self._own_dir:
            shutil.rmtree(self.data_dir, ignore_errors=True)

    def _log(self, node: str, text: str) -> None:
        self.logs.append(f"{node}: {text}")

    def route(self, envelope: Envelope) -> None:
        """Deliver a node's message to its destination node, or to the waiting client."""
        if envelope.dest in self.bridges:
            if self.block(envelope):
                self.dropped += 1
            else:
                self.bridges[envelope.dest].send(envelope)
            return
        with self._changed:
            self._replies[envelope.body.get("in_reply_to", -1)] = envelope.body
            self._changed.notify_all()

    def partition(self, *groups) -> None:
        """Drop every message between nodes of different groups (nodes not named form one more group)."""
        side = {node: i for i, group in enumerate(groups) for node in group}
        self.block = lambda e: side.get(e.src, -1) != side.get(e.dest, -1)

    def heal(self) -> None:
        """Deliver everything again."""
        self.block = lambda envelope: False

    def request(self, node: str, body: dict, timeout_s: float = 5.0) -> Optional[dict]:
        """Send a client request to `node`; its reply body, or None if none came in time."""
        msg_id = next(self._ids)
        self.bridges[node].send({"src": "c1", "dest": node, "body": dict(body, msg_id=msg_id)})
        with self._changed:
            self._changed.wait_for(lambda: msg_id in self._replies, timeout_s)
            return self._replies.pop(msg_id, None)

    def kv(self, node: str, f: str, key, value=None, expected=None, timeout_s: float = 5.0) -> KvResult:
        """One lin-kv operation on `node`, interpreted as byon.lin_kv does for histories."""
        op = KvOperation(f, key, value, expected)
        with self._history_lock:
            invoke = self.history.begin(threading.current_thread().name, f, key, op.history_value())
        reply = self.request(node, op.request_body(0), timeout_s)
        result = no_reply(op, node, int(timeout_s * 1000)) if reply is None else interpret(op, reply, node)
        with self._history_lock:
            self.history.end(invoke, result.outcome())
        return result

    def check(self) -> dict:
        """The linearizability checker's verdict on everything kv() recorded (ReplicaLab's store model)."""
        with self._history_lock:
            events = list(self.history.events)
        return check_history(events, model="store", timeout=60).to_dict()

    def kv_until(self, node: str, f: str, key, value=None, expected=None, want: str = "ok",
                 limit_s: float = 10.0) -> KvResult:
        """Repeat an operation until its outcome is `want` (a failover takes real time); the last result."""
        deadline = time.monotonic() + limit_s
        while True:
            result = self.kv(node, f, key, value, expected, timeout_s=3.0)
            if result.type == want or time.monotonic() > deadline:
                return result
            time.sleep(0.1)
