"""NodeHandle: what the control plane does to a node — from outside its protocol.

The manager, fault control and maintenance jobs never reach into a node's
memory: they fail it (stop, crash, wipe), skew its clock, group-commit its
batch, list its keys, ask which owners it holds hints for, have it coordinate a
client's operation or a recovery, and read its summary. `LocalNodeHandle` does that for a node
in this process; real mode (one node per OS process) gives the same calls an
HTTP implementation, so the control plane does not change.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional, Protocol, Tuple

from cluster import coordinator, crash
from cluster.anti_entropy import AntiEntropyOp
from cluster.handoff import HandoffOp
from cluster.recovery import SyncOp

if TYPE_CHECKING:
    from cluster.node import ReplicaNode
    from cluster.paxos import CasResult
    from cluster.quorum import ReadResult, WriteResult
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

    def hint_count(self) -> int:
        """How many hints it holds."""

    def live_count(self) -> int:
        """How many live (not deleted) keys it holds."""

    def failure(self) -> Optional[str]:
        """How it last failed (stop, crash, wipe), or None."""

    def recover(self) -> None:
        """Bring a failed node back before the control plane lets messages reach it again."""

    def detail(self, up: bool) -> dict:
        """The node as /nodes/<id> shows it: every record and hint it holds."""

    def close(self) -> None:
        """Flush and close its storage (a clean shutdown)."""

    def summary(self, up: bool) -> dict:
        """The node as /nodes lists it."""

    def write(self, key: str, value: Any, needed: int, mode: str, deleted: bool, context: Any) -> WriteResult:
        """Coordinate a client's write (cluster/coordinator.py); NoQuorum when unmet."""

    def read(self, key: str, needed: int, mode: str) -> ReadResult:
        """Coordinate a client's read; NoQuorum when too few answered."""

    def cas(self, key: str, expected: Optional[str], value: Any) -> CasResult:
        """Coordinate a client's compare-and-set; Conflict or NoQuorum when not applied."""

    def start_handoff(self, owner: int) -> Any:
        """Start handing the hints it holds for `owner` back; the op's `delivered` says what arrived."""

    def start_sync(self, peers: List[int]) -> Any:
        """Start a recovery sync from `peers`; the op's `summary()` says what it pulled and pushed."""

    def start_anti_entropy(self, peer: int) -> Any:
        """Start one Merkle-tree exchange with `peer`; the op's `summary()` says what moved."""

    def keys_with_prefix(self, prefix: str) -> List[Tuple[str, Version, bool]]:
        """(key, version, tombstone) of every key it holds under `prefix`, sorted (its key index)."""


class LocalNodeHandle:
    """A NodeHandle for a ReplicaNode living in this process."""

    def __init__(self, node: ReplicaNode, run: Callable[[Any], Any]):
        self.node = node
        self.node_id = node.node_id
        self.name = node.name
        self.run = run  # start an op and return its result once a client can be answered (ClusterCore.run)

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

    def hint_count(self) -> int:
        """How many hints the node holds."""
        return len(self.node.hints)

    def live_count(self) -> int:
        """How many live keys the node holds."""
        return self.node.store.live_count()

    def failure(self) -> Optional[str]:
        """How the node last failed."""
        return self.node.failure

    def recover(self) -> None:
        """Nothing to do: a simulated node comes back when the network stops dropping its messages."""

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

    def write(self, key: str, value: Any, needed: int, mode: str, deleted: bool, context: Any) -> WriteResult:
        """Coordinate a client's write on this node."""
        return coordinator.write(self.run, self.node, key, value, needed, mode, deleted, context)

    def read(self, key: str, needed: int, mode: str) -> ReadResult:
        """Coordinate a client's read on this node."""
        return coordinator.read(self.run, self.node, key, needed, mode)

    def cas(self, key: str, expected: Optional[str], value: Any) -> CasResult:
        """Coordinate a client's compare-and-set on this node."""
        return coordinator.cas(self.run, self.node, key, expected, value)

    def start_handoff(self, owner: int) -> HandoffOp:
        """Start a handoff op on this node; the caller lets the network run."""
        op = HandoffOp(self.node.next_op_id(), self.node, owner)
        op.start()
        return op

    def start_sync(self, peers: List[int]) -> SyncOp:
        """Start a recovery sync op on this node; the caller lets the network run."""
        op = SyncOp(self.node.next_op_id(), self.node, peers, self.node.ring)
        op.start()
        return op

    def start_anti_entropy(self, peer: int) -> AntiEntropyOp:
        """Start one anti-entropy exchange on this node; the caller lets the network run."""
        op = AntiEntropyOp(self.node.next_op_id(), self.node, peer)
        op.start()
        return op

    def keys_with_prefix(self, prefix: str) -> List[Tuple[str, Version, bool]]:
        """The node's key index under `prefix`."""
        return list(self.node.store.keys_with_prefix(prefix))
