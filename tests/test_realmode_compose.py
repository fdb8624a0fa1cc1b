"""docker-compose.yml: one service per node plus the front, valid for docker compose, each node wired to the others."""
import os
import re
import shutil
import subprocess
import unittest

from tests.helpers import ROOT

COMPOSE_FILE = os.path.join(ROOT, "docker-compose.yml")
NODES = 5


def compose_command():
    """`docker compose` (plugin) or `docker-compose` (Debian's package), whichever works here; None if neither."""
    if shutil.which("docker"):
        probe = subprocess.run(["docker", "compose", "version"], capture_output=True, text=True, timeout=60)
        if probe.returncode == 0:
            return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    return None


def run_compose(*args, token="lab-token"):
    """Run compose on the project's file with (or without) the admin token in the environment."""
    env = {k: v for k, v in os.environ.items() if k != "REPLICALAB_ADMIN_TOKEN"}
    if token:
        env["REPLICALAB_ADMIN_TOKEN"] = token
    return subprocess.run([*COMPOSE, "-f", COMPOSE_FILE, *args], capture_output=True, text=True, env=env,
                          cwd=ROOT, timeout=120)


COMPOSE = compose_command()


@unittest.skipIf(COMPOSE is None, "neither `docker compose` nor `docker-compose` is installed; "
                                  "install the Debian package docker-compose to run this test")
class ComposeConfigTest(unittest.TestCase):
    """docker compose accepts the file and sees the services and volumes the README promises."""

    def test_the_file_is_valid(self):
        """`compose config -q` accepts the file when the admin token is set."""
        result = run_compose("config", "-q")
        self.assertEqual(result.returncode, 0, result.stderr)

    def test_the_admin_token_is_required(self):
        """Without REPLICALAB_ADMIN_TOKEN compose refuses the file and names the variable."""
        result = run_compose("config", "-q", token=None)
        self.assertNotEqual(result.returncode, 0)
        self.assertIn("REPLICALAB_ADMIN_TOKEN", result.stderr)

    def test_one_service_per_node_plus_the_front_each_node_with_a_volume(self):
        """The services are the front and node0..node4; the volumes are node0-data..node4-data."""
        services = run_compose("config", "--services")
        self.assertEqual(sorted(services.stdout.split()), ["front"] + [f"node{n}" for n in range(NODES)])
        volumes = run_compose("config", "--volumes")
        self.assertEqual(sorted(volumes.stdout.split()), [f"node{n}-data" for n in range(NODES)])


class ComposeWiringTest(unittest.TestCase):
    """Each node's command names its own id and port and every other node as a peer (read from the file)."""

    def test_every_node_lists_every_other_node_as_a_peer(self):
        """node N runs --id N on port 700N with the other four as peers, and the front knows all five."""
        with open(COMPOSE_FILE, encoding="utf-8") as handle:
            text = handle.read()
        address = {n: f"node{n}:700{n}" for n in range(NODES)}
        for n in range(NODES):
            block = re.search(rf"\n  node{n}:\n(.*?)(?=\n  \w|\nnetworks:)", text, re.S)
            self.assertIsNotNone(block, f"no service node{n}")
            command = " ".join(block.group(1).split())
            self.assertIn(f"--id {n} --listen 0.0.0.0:700{n}", command)
            self.assertIn(f"node{n}-data:/data", command)
            peers = re.search(r"--peers (\S+)", command).group(1).split(",")
            self.assertEqual(sorted(peers), sorted(f"{m}={address[m]}" for m in range(NODES) if m != n))
        front = re.search(r"--node-addresses (\S+)", text).group(1).split(",")
        self.assertEqual(front, [f"{n}={address[n]}" for n in range(NODES)])


if __name__ == "__main__":
    unittest.main()
