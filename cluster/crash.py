"""Crash kinds: what a failure takes from a node.

- stop:  the node is unreachable; memory and disk are kept (a paused process).
- crash: memory is lost — the cache, the running operations and every write not
         yet committed (with durability `batch`, acknowledged writes can vanish);
         the disk is kept.
- wipe:  memory and disk are lost; recovery must rebuild the node from its peers.
"""
from __future__ import annotations

from typing import Any, Dict

from wording import plural

MODES = ("stop", "crash", "wipe")
MAX_NAMED = 20  # a wipe names at most this many of the keys and hints it lost (the counts say how many)

DESCRIPTIONS = {
    "stop": "it keeps its memory and disk, but every message to or from it is dropped",
    "crash": "it lost its memory (cache, running operations, uncommitted writes) but keeps its disk",
    "wipe": "it lost its memory and its disk; recovery will rebuild it from its peers",
}

# A node process (real mode) fails by a signal: what a student then sees differs from the simulation's.
REAL_DESCRIPTIONS = {
    "stop": "its process (pid {pid}) got SIGSTOP: it keeps its memory and disk but answers nothing, so "
            "messages to it wait unanswered until their sender's timeout",
    "crash": "its process (pid {pid}) got SIGKILL: its memory (running operations, queued messages) is gone, "
             "its files stay on disk, and /recover restarts it on them",
    "wipe": "its process (pid {pid}) got SIGKILL and its data directory was deleted; recovery will rebuild it "
            "from its peers",
}


def apply_failure(node, mode: str) -> dict:
    """Take from `node` what a failure of kind `mode` loses; returns what was lost."""
    lost: Dict[str, Any] = {"mode": mode}
    if mode == "stop":
        return lost
    for op in list(node.ops.values()):
        op.abandon(f"{node.name} {'crashed' if mode == 'crash' else 'was wiped'}")
    if mode == "crash":
        records = node.store.crash()
        node.hints.reload()
        lost["uncommitted_writes_lost"] = [
            {"key": key, "version": rec.version.to_dict()} for key, rec in sorted(records.items())]
    else:
        lost["lost_keys"] = node.store.first_keys(MAX_NAMED)
        lost["lost_hints"] = node.hints.first_names(MAX_NAMED)
        lost["keys_lost"] = node.store.wipe()
        lost["hints_lost"] = node.hints.wipe()
        if node.paxos is not None:
            node.paxos.wipe()  # its promises too: a wiped acceptor is a new acceptor
    node.reset_clock()
    return lost


def describe(node, mode: str, lost: dict) -> str:
    """One sentence for the event log."""
    return sentence(node.name, mode, lost)


def _named(count: int, noun: str, names: list) -> str:
    """'2 keys (a, b)', '25 keys (a, ... and 5 more)', '0 hints'."""
    if not names:
        return plural(count, noun)
    more = f" and {count - len(names)} more" if count > len(names) else ""
    return f"{plural(count, noun)} ({', '.join(names)}{more})"


def sentence(name: str, mode: str, lost: dict) -> str:
    """What a failure of node `name` did, in the words the stories use: 'node-1 is down (crash): ...'."""
    real = "signal" in lost  # realmode/node_handle.py's fail() says which signal it sent
    text = f"{name} is down ({mode}): " + (REAL_DESCRIPTIONS[mode].format(pid=lost.get("pid")) if real
                                           else DESCRIPTIONS[mode])
    if lost.get("uncommitted_writes_lost"):
        keys = ", ".join(item["key"] for item in lost["uncommitted_writes_lost"])
        text += f"; it lost {plural(len(lost['uncommitted_writes_lost']), 'acknowledged but uncommitted write')}: "
        text += keys
    if "program_pid" in lost or "program_data_dir" in lost:
        # A student's program keeps its own data: ReplicaLab cannot count what it lost.
        if lost.get("program_data_dir") == "deleted":
            text += "; its program's data folder (REPLICALAB_DATA_DIR) was deleted too"
    elif "keys_lost" in lost:
        text += (f"; {_named(lost['keys_lost'], 'key', lost.get('lost_keys', []))} and "
                 f"{_named(lost['hints_lost'], 'hint', lost.get('lost_hints', []))} are gone")
    return text


