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
# Settings that do not change what the cluster does, or that a replay must override.
NOT_REPLAYED = {"host", "port", "data_dir", "storage", "clock", "scheduler", "fresh", "admin_token",
                "allowed_origins", "allowed_hosts", "max_streams", "stream_heartbeat_s",
                "narrate", "hint_retry_s", "anti_entropy_s", "flush_s"}


class ScenarioRecord:
    """The requests that changed the cluster, in the order they took the lock."""

    def __init__(self) -> None:
        self.requests: List[dict] = []

    def record(self, entry: dict) -> None:
        """Remember one request (method, path, body) or job run ({"job": name})."""
        self.requests.append(entry)


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
                "requests": list(manager.scenario.requests),
                "events": len(events), "event_digest": event_digest(events),
                "complete": manager.events.first_seq == 1}
