"""Cluster routes: /, /health, /config, /nodes, /nodes/<id>."""
from __future__ import annotations

from flask import Blueprint

from .common import cluster, parse_node_id, success

bp = Blueprint("cluster", __name__)

ENDPOINTS = {
    "POST /write": 'store a value: -d \'{"key": "color", "value": "blue"}\' (optional "w", "coordinator")',
    "GET /read/<key>": "read a key from R replicas (optional ?r=, ?coordinator=)",
    "DELETE /delete/<key>": "delete a key with a tombstone (optional ?w=)",
    "GET /keys": "every key the nodes hold",
    "GET /placement/<key>": "a key's preference list and ring positions (?rf= to compare)",
    "GET /nodes": "every node: alive or dead, keys, hints",
    "GET /nodes/<id>": "one node's records, tombstones and hints",
    "POST /fail/<id>?mode=stop|crash|wipe": "take a node down",
    "POST /recover/<id>?catch_up=all|none": "bring a node back (and let it catch up)",
    "POST /partition": '-d \'{"groups": [[0, 1], [2, 3, 4]]}\': split the network',
    "POST /heal": "remove the partition",
    "POST /links/<a>/<b>": '-d \'{"down": true}\' or {"drop_rate": 0.3, "delay_ms": [5, 50]}: one-way link fault',
    "DELETE /links/<a>/<b>": "repair a link",
    "POST /faults/network": '-d \'{"drop_rate": 0.1, "duplicate_rate": 0.05, "delay_ms": [0, 200]}\'',
    "POST /nodes/<id>/clock": '-d \'{"skew_ms": -5000}\': skew a node\'s clock',
    "GET /faults": "every active fault",
    "DELETE /faults": "clear network faults and clock skews",
    "POST /network/pause": "hold every message (step mode)",
    "GET /network/messages": "messages in flight",
    "POST /network/deliver/<msg>": "deliver one held message (also /drop/<msg>, /duplicate/<msg>)",
    "POST /network/step": "deliver the next message in network order",
    "POST /network/resume": "deliver everything, leave step mode",
    "POST /tick": '-d \'{"ms": 100}\': move simulated time forward',
    "GET /scheduler/jobs": "periodic jobs: hint_retry, anti_entropy, flush",
    "POST /scheduler/run/<job>": "run a job now",
    "POST /anti-entropy/<a>/<b>": "one Merkle-tree exchange between two nodes",
    "GET /events?since=N&limit=M": "what the cluster did, event by event",
    "GET /events/stream": "the same, live (Server-Sent Events; curl -N)",
    "GET /scenario": "every state-changing request so far, replayable",
    "GET /health": "is the server up, how many nodes are alive",
    "GET /config": "the cluster's settings",
    "GET /dashboard": "the live dashboard: open it in a browser",
}


@bp.get("/")
def index():
    """What this server is and which endpoints it offers."""
    config = cluster().config
    return success(f"ReplicaLab: a {config.nodes}-node replicated key-value store "
                   f"(RF={config.rf}, R={config.r}, W={config.w}). Break it and watch it recover.",
                   endpoints=ENDPOINTS)


@bp.get("/health")
def health():
    """The server answers; how many nodes are alive and whether quorums are reachable."""
    nodes = cluster().nodes_view()
    alive = sum(1 for n in nodes if n["status"] == "alive")
    config = cluster().config
    return success(f"{alive} of {len(nodes)} nodes alive.", nodes_alive=alive, nodes_total=len(nodes),
                   writes_possible=alive >= config.w, reads_possible=alive >= config.r)


@bp.get("/config")
def config():
    """The cluster's settings (the admin token is never shown)."""
    return success(config=cluster().config.public_dict())


@bp.get("/nodes")
def nodes():
    """Every node's status, key count and hints held."""
    listing = cluster().nodes_view()
    alive = sum(1 for n in listing if n["status"] == "alive")
    return success(f"{alive} of {len(listing)} nodes alive.", nodes=listing)


@bp.get("/nodes/<raw_id>")
def node(raw_id):
    """One node's records (with versions and tombstones) and the hints it holds."""
    view = cluster().node_view(parse_node_id(raw_id))
    node = view["node"]
    return success(f"{node['name']} is {node['status']}: {node['keys']} key(s), "
                   f"{node['tombstones']} tombstone(s), {node['hints']} hint(s) held for others.", **view)
