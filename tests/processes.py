"""Real server processes for end-to-end tests: started on free loopback ports, stopped by PID.

Each server runs in its own session (process group), so a test can signal the
whole server (gunicorn's master and worker) at once, and cleanup kills the
group by its PID even when the test failed. On Linux the server also dies
with the test process (PR_SET_PDEATHSIG), and gunicorn's worker follows its
master, so a killed test run leaves no orphan.
"""
from __future__ import annotations

import contextlib
import ctypes
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from typing import Dict, List, Optional

import requests

from bench.servers import free_port
from tests.helpers import ROOT

PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """In the child before exec: ask Linux to SIGKILL it when the test process dies."""
    with contextlib.suppress(OSError, AttributeError):  # not Linux: cleanup by PID still stops it
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def children(pid: int) -> List[int]:
    """The PIDs of a process's children (Linux /proc; empty elsewhere or once it is gone)."""
    try:
        with open(f"/proc/{pid}/task/{pid}/children", encoding="ascii") as found:
            return [int(child) for child in found.read().split()]
    except OSError:
        return []


def alive(pid: int) -> bool:
    """True while a process with this PID exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


class ServerProcess:
    """`python run.py` or gunicorn on a free loopback port with REPLICALAB_* settings."""

    def __init__(self, kind: str, env: Dict[str, str]):
        self.kind = kind
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        command = [sys.executable, "run.py"] if kind == "run" else \
            [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py"]
        full_env = {**os.environ, "REPLICALAB_HOST": "127.0.0.1", "REPLICALAB_PORT": str(self.port),
                    "REPLICALAB_NARRATE": "off", "PYTHONUNBUFFERED": "1", "PYTHONPATH": ROOT, **env}
        self.log = tempfile.TemporaryFile(mode="w+")
        self.process = subprocess.Popen(command, cwd=ROOT, env=full_env, stdout=self.log,
                                        stderr=subprocess.STDOUT, start_new_session=True,
                                        preexec_fn=die_with_parent)
        self.pid = self.process.pid
        self.wait_until_up()

    def wait_until_up(self, seconds: float = 30) -> None:
        """Poll /health until it answers (waiting for a process to bind, not for the cluster)."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"server exited early ({self.process.returncode}):\n{self.output()}")
            try:
                requests.get(self.url + "/health", timeout=2)
                return
            except (requests.ConnectionError, requests.Timeout):
                time.sleep(0.1)
        self.kill()
        raise AssertionError(f"server did not answer within {seconds} s:\n{self.output()}")

    def cluster_pid(self) -> int:
        """The process that holds the cluster: run.py itself, or gunicorn's one worker."""
        if self.kind == "run":
            return self.pid
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            found = children(self.pid)
            if found:
                return found[0]
            time.sleep(0.05)
        raise AssertionError("gunicorn has no worker")

    def post(self, path: str, body=None) -> requests.Response:
        """POST a JSON body (as curl -d does)."""
        return requests.post(self.url + path, data=None if body is None else json.dumps(body),
                             timeout=30)

    def get(self, path: str) -> requests.Response:
        """GET a path."""
        return requests.get(self.url + path, timeout=30)

    def delete(self, path: str) -> requests.Response:
        """DELETE a path."""
        return requests.delete(self.url + path, timeout=30)

    def stop(self, signum: int, seconds: float = 30) -> Optional[int]:
        """Send `signum` (SIGKILL: to the whole process group) and wait; returns the exit code."""
        if self.process.poll() is None:
            if signum == signal.SIGKILL:
                os.killpg(self.pid, signal.SIGKILL)
            else:
                os.kill(self.pid, signum)
        try:
            return self.process.wait(timeout=seconds)
        except subprocess.TimeoutExpired:
            self.kill()
            return None

    def kill(self) -> None:
        """Cleanup: SIGKILL the server's process group by its PID (a worker too) and reap it."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signal.SIGKILL)  # the group outlives a master that exited alone
        if self.process.poll() is None:
            self.process.wait(timeout=30)

    def output(self) -> str:
        """Everything the server printed so far."""
        self.log.seek(0)
        return self.log.read()
