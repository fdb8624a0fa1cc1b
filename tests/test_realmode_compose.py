"""docker-compose.yml: one service per node plus the front, valid for docker compose, each node wired to the others."""
import os
import re
import shutil
import subprocess
import time
import unittest
import uuid

import requests

from realmode.processes import free_port
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


def run_compose(*args, token="lab-token", extra_env=None, timeout=120):
    """Run compose on the project's file with (or without) the admin token in the environment."""
    env = {k: v for k, v in os.environ.items() if k != "REPLICALAB_ADMIN_TOKEN"}
    if token:
        env["REPLICALAB_ADMIN_TOKEN"] = token
    env.update(extra_env or {})
    return subprocess.run([*COMPOSE, "-f", COMPOSE_FILE, *args], capture_output=True, text=True, env=env,
                          cwd=ROOT, timeout=timeout)


def engine_answers() -> bool:
    """Whether a container engine answers `docker info` (the client alone is not enough)."""
    if not shutil.which("docker"):
        return False
    try:
        return subprocess.run(["docker", "info"], capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


COMPOSE = compose_command()
ENGINE = COMPOSE is not None and engine_answers()


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


@unittest.skipUnless(ENGINE, "no container engine answers `docker info`: install and start the Debian package "
                             "docker.io (and docker-compose) to run the compose cluster for real")
class ComposeRunTest(unittest.TestCase):
    """The compose cluster, run for real where a container engine works: write, kill a node, read."""

    def test_the_cluster_runs_in_containers(self):
        """Five node containers and the front come up; a write survives a SIGKILLed node and reads back."""
        port = free_port()
        env = {"REPLICALAB_PUBLISH": f"127.0.0.1:{port}",  # loopback only, a free port
               "COMPOSE_PROJECT_NAME": f"replicalab-test-{uuid.uuid4().hex[:8]}"}
        self.addCleanup(run_compose, "down", "-v", "--remove-orphans", extra_env=env, timeout=300)
        up = run_compose("up", "-d", "--build", extra_env=env, timeout=900)
        self.assertEqual(up.returncode, 0, up.stderr[-2000:])
        base = f"http://127.0.0.1:{port}"
        headers = {"Authorization": "Bearer lab-token"}
        deadline = time.monotonic() + 120
        health: dict = {}
        while time.monotonic() < deadline and health.get("nodes_alive") != NODES:
            try:
                health = requests.get(f"{base}/health", headers=headers, timeout=5).json()
            except (requests.RequestException, ValueError):
                health = {}
            time.sleep(1)  # containers start in real time; nothing here is simulated
        self.assertEqual(health.get("mode"), "real", health)
        written = requests.post(f"{base}/write", json={"key": "color", "value": "blue"}, headers=headers, timeout=30)
        self.assertEqual(written.status_code, 200, written.text)
        killed = run_compose("kill", "-s", "SIGKILL", "node2", extra_env=env)
        self.assertEqual(killed.returncode, 0, killed.stderr)
        read = requests.get(f"{base}/read/color", headers=headers, timeout=30)
        self.assertEqual(read.status_code, 200, read.text)
        self.assertEqual(read.json()["value"], "blue")


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
