"""A lab's client on a real-mode cluster: `python run.py cluster` started for the check, stopped by PID.

Lab 11 runs on real processes; its check starts the front (which starts one
process per node) on a free loopback port with the lab's settings, talks to it
over HTTP like `python -m labs run --url`, and stops it by PID at the end (the
node processes die with the front, also if the check itself is killed).
"""
from __future__ import annotations

import os
import shutil
import sys
import tempfile
import weakref
from typing import Optional, Sequence

from labs.clients import HttpClient
from realmode import processes

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class RealModeClient(HttpClient):
    """HttpClient on a fresh `run.py cluster` with these settings; close() stops it."""

    def __init__(self, settings: Optional[dict] = None, args: Sequence[str] = (),
                 log_path: Optional[str] = None, timeout_s: float = 60, narrate: bool = False,
                 cwd: str = ROOT):
        """Start the front (`args`: more flags of `run.py cluster`, e.g. --node-cmd) and wait for /health.

        The console goes to `log_path` if given (narrated if `narrate`); a front
        that exits or stays silent for `timeout_s` raises processes.ChildFailed
        after being stopped. `cwd`: where relative paths of a --node-cmd start.
        """
        port = processes.free_port()
        self.data_dir = tempfile.mkdtemp(prefix="replicalab-lab-")
        # Real speed unless the settings say otherwise: a REPLICALAB_TIME_SCALE exported for lab 12's
        # step 8 must not slow the programs a grade or a check runs (their timeouts assume real time).
        env = {**os.environ, "PYTHONPATH": ROOT, "REPLICALAB_NARRATE": "ops" if narrate else "off",
               "REPLICALAB_SCHEDULER": "off", "REPLICALAB_TIME_SCALE": "1"}
        env.update({f"REPLICALAB_{k.upper()}": str(v) for k, v in (settings or {}).items()})
        self.front = processes.start([sys.executable, os.path.join(ROOT, "run.py"), "cluster", "--port", str(port),
                                      "--data-dir", self.data_dir, "--fresh", *args], "front", env=env, cwd=cwd,
                                     log_path=log_path)
        self._finalizer = weakref.finalize(self, _stop, self.front, self.data_dir)
        super().__init__(f"http://127.0.0.1:{port}")
        try:
            processes.wait_healthy(f"{self.url}/health", self.front, timeout_s=timeout_s)
        except processes.ChildFailed:
            self.close()
            raise

    def close(self) -> None:
        """Stop the front by PID (it stops its node processes) and remove the data."""
        self._finalizer()


def _stop(front: processes.Child, data_dir: str) -> None:
    processes.stop(front, grace_s=10)
    shutil.rmtree(data_dir, ignore_errors=True)
