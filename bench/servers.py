"""Start ReplicaLab and the bare Flask ceiling side by side on loopback ports.

Both are served the same way: gunicorn with gunicorn.conf.py (one worker, 8
gthreads, access log on) or the development server of `python run.py`
(threaded). Their console output goes to a temporary file, as a terminal
would take it.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from typing import Dict, List, Optional

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # where run.py lives
BARE_DEV_SERVER = ("from bench.bare_app import app; "
                   "app.run(host='127.0.0.1', port={port}, threaded=True, use_reloader=False)")


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """One server process on a free loopback port; stop() ends it."""

    def __init__(self, command: List[str], env: Optional[Dict[str, str]] = None):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.data_dir = tempfile.mkdtemp(prefix="replicalab-bench-")
        full_env = {**os.environ, "REPLICALAB_PORT": str(self.port), "REPLICALAB_HOST": "127.0.0.1",
                    "REPLICALAB_DATA_DIR": self.data_dir, "REPLICALAB_FRESH": "1", **(env or {})}
        self.log = tempfile.TemporaryFile()
        argv = [arg.replace("{port}", str(self.port)) for arg in command]
        self.process = subprocess.Popen(argv, cwd=ROOT, env=full_env, stdout=self.log, stderr=self.log)
        try:
            self._wait_until_up()
        except BaseException:  # whatever stopped the wait (Ctrl+C too), the server must not outlive it
            self.stop()
            raise

    def _wait_until_up(self) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:  # waiting for a process to bind, not measuring
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited early: {self.process.args!r}")
            try:
                urllib.request.urlopen(self.url + "/health", timeout=1).close()
                return
            except OSError:  # refused, reset, or a busy machine's 1 s read timeout: not up yet
                time.sleep(0.1)
        self.stop()
        raise RuntimeError("server did not answer within 30 s")

    def pid(self) -> int:
        """The process id (gunicorn's arbiter or run.py)."""
        return self.process.pid

    def stop(self) -> None:
        """Ctrl+C the server (a clean shutdown) and wait for it."""
        interrupt(self.process)
        self.log.close()


def interrupt(process: subprocess.Popen) -> None:
    """Ctrl+C a server process (a clean shutdown), wait for it, kill it after 20 s."""
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def gunicorn(bare: bool, env: Optional[Dict[str, str]] = None) -> Server:
    """ReplicaLab (or the bare app) under gunicorn -c gunicorn.conf.py: 1 worker, 8 gthreads."""
    command = [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py"]
    if bare:
        command.append("bench.bare_app:create_app()")  # same settings, another app
    return Server(command, env)


def dev_server(bare: bool, env: Optional[Dict[str, str]] = None) -> Server:
    """ReplicaLab's `python run.py` (or the bare app on the same development server)."""
    if bare:
        return Server([sys.executable, "-c", BARE_DEV_SERVER], env)
    return Server([sys.executable, "run.py"], env)
