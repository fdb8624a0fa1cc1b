"""ReplicaNode: one replica — its records, the hints it holds, its message handlers.

A node only ever talks through its seam (cluster/seam.py): send, timers,
time and events; it never sees the transport under it. It answers put and get itself;
the requests of recovery sync and anti-entropy are answered by functions in
recovery.py and anti_entropy.py (ANSWERED_BY_MECHANISM); replies go to the
Operation that is waiting for them (operation.py), found by the message's op_id.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Dict, Optional

from cluster import anti_entropy, recovery, siblings
from cluster.hints import HintStore
from cluster.messages import ALREADY_HAD, KEPT_NEWER, STORED, GetReply, Message, PutAck
from cluster.paxos_acceptor import ANSWERS as PAXOS_ANSWERS
from cluster.ring import Ring
from cluster.seam import Seam
from db import NodeStore
from models import Record, Version, newest, node_name, preview

if TYPE_CHECKING:
    from cluster.operation import Operation

# Requests whose answer belongs to a mechanism's own file: kind -> f(node, msg) -> reply.
ANSWERED_BY_MECHANISM: Dict[str, Callable[[Any, Any], Message]] = {
    "sync_request": recovery.answer_sync_request,
    "tree_offer": anti_entropy.answer_offer,
    "fetch": anti_entropy.answer_fetch,
    **PAXOS_ANSWERS,  # compare-and-set's acceptor (paxos_acceptor.py)
}


class ReplicaNode:
    """One replica: its records, the hints it holds, and its message handlers."""

    def __init__(self, node_id: int, store: NodeStore, hints: HintStore, ring: Ring,
                 seam: Seam, timeout_ms: int):
        self.node_id = node_id
        self.name = node_name(node_id)
        self.store = store
        self.hints = hints
        self.ring = ring
        self.seam = seam
        self.timeout_ms = timeout_ms
        self.ops: Dict[str, Operation] = {}  # running operations by op_id: replies find them here
        self.skew_ms = 0
        self.failure: Optional[str] = None  # how the node last failed: stop, crash or wipe (set by its handle)
        self.paxos: Any = None  # its Paxos acceptor state (paxos_acceptor.PaxosState), set by the manager
        self.conflicts = "lww"  # lww | siblings (--conflicts), set by the manager
        self.issued: Dict[str, int] = {}  # siblings mode: the last dot counter this node gave each key
        self._op_numbers = 0  # this node's own operation counter: op ids are (node, n)
        self.reset_clock()
        seam.attach(self.receive)

    def reset_clock(self) -> None:
        """Start the clock above every version held, as after a restart or a crash.

        The virtual clock starts at 0 again after a restart; without this, new
        writes would be stamped older than data on disk and silently lose.
        """
        self.last_raw = max((v.timestamp for v, _ in self.store.index.values()), default=0)

    def next_op_id(self) -> str:
        """A fresh id for an operation this node runs: "node-N:n", from this node's own counter.

        Replies come back to the node that sent the request, so the counter
        only has to be unique on this node; the name makes the id unique in
        the cluster's event log too. Ids are never reused, so late replies find nothing.
        """
        self._op_numbers += 1
        return f"{self.name}:{self._op_numbers}"

    def timestamp(self) -> int:
        """This node's clock reading for a new version: its hardware clock plus its skew.

        The hardware reading never repeats (two writes in the same millisecond
        still get distinct versions), but the skew is applied on top, so a node
        whose clock is set back really does stamp writes in the past.
        """
        self.last_raw = max(self.seam.now(), self.last_raw + 1)
        return self.last_raw + self.skew_ms

    def stamp_above(self, floor: Optional[Version]) -> Version:
        """A new version of this node, above `floor` even if this node's clock runs behind it.

        Paxos and ABD need it: their write must win over the newest version a
        majority reported, and two writes coordinated here must never share a
        version, so the clock moves past the stamp it gives.
        """
        stamp = self.timestamp()
        if floor is not None and stamp <= floor.timestamp:
            stamp = floor.timestamp + 1
            self.last_raw = max(self.last_raw, stamp - self.skew_ms)
        return Version(stamp, self.node_id)

    def newest_local(self, key: str) -> Optional[Record]:
        """The newest record this node has for `key`, own copy or hint (siblings mode: their merge)."""
        return self.combine([self.store.get(key), *self.hints.for_key(key)])

    def combine(self, records) -> Optional[Record]:
        """What several copies of one key add up to: the LWW winner, or (siblings mode) their merge."""
        return siblings.combine(records) if self.conflicts == "siblings" else newest(records)

    def improves(self, best: Optional[Record], other: Optional[Record]) -> bool:
        """True when a replica holding `other` would gain from `best` (a repair or a push is due)."""
        if self.conflicts == "siblings":
            return siblings.improves(best, other)
        return best is not None and best.newer_than(other)

    def accept_put(self, record: Record, hint_for: Optional[int], purpose: str = "write",
                   op_id: Optional[str] = None) -> str:
        """Store `record` (or keep it as a hint) if it wins under LWW; returns the outcome.

        The outcome is STORED, ALREADY_HAD (this exact version was here) or
        KEPT_NEWER (a newer version was here: the record lost). In siblings mode
        the record is merged by causality instead (cluster/siblings.py). `op_id`, the
        operation that sent the record, tags the event so the dashboard's story of
        that operation shows it as the answer's story does.
        """
        if self.conflicts == "siblings":
            return siblings.accept(self, record, hint_for, purpose, op_id)
        tag = {"op_id": op_id} if op_id is not None else {}  # so the operation's story finds these lines
        if hint_for is not None and hint_for != self.node_id:
            return self._accept_hint(record, hint_for, tag)
        current = self.store.version(record.key)
        outcome = _outcome(record.version, current)
        if outcome == STORED:
            self.store.put(record)
            # The value's preview is written now (an event never holds a value); the sentence later.
            self.seam.emit_lazy("replica_stored", _stored_text,
                                (self.name, record.key, record.version, record.deleted,
                                 "" if record.deleted else preview(record.value), purpose),
                                [self.node_id], record.key, version=str(record.version), purpose=purpose, **tag)
            return outcome
        verdict = "already had" if outcome == ALREADY_HAD else f"kept its newer v{current} over"
        self.seam.emit("replica_kept_newer", f"{self.name} {verdict} {_about(record)} [{purpose}]",
                       [self.node_id], record.key, version=str(record.version), kept=str(current), **tag)
        return outcome

    def _accept_hint(self, record: Record, hint_for: int, tag: dict) -> str:
        """Keep `record` as a hint for the node `hint_for` stands in for, unless it has it or newer."""
        current = self.hints.version_for(hint_for, record.key)
        outcome = _outcome(record.version, current)
        about = _about(record)
        if outcome == STORED:
            self.hints.add(hint_for, record)
            self.seam.emit("hint_stored", f"{self.name} keeps {about} as a hint for "
                           f"{node_name(hint_for)}", [self.node_id, hint_for], record.key,
                           version=str(record.version), **tag)
        else:
            held = about if outcome == ALREADY_HAD else f"a newer hint for {record.key}"
            self.seam.emit("hint_ignored", f"{self.name} already holds {held}",
                           [self.node_id, hint_for], record.key, version=str(record.version), **tag)
        return outcome

    # --- message handlers (dispatch on msg.kind) -------------------------------

    def receive(self, msg) -> None:
        """Handle a delivered message: requests here or by their mechanism, replies by their operation."""
        handler = getattr(self, "on_" + msg.kind, None)
        if handler is not None:
            handler(msg)
            return
        answer = ANSWERED_BY_MECHANISM.get(msg.kind)
        if answer is not None:
            self.seam.send(answer(self, msg))
            return
        op = self.ops.get(msg.op_id)
        if op is None:
            self.seam.emit("late_reply", f"{self.name} ignores a late {msg.kind} from "
                             f"{node_name(msg.src)}: operation {msg.op_id} is already over",
                             [self.node_id, msg.src], getattr(msg, "key", None) or None)
            return
        getattr(op, "on_" + msg.kind)(msg)

    def on_put(self, msg) -> None:
        """Store a write, repair, handoff or sync record, and acknowledge it."""
        outcome = self.accept_put(msg.record, msg.hint_for, msg.purpose, msg.op_id)
        self.seam.send(PutAck(self.node_id, msg.src, msg.op_id, msg.record.key, outcome,
                                 msg.record.version, self.holds_durably(msg.record.key, msg.hint_for)))

    def holds_durably(self, key: str, hint_for: Optional[int] = None) -> bool:
        """True when what this node holds for `key` is on disk (hints always are; batch writes wait)."""
        if hint_for is not None and hint_for != self.node_id:
            return True
        return key not in self.store.pending

    def on_get(self, msg) -> None:
        """Answer a read with the newest local record."""
        self.seam.send(GetReply(self.node_id, msg.src, msg.op_id, msg.key,
                                   self.newest_local(msg.key)))

    # --- views ---------------------------------------------------------------

    def summary(self, up: bool) -> dict:
        """The node as /nodes lists it."""
        return {"node_id": self.node_id, "name": self.name, "status": "alive" if up else "dead",
                "failure": None if up else self.failure,
                "keys": self.store.live_count(), "tombstones": self.store.tombstone_count(),
                "hints": len(self.hints), "clock_skew_ms": self.skew_ms,
                "uncommitted_writes": len(self.store.pending)}

    def detail(self, up: bool) -> dict:
        """The node as /nodes/<id> shows it: every record and hint it holds."""
        records = [rec.to_dict() for rec in map(self.store.get, self.store.keys()) if rec is not None]
        return {"node": self.summary(up), "records": records, "hints_held": self.hints.describe(),
                "cache": self.store.cache.stats(), "durability": self.store.durability,
                "commits": self.store.commits}

    def close(self) -> None:
        """Flush and close this node's storage."""
        self.store.close()
        self.hints.close()


def _outcome(incoming: Version, current: Optional[Version]) -> str:
    """What last-writer-wins does with an incoming version against the current one."""
    if current is None or incoming > current:
        return STORED
    return ALREADY_HAD if incoming == current else KEPT_NEWER


def _about(record: Record) -> str:
    """A record as the narration names it: key, version, and whether it is a tombstone."""
    return f"{record.key} v{record.version}" + (" (tombstone)" if record.deleted else "")


def _stored_text(name: str, key: str, version: Version, deleted: bool, shown: str, purpose: str) -> str:
    """The replica_stored sentence: "node-2 stored k v5@node-0 = "blue"" (a tombstone shows no value)."""
    text = f"{name} stored {key} v{version}" + (" (tombstone)" if deleted else f" = {shown}")
    return text if purpose == "write" else f"{text} [{purpose}]"
