"""Real-mode child processes: stopped by PID, signalled, restarted, and never orphaned."""
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unittest

from realmode import processes
from tests.helpers import ROOT

SLEEPER = [sys.executable, "-c", "import time; time.sleep(120)"]


def wait_gone(pid: int, timeout_s: float = 10.0) -> bool:
    """Poll until `pid` is gone (a real process dies in its own time); True if it went."""
    deadline = time.monotonic() + timeout_s
    while processes.is_alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def state_of(pid: int) -> str:
    """The one-letter state of a process in /proc (R, S, T, Z...)."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
        return handle.read().rsplit(")", 1)[1].split()[0]


class ProcessTestCase(unittest.TestCase):
    """Starts children and makes sure each one is gone after the test, by PID."""

    def start(self, argv=None) -> processes.Child:
        """Start a child and register its forced removal."""
        child = processes.start(argv or SLEEPER, name="sleeper")
        self.addCleanup(processes.kill, child.pid)
        self.addCleanup(child.popen.poll)  # runs after the kill: reaps our own child
        return child


class StartStopTest(ProcessTestCase):
    """start, stop, kill, pause, resume and restart act on the right process."""

    def test_stop_leaves_no_process(self):
        """After stop the child's PID no longer exists and its exit code says SIGTERM ended it."""
        child = self.start()
        self.assertTrue(processes.is_alive(child.pid))
        code = processes.stop(child)
        self.assertFalse(processes.is_alive(child.pid))
        self.assertEqual(code, -signal.SIGTERM)

    def test_stop_kills_a_child_that_ignores_sigterm(self):
        """A child that ignores SIGTERM is killed with SIGKILL after the grace period."""
        stubborn = [sys.executable, "-c",
                    "import signal, sys, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
                    "print('ready', flush=True); time.sleep(120)"]
        child = processes.start(stubborn, name="stubborn")
        self.addCleanup(processes.kill, child.pid)
        time.sleep(0.3)  # let the interpreter install its handler
        code = processes.stop(child, grace_s=0.3)
        self.assertEqual(code, -signal.SIGKILL)
        self.assertFalse(processes.is_alive(child.pid))

    def test_stop_all_asks_every_child_before_waiting_for_any(self):
        """stop_all: each of three slow-to-exit children gets SIGTERM before the first one has exited."""
        fd, log = tempfile.mkstemp(prefix="replicalab-stop-all-")
        os.close(fd)
        self.addCleanup(os.remove, log)
        slow = [sys.executable, "-c",
                "import os, signal, sys, time\n"
                "def term(*_):\n"
                "    open(sys.argv[1], 'a').write('term\\n'); time.sleep(0.3)\n"
                "    open(sys.argv[1], 'a').write('exit\\n'); sys.exit(0)\n"
                "signal.signal(signal.SIGTERM, term)\n"
                "open(sys.argv[1], 'a').write('ready\\n')\n"
                "time.sleep(120)\n", log]
        children = [self.start(slow) for _ in range(3)]
        deadline = time.monotonic() + 10
        while open(log).read().count("ready") < 3 and time.monotonic() < deadline:
            time.sleep(0.02)  # the interpreters install their handlers
        processes.stop_all(children, grace_s=5)
        lines = [line for line in open(log).read().split() if line != "ready"]
        self.assertEqual(lines, ["term"] * 3 + ["exit"] * 3)
        self.assertEqual([c.exit_code() for c in children], [0, 0, 0])

    def test_stop_ends_a_stopped_child(self):
        """A child frozen by SIGSTOP still stops on SIGTERM (stop sends SIGCONT with it)."""
        child = self.start()
        processes.pause(child)
        code = processes.stop(child, grace_s=2.0)
        self.assertEqual(code, -signal.SIGTERM)

    def test_pause_and_resume_change_the_process_state(self):
        """SIGSTOP freezes the process (state T) and SIGCONT makes it run again."""
        child = self.start()
        processes.pause(child)
        deadline = time.monotonic() + 5
        while state_of(child.pid) != "T" and time.monotonic() < deadline:
            time.sleep(0.01)
        self.assertEqual(state_of(child.pid), "T")
        processes.resume(child)
        deadline = time.monotonic() + 5
        while state_of(child.pid) == "T" and time.monotonic() < deadline:
            time.sleep(0.01)
        self.assertNotEqual(state_of(child.pid), "T")

    def test_kill_is_sigkill(self):
        """kill ends the child at once with SIGKILL, like kill -9."""
        child = self.start()
        processes.kill(child)
        self.assertEqual(child.exit_code(), -signal.SIGKILL)
        self.assertFalse(processes.is_alive(child.pid))

    def test_signals_to_a_gone_child_report_false(self):
        """Signalling a child that already exited does nothing and says so."""
        child = self.start()
        processes.kill(child)
        self.assertFalse(processes.pause(child))
        self.assertFalse(processes.send_signal(child, signal.SIGTERM))

    def test_restart_runs_a_new_process_with_the_same_command(self):
        """restart stops the old PID and starts the same command under a new PID."""
        child = self.start()
        again = processes.restart(child, grace_s=1.0)
        self.addCleanup(processes.kill, again.pid)
        self.assertFalse(processes.is_alive(child.pid))
        self.assertTrue(processes.is_alive(again.pid))
        self.assertNotEqual(again.pid, child.pid)
        self.assertEqual(again.argv, child.argv)

    def test_child_leads_its_own_process_group(self):
        """The child is in its own process group, so Ctrl+C at the front's terminal reaches only the front."""
        child = self.start()
        self.assertEqual(os.getpgid(child.pid), child.pid)
        self.assertNotEqual(os.getpgid(child.pid), os.getpgrp())

    def test_free_port_can_be_bound(self):
        """free_port gives a loopback port nobody listens on."""
        import socket
        port = processes.free_port()
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", port))
        self.assertGreater(port, 0)


class NoOrphanTest(ProcessTestCase):
    """A child never outlives its parent, whoever kills the parent and however."""

    def test_grandchild_dies_when_its_parent_is_killed_with_sigkill(self):
        """kill -9 of a parent process takes down the child it started with processes.start."""
        parent_code = ("import sys, time\n"
                       "from realmode import processes\n"
                       "child = processes.start([sys.executable, '-c', 'import time; time.sleep(120)'])\n"
                       "print(child.pid, flush=True)\n"
                       "time.sleep(120)\n")
        env = {**os.environ, "PYTHONPATH": ROOT}
        parent = subprocess.Popen([sys.executable, "-c", parent_code], stdout=subprocess.PIPE, env=env,
                                  start_new_session=True)
        self.addCleanup(parent.wait)
        self.addCleanup(processes.send_signal, parent.pid, signal.SIGKILL)
        grandchild = int(parent.stdout.readline())
        parent.stdout.close()
        self.addCleanup(processes.kill, grandchild)
        self.assertTrue(processes.is_alive(grandchild))
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait()
        self.assertTrue(wait_gone(grandchild), f"grandchild {grandchild} outlived its parent")

    def test_child_started_from_a_short_lived_thread_survives_the_thread(self):
        """A child started from a thread that then ends keeps running (the death signal follows the process)."""
        started = []
        thread = threading.Thread(target=lambda: started.append(processes.start(SLEEPER, name="sleeper")))
        thread.start()
        thread.join()
        child = started[0]
        self.addCleanup(processes.kill, child.pid)
        time.sleep(0.3)  # a death signal tied to the thread would have fired by now
        self.assertTrue(processes.is_alive(child.pid))
        self.assertIsNone(child.exit_code())


if __name__ == "__main__":
    unittest.main()
