"""Two real node processes over HttpTransport: messages flow, kill -9 stops them, a restart brings them back."""
import sys
import unittest

import requests

from realmode import processes


class TwoProcessesTest(unittest.TestCase):
    """Ping nodes (realmode/demo_node.py) in two OS processes on loopback."""

    def setUp(self):
        self.ports = [processes.free_port(), processes.free_port()]
        self.children = [self.start(node) for node in (0, 1)]

    def start(self, node: int) -> processes.Child:
        """Start ping node `node` with the other as its peer, wait until healthy; killed by PID after the test."""
        other = 1 - node
        child = processes.start([sys.executable, "-m", "realmode.demo_node", "--id", str(node),
                                 "--listen", f"127.0.0.1:{self.ports[node]}",
                                 "--peers", f"{other}=127.0.0.1:{self.ports[other]}"], name=f"node-{node}")
        self.addCleanup(processes.kill, child.pid)
        processes.wait_healthy(f"http://127.0.0.1:{self.ports[node]}/peer/health", child, timeout_s=30)
        return child

    def ping(self, count: int, timeout_s: float = 20) -> dict:
        """Node 0 pings node 1 `count` times, 4 in flight; its tally."""
        return requests.post(f"http://127.0.0.1:{self.ports[0]}/demo/ping", timeout=timeout_s + 10,
                             json={"to": 1, "count": count, "window": 4, "timeout_s": timeout_s}).json()

    def test_messages_flow_both_ways_between_processes(self):
        """Twenty pings from one process each come back as a pong from the other."""
        self.assertEqual(self.ping(20)["pongs"], 20)

    def test_a_killed_peer_answers_nothing_and_a_restarted_one_answers_again(self):
        """After kill -9 of node 1 no ping is answered; restarted on the same port, it answers all of them."""
        self.assertEqual(self.ping(3)["pongs"], 3)  # connections to the old process are now pooled
        processes.kill(self.children[1])
        self.assertEqual(self.ping(3, timeout_s=1.5)["pongs"], 0)
        self.children[1] = self.start(1)
        self.assertEqual(self.ping(5)["pongs"], 5)

    def test_a_stopped_peer_answers_after_sigcont(self):
        """Pings to a SIGSTOPped node go unanswered; after SIGCONT the next pings are answered."""
        processes.pause(self.children[1])
        self.assertEqual(self.ping(2, timeout_s=1.0)["pongs"], 0)
        processes.resume(self.children[1])
        self.assertEqual(self.ping(5)["pongs"], 5)


if __name__ == "__main__":
    unittest.main()
