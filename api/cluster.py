"""Cluster routes: /, /health, /config, /nodes, /nodes/<id>."""
from __future__ import annotations

from flask import Blueprint

from .common import cluster, parse_node_id, success

bp = Blueprint("cluster", __name__)

ENDPOINTS = {
    "POST /write": 'store a value: -d \'{"key": "color", "value": "blue"}\' (optional "w")',
    "GET /read/<key>": "read a key from R replicas (optional ?r=)",
    "DELETE /delete/<key>": "delete a key with a tombstone (optional ?w=)",
    "GET /keys": "every key the nodes hold",
    "GET /placement/<key>": "a key's preference list and ring positions",
    "GET /nodes": "every node: alive or dead, keys, hints",
    "GET /nodes/<id>": "one node's records, tombstones and hints",
    "POST /fail/<id>": "take a node down",
    "POST /recover/<id>": "bring a node back and let it catch up",
    "GET /events?since=N&limit=M": "what the cluster did, event by event",
    "GET /health": "is the server up, how many nodes are alive",
    "GET /config": "the cluster's settings",
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
