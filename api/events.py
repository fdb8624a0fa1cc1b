"""Event routes: /events?since=N&limit=M pages through the cluster's event log."""
from __future__ import annotations

from flask import Blueprint

from .common import cluster, query_int, success

bp = Blueprint("events", __name__)


@bp.get("/events")
def events():
    """Events with seq greater than ?since= (default 0), at most ?limit= (default 100)."""
    log = cluster().events
    since = query_int("since", 0, 0, 2 ** 62)
    limit = query_int("limit", 100, 1, 1000)
    page = log.page(since, limit)
    next_since = page[-1].seq if page else since
    return success(f"{len(page)} event(s) after #{since}; newest is #{log.last_seq}.",
                   events=[e.to_dict() for e in page], next_since=next_since,
                   last_seq=log.last_seq, first_available=log.first_seq,
                   more=next_since < log.last_seq)
