"""Messages as data: one JSON wire format for every node-to-node message.

`encode(msg)` gives an envelope in the spirit of Maelstrom's protocol:

    {"src": "node-2", "dest": "node-3",
     "body": {"type": "put", "msg_id": 17, "in_reply_to": null, "op_id": "node-2:4", ...}}

`decode(envelope)` is its inverse and raises BadMessage with a sentence a
student understands on anything malformed. The simulated Network delivers only
`decode(json.loads(json.dumps(encode(msg))))` copies, so every test exercises the
wire format a real transport uses, and no two nodes ever share a value.
"""
from __future__ import annotations

import json
from typing import Any, Dict, Optional, Type

from cluster import messages as m
from cluster.errors import BadMessage
from models import node_name, node_ref

MESSAGE_KINDS: Dict[str, Type[m.Message]] = {cls.kind: cls for cls in (
    m.Put, m.PutAck, m.Get, m.GetReply, m.SyncRequest, m.SyncReply, m.TreeOffer, m.TreeDiff, m.Fetch,
    m.Prepare, m.Promise, m.Propose, m.Accepted, m.Commit, m.Committed)}


def encode(msg: m.Message, msg_id: int = 0, in_reply_to: Optional[int] = None) -> dict:
    """The message as a JSON-ready envelope: src, dest, and a body with its type and fields."""
    body: Dict[str, Any] = {"type": msg.kind, "msg_id": msg_id, "in_reply_to": in_reply_to}
    body.update(msg.to_dict())
    return {"src": node_name(msg.src), "dest": node_name(msg.dst), "body": body}


def decode(envelope: Any) -> m.Message:
    """The message an envelope carries; raises BadMessage when it is not one."""
    if not isinstance(envelope, dict) or not isinstance(envelope.get("body"), dict):
        raise BadMessage("A message must be a JSON object with \"src\", \"dest\" and a \"body\" object.")
    body = envelope["body"]
    cls = MESSAGE_KINDS.get(body.get("type"))
    if cls is None:
        raise BadMessage(f"Unknown message type {str(body.get('type'))[:40]!r}; the known types are "
                         f"{', '.join(sorted(MESSAGE_KINDS))}.")
    src, dst = _node(envelope, "src"), _node(envelope, "dest")
    for name, _, _, allowed in m.wire_plan(cls):
        if name not in body:
            raise BadMessage(f"A {cls.kind} message needs the field {name!r} in its body.")
        value = body[name]
        if allowed and (not isinstance(value, allowed) or (bool not in allowed and isinstance(value, bool))):
            raise BadMessage(f"The field {name!r} of a {cls.kind} message must be "
                             f"{' or '.join(t.__name__ for t in allowed)}, not {type(value).__name__}.")
    try:
        return cls.from_dict(src, dst, body)
    except (KeyError, TypeError, ValueError, IndexError) as error:
        raise BadMessage(f"The body of a {cls.kind} message is malformed ({type(error).__name__}: "
                         f"{str(error)[:80]}).") from None


def _node(envelope: dict, name: str) -> int:
    value = envelope.get(name)
    node_id = node_ref(value) if isinstance(value, str) and value.startswith("node-") else None
    if node_id is not None:  # node_ref bounds the digits: a 5,000-digit id is a BadMessage, not a ValueError
        return node_id
    raise BadMessage(f"\"{name}\" must name a node such as \"node-2\", not {str(value)[:40]!r}.")


# Built once: json.dumps/loads with default arguments rebuild nothing either, but calling the
# C-accelerated encoder directly skips a layer per message, and messages hold no cycles.
_TO_TEXT = json.JSONEncoder(check_circular=False, separators=(",", ":")).encode
_FROM_TEXT = json.JSONDecoder().decode


def round_trip(msg: m.Message, msg_id: int = 0) -> m.Message:
    """The message as its receiver gets it: encoded, written as JSON text, read back and decoded."""
    return decode(_FROM_TEXT(_TO_TEXT(encode(msg, msg_id))))
