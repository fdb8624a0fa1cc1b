"""python -m byon.smoke tells a student whether one node speaks the protocol."""
import io
import shlex
import sys
import unittest

from byon import smoke
from tests.byon_harness import python_node


class SmokeTest(unittest.TestCase):
    """The smoke script passes a correct node and names what a wrong one did."""

    def run_smoke(self, command: str, timeout_s: float = 2.0):
        """(exit status, printed text) of the smoke script on `command`."""
        out = io.StringIO()
        return smoke.run(command, timeout_s, out), out.getvalue()

    def test_starter_passes(self):
        """The Python starter answers all six requests as the protocol asks."""
        status, text = self.run_smoke(shlex.join(python_node("starter")))
        self.assertEqual(status, 0, text)
        self.assertIn("6 of 6 replies as the protocol asks; 0 problem(s).", text)

    def test_silent_node_fails_with_no_reply(self):
        """A node that answers init and nothing else gets "no reply" lines and status 1."""
        source = ("import json,sys\nm=json.loads(sys.stdin.readline())\nb=m['body']\n"
                  "print(json.dumps({'src':b['node_id'],'dest':m['src'],'body':{'type':'init_ok',"
                  "'in_reply_to':b['msg_id']}}),flush=True)\nsys.stdin.read()\n")
        status, text = self.run_smoke(shlex.join([sys.executable, "-c", source]), timeout_s=0.2)
        self.assertEqual(status, 1)
        self.assertIn("no reply", text)
        self.assertIn("did not answer the read", text)
        self.assertIn("0 of 6", text)

    def test_program_that_cannot_start(self):
        """A program that exits at once is reported with its exit code."""
        status, text = self.run_smoke(shlex.join([sys.executable, "-c", "import sys; sys.exit(4)"]))
        self.assertEqual(status, 1)
        self.assertIn("FAILED to start", text)
        self.assertIn("exited with code 4", text)

    def test_garbage_then_exit_reports_both(self):
        """A program that prints a debug line and exits at once is told the exit and the line it printed."""
        source = "print('hello from a debug print'); import sys; sys.exit(2)"
        status, text = self.run_smoke(shlex.join([sys.executable, "-c", source]))
        self.assertEqual(status, 1)
        self.assertIn("exited with code 2", text)
        self.assertIn("problem: n1 printed a line that is not a valid message", text)
        self.assertIn("The line: hello from a debug print", text)


if __name__ == "__main__":
    unittest.main()
