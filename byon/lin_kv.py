"""ReplicaLab's client operations as Maelstrom lin-kv requests, and replies as Jepsen outcomes.

`/write`, `/read` and `/cas` on a cluster of student nodes become `write`,
`read` and `cas` requests to one node. Its reply decides the operation's line
in the history, as Jepsen means it: `ok` it happened, `fail` it certainly did
not (a *definite* error code), `info` nobody knows (an indefinite code, a
timeout, a reply that makes no sense). A read changes nothing, so a read that
went wrong is a `fail` whatever the code; a read of a key that does not exist
(code 20) happened and saw nothing: `ok` with value null, the register's
initial state. The HTTP answer gets a status and a sentence from the same table.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, Optional

from cluster.errors import ReplicaLabError
from cluster.history import Outcome

OPERATIONS = ("read", "write", "cas")


@dataclass(frozen=True)
class ErrorCode:
    """One of Maelstrom's error codes: its name, whether it is definite, and the HTTP status we answer."""

    code: int
    name: str
    definite: bool
    status: int
    meaning: str


ERROR_CODES: Dict[int, ErrorCode] = {e.code: e for e in (
    ErrorCode(0, "timeout", False, 504, "the node gave up waiting; the operation may still happen"),
    ErrorCode(1, "node-not-found", True, 404, "the request named a node that does not exist"),
    ErrorCode(10, "not-supported", True, 501, "the node does not implement this operation"),
    ErrorCode(11, "temporarily-unavailable", True, 503, "the node cannot serve this now (e.g. no quorum), "
                                                         "and did not apply it"),
    ErrorCode(12, "malformed-request", True, 400, "the node could not understand the request"),
    ErrorCode(13, "crash", False, 502, "something went wrong in the node; the operation may have happened"),
    ErrorCode(14, "abort", True, 409, "the node gave up before applying the operation"),
    ErrorCode(20, "key-does-not-exist", True, 404, "the key does not exist"),
    ErrorCode(21, "key-already-exists", True, 409, "the key already exists"),
    ErrorCode(22, "precondition-failed", True, 409, "the current value is not the one the cas expected"),
    ErrorCode(30, "txn-conflict", True, 409, "the node aborted the operation because of a conflict"),
)}


def error_code(code: Any) -> ErrorCode:
    """The table's entry for `code`; a custom or unknown code is indefinite (Maelstrom's rule)."""
    if isinstance(code, int) and not isinstance(code, bool) and code in ERROR_CODES:
        return ERROR_CODES[code]
    return ErrorCode(code if isinstance(code, int) else -1, "custom", False, 502,
                     "an error code ReplicaLab does not know; it may have happened")


@dataclass(frozen=True)
class KvOperation:
    """One client operation: read key, write key value, or cas key from -> to."""

    f: str
    key: Any
    value: Any = None  # write: the value; cas: the new value (`to`)
    expected: Any = None  # cas: the value it compares with (`from`)

    def __post_init__(self):
        if self.f not in OPERATIONS:
            raise ValueError(f"a lin-kv operation is one of {', '.join(OPERATIONS)}, not {self.f!r}")

    def request_body(self, msg_id: int) -> dict:
        """The lin-kv request body a node receives for this operation."""
        body: Dict[str, Any] = {"type": self.f, "msg_id": msg_id, "key": self.key}
        if self.f == "write":
            body["value"] = self.value
        elif self.f == "cas":
            body["from"], body["to"] = self.expected, self.value
        return body

    def history_value(self) -> Any:
        """The value its invocation shows in the history: write's value, cas's [from, to], read's null."""
        if self.f == "cas":
            return [self.expected, self.value]
        return self.value if self.f == "write" else None


@dataclass
class KvResult:
    """What a node's reply means: the history outcome, the HTTP status and a sentence."""

    op: KvOperation
    type: str  # ok | fail | info
    status: int
    message: str
    value: Any = None
    error: Optional[ErrorCode] = None
    details: Dict[str, Any] = field(default_factory=dict)

    def outcome(self) -> Outcome:
        """The completion to record in cluster/history.py's History."""
        details = dict(self.details)
        if self.error is not None:
            details.setdefault("error", self.error.name)
            details["code"] = self.error.code
        return Outcome(self.type, self.value, details)

    def raise_if_error(self) -> None:
        """Raise the ReplicaLabError the HTTP layer turns into JSON, unless the operation succeeded."""
        if self.status != 200:
            raise NodeAnswerError(self)


class NodeAnswerError(ReplicaLabError):
    """A node answered a client request with an error (or nonsense, or nothing)."""

    def __init__(self, result: KvResult):
        code = result.error.name if result.error else result.details.get("error", "node_error")
        super().__init__(result.message, outcome=result.type, node_code=result.error.code if result.error else None)
        self.status, self.code = result.status, str(code).replace("-", "_")


def _unclear(op: KvOperation, node: str, why: str) -> KvResult:
    """A reply the client cannot interpret: a read is a fail, a write or cas may have happened."""
    kind = "fail" if op.f == "read" else "info"
    return KvResult(op, kind, 502, f"{node} answered the {op.f} with {why}; "
                                   f"{'nothing changed' if kind == 'fail' else 'it may or may not have happened'}.",
                    details={"error": "bad_reply"})


def interpret(op: KvOperation, reply: dict, node: str = "the node") -> KvResult:
    """What a node's reply body means for the client and the history."""
    kind = reply.get("type")
    if kind == f"{op.f}_ok":
        if op.f == "read":
            if "value" not in reply:
                return _unclear(op, node, 'read_ok without a "value"')
            return KvResult(op, "ok", 200, f"{node} read {op.key!r}.", value=reply["value"])
        done = "wrote" if op.f == "write" else "compared and set"
        return KvResult(op, "ok", 200, f"{node} {done} {op.key!r}.")
    if kind != "error":
        return _unclear(op, node, f"a {kind!r} message (expected {op.f}_ok or error)")
    error = error_code(reply.get("code"))
    text = reply.get("text")
    said = f' ("{str(text)[:200]}")' if isinstance(text, str) and text else ""
    if op.f == "read" and error.code == 20:
        return KvResult(op, "ok", 404, f"{op.key!r} does not exist on {node}{said}.", value=None, error=error)
    if op.f == "read":  # a read changes nothing: whatever the code, it did not happen
        return KvResult(op, "fail", error.status, f"{node} could not read {op.key!r}: error {error.code} "
                                                  f"{error.name}, {error.meaning}{said}.", error=error)
    kind = "fail" if error.definite else "info"
    outcome = "did not happen" if error.definite else "may or may not have happened"
    return KvResult(op, kind, error.status, f"The {op.f} of {op.key!r} {outcome}: {node} answered error "
                                            f"{error.code} {error.name}, {error.meaning}{said}.", error=error)


def no_reply(op: KvOperation, node: str, waited_ms: int, paused_ms: int = 0) -> KvResult:
    """The node did not answer in time: a read failed, a write or cas may still happen.

    `paused_ms`: how long the request waited on a paused network (step mode) before it gave up.
    """
    kind = "fail" if op.f == "read" else "info"
    maybe = "nothing changed" if kind == "fail" else "it may still happen"
    if paused_ms:
        text = (f"{node} did not answer the {op.f} of {op.key!r} in the {paused_ms / 1000:.0f} s it waited while "
                f"the network was paused (client_timeout_ms), its messages held at their senders; {maybe}. "
                "Deliver them (POST /network/deliver/<id>) or POST /network/resume sooner.")
    else:
        text = f"{node} did not answer the {op.f} of {op.key!r} within {waited_ms} ms; {maybe}."
    return KvResult(op, kind, 504, text,
                    error=ERROR_CODES[0], details={"error": "timeout"})
