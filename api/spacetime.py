"""GET /events/shiviz: the event log as a ShiViz log (the space-time diagram elsewhere)."""
from __future__ import annotations

from flask import Blueprint, Response

from cluster.shiviz import SHIVIZ_REGEX, shiviz_log

from .common import manager, query_int

bp = Blueprint("spacetime", __name__)


@bp.get("/events/shiviz")
def shiviz():
    """The newest ?limit= events (default 10,000) with vector clocks, for ShiViz's default regex."""
    log = manager().events
    limit = query_int("limit", 10_000, 1, 100_000)
    events = log.since(max(0, log.last_seq - limit))
    response = Response(shiviz_log(events), mimetype="text/plain")
    # Said in a header, not in the log: ShiViz parses every line of what it is given.
    response.headers["X-ShiViz-Regex"] = SHIVIZ_REGEX
    response.headers["Content-Disposition"] = "attachment; filename=replicalab-shiviz.log"
    return response
