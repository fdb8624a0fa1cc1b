"""Scheduler routes: list the periodic jobs, run one now; one anti-entropy exchange."""
from __future__ import annotations

from flask import Blueprint, current_app

from wording import plural

from .common import admin_only, manager, parse_node_id, success, with_story

bp = Blueprint("scheduler", __name__)


def scheduler():
    """The Scheduler of the current app."""
    return current_app.extensions["replicalab_scheduler"]


@bp.get("/scheduler/jobs")
def jobs():
    """Every periodic job, its interval, next run and last result."""
    state = "running" if scheduler().running else "off: run jobs by hand with POST /scheduler/run/<job>"
    return success(f"Scheduler {state}.", jobs=scheduler().jobs())


@bp.post("/scheduler/run/<job>")
@admin_only
def run(job):
    """Run one job now (hint_retry, anti_entropy, flush, and the applications' jobs)."""
    result, story = with_story(scheduler().run, job)
    return success(f"Ran {job}.", job=job, result=result, **story)


@bp.post("/anti-entropy/<raw_a>/<raw_b>")
@admin_only
def anti_entropy(raw_a, raw_b):
    """Node a compares Merkle trees with node b and they copy what differs."""
    a, b = parse_node_id(raw_a), parse_node_id(raw_b)
    result, story = with_story(manager().jobs.anti_entropy, a, b)
    return success(f"node-{a} and node-{b} compared {plural(result['tree_nodes_compared'], 'tree node')} and "
                   f"moved {plural(result['keys_transferred'], 'key')}.", **result, **story)
