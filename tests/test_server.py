"""End to end: the real `python run.py` and gunicorn processes, on 127.0.0.1 only."""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

import requests

from bench.servers import free_port, interrupt
from tests.helpers import ROOT


class Server:
    """A server process on a free loopback port; waits (bounded) until it answers."""

    def __init__(self, command, env=None):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        full_env = {**os.environ, **(env or {}), "REPLICALAB_PORT": str(self.port),
                    "PYTHONUNBUFFERED": "1"}
        self.log = tempfile.TemporaryFile(mode="w+")
        self.process = subprocess.Popen(command, cwd=ROOT, env=full_env, stdout=self.log,
                                        stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:  # waiting for a process to bind, not for the cluster
            if self.process.poll() is not None:
                raise AssertionError(f"server exited early:\n{self.output()}")
            try:
                requests.get(self.url + "/health", timeout=1)
                return
            except (requests.ConnectionError, requests.Timeout):  # not bound yet, or still booting
                time.sleep(0.1)
        self.stop()
        raise AssertionError(f"server did not answer within 20 s:\n{self.output()}")

    def post(self, path, body=None):
        data = json.dumps(body) if body is not None else None
        return requests.post(self.url + path, data=data, timeout=10)

    def get(self, path):
        return requests.get(self.url + path, timeout=10)

    def stop(self):
        """Ctrl+C the server (a clean shutdown) and wait for it."""
        interrupt(self.process)

    def output(self) -> str:
        self.log.seek(0)
        return self.log.read()


class RunPyTest(unittest.TestCase):
    """python run.py serves the issue's curl tour and keeps data across restarts."""

    def setUp(self):
        self.data_dir = tempfile.mkdtemp()
        self.servers = []

    def tearDown(self):
        for server in self.servers:
            server.stop()
            server.log.close()
        shutil.rmtree(self.data_dir)

    def start(self, *flags):
        server = Server([sys.executable, "run.py", "--data-dir", self.data_dir, *flags])
        self.servers.append(server)
        return server

    def test_tour_console_and_restart(self):
        """The curl tour works, the console narrates it, and data survives a restart."""
        server = self.start()
        self.assertEqual(server.post("/write", {"key": "color", "value": "blue"}).status_code, 200)
        self.assertEqual(server.get("/read/color").json()["value"], "blue")
        self.assertTrue(server.post("/fail/1").json()["message"].startswith("node-1 is down (stop): "))
        self.assertEqual(server.post("/write", {"key": "color", "value": "green"}).status_code, 200)
        self.assertEqual(server.post("/recover/1").status_code, 200)
        records = server.get("/nodes/1").json()["records"]
        self.assertEqual([(r["key"], r["value"]) for r in records], [("color", "green")])
        server.stop()
        console = server.output()
        self.assertIn("node-1 is down", console)
        self.assertIn("as a hint for node-1", console)
        self.assertIn("node-1 synced with every peer", console)

        again = self.start()
        self.assertEqual(again.get("/read/color").json()["value"], "green")
        again.stop()
        fresh = self.start("--fresh")
        self.assertEqual(fresh.get("/read/color").status_code, 404)

    def test_live_event_stream_over_http(self):
        """curl -N /events/stream on the real server receives events as they happen."""
        server = self.start("--narrate", "off")
        with requests.get(server.url + "/events/stream?since=0&limit=6", stream=True, timeout=10) as stream:
            server.post("/write", {"key": "color", "value": "blue"})
            frames = stream.raw.read().decode()
        self.assertEqual(frames.count("\nevent: "), 6)
        self.assertIn("event: write_started", frames)

    def test_invalid_settings_refused_at_start(self):
        """An impossible setting stops run.py with one sentence and exit code 2."""
        result = subprocess.run([sys.executable, "run.py", "--rf", "9"], cwd=ROOT,
                                capture_output=True, text=True, timeout=60)
        self.assertEqual(result.returncode, 2)
        self.assertNotIn("Traceback", result.stderr)
        self.assertIn("cannot exceed the number of nodes", result.stderr)

    def test_busy_port_is_refused_with_a_sentence(self):
        """A second server on a port in use exits 1 with one sentence, before any banner."""
        server = self.start()
        result = subprocess.run([sys.executable, "run.py", "--port", str(server.port),
                                 "--storage", "memory"], cwd=ROOT, capture_output=True, text=True,
                                timeout=60)
        self.assertEqual(result.returncode, 1)
        self.assertIn("cannot listen on", result.stderr)
        self.assertNotIn("Listening on", result.stderr)


class GunicornTest(unittest.TestCase):
    """gunicorn -c gunicorn.conf.py serves one cluster to many threads."""

    def test_one_cluster_behind_gunicorn(self):
        """Writes and reads through gunicorn all see the same cluster."""
        data_dir = tempfile.mkdtemp()
        server = Server([sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py"],
                        env={"REPLICALAB_DATA_DIR": data_dir, "REPLICALAB_SEED": "3"})
        try:
            for i in range(20):
                self.assertEqual(server.post("/write", {"key": f"k{i}", "value": i}).status_code, 200)
            for i in range(20):
                self.assertEqual(server.get(f"/read/k{i}").json()["value"], i)
            self.assertEqual(server.get("/config").json()["config"]["seed"], 3)
        finally:
            server.stop()
            server.log.close()
            shutil.rmtree(data_dir)


if __name__ == "__main__":
    unittest.main()
