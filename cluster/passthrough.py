"""A student node's message (bring your own node): carried between node processes with its body verbatim.

ReplicaLab's own messages are frozen dataclasses of cluster/messages.py, one class
per kind. A student's program (docs/node-protocol.md) invents its own kinds, so its
messages travel as one `Passthrough` whose body is the program's, untouched;
cluster/codec.py puts it on the wire as kind "passthrough" and checks it where it
arrives with the bridge's rules (byon/envelope.py).
"""
from __future__ import annotations

import itertools
import json
from dataclasses import dataclass
from typing import Any, Callable, Dict, Optional, Tuple

PASSTHROUGH = "passthrough"  # the wire kind of a student node's message (bring your own node)
MAX_KIND_CHARS = 40  # a longer "type" is cut where it names the message (every event of it keeps the name)
SUMMARY_CHARS = 110  # a summary's length: one line of the console and of GET /network/messages
KEY_FIELDS_LOOKED_AT = 20  # a body's fields searched for a carried key: bounded, as a body may be huge
SHOWN_ITEMS = 4  # fields of a nested object (items of a list) a summary shows before "…"
PLUMBING = ("type", "msg_id", "in_reply_to")  # the protocol's own fields: the summary leaves them out


@dataclass(frozen=True)
class Passthrough:
    """A message between two student nodes (docs/node-protocol.md), carried with its body verbatim.

    Transports move it as any message (fault table, step mode, event log); `kind` is the
    body's "type"; `wire_id` is unique in the cluster (a student's msg_id only per node).
    """

    src: int
    dst: int
    body: Dict[str, Any]
    wire_id: int = 0
    op_id: str = ""

    @property
    def kind(self) -> str:
        """The student's message type, e.g. "replicate" (cut past MAX_KIND_CHARS: a program's may be 1 MB)."""
        kind = str(self.body.get("type"))
        return kind if len(kind) <= MAX_KIND_CHARS else f"{kind[:MAX_KIND_CHARS]}… ({len(kind)} characters)"

    @property
    def key(self) -> Optional[str]:
        """The body's string "key", else that of an object field (e.g. a change carried inside), for the event's key.

        Lin-kv keys from the HTTP API are strings; events, the diagram and step mode's list
        filter by it.
        """
        key = self.body.get("key")
        if isinstance(key, str):
            return key
        for name, value in itertools.islice(self.body.items(), KEY_FIELDS_LOOKED_AT):
            if isinstance(value, dict) and name not in PLUMBING and isinstance(value.get("key"), str):
                return value["key"]
        return None

    def summary(self) -> str:
        """One phrase a student tells messages apart by: the type, the key, then the other fields.

        `write x value=1`, `replicate view=3 change={key=x value=1 version=[3,7]}` and
        `replicate view=3 change=null` (a heartbeat) differ where it matters. Cut at
        SUMMARY_CHARS; a body of a megabyte costs no more than a small one.
        """
        parts = [self.kind]
        key = self.body.get("key")
        if key is not None:
            parts.append(_brief(key, 40))
        length = len(self.kind)
        for name, value in self.body.items():
            if length > SUMMARY_CHARS:
                break
            if name in PLUMBING or name == "key":
                continue
            parts.append(f"{str(name)[:40]}={_brief(value, 60)}")
            length += len(parts[-1]) + 1
        text = " ".join(parts)
        return text if len(text) <= SUMMARY_CHARS else text[:SUMMARY_CHARS - 1] + "…"

    def summary_parts(self) -> Tuple[Callable[..., str], tuple]:
        """`summary()` as (format function, arguments), as Message.summary_parts gives it."""
        return str, (self.summary(),)


def _brief(value: Any, chars: int, depth: int = 0) -> str:
    """A JSON value in a few characters: strings bare, objects as {name=value ...}, long ones cut with "…"."""
    if isinstance(value, (dict, list)) and depth >= 3:
        text = "{…}" if isinstance(value, dict) else "[…]"
    elif isinstance(value, str):
        text = value
    elif isinstance(value, dict):
        inner = [f"{str(k)[:20]}={_brief(v, 20, depth + 1)}" for k, v in itertools.islice(value.items(), SHOWN_ITEMS)]
        text = "{" + " ".join(inner) + (" …" if len(value) > SHOWN_ITEMS else "") + "}"
    elif isinstance(value, list):
        inner = [_brief(v, 20, depth + 1) for v in value[:SHOWN_ITEMS]]
        text = "[" + ",".join(inner) + (",…" if len(value) > SHOWN_ITEMS else "") + "]"
    else:
        try:
            text = json.dumps(value)
        except ValueError:  # an integer of thousands of digits
            text = "…"
    return text if len(text) <= chars else text[:chars - 1] + "…"
