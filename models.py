"""Plain data: versions, records, node-to-node messages and events.

Messages are frozen dataclasses; a node dispatches on `kind` (see
ReplicaNode.receive in cluster/node.py), as in the Paxos cluster of "500 Lines
or Less". Quorum reads and writes use Get/GetReply and Put/PutAck; hinted
handoff, read repair and recovery sync reuse Put (its `purpose` says which);
recovery sync adds SyncRequest/SyncReply; anti-entropy adds TreeOffer,
TreeDiff and Fetch (answered by a SyncReply).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Dict, Optional, Tuple


def node_name(node_id: int) -> str:
    """Return the display name of a node id: 2 -> 'node-2'."""
    return f"node-{node_id}"


def node_id_of(name: str) -> int:
    """Return the node id in a display name: 'node-2' -> 2."""
    return int(name.rsplit("-", 1)[1])


def node_ref(value) -> Optional[int]:
    """The node id a client means by 2, "2" or "node-2"; None if the value names no node."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        text = value[5:] if value.startswith("node-") else value
        if text.isascii() and text.isdigit():
            return int(text)
    return None


@dataclass(frozen=True, order=True)
class Version:
    """Last-writer-wins version: a node-clock timestamp, ties broken by node id."""

    timestamp: int
    node: int

    def to_dict(self) -> dict:
        """Return the JSON form a student sees: both fields plus 'ts@node-N'."""
        return {"timestamp": self.timestamp, "node": node_name(self.node), "text": str(self)}

    @classmethod
    def from_dict(cls, data: dict) -> Version:
        """Rebuild a Version from its stored form (node given as id or name)."""
        node = data["node"]
        if isinstance(node, str):
            node = node_id_of(node)
        return cls(int(data["timestamp"]), int(node))

    def __str__(self) -> str:
        return f"{self.timestamp}@{node_name(self.node)}"


@dataclass(frozen=True)
class Record:
    """One key's value at one version on one node; `deleted` marks a tombstone."""

    key: str
    value: Any
    version: Version
    deleted: bool = False

    def newer_than(self, other: Optional[Record]) -> bool:
        """True when this record wins over `other` under last-writer-wins."""
        return other is None or self.version > other.version

    def to_dict(self) -> dict:
        """Return the JSON-safe form used on disk and in answers."""
        return {"key": self.key, "value": self.value, "version": self.version.to_dict(),
                "deleted": self.deleted}

    @classmethod
    def from_dict(cls, data: dict) -> Record:
        """Rebuild a Record from `to_dict` output."""
        return cls(data["key"], data.get("value"), Version.from_dict(data["version"]),
                   bool(data.get("deleted", False)))

    def size_bytes(self) -> int:
        """Approximate size of the record as stored (its JSON encoding)."""
        return len(json.dumps(self.to_dict(), separators=(",", ":")).encode("utf-8"))


def newest(records) -> Optional[Record]:
    """Return the record that wins under last-writer-wins, or None if there is none."""
    best = None
    for record in records:
        if record is not None and record.newer_than(best):
            best = record
    return best


# --- node-to-node messages -------------------------------------------------

# What a node did with a Put: it stored the record, already had that exact
# version, or kept a newer version it had (the record lost under LWW).
STORED, ALREADY_HAD, KEPT_NEWER = "stored", "already_had", "kept_newer"

@dataclass(frozen=True)
class Message:
    """Base of every message; the Network stamps `msg_id` when it is sent."""

    src: int
    dst: int
    op_id: int
    kind = "message"

    def summary(self) -> str:
        """One short phrase describing the payload, for events and the console."""
        return self.kind


@dataclass(frozen=True)
class Put(Message):
    """Store `record`; when `hint_for` is set, keep it as a hint for that node."""

    # Every Put carries a record; the default only keeps the fields after it optional.
    record: Record = None  # type: ignore[assignment]
    hint_for: Optional[int] = None
    purpose: str = "write"  # write | repair | handoff | sync | anti-entropy
    kind = "put"

    def summary(self) -> str:
        """One phrase for the event log."""
        text = f"put {self.record.key} v{self.record.version}"
        if self.record.deleted:
            text += " (tombstone)"
        if self.hint_for is not None:
            text += f" as a hint for {node_name(self.hint_for)}"
        return text if self.purpose == "write" else f"{text} [{self.purpose}]"


@dataclass(frozen=True)
class PutAck(Message):
    """Answer to Put: the outcome is stored, already_had (this version) or kept_newer."""

    key: str = ""
    outcome: str = STORED
    version: Optional[Version] = None
    durable: bool = True  # False while the write waits for a group commit (durability batch)
    kind = "put_ack"

    @property
    def applied(self) -> bool:
        """True when the node now holds this version (stored now or before)."""
        return self.outcome != KEPT_NEWER

    def summary(self) -> str:
        """One phrase for the event log."""
        return f"ack {self.key}" + ("" if self.outcome == STORED else f" ({self.outcome.replace('_', ' ')})")


@dataclass(frozen=True)
class Get(Message):
    """Ask a node for its newest record of `key` (hints included)."""

    key: str = ""
    kind = "get"

    def summary(self) -> str:
        """One phrase for the event log."""
        return f"get {self.key}"


@dataclass(frozen=True)
class GetReply(Message):
    """Answer to Get: the node's newest record of the key, or None."""

    key: str = ""
    record: Optional[Record] = None
    kind = "get_reply"

    def summary(self) -> str:
        """One phrase for the event log."""
        found = f"v{self.record.version}" if self.record else "nothing"
        return f"reply {self.key}: {found}"


@dataclass(frozen=True)
class SyncRequest(Message):
    """A recovering node asks a peer for every record the two replicate together."""

    kind = "sync_request"

    def summary(self) -> str:
        """One phrase for the event log."""
        return "sync request"


@dataclass(frozen=True)
class SyncReply(Message):
    """The peer's records for keys whose preference list includes the requester."""

    records: Tuple[Record, ...] = ()
    kind = "sync_reply"

    def summary(self) -> str:
        """One phrase for the event log."""
        return f"sync reply (records: {len(self.records)})"


@dataclass(frozen=True)
class TreeOffer(Message):
    """Anti-entropy, step 1: the sender's Merkle tree over the keys both nodes replicate."""

    levels: Tuple[Tuple[str, ...], ...] = ()
    kind = "tree_offer"

    def summary(self) -> str:
        """One phrase for the event log."""
        return f"merkle tree offer (root {self.levels[0][0][:8]})" if self.levels else "merkle tree offer"


@dataclass(frozen=True)
class TreeDiff(Message):
    """Anti-entropy, step 2: the receiver's entries in the buckets whose hashes differ."""

    entries: Tuple[Tuple[int, Tuple[Tuple[str, int, int, bool], ...]], ...] = ()
    compared: int = 0
    kind = "tree_diff"

    def summary(self) -> str:
        """One phrase for the event log."""
        return f"merkle diff (buckets differing: {len(self.entries)}, tree nodes compared: {self.compared})"


@dataclass(frozen=True)
class Fetch(Message):
    """Anti-entropy, step 3: ask for the records of these keys (answered by a SyncReply)."""

    keys: Tuple[str, ...] = ()
    kind = "fetch"

    def summary(self) -> str:
        """One phrase for the event log."""
        return f"fetch (keys: {len(self.keys)})"


# --- Paxos (compare-and-set, cluster/paxos.py) ------------------------------

@dataclass(frozen=True, order=True)
class Ballot:
    """A Paxos ballot: a round number, ties broken by the proposer's node id (unique)."""

    round: int
    node: int

    def to_dict(self) -> dict:
        """The JSON form a student sees: both fields plus '(round, node-N)'."""
        return {"round": self.round, "node": node_name(self.node), "text": str(self)}

    @classmethod
    def from_dict(cls, data: Optional[dict]) -> Optional[Ballot]:
        """Rebuild a Ballot from its stored form, or None."""
        if not data:
            return None
        node = data["node"]
        return cls(int(data["round"]), node_id_of(node) if isinstance(node, str) else int(node))

    def __str__(self) -> str:
        return f"({self.round}, {node_name(self.node)})"  # a ballot is (round, node), as lab 7 defines it


@dataclass(frozen=True)
class Prepare(Message):
    """Paxos phase 1a: promise to ignore ballots lower than `ballot` for `key`."""

    key: str = ""
    ballot: Optional[Ballot] = None
    kind = "paxos_prepare"

    def summary(self) -> str:
        """One phrase for the event log."""
        return f"prepare {self.key} ballot {self.ballot}"


@dataclass(frozen=True)
class Promise(Message):
    """Paxos phase 1b: a promise (ok) or a refusal naming the higher ballot already promised.

    It carries the acceptor's accepted-but-maybe-uncommitted proposal (`record`
    at `accepted`), the ballot of the last commit it applied, and its current
    record of the key (the read that CAS compares against).
    """

    key: str = ""
    ballot: Optional[Ballot] = None
    ok: bool = True
    promised: Optional[Ballot] = None
    accepted: Optional[Ballot] = None
    record: Optional[Record] = None
    committed: Optional[Ballot] = None
    current: Optional[Record] = None
    kind = "paxos_promise"

    def summary(self) -> str:
        """One phrase for the event log."""
        if not self.ok:
            return f"refuse {self.key} ballot {self.ballot}: promised {self.promised}"
        return f"promise {self.key} ballot {self.ballot}"


@dataclass(frozen=True)
class Propose(Message):
    """Paxos phase 2a: accept `record` (the proposed new value) at `ballot`."""

    key: str = ""
    ballot: Optional[Ballot] = None
    record: Optional[Record] = None
    kind = "paxos_accept"

    def summary(self) -> str:
        """One phrase for the event log."""
        return f"accept {self.key} v{self.record.version if self.record else '?'} ballot {self.ballot}"


@dataclass(frozen=True)
class Accepted(Message):
    """Paxos phase 2b: accepted (ok) or refused because a higher ballot was promised."""

    key: str = ""
    ballot: Optional[Ballot] = None
    ok: bool = True
    promised: Optional[Ballot] = None
    kind = "paxos_accepted"

    def summary(self) -> str:
        """One phrase for the event log."""
        verb = "accepted" if self.ok else f"refused (promised {self.promised})"
        return f"{verb} {self.key} ballot {self.ballot}"


@dataclass(frozen=True)
class Commit(Message):
    """Paxos phase 3: the proposal at `ballot` is chosen; store `record` as a normal version."""

    key: str = ""
    ballot: Optional[Ballot] = None
    record: Optional[Record] = None
    kind = "paxos_commit"

    def summary(self) -> str:
        """One phrase for the event log."""
        return f"commit {self.key} v{self.record.version if self.record else '?'} ballot {self.ballot}"


@dataclass(frozen=True)
class Committed(Message):
    """Answer to Commit: the acceptor stored the record (or already had newer)."""

    key: str = ""
    ballot: Optional[Ballot] = None
    outcome: str = STORED
    kind = "paxos_committed"

    def summary(self) -> str:
        """One phrase for the event log."""
        return f"committed {self.key} ballot {self.ballot} ({self.outcome.replace('_', ' ')})"


def preview(value, limit: int = 40) -> str:
    """Short JSON rendering of a value for one-line narration."""
    text = json.dumps(value, ensure_ascii=False)
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate stored by an older version: show it escaped
            text = json.dumps(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def names(node_ids) -> str:
    """Comma-separated node names, or 'nobody'."""
    node_ids = list(node_ids)
    return ", ".join(node_name(n) for n in node_ids) if node_ids else "nobody"


# --- events ----------------------------------------------------------------

class Event:
    """One thing the cluster did, in order, at a simulated time.

    Slim, as a server keeps --max-events of them: slots, and details as values
    beside a names tuple shared by events of one kind (`details` rebuilds the dict).
    """

    __slots__ = ("seq", "time_ms", "type", "text", "nodes", "key", "_names", "_values")
    _shared_names: Dict[Tuple[str, ...], Tuple[str, ...]] = {}  # as many as the code has emit calls

    def __init__(self, seq: int, time_ms: int, type: str, text: str, nodes: Tuple[int, ...] = (),
                 key: Optional[str] = None, details: Optional[dict] = None):
        self.seq, self.time_ms, self.type, self.text, self.nodes, self.key = seq, time_ms, type, text, nodes, key
        names = tuple(details) if details else ()
        self._names = self._shared_names.setdefault(names, names)
        self._values = tuple(details.values()) if details else ()

    @property
    def details(self) -> dict:
        """The event's details (a new dict each time)."""
        return dict(zip(self._names, self._values))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Event) and self.to_dict() == other.to_dict()

    __hash__ = None  # type: ignore[assignment]  # equal by value, like the dataclass it replaces

    def to_dict(self) -> dict:
        """Return the JSON form served by /events."""
        return {"seq": self.seq, "time_ms": self.time_ms, "type": self.type,
                "nodes": [node_name(n) for n in self.nodes], "key": self.key,
                "text": self.text, "details": self.details}
