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

DESCRIPTIONS = {
    "stop": "it keeps its memory and disk, but every message to or from it is dropped",
    "crash": "it lost its memory (cache, running operations, uncommitted writes) but keeps its disk",
    "wipe": "it lost its memory and its disk; recovery will rebuild it from its peers",
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
        lost["keys_lost"] = node.store.wipe()
        lost["hints_lost"] = node.hints.wipe()
        if node.paxos is not None:
            node.paxos.wipe()  # its promises too: a wiped acceptor is a new acceptor
    node.reset_clock()
    return lost


def describe(node, mode: str, lost: dict) -> str:
    """One sentence for the event log."""
    text = f"{node.name} is down ({mode}): {DESCRIPTIONS[mode]}"
    if lost.get("uncommitted_writes_lost"):
        keys = ", ".join(item["key"] for item in lost["uncommitted_writes_lost"])
        text += f"; it lost {plural(len(lost['uncommitted_writes_lost']), 'acknowledged but uncommitted write')}: "
        text += keys
    if "keys_lost" in lost:
        text += f"; {plural(lost['keys_lost'], 'key')} and {plural(lost['hints_lost'], 'hint')} are gone"
    return text


