"""The cluster's life under one app: install it, and POST /reset to start over without a restart.

Every route looks the cluster up per request (common.manager()), so replacing
the app's extensions replaces the cluster for every request that starts
afterwards. Reset builds a new ReplicationManager as `--fresh` would, with the
same settings, and closes the old one.
"""
from __future__ import annotations

import threading

from flask import Blueprint, Flask, current_app

from apps.registry import build as build_applications
from config import Config
from replication import ReplicationManager
from scheduler import Scheduler

from .common import admin_only, success

bp = Blueprint("lifecycle", __name__)

_RESETTING = threading.Lock()  # two resets at once would each close the other's new cluster


def install(app: Flask, config: Config, start_scheduler: bool, world_factory=None) -> ReplicationManager:
    """Build the cluster, its applications and its scheduler into `app.extensions`.

    `world_factory` builds where the nodes live (None: simulated, in this process;
    realmode.front.ProcessWorld: one OS process each); a reset builds a new one.
    """
    manager = ReplicationManager(config, world=world_factory() if world_factory else None)
    applications = build_applications(manager)
    jobs = Scheduler(manager, applications)
    app.extensions["replicalab"] = manager
    app.extensions["replicalab_world"] = world_factory
    app.extensions["replicalab_apps"] = applications
    app.extensions["replicalab_scheduler"] = jobs
    if start_scheduler:
        jobs.start()
    return manager


def reset(app: Flask) -> ReplicationManager:
    """Replace the app's cluster by an empty, healthy one with the same settings; returns it."""
    with _RESETTING:
        old = app.extensions["replicalab"]
        old_jobs = app.extensions["replicalab_scheduler"]
        was_running = old_jobs.running
        old_jobs.shutdown()
        with old.lock:  # no request is acting on the old cluster while it closes
            if old.network.paused:
                # Requests waiting in step mode finish on the old cluster instead of waiting 30 s.
                old.steps.resume()
            # Live event streams follow the old log: this event ends them (api/events.py), and
            # a client that reconnects finds the new log.
            old.events.emit("cluster_reset", "cluster reset: a new, empty cluster with the same settings "
                            "replaces this one (POST /reset)", range(len(old.nodes)))
            old.close()  # flushes and releases the data directory's lock for the new cluster
            return install(app, old.config.replace(fresh=True), was_running, app.extensions["replicalab_world"])


@bp.post("/reset")
@admin_only
def reset_route():
    """Start over: an empty, healthy cluster with the same settings, as --fresh does, without a restart."""
    manager = reset(current_app._get_current_object())  # type: ignore[attr-defined]
    config = manager.config
    return success(f"Cluster reset: {config.nodes} empty nodes, all alive, no faults, a new event log "
                   f"and scenario (RF={config.rf}, R={config.r}, W={config.w}, seed {config.seed}). "
                   "Open event streams were ended; reconnect to follow the new log.",
                   config=config.public_dict(), nodes=manager.nodes_view())
