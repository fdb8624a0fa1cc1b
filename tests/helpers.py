"""Shared test helpers: a deterministic in-memory cluster and app."""
from __future__ import annotations

import json
import os

from app import create_app
from config import simulation_config
from replication import ReplicationManager

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # where run.py lives


def make_cluster(**overrides) -> ReplicationManager:
    """A fresh deterministic cluster."""
    return ReplicationManager(simulation_config(**overrides))


def make_app(**overrides):
    """A fresh app around a deterministic cluster, and its test client."""
    app = create_app(simulation_config(**overrides))
    return app, app.test_client()


def write(client, key, value, **extra):
    """POST /write the way curl -d does (no JSON content type)."""
    body = {"key": key, "value": value, **extra}
    return client.post("/write", data=json.dumps(body),
                       content_type="application/x-www-form-urlencoded")

