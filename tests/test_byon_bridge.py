"""The stdio bridge runs a node program, checks what it prints, and never leaves an orphan."""
import json
import os
import subprocess
import sys
import tempfile
import textwrap
import threading
import unittest

from byon.child_process import DATA_DIR_ENV, alive
from byon.stdio_bridge import NodeStartError, StdioBridge
from tests.byon_harness import Harness, python_node, wait_until
from tests.helpers import ROOT

# A node that answers init, then prints whatever the test scripted, then echoes.
SCRIPTED = textwrap.dedent("""
    import json, os, sys
    first = json.loads(sys.stdin.readline())
    me = first["body"]["node_id"]
    print(json.dumps({"src": me, "dest": first["src"],
                      "body": {"type": "init_ok", "in_reply_to": first["body"]["msg_id"]}}), flush=True)
    script = os.environ.get("SCRIPT", "").replace("ME", me)
    sys.stdout.write(script.replace("LONG", "x" * (1024 * 1024 + 10)))
    sys.stdout.flush()
    print("data dir:", os.environ.get("REPLICALAB_DATA_DIR"), file=sys.stderr, flush=True)
    for line in sys.stdin:
        body = json.loads(line)["body"]
        print(json.dumps({"src": me, "dest": "c1", "body": {"type": "echo_ok", "in_reply_to": body["msg_id"]}}),
              flush=True)
""")


def script_file(test: unittest.TestCase, source: str) -> str:
    """Write a Python program into a temporary file removed after the test; returns its path."""
    handle = tempfile.NamedTemporaryFile("w", suffix=".py", delete=False)
    handle.write(source)
    handle.close()
    test.addCleanup(os.remove, handle.name)
    return handle.name


class BridgeTest(unittest.TestCase):
    """Start, talk, report, stop."""

    def scripted(self, script: str, **options) -> Harness:
        """A one-node harness around SCRIPTED printing `script` after init_ok."""
        os.environ["SCRIPT"] = script
        self.addCleanup(os.environ.pop, "SCRIPT", None)
        harness = Harness([sys.executable, script_file(self, SCRIPTED)], **options)
        harness.__enter__()
        self.addCleanup(harness.stop_all)
        return harness

    def assertEchoAnswered(self, harness: Harness) -> None:
        """The node still answers a client's echo request."""
        reply = harness.request("n1", {"type": "echo"})
        self.assertIsNotNone(reply, "no answer to echo")
        assert reply is not None  # for mypy; the line above fails the test first
        self.assertEqual(reply["type"], "echo_ok")

    def test_init_and_round_trip_and_stop_by_pid(self):
        """The starter answers init, a write round trip works, and stop leaves no process behind."""
        with Harness(python_node("starter")) as harness:
            bridge = harness.bridges["n1"]
            self.assertTrue(alive(bridge.pid))
            self.assertEqual(harness.kv("n1", "write", "k", 1).type, "ok")
            self.assertEqual(bridge.stats.sent, 2, "init and one request went to its stdin")
            self.assertEqual(bridge.stats.received, 1, "one reply came back (init_ok is the bridge's own)")
        self.assertFalse(alive(bridge.pid))

    def test_wait_quiet_returns_once_the_program_has_answered(self):
        """wait_quiet after a message: by the time it returns, the program's answer has come back (step stories)."""
        harness = self.scripted("")
        bridge = harness.bridges["n1"]
        self.assertTrue(bridge.wait_quiet(0.1, 5.0))
        received = bridge.stats.received
        bridge.send({"src": "c1", "dest": "n1", "body": {"type": "echo", "msg_id": 77}})
        self.assertTrue(bridge.wait_quiet(0.1, 5.0))
        self.assertEqual(bridge.stats.received, received + 1, "its echo_ok came back before wait_quiet returned")

    def test_malformed_lines_are_reported_and_the_node_goes_on(self):
        """Garbage, a missing type, a string msg_id and a wrong src each become a problem; later lines work."""
        harness = self.scripted(
            "starting up...\n"
            '{"src": "ME", "dest": "c1", "body": {"msg_id": 1}}\n'
            '{"src": "ME", "dest": "c1", "body": {"type": "x", "msg_id": "7"}}\n'
            '{"src": "n9", "dest": "c1", "body": {"type": "x"}}\n')
        self.assertTrue(wait_until(lambda: len(harness.problems) == 4))
        texts = [p.text() for p in harness.problems]
        self.assertIn("logs belong on stderr", texts[0])
        self.assertIn("The line: starting up...", texts[0])
        self.assertIn('"type"', texts[1])
        self.assertIn("msg_id", texts[2])
        self.assertIn("'n9' but this node is 'n1'", texts[3])
        self.assertTrue(all(p.node == "n1" and p.kind == "malformed_line" for p in harness.problems))
        self.assertEchoAnswered(harness)

    def test_overlong_line_is_skipped(self):
        """A line over the size limit is reported, cut, and the next message still arrives."""
        harness = self.scripted("LONG\n")
        self.assertTrue(wait_until(lambda: bool(harness.problems)))
        self.assertIn("longer than", harness.problems[0].why)
        self.assertLess(len(harness.problems[0].line), 300)
        self.assertEchoAnswered(harness)

    def test_stderr_is_relayed_and_data_dir_is_passed(self):
        """stderr lines arrive as log lines, and the program sees its data directory in the environment."""
        harness = self.scripted("")
        self.assertTrue(wait_until(lambda: any("data dir:" in line for line in harness.logs)))
        line = next(line for line in harness.logs if "data dir:" in line)
        self.assertTrue(line.startswith("n1: "))
        self.assertIn(os.path.abspath(harness.data_dir), line)
        self.assertEqual(DATA_DIR_ENV, "REPLICALAB_DATA_DIR")

    def test_program_that_exits_at_once(self):
        """A program that exits before init gives its exit code and last stderr line, and no process stays."""
        program = [sys.executable, "-c", "import sys; print('no such module: foo', file=sys.stderr); sys.exit(3)"]
        bridge = StdioBridge("n1", ["n1"], program, lambda e: None, on_problem=lambda p: None)
        with self.assertRaises(NodeStartError) as caught:
            bridge.start()
        self.assertIn("exited with code 3 before answering init", str(caught.exception))
        self.assertIn("no such module: foo", str(caught.exception))
        self.assertEqual(caught.exception.problem.kind, "exited")
        self.assertFalse(alive(bridge.pid))

    def test_program_that_never_answers_init(self):
        """A program that reads but never answers is stopped after the init timeout with a clear message."""
        program = [sys.executable, "-c", "import sys\nfor line in sys.stdin: pass"]
        bridge = StdioBridge("n1", ["n1"], program, lambda e: None, on_problem=lambda p: None,
                             init_timeout_s=0.5)
        with self.assertRaises(NodeStartError) as caught:
            bridge.start()
        self.assertIn("never answered init with init_ok", str(caught.exception))
        self.assertEqual(caught.exception.problem.kind, "no_init")
        self.assertFalse(alive(bridge.pid))

    def test_missing_program(self):
        """A command that does not exist is a start error naming it, not a traceback."""
        bridge = StdioBridge("n1", ["n1"], "/no/such/program --flag", lambda e: None, on_problem=lambda p: None)
        with self.assertRaises(NodeStartError) as caught:
            bridge.start()
        self.assertIn("cannot start", str(caught.exception))
        self.assertIn("/no/such/program", str(caught.exception))

    def test_node_that_stops_reading_fills_a_bounded_queue(self):
        """When a node no longer reads stdin, send never blocks: past the bound it refuses and says why."""
        harness = self.scripted("", max_queue=5)
        os.kill(harness.bridges["n1"].pid, 19)  # SIGSTOP: it reads nothing more
        results = [harness.bridges["n1"].send({"src": "c1", "dest": "n1", "body": {"type": "echo", "msg_id": i}})
                   for i in range(200_000)]
        self.assertIn(False, results)
        self.assertTrue(any(p.kind == "stdin_full" and "not reading its stdin fast enough" in p.why
                            for p in harness.problems))

    def test_big_messages_to_a_node_that_stops_reading_are_bounded_in_bytes(self):
        """Megabyte messages to a stopped node: past max_queued_bytes send refuses, long before the count bound."""
        harness = self.scripted("", max_queued_bytes=4 * 1024 * 1024)
        os.kill(harness.bridges["n1"].pid, 19)  # SIGSTOP: it reads nothing more
        big = "x" * (1024 * 1024)
        results = [harness.bridges["n1"].send({"src": "c1", "dest": "n1", "body": {"type": "put", "v": big}})
                   for _ in range(40)]
        self.assertLess(results.count(True), 10, "the pipe takes about one message, the queue four megabytes")
        self.assertTrue(any(p.kind == "stdin_full" and "bytes) wait" in p.why for p in harness.problems))

    def test_node_exit_while_running_is_reported(self):
        """A node that dies after init is reported with how it ended (killed by signal 9, named)."""
        harness = self.scripted("")
        os.kill(harness.bridges["n1"].pid, 9)
        self.assertTrue(wait_until(lambda: any(p.kind == "exited" for p in harness.problems)))
        self.assertIn("was killed by signal 9 (SIGKILL)", next(p.why for p in harness.problems if p.kind == "exited"))

    def test_no_orphan_when_the_parent_is_killed(self):
        """kill -9 of the process that runs the bridge takes the node program down with it."""
        parent = textwrap.dedent(f"""
            import sys, time
            from byon.stdio_bridge import StdioBridge
            bridge = StdioBridge("n1", ["n1"], {python_node("starter")!r}, lambda e: None, on_log=lambda n, t: None)
            bridge.start()
            print(bridge.pid, flush=True)
            time.sleep(60)
        """)
        process = subprocess.Popen([sys.executable, "-c", parent], stdout=subprocess.PIPE, cwd=ROOT,
                                   env=dict(os.environ, PYTHONPATH=ROOT))
        try:
            child = int(process.stdout.readline())
            self.assertTrue(alive(child))
            process.kill()
            process.wait(5)
            self.assertTrue(wait_until(lambda: not alive(child), 5), f"node {child} outlived its parent")
        finally:
            process.kill()
            process.wait(5)
            process.stdout.close()

    def test_node_started_from_a_short_lived_thread_survives_it(self):
        """Linux kills a child when the thread that forked it ends; a node started from a thread that ends lives on."""
        started = []
        thread = threading.Thread(target=lambda: started.append(Harness(python_node("starter")).__enter__()))
        thread.start()
        thread.join(30)
        harness = started[0]
        self.addCleanup(harness.stop_all)
        self.assertFalse(thread.is_alive())
        self.assertEqual(harness.kv("n1", "write", "k", 1).type, "ok", "the node still answers")
        self.assertTrue(alive(harness.bridges["n1"].pid))

    def test_init_message_follows_maelstrom(self):
        """init carries node_id and every node_id, from a client id, with a msg_id the node answers."""
        source = textwrap.dedent("""
            import json, sys
            init = json.loads(sys.stdin.readline())
            print(json.dumps(init), file=sys.stderr, flush=True)
            b = init["body"]
            print(json.dumps({"src": b["node_id"], "dest": init["src"],
                              "body": {"type": "init_ok", "in_reply_to": b["msg_id"]}}), flush=True)
            sys.stdin.read()
        """)
        with Harness([sys.executable, script_file(self, source)], nodes=3) as harness:
            self.assertTrue(wait_until(lambda: len(harness.logs) == 3))
            init = json.loads(next(line for line in harness.logs if line.startswith("n2: "))[4:])
        self.assertEqual(init["dest"], "n2")
        self.assertEqual(init["body"]["type"], "init")
        self.assertEqual((init["body"]["node_id"], init["body"]["node_ids"]), ("n2", ["n1", "n2", "n3"]))
        self.assertTrue(init["src"].startswith("c"))


if __name__ == "__main__":
    unittest.main()
