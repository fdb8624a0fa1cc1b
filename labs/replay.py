"""Replaying scenarios: a recorded run (GET /scenario) applied to a fresh cluster.

Each recorded request is sent again through the HTTP layer, in order, on a
cluster with the recorded seed and settings on the virtual clock. A request
that waits in step mode is replayed on its own thread, and the next one starts
once it is waiting, exactly as it happened. Same requests, same seed: the same
event log, byte for byte (cluster/scenario.py computes its digest).
"""
from __future__ import annotations

import json
import threading
from dataclasses import fields
from typing import List, Optional

from app import create_app
from cluster.scenario import FORMAT, NOT_REPLAYED
from config import Config, ConfigError, simulation_config


class ScenarioError(ConfigError):
    """The scenario file cannot be replayed; the message says why."""


def read_json(path: str, error_class: type, hint: str = ""):
    """The JSON in a file, or `error_class` with a sentence (unreadable, or not JSON, and `hint`)."""
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except OSError as error:
        raise error_class(f"cannot read {path}: {error.strerror or error}") from None
    except ValueError as error:
        raise error_class(f"{path} is not JSON ({error}){hint}") from None


def load(path: str) -> dict:
    """Read and check a scenario file."""
    data = read_json(path, ScenarioError, f"; save it with curl localhost:5000/scenario > {path}")
    if not isinstance(data, dict) or data.get("replicalab_scenario") != FORMAT:
        raise ScenarioError(f"{path} is not a ReplicaLab scenario (GET /scenario exports one).")
    if not isinstance(data.get("requests"), list) or not isinstance(data.get("settings"), dict):
        raise ScenarioError(f"{path} has no 'requests' list or 'settings' object.")
    return data


def replay_config(scenario: dict, **overrides) -> Config:
    """The settings of the recorded run, on a virtual clock and memory storage."""
    known = {f.name for f in fields(Config)}
    settings = {k: v for k, v in scenario["settings"].items() if k in known and k not in NOT_REPLAYED}
    return simulation_config(**settings, **overrides).validate()


def replay(scenario: dict, app=None):
    """Apply every recorded request to `app` (or a fresh one); returns (app, answers)."""
    if app is None:
        app = create_app(replay_config(scenario))
    manager = app.extensions["replicalab"]
    threads: List[threading.Thread] = []
    answers: List[Optional[int]] = []
    for entry in scenario["requests"]:
        if "job" in entry:
            app.extensions["replicalab_scheduler"].run(entry["job"])
            answers.append(None)
            continue
        threads.append(_submit(app, manager, entry, answers))
    for thread in threads:
        thread.join(timeout=manager.config.client_timeout_ms / 1000 + 5)
    return app, answers


def _submit(app, manager, entry: dict, answers: list) -> threading.Thread:
    """Send one request on its own thread; return once it finished or waits in step mode."""
    done = threading.Event()
    slot = len(answers)
    answers.append(None)

    def send():
        """Send the request, keep its status, wake the replayer."""
        body = entry.get("body")
        response = app.test_client().open(entry["path"], method=entry["method"],
                                          data=json.dumps(body) if body is not None else None)
        answers[slot] = response.status_code
        done.set()
        with manager.lock:
            manager.changed.notify_all()

    with manager.lock:
        parks_before = manager.parks
        thread = threading.Thread(target=send, daemon=True)
        thread.start()
        manager.changed.wait_for(lambda: done.is_set() or manager.parks > parks_before, timeout=60)
    return thread
