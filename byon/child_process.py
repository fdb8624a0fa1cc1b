"""Start a student's program as a child that never outlives us, and stop it by its PID.

The child gets its own process group (so stopping it also stops whatever it
started) and asks Linux to SIGKILL it when its parent dies (prctl
PR_SET_PDEATHSIG), so a `kill -9` of ReplicaLab leaves no orphan node behind.
Linux sends that signal when the *thread* that started the child ends, so
every child is forked by one long-lived spawner thread: a node restarted from a
short-lived request thread does not die when that thread ends. Both rules live in
realmode/processes.py (popen_dying_with_us), which starts the real-mode nodes too.
"""
from __future__ import annotations

import os
import shlex
import signal
import subprocess
from typing import Dict, List, Optional, Sequence, Union

from realmode.processes import popen_dying_with_us

DATA_DIR_ENV = "REPLICALAB_DATA_DIR"
NODE_ENV = "REPLICALAB_NODE"


def command_words(command: Union[str, Sequence[str]]) -> List[str]:
    """The program and its arguments: a string is split as a shell would, without running a shell."""
    words = shlex.split(command) if isinstance(command, str) else list(command)
    if not words:
        raise ValueError("the node command is empty; give the program to run, e.g. \"python3 my_node.py\"")
    return words


def spawn(command: Union[str, Sequence[str]], data_dir: Optional[str] = None, node: str = "",
          cwd: Optional[str] = None, extra_env: Optional[Dict[str, str]] = None) -> subprocess.Popen:
    """Start the program with pipes on stdin, stdout and stderr; FileNotFoundError if it does not exist."""
    env = dict(os.environ)
    env.update(extra_env or {})
    env["PYTHONUNBUFFERED"] = "1"  # a Python node that forgets to flush still answers
    env[NODE_ENV] = node
    if data_dir is not None:
        os.makedirs(data_dir, exist_ok=True)
        env[DATA_DIR_ENV] = os.path.abspath(data_dir)
    return popen_dying_with_us(command_words(command), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, cwd=cwd, env=env, bufsize=0)


def signal_group(process: subprocess.Popen, sig: int) -> bool:
    """Send `sig` to the child's process group (its PID names the group); False if it is gone."""
    try:
        os.killpg(process.pid, sig)
        return True
    except (ProcessLookupError, PermissionError):
        return False


def stop(process: subprocess.Popen, grace_s: float = 1.0) -> Optional[int]:
    """SIGTERM the child's group, SIGKILL it after `grace_s`; reap it and return its exit code."""
    if process.poll() is None:
        signal_group(process, signal.SIGCONT)  # a SIGSTOPped node cannot act on SIGTERM
        signal_group(process, signal.SIGTERM)
        exit_code(process, grace_s)
    signal_group(process, signal.SIGKILL)  # also whatever the program started and left behind
    return exit_code(process, 5)


def exit_code(process: subprocess.Popen, wait_s: float) -> Optional[int]:
    """The child's exit code once it ended, waiting at most `wait_s`; None if it still runs."""
    try:
        return process.wait(wait_s)
    except subprocess.TimeoutExpired:
        return None


def alive(pid: int) -> bool:
    """Whether a process with this PID exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, IndexError, ProcessLookupError):
        return False
