"""Node-to-node messages: frozen dataclasses, one per kind, and their JSON fields.

A node dispatches on `kind` (see ReplicaNode.receive in cluster/node.py), as in
the Paxos cluster of "500 Lines or Less". Quorum reads and writes use
Get/GetReply and Put/PutAck; hinted handoff, read repair and recovery sync
reuse Put (its `purpose` says which); recovery sync adds
SyncRequest/SyncReply; anti-entropy adds TreeOffer, TreeDiff and Fetch
(answered by a SyncReply); compare-and-set adds the Paxos messages. Every
message crosses the wire as JSON (cluster/codec.py): `to_dict`/`from_dict`
give its own fields, the codec adds the envelope.
"""
from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, Callable, Dict, Optional, Tuple

from models import Ballot, Record, Version, node_name

# What a node did with a Put: it stored the record, already had that exact
# version, or kept a newer version it had (the record lost under LWW).
STORED, ALREADY_HAD, KEPT_NEWER = "stored", "already_had", "kept_newer"

def _record_out(record: Optional[Record]) -> Any:
    if record is None:
        return None
    return {"key": record.key, "value": record.value, "version": [record.version.timestamp, record.version.node],
            "deleted": record.deleted}


def _record_in(data: Any) -> Optional[Record]:
    if data is None:
        return None
    ts, node = data["version"]
    return Record(data["key"], data["value"], Version(int(ts), int(node)), bool(data["deleted"]))


def _ballot_out(ballot: Optional[Ballot]) -> Any:
    return None if ballot is None else [ballot.round, ballot.node]


def _ballot_in(data: Any) -> Optional[Ballot]:
    return None if data is None else Ballot(int(data[0]), int(data[1]))


def _version_out(version: Optional[Version]) -> Any:
    return None if version is None else [version.timestamp, version.node]


def _version_in(data: Any) -> Optional[Version]:
    return None if data is None else Version(int(data[0]), int(data[1]))


# How a field that is not plain JSON crosses the wire, by field name (the same name means the
# same type in every message): name -> (to JSON, from JSON). Tuples travel as lists.
WIRE_FIELDS: Dict[str, Tuple[Callable[[Any], Any], Callable[[Any], Any]]] = {
    "record": (_record_out, _record_in),
    "current": (_record_out, _record_in),
    "records": (lambda rs: [_record_out(r) for r in rs], lambda rs: tuple(_record_in(r) for r in rs)),
    "ballot": (_ballot_out, _ballot_in),
    "promised": (_ballot_out, _ballot_in),
    "accepted": (_ballot_out, _ballot_in),
    "committed": (_ballot_out, _ballot_in),
    "version": (_version_out, _version_in),
    "levels": (lambda ls: [list(level) for level in ls], lambda ls: tuple(tuple(level) for level in ls)),
    "entries": (lambda es: [[b, [list(e) for e in found]] for b, found in es],
                lambda es: tuple((int(b), tuple((str(k), int(t), int(n), bool(d)) for k, t, n, d in found))
                                 for b, found in es)),
    "keys": (list, tuple),
}
ENVELOPE_FIELDS = ("src", "dst")  # carried by the codec's envelope, not the body

# The JSON types a plain field may hold, by its annotation (the other fields are WIRE_FIELDS).
PLAIN_TYPES: Dict[str, Tuple[type, ...]] = {"str": (str,), "int": (int,), "bool": (bool,),
                                            "Optional[int]": (int, type(None))}

# One wire plan per message class, computed once: (field, to JSON, from JSON, JSON types or None).
_PLANS: Dict[type, Tuple[Tuple[str, Any, Any, Any], ...]] = {}


def wire_plan(cls: type) -> Tuple[Tuple[str, Any, Any, Any], ...]:
    """How each body field of `cls` crosses the wire, in constructor order (cached: this is per message)."""
    plan = _PLANS.get(cls)
    if plan is None:
        plan = tuple((f.name, *WIRE_FIELDS.get(f.name, (None, None)), PLAIN_TYPES.get(str(f.type)))
                     for f in fields(cls) if f.name not in ENVELOPE_FIELDS)
        _PLANS[cls] = plan
    return plan


def _written(text: str) -> str:
    return text


def _from_parts(msg: Message) -> str:
    """One phrase for the event log (written from summary_parts)."""
    render, args = msg.summary_parts()
    return render(*args)


def _put_text(key: str, version: Version, deleted: bool, hint_for: Optional[int], purpose: str) -> str:
    text = f"put {key} v{version}"
    if deleted:
        text += " (tombstone)"
    if hint_for is not None:
        text += f" as a hint for {node_name(hint_for)}"
    return text if purpose == "write" else f"{text} [{purpose}]"


def _ack_text(key: str, outcome: str) -> str:
    return f"ack {key}" + ("" if outcome == STORED else f" ({outcome.replace('_', ' ')})")


def _get_text(key: str) -> str:
    return f"get {key}"


def _reply_text(key: str, version: Optional[Version]) -> str:
    return f"reply {key}: " + (f"v{version}" if version is not None else "nothing")


@dataclass(frozen=True)
class Message:
    """Base of every message; `op_id` names the operation (on the sender) that a reply belongs to."""

    src: int
    dst: int
    op_id: str  # "node-N:n": the node running the operation and that node's own counter (node.next_op_id)
    kind = "message"

    def summary(self) -> str:
        """One short phrase describing the payload, for events and the console."""
        return self.kind

    def summary_parts(self) -> Tuple[Callable[..., str], tuple]:
        """`summary()` as (format function, its arguments), to write later: the arguments hold no value.

        The network's message events store these and write the sentence only when
        it is read (EventLog.emit_lazy); kinds on the hot path override it.
        """
        return _written, (self.summary(),)

    def to_dict(self) -> dict:
        """The message's own fields as JSON values (src, dst and kind go in the envelope)."""
        out = {}
        for name, to_json, _, _ in wire_plan(type(self)):
            value = getattr(self, name)
            out[name] = to_json(value) if to_json else value
        return out

    @classmethod
    def from_dict(cls, src: int, dst: int, data: dict) -> Message:
        """Rebuild a message of this class from `to_dict` output (raises KeyError/TypeError/ValueError)."""
        values = [from_json(data[name]) if from_json else data[name] for name, _, from_json, _ in wire_plan(cls)]
        return cls(src, dst, *values)


@dataclass(frozen=True)
class Put(Message):
    """Store `record`; when `hint_for` is set, keep it as a hint for that node."""

    # Every Put carries a record; the default only keeps the fields after it optional.
    record: Record = None  # type: ignore[assignment]
    hint_for: Optional[int] = None
    purpose: str = "write"  # write | repair | handoff | sync | anti-entropy
    kind = "put"

    summary = _from_parts

    def summary_parts(self) -> Tuple[Callable[..., str], tuple]:
        """The phrase's format function and fields (not the value)."""
        record = self.record
        return _put_text, (record.key, record.version, record.deleted, self.hint_for, self.purpose)


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

    summary = _from_parts

    def summary_parts(self) -> Tuple[Callable[..., str], tuple]:
        """The phrase's format function and fields."""
        return _ack_text, (self.key, self.outcome)


@dataclass(frozen=True)
class Get(Message):
    """Ask a node for its newest record of `key` (hints included)."""

    key: str = ""
    kind = "get"

    summary = _from_parts

    def summary_parts(self) -> Tuple[Callable[..., str], tuple]:
        """The phrase's format function and fields."""
        return _get_text, (self.key,)


@dataclass(frozen=True)
class GetReply(Message):
    """Answer to Get: the node's newest record of the key, or None."""

    key: str = ""
    record: Optional[Record] = None
    kind = "get_reply"

    summary = _from_parts

    def summary_parts(self) -> Tuple[Callable[..., str], tuple]:
        """The phrase's format function and fields (the version, not the value)."""
        return _reply_text, (self.key, self.record.version if self.record else None)


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
    kind = "paxos_propose"

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


