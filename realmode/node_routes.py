"""The front's control routes on a node process: the NodeHandle calls, over HTTP.

The front (realmode/front.py, through realmode/node_handle.py) calls these
instead of touching a node in its own memory. They sit behind the same guard
as the peer routes (node_server.py: only the front and the peers, the admin
token when set, never a web page). A client operation's answer is its result
object as JSON (wire_results.py), or its domain error with the same code and
sentence as in simulated mode; the node's queued events ride along in the
answer, so the answer's story is complete when the front shapes it.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from flask import Flask, jsonify, request

from cluster import siblings
from cluster.codec import body_object
from cluster.errors import BadRequest, ReplicaLabError
from realmode.wire_results import encode_error, encode_result

if TYPE_CHECKING:
    from realmode.node_process import NodeProcess


def _body(*fields: str) -> dict:
    """The control call's JSON object, with `fields` present (the front sends them; anyone else gets a 400)."""
    data = body_object(request.get_data(cache=False))
    missing = [name for name in fields if name not in data]
    if missing:
        raise BadRequest(f"This control call needs {', '.join(map(repr, missing))} in its body.")
    return data


def _up() -> bool:
    return request.args.get("up", "1") == "1"


def add_control_routes(app: Flask, process: NodeProcess) -> None:
    """Add /node/... to a node process's app."""
    handle = process.handle

    def answered(call):
        """Run a client operation; its result or its error, with the node's queued events riding along.

        The front appends those events before it shapes the answer, so the answer's story is
        complete without a second round trip to the front's intake.
        """
        try:
            body, status = {"status": "ok", "result": encode_result(call())}, 200
        except ReplicaLabError as error:
            body, status = encode_error(error), error.status
        # Paused (step mode), the step that released this answer hands the front these events
        # (node_step_routes.settle), in its own story; drained here they would reach the front
        # only with this answer, after that step's story was told.
        if process.relay is not None and not process.faults.table.paused:
            body["events"] = process.relay.drain()
        return jsonify(body), status

    @app.post("/node/write")
    def write():
        """Coordinate a client's write: body {key, value, needed, mode, deleted, context}."""
        data = _body("key", "needed", "mode")
        context = siblings.vv.EMPTY
        if data.get("context") is not None:
            context = siblings.decode_context(data["context"], process.config.nodes, data["key"])
        return answered(lambda: handle.write(data["key"], data.get("value"), data["needed"], data["mode"],
                                             bool(data.get("deleted")), context))

    @app.post("/node/read")
    def read():
        """Coordinate a client's read: body {key, needed, mode}."""
        data = _body("key", "needed", "mode")
        return answered(lambda: handle.read(data["key"], data["needed"], data["mode"]))

    @app.post("/node/cas")
    def cas():
        """Coordinate a client's compare-and-set: body {key, expected, value}."""
        data = _body("key")
        return answered(lambda: handle.cas(data["key"], data.get("expected"), data.get("value")))

    def run_to_end(start):
        """Start a background operation under the node's lock, wait for it, and send its events to the front."""
        with process.lock:
            op = start()
        process.wait_done(op)
        if process.relay is not None:
            process.relay.flush(2.0)
        return op

    @app.post("/node/handoff")
    def handoff():
        """Hand the hints held for one owner back and wait: body {owner}."""
        owner = _body("owner")["owner"]
        op = run_to_end(lambda: handle.start_handoff(owner))
        return jsonify(owner=owner, delivered=list(op.delivered))

    @app.post("/node/sync")
    def sync():
        """Run a recovery sync from the peers and wait: body {peers}."""
        peers = _body("peers")["peers"]
        return jsonify(summary=run_to_end(lambda: handle.start_sync(peers)).summary())

    @app.post("/node/anti-entropy")
    def anti_entropy():
        """Run one Merkle-tree exchange with a peer and wait: body {peer}."""
        peer = _body("peer")["peer"]
        return jsonify(summary=run_to_end(lambda: handle.start_anti_entropy(peer)).summary())

    @app.post("/node/skew")
    def skew():
        """Offset the node's clock: body {skew_ms}."""
        with process.lock:
            handle.set_skew(int(_body("skew_ms")["skew_ms"]))
            return jsonify(skew_ms=handle.skew())

    @app.post("/node/flush")
    def flush():
        """Group-commit the pending writes."""
        with process.lock:
            return jsonify(committed=handle.flush())

    @app.get("/node/keys")
    def keys():
        """Every key with its version and tombstone flag; ?prefix= for the key index under a prefix."""
        with process.lock:
            if "prefix" in request.args:
                rows = handle.keys_with_prefix(request.args["prefix"])
                return jsonify(keys=[[k, v.to_dict(), d] for k, v, d in rows])
            return jsonify(keys=[[k, v.to_dict(), d] for k, (v, d) in handle.key_versions().items()])

    @app.get("/node/state")
    def state():
        """Summary, owed hint owners and counts in one call (the front caches them for views)."""
        with process.lock:
            return jsonify(summary=handle.summary(_up()), owed=handle.owed_hints(), hints=handle.hint_count(),
                           live=handle.live_count(), skew_ms=handle.skew())

    @app.get("/node/detail")
    def detail():
        """Every record and hint the node holds."""
        with process.lock:
            return jsonify(handle.detail(_up()))
