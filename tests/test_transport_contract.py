"""The simulated Network passes the transport contract, and protocol files talk only to their seam."""
import ast
import os
import unittest

from cluster.clock import VirtualClock
from cluster.event_log import EventLog
from cluster.faults import LinkFault
from cluster.network import Network
from tests.helpers import ROOT
from tests.transport_contract import TransportContract

# The protocol: what a real transport must be able to drive unchanged.
PROTOCOL_FILES = ("node", "quorum", "paxos", "paxos_acceptor", "linearizable", "read_repair", "hints", "handoff",
                  "recovery", "anti_entropy", "merkle", "siblings", "version_vectors", "ring", "operation")
# Names that belong to the simulated world or to the control plane's global view.
WORLD_NAMES = {"network", "Network", "clock", "paused", "down", "is_up", "core", "ClusterCore"}


class NetworkTransportTest(TransportContract, unittest.TestCase):
    """The simulated Network, run on a virtual clock, is a Transport."""

    def make_transport(self, lock):
        """A Network on a fresh virtual clock with a quiet event log (the driver, settle, holds the lock)."""
        clock = VirtualClock()
        return Network(clock, EventLog(clock, 10_000, "off"), seed=1, latency_ms=(1, 10))

    def settle(self, transport, ms):
        """Move the virtual clock by `ms` and run what is due, under the lock, as ClusterCore drives it."""
        with self.lock:
            transport.tick(ms)

    def cut_link(self, transport, src, dst):
        """Take the one-way link down in the fault table."""
        transport.faults.links[(src, dst)] = LinkFault(down=True)

    def heal(self, transport):
        """Bring every link back up."""
        transport.faults.links.clear()


class ProtocolTalksOnlyToItsSeamTest(unittest.TestCase):
    """No protocol file names the network, its clock, its pause state or the down set."""

    def test_protocol_files_name_nothing_of_the_simulated_world(self):
        """The code (names, attributes, imports) of every protocol file avoids the world's names."""
        for name in PROTOCOL_FILES:
            path = os.path.join(ROOT, "cluster", f"{name}.py")
            with open(path, encoding="utf-8") as handle:
                tree = ast.parse(handle.read())
            used = set()
            for node in ast.walk(tree):
                if isinstance(node, ast.Name):
                    used.add(node.id)
                elif isinstance(node, ast.Attribute):
                    used.add(node.attr)
                elif isinstance(node, (ast.Import, ast.ImportFrom)):
                    module = getattr(node, "module", None) or ""
                    used.update(part for part in module.split("."))
                    used.update(alias.name.split(".")[-1] for alias in node.names)
            with self.subTest(name):
                self.assertEqual(used & WORLD_NAMES, set())


if __name__ == "__main__":
    unittest.main()
