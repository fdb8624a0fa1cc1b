"""GET /events/shiviz: the event log as a ShiViz log (the space-time diagram elsewhere)."""
from __future__ import annotations

from flask import Blueprint, Response, request

from cluster.errors import BadRequest
from cluster.shiviz import SHIVIZ_REGEX, shiviz_log

from .common import manager, query_int

bp = Blueprint("spacetime", __name__)


@bp.get("/events/shiviz")
def shiviz():
    """The newest ?limit= events (default 10,000) with vector clocks, for ShiViz's default regex."""
    log = manager().events
    raw = request.args.get("limit", "")
    if len(raw) > 12:  # int() would refuse 5,000 digits in Python's words, and echo them all
        raise BadRequest(f"?limit= must be a whole number between 1 and 100000, not {raw[:20]!r}… "
                         f"({len(raw)} characters).", field="limit")
    limit = query_int("limit", 10_000, 1, 100_000)
    events = log.since(max(0, log.last_seq - limit))
    response = Response(shiviz_log(events), mimetype="text/plain")
    # Said in a header, not in the log: ShiViz parses every line of what it is given.
    response.headers["X-ShiViz-Regex"] = SHIVIZ_REGEX
    response.headers["Content-Disposition"] = "attachment; filename=replicalab-shiviz.log"
    return response
