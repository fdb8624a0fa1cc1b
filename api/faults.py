"""Fault routes: /fail/<id> and /recover/<id> (admin token when configured)."""
from __future__ import annotations

from flask import Blueprint

from .common import admin_only, cluster, parse_node_id, success, with_story

bp = Blueprint("faults", __name__)


@bp.post("/fail/<raw_id>")
@admin_only
def fail(raw_id):
    """Take a node down: unreachable, memory and disk kept."""
    node_id = parse_node_id(raw_id)
    result, story = with_story(cluster().fail, node_id)
    return success(f"Node {node_id} failed", **result, **story)


@bp.post("/recover/<raw_id>")
@admin_only
def recover(raw_id):
    """Bring a node back; it receives its hints and syncs with its peers."""
    node_id = parse_node_id(raw_id)
    result, story = with_story(cluster().recover, node_id)
    caught_up = sorted(set(result["hints_received"]) | set(result["pulled_keys"]))
    return success(f"Node {node_id} recovered and caught up on {len(caught_up)} key(s)"
                   + (f": {', '.join(caught_up[:10])}" if caught_up else ""),
                   caught_up_keys=caught_up, **result, **story)
