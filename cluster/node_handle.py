"""NodeHandle: what the control plane does to a node — from outside its protocol.

The manager, fault control and maintenance jobs never reach into a node's
memory: they fail it (stop, crash, wipe), skew its clock, group-commit its
batch, list its keys, ask which owners it holds hints for, ask it to stamp a
client's write, and read its summary. `LocalNodeHandle` does that for a node
in this process; real mode (one node per OS process) gives the same calls an
HTTP implementation, so the control plane does not change.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Dict, List, Optional, Protocol, Tuple

from cluster import crash, siblings
from models import Record

if TYPE_CHECKING:
    from cluster.node import ReplicaNode
    from models import Version


class NodeHandle(Protocol):
    """The control plane's calls on one node."""

    node_id: int
    name: str

    def fail(self, mode: str) -> dict:
        """Apply a failure of kind stop, crash or wipe; returns what it lost."""

    def set_skew(self, skew_ms: int) -> None:
        """Offset the node's clock by `skew_ms` (negative: behind)."""

    def skew(self) -> int:
        """The node's clock offset in milliseconds."""

    def flush(self) -> int:
        """Group-commit its pending (batch) writes; returns how many reached the disk."""

    def key_versions(self) -> Dict[str, Tuple[Version, bool]]:
        """Every key it holds, with its version and whether it is a tombstone (no values read)."""

    def owed_hints(self) -> List[int]:
        """The owners it holds hints for."""

    def new_record(self, key: str, value: Any, deleted: bool, context: Any) -> Record:
        """A client's write stamped by this node as coordinator (LWW version, or a new dot)."""

    def hint_count(self) -> int:
        """How many hints it holds."""

    def live_count(self) -> int:
        """How many live (not deleted) keys it holds."""

    def failure(self) -> Optional[str]:
        """How it last failed (stop, crash, wipe), or None."""

    def detail(self, up: bool) -> dict:
        """The node as /nodes/<id> shows it: every record and hint it holds."""

    def close(self) -> None:
        """Flush and close its storage (a clean shutdown)."""

    def summary(self, up: bool) -> dict:
        """The node as /nodes lists it."""


class LocalNodeHandle:
    """A NodeHandle for a ReplicaNode living in this process."""

    def __init__(self, node: ReplicaNode):
        self.node = node
        self.node_id = node.node_id
        self.name = node.name

    def fail(self, mode: str) -> dict:
        """Apply a failure of kind `mode` to the node (cluster/crash.py); returns what it lost."""
        self.node.failure = mode
        return crash.apply_failure(self.node, mode)

    def set_skew(self, skew_ms: int) -> None:
        """Offset the node's clock."""
        self.node.skew_ms = skew_ms

    def skew(self) -> int:
        """The node's clock offset."""
        return self.node.skew_ms

    def flush(self) -> int:
        """Group-commit the node's pending writes."""
        return self.node.store.flush()

    def key_versions(self) -> Dict[str, Tuple[Version, bool]]:
        """The node's version index (key -> version, tombstone)."""
        return self.node.store.index

    def owed_hints(self) -> List[int]:
        """The owners the node holds hints for."""
        return list(self.node.hints.owners())

    def new_record(self, key: str, value: Any, deleted: bool, context: Any) -> Record:
        """The node stamps the client's write itself."""
        if self.node.conflicts == "siblings":
            return siblings.new_write(self.node, key, value, deleted, context)
        return Record(key, None if deleted else value, self.node.stamp_above(None), deleted)

    def hint_count(self) -> int:
        """How many hints the node holds."""
        return len(self.node.hints)

    def live_count(self) -> int:
        """How many live keys the node holds."""
        return self.node.store.live_count()

    def failure(self) -> Optional[str]:
        """How the node last failed."""
        return self.node.failure

    def detail(self, up: bool) -> dict:
        """Every record and hint the node holds."""
        return self.node.detail(up)

    def close(self) -> None:
        """Flush and close the node's storage and its Paxos state."""
        self.node.close()
        if self.node.paxos is not None:
            self.node.paxos.close()

    def summary(self, up: bool) -> dict:
        """The node as /nodes lists it."""
        return self.node.summary(up)
