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
    result = {name: value for name, value in result.items() if name != "now"}  # a raw clock reading: see at_time_ms
    return success(job_message(job, result), job=job, result=result, at_time_ms=manager().clock.elapsed(), **story)


def job_message(job: str, result: dict) -> str:
    """What a job did, in one sentence (the cluster's jobs; an application's job says it ran)."""
    if job == "flush":
        committed = result.get("committed", {})
        total = sum(committed.values())
        if not total:
            return "Ran flush: no write was pending, every disk already held what its node acknowledged."
        where = ", ".join(f"{count} on {node}" for node, count in committed.items())
        return f"Ran flush: committed {plural(total, 'pending write')} to disk ({where})."
    if job == "hint_retry":
        delivered = result.get("delivered", {})
        handed = sum(len(keys) for keys in delivered.values())
        left = plural(result.get("hints_left", 0), "hint")
        if not result.get("handoffs_tried"):
            return f"Ran hint_retry: no hint was owed to a node that is up; {left} still held."
        return (f"Ran hint_retry: handed back {plural(handed, 'hint')} in "
                f"{plural(result['handoffs_tried'], 'handoff')}" + (f" ({', '.join(delivered)})" if delivered else "")
                + f"; {left} still held.")
    if job == "anti_entropy":
        exchanges = result.get("exchanges", [])
        silent = sum(1 for e in exchanges if not e.get("answered", True))
        return (f"Ran anti-entropy round {result.get('round')}: {plural(len(exchanges), 'exchange')} of Merkle "
                f"trees between node pairs, {plural(result.get('keys_transferred', 0), 'key')} moved"
                + (f", {plural(silent, 'peer')} did not answer" if silent else "") + ".")
    return f"Ran {job}."


@bp.post("/anti-entropy/<raw_a>/<raw_b>")
@admin_only
def anti_entropy(raw_a, raw_b):
    """Node a compares Merkle trees with node b and they copy what differs."""
    a, b = parse_node_id(raw_a), parse_node_id(raw_b)
    result, story = with_story(manager().jobs.anti_entropy, a, b)
    return success(f"node-{a} and node-{b} compared {plural(result['tree_nodes_compared'], 'tree node')} and "
                   f"moved {plural(result['keys_transferred'], 'key')}.", **result, **story)
