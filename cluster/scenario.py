"""Scenarios: every state-changing request, recorded so a run can be replayed.

The cluster records each request that changed it, in the order the requests
took the cluster lock (and each scheduled job run). Exported with the seed and
the settings, that is a scenario: replayed on a fresh cluster with the virtual
clock (labs/replay.py), it produces the same event log, byte for byte.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import fields
from typing import List

from config import Config

FORMAT = 1
# Memory for the recorded requests: about 50,000 of them; a class rarely sends more,
# and a server that runs for months must not grow without bound.
MAX_RECORD_BYTES = 8 * 1024 * 1024
LINE_OVERHEAD_BYTES = 57  # a str object's header and its slot in the list
# Settings that do not change what the cluster does, or that a replay must override.
NOT_REPLAYED = {"host", "port", "data_dir", "storage", "clock", "scheduler", "fresh", "admin_token",
                "allowed_origins", "allowed_hosts", "max_streams", "stream_heartbeat_s",
                "narrate", "hint_retry_s", "anti_entropy_s", "flush_s"}


class ScenarioRecord:
    """The requests that changed the cluster, in the order they took the lock, up to a memory budget.

    Reads count: their read repairs and their messages' random latencies change
    what happens next, so an exact replay needs them too. Each request is kept
    as one compact JSON line (about 100 bytes). A replay must start from the
    beginning, so once `max_bytes` is used the record keeps its first requests
    and only counts the later ones; the export then says it replays the start.
    """

    def __init__(self, max_bytes: int = MAX_RECORD_BYTES) -> None:
        self.max_bytes = max_bytes
        self._lines: List[str] = []
        self._bytes = 0
        self.not_recorded = 0  # requests after the budget ran out

    def record(self, entry: dict) -> None:
        """Remember one request (method, path, body) or job run ({"job": name})."""
        if self.not_recorded:
            self.not_recorded += 1
            return
        line = json.dumps(entry, separators=(",", ":"))
        cost = len(line) + LINE_OVERHEAD_BYTES
        if self._bytes + cost > self.max_bytes:
            self.not_recorded = 1
            return
        self._lines.append(line)
        self._bytes += cost

    @property
    def requests(self) -> List[dict]:
        """The recorded requests, oldest first."""
        return [json.loads(line) for line in self._lines]

    @property
    def complete(self) -> bool:
        """True while every request so far is recorded."""
        return not self.not_recorded


def event_digest(events) -> str:
    """sha256 of the event log: equal digests mean identical logs."""
    digest = hashlib.sha256()
    for event in events:
        digest.update(json.dumps(event.to_dict(), sort_keys=True).encode("utf-8"))
    return digest.hexdigest()


def export(manager) -> dict:
    """The scenario of everything applied so far to `manager`."""
    with manager.lock:
        config = manager.config
        events = manager.events.page(0, 10 ** 9)
        return {"replicalab_scenario": FORMAT, "seed": config.seed, "clock": config.clock,
                "started_empty": manager.started_empty,
                "settings": {f.name: getattr(config, f.name) for f in fields(Config)
                             if f.name not in NOT_REPLAYED},
                "requests": manager.scenario.requests,
                "requests_complete": manager.scenario.complete,
                "requests_not_recorded": manager.scenario.not_recorded,
                "events": len(events), "event_digest": event_digest(events),
                "complete": manager.events.first_seq == 1}
