"""GET /scenario: every state-changing request so far, as a replayable file."""
from __future__ import annotations

from flask import Blueprint, jsonify

from cluster import scenario

from .common import manager

bp = Blueprint("scenario", __name__)


@bp.get("/scenario")
def export():
    """The scenario: seed, settings, requests in order, and the event log's digest."""
    data = scenario.export(manager())
    notes = []
    if data["clock"] != "virtual":
        notes.append("recorded on the wall clock: a replay runs on the virtual clock, so times and "
                     "timeouts may differ; start with --clock virtual for an exact replay")
    if not data["started_empty"]:
        notes.append("the cluster started with data on disk, which the scenario does not contain; "
                     "start with --fresh for an exact replay")
    if not data["requests_complete"]:
        notes.append(f"only the first {len(data['requests'])} requests fit in the record's memory; the "
                     f"{data['requests_not_recorded']} after them were not kept, so a replay reproduces "
                     "the beginning of this run only, not its event log")
    if not data["complete"]:
        notes.append("older events were forgotten (--max-events); the digest covers the kept ones")
    data["notes"] = notes or ["replays exactly: python -m labs replay FILE"]
    response = jsonify(data)
    response.headers["Content-Disposition"] = "attachment; filename=replicalab-scenario.json"
    return response
