"""`python run.py cluster` as a test fixture: a front and its node processes on loopback, stopped by PID.

The front is started with realmode.processes (it dies with the test run); its
node processes die with the front. `stop()` stops the front by PID (SIGTERM:
it stops each node by PID) and kills any node PID still alive, and tells
which PIDs outlived it, so a test can assert that none did.
"""
from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from typing import Any, Dict, List, Sequence

import requests

from realmode import processes
from tests.helpers import ROOT


class RealCluster:
    """A real-mode cluster: its URL, node PIDs and stop(); real=False: the simulated server, to compare."""

    def __init__(self, nodes: int = 3, real: bool = True, args: Sequence[str] = (), **settings: Any):
        self.port = processes.free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.data_dir = tempfile.mkdtemp(prefix="replicalab-real-")
        env = {**os.environ, "PYTHONPATH": ROOT, "REPLICALAB_NARRATE": "ops", "REPLICALAB_SCHEDULER": "off"}
        env.update({f"REPLICALAB_{name.upper()}": str(value) for name, value in settings.items()})
        argv = [sys.executable, os.path.join(ROOT, "run.py"), *(["cluster"] if real else []), "--nodes", str(nodes),
                "--port", str(self.port), "--data-dir", self.data_dir, "--fresh", *args]
        self.front = processes.start(argv, "front", env=env, cwd=ROOT,
                                     log_path=os.path.join(self.data_dir, "front.log"))
        self.seen_pids: List[int] = []
        processes.wait_healthy(f"{self.url}/health", self.front, timeout_s=60)
        self.pids()

    def get(self, path: str, **kwargs) -> requests.Response:
        """GET a front route."""
        return requests.get(self.url + path, timeout=60, **kwargs)

    def post(self, path: str, body: Any = None, **kwargs) -> requests.Response:
        """POST a front route with a JSON body."""
        return requests.post(self.url + path, json=body, timeout=60, **kwargs)

    def pids(self) -> Dict[int, int]:
        """Node id -> pid as /nodes says now (remembered, to check later that each is gone)."""
        listing = {n["node_id"]: n.get("pid") for n in self.get("/nodes").json()["nodes"]}
        self.seen_pids.extend(pid for pid in listing.values() if pid and pid not in self.seen_pids)
        return listing

    def wait_down(self, node_id: int, timeout_s: float = 10.0) -> dict:
        """Wait until the front marks a node down by itself; its /nodes entry."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            entry = self.get("/nodes").json()["nodes"][node_id]
            if entry["status"] == "dead":
                return entry
            time.sleep(0.05)
        raise AssertionError(f"node {node_id} was not noticed down within {timeout_s} s")

    def stop(self) -> List[int]:
        """Stop the front by PID (it stops its nodes), kill any node left; returns the PIDs that had outlived it."""
        processes.stop(self.front, grace_s=10)
        survivors = [pid for pid in self.seen_pids if processes.is_alive(pid)]
        for pid in survivors:
            processes.kill(pid)
        shutil.rmtree(self.data_dir, ignore_errors=True)
        return survivors
