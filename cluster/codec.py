"""Messages as data: one JSON wire format for every node-to-node message.

`encode(msg)` gives an envelope in the spirit of Maelstrom's protocol:

    {"src": "node-2", "dest": "node-3",
     "body": {"type": "put", "msg_id": 17, "in_reply_to": null, "op_id": "node-2:4", ...}}

`decode(envelope)` is its inverse and raises BadMessage with a sentence a
student understands on anything malformed. The simulated Network delivers only
`decode(from_text(to_text(encode(msg))))` copies (`to_text`/`from_text` are
json.dumps/json.loads with the C encoder and scanner built once), so every test
exercises the wire format a real transport uses, and no two nodes ever share a value.

Every message pays this, so it is kept cheap: per-kind plans built at import
(`messages.wire_plan`, `_DECODE_PLANS`), exact-type checks, a cache of node names.
"""
from __future__ import annotations

import json
from json import scanner as _json_scanner
from typing import Any, Dict, FrozenSet, Optional, Tuple, Type

from byon.envelope import MAX_LINE_BYTES, MalformedLine, check_body
from cluster import messages as m
from cluster.errors import BadMessage
from cluster.passthrough import PASSTHROUGH, Passthrough
from models import json_writer, node_name, node_ref

MESSAGE_KINDS: Dict[str, Type[m.Message]] = {cls.kind: cls for cls in (
    m.Put, m.PutAck, m.Get, m.GetReply, m.SyncRequest, m.SyncReply, m.TreeOffer, m.TreeDiff, m.Fetch,
    m.Prepare, m.Promise, m.Propose, m.Accepted, m.Commit, m.Committed)}

# The JSON types a plain field may hold, as exact types: a JSON text yields no subclasses, and an
# exact match keeps a bool out of an int field without a second test.
EXACT_TYPES: Dict[Tuple[type, ...], FrozenSet[type]] = {
    (str,): frozenset({str}), (int,): frozenset({int}), (bool,): frozenset({bool}),
    (int, type(None)): frozenset({int, type(None)})}

# One decoding plan per kind, built once: the class and, per body field in constructor order,
# (name, from JSON or None, exact JSON types or None). Encoding uses messages.wire_plan.
_DECODE_PLANS: Dict[str, Tuple[Type[m.Message], Tuple[Tuple[str, Any, Optional[FrozenSet[type]]], ...]]] = {
    kind: (cls, tuple((name, from_json, EXACT_TYPES[allowed] if allowed else None)
                      for name, _, from_json, allowed in m.wire_plan(cls)))
    for kind, cls in MESSAGE_KINDS.items()}


def encode(msg: m.Message, msg_id: int = 0, in_reply_to: Optional[int] = None) -> dict:
    """The message as a JSON-ready envelope: src, dest, and a body with its type and fields."""
    if type(msg) is Passthrough:  # a student's message (not a Message subclass)
        return encode_passthrough(msg)
    body: Dict[str, Any] = {"type": msg.kind, "msg_id": msg_id, "in_reply_to": in_reply_to}
    for name, to_json, _, _ in m.wire_plan(type(msg)):
        value = getattr(msg, name)
        body[name] = value if to_json is None else to_json(value)
    return {"src": node_name(msg.src), "dest": node_name(msg.dst), "body": body}


def decode(envelope: Any) -> m.Message:
    """The message an envelope carries; raises BadMessage when it is not one."""
    body = envelope.get("body") if type(envelope) is dict else None
    if type(body) is not dict:
        raise BadMessage("A message must be a JSON object with \"src\", \"dest\" and a \"body\" object.")
    kind = body.get("type")
    plan = _DECODE_PLANS.get(kind) if type(kind) is str else None  # a list or object is no kind (nor hashable)
    if plan is None:
        if kind == PASSTHROUGH:
            return decode_passthrough(envelope)  # type: ignore[return-value]  # it travels like a Message
        raise BadMessage(f"Unknown message type {str(body.get('type'))[:40]!r}; the known types are "
                         f"{', '.join(sorted(MESSAGE_KINDS))}.")
    cls, fields = plan
    src, dst = _node(envelope, "src"), _node(envelope, "dest")
    values = []
    try:
        for name, from_json, exact in fields:
            if name not in body:
                raise BadMessage(f"A {cls.kind} message needs the field {name!r} in its body.")
            value = body[name]
            if exact is not None and type(value) not in exact:
                raise BadMessage(f"The field {name!r} of a {cls.kind} message must be "
                                 f"{' or '.join(sorted(t.__name__ for t in exact))}, not {type(value).__name__}.")
            values.append(value if from_json is None else from_json(value))
        return cls(src, dst, *values)
    except (KeyError, TypeError, ValueError, IndexError) as error:
        raise BadMessage(f"The body of a {cls.kind} message is malformed ({type(error).__name__}: "
                         f"{str(error)[:80]}).") from None


def encode_passthrough(msg: Passthrough) -> dict:
    """A student node's message: its body verbatim under "payload", the cluster-wide id as msg_id."""
    return {"src": node_name(msg.src), "dest": node_name(msg.dst),
            "body": {"type": PASSTHROUGH, "msg_id": msg.wire_id, "in_reply_to": None, "op_id": msg.op_id,
                     "payload": msg.body}}


def decode_passthrough(envelope: dict) -> Passthrough:
    """A student node's message back from the wire, its body checked as the bridge checks a line.

    The body must be what docs/node-protocol.md allows (byon/envelope.py's rules) and at most
    MAX_LINE_BYTES of JSON, as on the program's stdout.
    """
    body = envelope["body"]
    payload, wire_id, op_id = body.get("payload"), body.get("msg_id"), body.get("op_id", "")
    if type(wire_id) is not int or type(op_id) is not str:
        raise BadMessage("A passthrough message needs an integer \"msg_id\" and a string \"op_id\".")
    try:
        check_body(payload)
    except MalformedLine as error:
        raise BadMessage(f"The student message is malformed: {error.why}.") from None
    if len(to_text(payload)) > MAX_LINE_BYTES:
        raise BadMessage(f"A student message may be at most {MAX_LINE_BYTES} bytes of JSON.")
    return Passthrough(_node(envelope, "src"), _node(envelope, "dest"), payload, wire_id, op_id)


# "node-N" -> N for the names seen so far (at most _MAX_NAMES: the names come from the wire).
_NODE_IDS: Dict[str, int] = {}
_MAX_NAMES = 4096


def _node(envelope: dict, name: str) -> int:
    value = envelope.get(name)
    node = _NODE_IDS.get(value) if type(value) is str else None
    if node is not None:
        return node
    node = node_ref(value) if isinstance(value, str) and value.startswith("node-") else None
    if node is not None:  # node_ref bounds the digits: a 5,000-digit id is a BadMessage, not a ValueError
        if len(_NODE_IDS) < _MAX_NAMES and node_name(node) == value:  # "node-02" stays uncached
            _NODE_IDS[value] = node
        return node
    raise BadMessage(f"\"{name}\" must name a node such as \"node-2\", not {str(value)[:40]!r}.")


# Compact JSON text through an encoder built once (models.json_writer), read back by the C
# scanner behind json.loads, built once too: raw_decode would add two regular-expression matches.
_TO_TEXT = json_writer(compact=True)
_SCAN = _json_scanner.make_scanner(json.JSONDecoder())  # type: ignore[arg-type]  # it takes the decoder


def to_text(envelope: dict) -> str:
    """The envelope as compact JSON text (what a real transport writes on the wire)."""
    return _TO_TEXT(envelope)


def from_text(text: str) -> Any:
    """The JSON value `text` holds, with no space around it (raises ValueError otherwise)."""
    try:
        value, end = _SCAN(text, 0)
    except StopIteration:  # the scanner's way of saying no value starts here
        raise ValueError("expected a JSON value at character 0") from None
    if end != len(text):
        raise ValueError(f"extra data after the JSON value at character {end}")
    return value


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def body_object(raw: bytes, what: str = "The body") -> dict:
    """A request body that must be one JSON object (an envelope, a fault table, a control call).

    Raises BadMessage, a 400 with a sentence, on anything else: bytes that are not UTF-8,
    text that is not JSON, NaN or Infinity, nesting too deep for the parser, or a value
    that is not an object. Node processes read their peers' and the front's bodies with it.
    """
    try:
        data = json.loads(raw.decode("utf-8"), parse_constant=_no_constant)
    except RecursionError:
        raise BadMessage(f"{what} is nested too deeply to be a message of ReplicaLab's.") from None
    except (UnicodeDecodeError, ValueError) as error:
        raise BadMessage(f"{what} must be one JSON object ({str(error)[:80]}).") from None
    if type(data) is not dict:
        raise BadMessage(f"{what} must be one JSON object, not {type(data).__name__}.")
    return data


def round_trip(msg: m.Message, msg_id: int = 0) -> m.Message:
    """The message as its receiver gets it: encoded, written as JSON text, read back and decoded."""
    return decode(from_text(to_text(encode(msg, msg_id))))
