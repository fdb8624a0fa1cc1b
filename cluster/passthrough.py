"""A student node's message (bring your own node): carried between node processes with its body verbatim.

ReplicaLab's own messages are frozen dataclasses of cluster/messages.py, one class
per kind. A student's program (docs/node-protocol.md) invents its own kinds, so its
messages travel as one `Passthrough` whose body is the program's, untouched;
cluster/codec.py puts it on the wire as kind "passthrough" and checks it where it
arrives with the bridge's rules (byon/envelope.py).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Dict, Optional, Tuple

PASSTHROUGH = "passthrough"  # the wire kind of a student node's message (bring your own node)
MAX_KIND_CHARS = 40  # a longer "type" is cut where it names the message (every event of it keeps the name)


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
        """The body's "key" when it is a string (lin-kv keys from the HTTP API are), for the event's key."""
        key = self.body.get("key")
        return key if isinstance(key, str) else None

    def summary(self) -> str:
        """One phrase for the event log: the type, and the key when there is one."""
        key = self.body.get("key")
        return self.kind if key is None else f"{self.kind} {str(key)[:40]}"

    def summary_parts(self) -> Tuple[Callable[..., str], tuple]:
        """`summary()` as (format function, arguments), as Message.summary_parts gives it."""
        return str, (self.summary(),)
