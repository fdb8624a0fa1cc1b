"""REPLICALAB_TIME_SCALE: lab 12's node loops (Python and JavaScript) and model answers run on a slowed clock.

A student steps a paused cluster by hand; with `python run.py cluster --time-scale 50`
every program's timers and the times its engine compares run 50 times slower, so its
heartbeats, retries and failure detector do not outrun the student. In-process for
Python (a fake clock under the node loop), one short `node` run for JavaScript.
"""
import json
import os
import random
import shutil
import subprocess
import unittest
from unittest import mock

from tests.helpers import ROOT
from tests.test_lab12_replica_views import engine, node_loop

JS = os.path.join(ROOT, "labs", "lab12_build_your_own_replica", "js")


class FakeTime:
    """Stands for the `time` module inside node_loop: monotonic() is what the test says."""

    def __init__(self, now_s: float):
        self.now_s = now_s

    def monotonic(self) -> float:
        return self.now_s


def scaled_node(scale: str, now_s: float = 1000.0):
    """A node_loop.Node built with REPLICALAB_TIME_SCALE=scale, on a fake clock at `now_s` real seconds."""
    fake = FakeTime(now_s)
    with mock.patch.dict(os.environ, {"REPLICALAB_TIME_SCALE": scale}), \
            mock.patch.object(node_loop, "log", lambda *parts: None):
        node = node_loop.Node()
    return node, fake


class PythonNodeLoopTest(unittest.TestCase):
    """node_loop.py's timers and now() follow the scaled clock."""

    def test_a_timer_fires_scale_times_later_in_real_time(self):
        """With scale 50, after(100 ms) fires after 5 s of real time, not before."""
        node, fake = scaled_node("50")
        fired = []
        with mock.patch.object(node_loop, "time", fake):
            node.after(100, lambda: fired.append(fake.now_s))
            fake.now_s = 1004.9
            node._fire_due_timers()
            self.assertEqual(fired, [], "fired after 4.9 s of real time: the clock is not slowed")
            fake.now_s = 1005.0
            node._fire_due_timers()
        self.assertEqual(fired, [1005.0])

    def test_now_advances_one_scale_th_of_real_time(self):
        """now() moves 0.1 s while 5 s of real time pass at scale 50 (what the engines compare)."""
        node, fake = scaled_node("50")
        with mock.patch.object(node_loop, "time", fake):
            before = node.now()
            fake.now_s += 5
            self.assertAlmostEqual(node.now() - before, 0.1)

    def test_no_or_a_bad_scale_is_real_time(self):
        """Unset, empty, zero, negative or not a number: the clock runs at real speed (and a bad one is logged)."""
        for raw in ("", "0", "-3", "fast", "inf"):
            node, _ = scaled_node(raw)
            self.assertEqual(node.time_scale, 1.0, raw)
        self.assertEqual(scaled_node("2.5")[0].time_scale, 2.5)


class PythonModelClockTest(unittest.TestCase):
    """The model answer's failure detector reads the node's clock."""

    def test_a_follower_suspects_the_primary_only_after_patience_on_the_node_clock(self):
        """n1 stays quiet while its node clock shows 1 s of silence from n0, and asks to lead after 2.5 s."""
        random.seed(3)
        r = engine("n1", view=0, led=None)
        r.heard = {"n0": 0.0, "n2": 0.0}
        r.node.clock_s = 1.0
        r.tick()
        self.assertFalse([body for _, body in r.node.rpcs if body["type"] == "prepare_view"])
        r.node.clock_s = 2.5
        r.tick()
        self.assertTrue([body for _, body in r.node.rpcs if body["type"] == "prepare_view"],
                        "n1 never suspected n0 after 2.5 s of silence on its clock")

    def test_a_change_names_the_clients_key(self):
        """The primary's replicate carries the key as the client gave it, so step mode can list it by key."""
        r = engine("n0")
        r.on_client({"src": "c1", "body": {"type": "write", "msg_id": 1, "key": "x", "value": 5}})
        changes = [body["change"] for _, body in r.node.rpcs if body["type"] == "replicate"]
        self.assertTrue(changes)
        self.assertEqual(changes[0]["key"], "x")


@unittest.skipIf(shutil.which("node") is None, "Node.js is not installed")
class JavaScriptClockTest(unittest.TestCase):
    """node_loop.js and replica.js follow the scaled clock."""

    def run_js(self, script: str, scale: str) -> dict:
        """Run `script` with node in the js folder under REPLICALAB_TIME_SCALE=scale; the JSON it prints."""
        done = subprocess.run(["node", "-e", script], cwd=JS, capture_output=True, text=True, timeout=30,
                              env={**os.environ, "REPLICALAB_TIME_SCALE": scale})
        self.assertEqual(done.returncode, 0, done.stderr)
        return json.loads(done.stdout)

    def test_after_fires_scale_times_later_and_now_is_slowed(self):
        """With scale 10, after(30 ms) fires after at least 300 ms of real time, and now() moved about 30 ms."""
        out = self.run_js("""
            const { Node } = require("./node_loop");
            const { performance } = require("perf_hooks");
            const node = new Node();
            const real = performance.now(), clock = node.now();
            node.after(30, () => console.log(JSON.stringify(
              { realMs: performance.now() - real, clockMs: (node.now() - clock) * 1000 })));
        """, "10")
        self.assertGreaterEqual(out["realMs"], 295)
        self.assertGreaterEqual(out["clockMs"], 29.5)
        self.assertLess(out["clockMs"], out["realMs"] / 5, "now() runs at real speed")

    def test_the_model_reads_the_node_clock(self):
        """replica.js: n1 does not suspect n0 after 1 s on its node clock, and asks to lead after 2.5 s."""
        out = self.run_js("""
            const { Replica } = require("./replica");
            const r = new Replica(3);
            let clock = 0;
            const sent = [];
            r.node.now = () => clock;
            r.node.after = () => null;
            r.node.send = (dest, body) => { sent.push(body.type); return sent.length; };
            r.node.nodeId = "n1"; r.node.nodeIds = ["n0", "n1", "n2"];
            r.start();
            clock = 1.0; r.tick(); const early = sent.filter((t) => t === "prepare_view").length;
            clock = 2.5; r.tick(); const late = sent.filter((t) => t === "prepare_view").length;
            console.log(JSON.stringify({ early, late }));
        """, "1")
        self.assertEqual(out, {"early": 0, "late": 2})


if __name__ == "__main__":
    unittest.main()
