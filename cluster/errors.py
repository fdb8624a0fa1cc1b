"""Domain errors: a short hierarchy carrying data; app.py turns them into JSON.

Each error has an HTTP status, a short machine code and a sentence a student
understands; extra keyword data (acks, replicas...) is added to the answer. An
error about a read or write carries its plain `result`, which the HTTP layer
shapes like a success answer's fields (api/results.py).
"""
from __future__ import annotations

from typing import Any


class ReplicaLabError(Exception):
    """Base of every error the API reports as {"status":"error","error","message",...}."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str, result: Any = None, **data: Any):
        super().__init__(message)
        self.message = message
        self.result = result
        self.data = data


class BadRequest(ReplicaLabError):
    """The request is malformed: wrong type, missing field, not JSON."""


class Unauthorized(ReplicaLabError):
    """An admin endpoint was called without the configured token."""

    status = 401
    code = "unauthorized"


class Forbidden(ReplicaLabError):
    """The request comes from another web site, or under a host name this server does not use."""

    status = 403
    code = "forbidden"


class NotFound(ReplicaLabError):
    """Something named in the request does not exist."""

    status = 404
    code = "not_found"


class NodeNotFound(NotFound):
    """No node has that id."""

    code = "node_not_found"


class KeyNotFound(NotFound):
    """The key was never written, or its newest version is a tombstone."""

    code = "key_not_found"


class Conflict(ReplicaLabError):
    """The request conflicts with the current state (node already down/up)."""

    status = 409
    code = "conflict"


class NeedsLww(ReplicaLabError):
    """The request needs one value per key (--conflicts lww) and this cluster keeps siblings."""

    status = 409
    code = "needs_lww"


class Unprocessable(ReplicaLabError):
    """The request is well formed but cannot be carried out (e.g. an idempotency key reused)."""

    status = 422
    code = "unprocessable"


class PayloadTooLarge(ReplicaLabError):
    """The key or value is larger than the configured limit."""

    status = 413
    code = "too_large"


class TooManyRequests(ReplicaLabError):
    """A limit on concurrent use is reached (live-event streams); retry later."""

    status = 429
    code = "too_many_requests"


class NoQuorum(ReplicaLabError):
    """Too few replicas answered to meet the read or write quorum."""

    status = 503
    code = "no_quorum"


class NodeDown(NoQuorum):
    """The coordinator the client named is down (or every node is): nothing was sent, nothing was done."""

    code = "node_down"


class GatewayTimeout(ReplicaLabError):
    """The client stopped waiting; the operation goes on inside the cluster."""

    status = 504
    code = "timeout"


class BadMessage(BadRequest):
    """A node-to-node message that cannot be decoded (cluster/codec.py): unknown kind, missing or wrong field."""

    code = "bad_message"
