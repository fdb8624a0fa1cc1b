"""What the front says about a student's program: how it ended, and what a down node's program is.

The node process reports its program in its health and state answers
(node_host.StudentProcess.status); the front turns that into the sentences of
/nodes, the node_failed event and the error of a request or a /recover. A
program that exits, is killed or never answered `init` is its node's crash: the
front marks the node down (realmode/front.py) and `POST /recover/N` restarts it.
"""
from __future__ import annotations

import signal
from typing import Any, List, Optional

from cluster.errors import ReplicaLabError

DATA_NOTE = ("ReplicaLab cannot see a student program's data: each program keeps its own, in its own "
             "format, in the directory REPLICALAB_DATA_DIR names ({where}); read a key with GET /read/<key>.")


class ProgramNotRunning(ReplicaLabError):
    """A student node's program is not running (it exited, or did not start again on /recover)."""

    status = 503
    code = "program_not_running"


def closed(text: str) -> str:
    """`text` ending as a sentence ends (a period added unless it ends with one, or with ? or !)."""
    return text if text.endswith((".", "?", "!")) else text + "."


def exit_words(code: Optional[int]) -> str:
    """How a process ended, in words: "exited with code 3", "was killed by signal 9 (SIGKILL)"."""
    if code is None:
        return "ended (its exit code is unknown)"
    if code < 0:
        try:
            name = f" ({signal.Signals(-code).name})"
        except ValueError:
            name = ""
        return f"was killed by signal {-code}{name}"
    return f"exited with code {code}"


def is_student(summary: dict) -> bool:
    """True when a node's summary is a student program's (it carries a "program")."""
    return isinstance(summary.get("program"), dict)


def program_gone(program: Optional[dict], alive) -> bool:
    """True when a node's program (its last health answer) is not running: never started, or its pid is gone.

    `alive(pid)` says whether a process runs (realmode.processes.is_alive).
    """
    if not isinstance(program, dict):
        return False
    pid = program.get("pid")
    return not program.get("running") or not isinstance(pid, int) or not alive(pid)


def why_gone(name: str, program: dict) -> str:
    """The sentence for a program that is not running: at once on start, or after it ran; its exit code."""
    problem = program.get("problem") or ""
    who = f"{name}'s program {program.get('student_id', '')}".rstrip()
    if program.get("started") is False:
        return f"{who} did not start as a node: {problem or 'it is not running'}"
    code = program.get("exit_code")
    pid = program.get("pid")
    said = f" (pid {pid})" if pid else ""
    return f"{who}{said} {exit_words(code)} while it ran as a node"


def down_view(program: dict, failure: str) -> dict:
    """A down node's program as /nodes shows it: a crash or wipe killed it (it dies with its node process)."""
    shown = dict(program)
    if failure in ("crash", "wipe"):
        shown["running"] = False
    elif failure == "stop":
        shown["stopped"] = True  # SIGSTOP: it is there, frozen, until /recover sends SIGCONT
    return shown


def down_programs(manager: Any) -> List[str]:
    """One warning line per node that is down at start (its program exited at once or never answered init)."""
    lines = []
    for handle in manager.handles:
        if not manager.is_up(handle.node_id):
            why = why_gone(handle.name, getattr(handle, "program", None) or {})
            lines.append(f"  {handle.name} is down: {closed(why)} Fix it, then POST /recover/{handle.node_id} "
                         "starts it.")
    return lines
