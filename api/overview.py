"""Cluster routes: /, /health, /config, /nodes, /nodes/<id>."""
from __future__ import annotations

import re

from flask import Blueprint, Flask, current_app

from wording import plural

from .common import manager, parse_node_id, success
from .events import stream_slots

bp = Blueprint("overview", __name__)

# Routes that only explain a mistake (a missing key) are not worth listing.
UNLISTED = {"/read/", "/delete/", "/static/<path:filename>"}


def endpoint_index(app: Flask) -> dict:
    """Every route in Flask's URL map with the first line of its docstring and its example.

    Generated, never kept by hand, so the index cannot forget a route. A view may
    carry an example (api/common.py's @example decorator).
    """
    listing = {}
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if rule.rule in UNLISTED:
            continue
        view = app.view_functions[rule.endpoint]
        about = (view.__doc__ or "").strip().split("\n")[0]
        example = getattr(view, "example", None)
        path = re.sub(r"<(?:\w+:)?(?:raw_)?(\w+)>", r"<\1>", rule.rule)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            listing[f"{method} {path}"] = f"{about} ({example})" if example else about
    return listing


@bp.get("/")
def index():
    """What this server is and which endpoints it offers."""
    config = manager().config
    return success(f"ReplicaLab: a {config.nodes}-node replicated key-value store "
                   f"(RF={config.rf}, R={config.r}, W={config.w}). Break it and watch it recover.",
                   endpoints=endpoint_index(current_app))


def cluster_health(alive: int, total: int, config) -> tuple:
    """(health, sentence): ok with every node alive, degraded while quorums are still possible, else down."""
    if alive == total:
        return "ok", f"All {total} nodes alive."
    if alive >= max(config.r, config.w):
        return "degraded", (f"Degraded: {alive} of {total} nodes alive; reads (R={config.r}) and "
                            f"writes (W={config.w}) can still reach their quorums.")
    if alive == 0:
        return "down", f"Down: 0 of {total} nodes alive; every read and write will fail."
    return "down", (f"Down: only {alive} of {total} nodes alive, fewer than R={config.r} or "
                    f"W={config.w}; requests at the default quorums will fail.")


@bp.get("/health")
def health():
    """The server answers (200); "health" says whether the cluster is ok, degraded or down."""
    nodes = manager().nodes_view()
    alive = sum(1 for n in nodes if n["status"] == "alive")
    config = manager().config
    slots = stream_slots()
    # 200 means the server itself is alive (a load balancer's check); the cluster's state is in the body.
    state, sentence = cluster_health(alive, len(nodes), config)
    return success(sentence, health=state, mode=manager().world.mode, nodes_alive=alive, nodes_total=len(nodes),
                   writes_possible=alive >= config.w, reads_possible=alive >= config.r,
                   event_streams={"open": slots.open, "max": slots.limit})


@bp.get("/config")
def config():
    """The cluster's settings (the admin token is never shown)."""
    return success(config=manager().config.public_dict())


@bp.get("/nodes")
def nodes():
    """Every node's status, key count and hints held."""
    listing = manager().nodes_view()
    alive = sum(1 for n in listing if n["status"] == "alive")
    return success(f"{alive} of {len(listing)} nodes up.", mode=manager().world.mode, nodes=listing)


@bp.get("/nodes/<raw_id>")
def node(raw_id):
    """One node's records (with versions and tombstones) and the hints it holds."""
    view = manager().node_view(parse_node_id(raw_id))
    node = view["node"]
    state = "up" if node["status"] == "alive" else f"down ({node['failure']})"  # the stories' words
    program = node.get("program")
    if isinstance(program, dict):  # a student's program: its data is its own (view["note"] says where)
        running = ("its program is frozen (SIGSTOP) until POST /recover/" + str(node["node_id"])
                   if program.get("stopped") else
                   "its program runs" if program.get("running") else "its program is not running")
        return success(f"{node['name']} ({program.get('student_id')}) is {state}: {running} "
                       f"({program.get('command')!r}, pid {program.get('pid')}).", **view)
    return success(f"{node['name']} is {state}: {plural(node['keys'], 'key')}, "
                   f"{plural(node['tombstones'], 'tombstone')}, {plural(node['hints'], 'hint')} held for others.",
                   **view)
