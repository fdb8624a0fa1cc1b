"""Quorum reads and writes, coordinated by one node, with sloppy-quorum fallbacks.

The coordinator contacts the key's preference list. A replica that stays
silent for `request_timeout_ms` is replaced by the next node clockwise on the
ring that has not been asked yet; for a write that stand-in keeps the record
with a hint naming the node it stands for (hinted handoff, hints.py). Acks from
stand-ins count toward W, as in Dynamo's sloppy quorum. Reads return the
newest version among the answers and then repair the stale preference-list
nodes that answered (read_repair.py).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Optional

from cluster import siblings
from cluster.messages import KEPT_NEWER, Get, Message, Put
from cluster.operation import Operation
from cluster.read_repair import send_repairs, stale_replicas
from models import Record, names, node_name, preview
from wording import plural


class QuorumOp(Operation):
    """Contact the preference list; replace silent replicas with the next nodes clockwise."""

    key: str

    def __init__(self, op_id: str, node, key: str, ring, needed: int):
        super().__init__(op_id, node)
        self.key = key
        self.needed = needed
        self.preference = ring.preference_list(key)
        self._walk = list(ring.walk(key))
        self.stands_for: Dict[int, Optional[int]] = {}  # contacted node -> owner it replaces
        self._announced = False  # the step-mode "client answered" line was emitted

    def start(self) -> None:
        """Contact every preference-list node, then wait for answers."""
        for replica in self.preference:
            self._contact(replica, None)
        self.wait()
        self.announce_if_decided()

    def announce_if_decided(self) -> None:
        """In step mode, narrate the moment the waiting client gets its answer (W acks or R answers).

        Unpaused, a client is answered once the network is quiet, after the final
        confirmed/read line. Paused, it is answered as soon as its quorum is met
        while other messages are still held: without this line the step that
        released it would tell nothing, and "confirmed" would only come at resume.
        """
        if self._announced or self.done or not self.decided or not self.client_answered_early():
            return
        self._announced = True
        have = self.answered_nodes()
        waiting = sorted(self.outstanding)
        rest = (f"; still waiting for {names(waiting)}, in the background" if waiting else "")
        self.seam.emit(f"{self.name}_answered", f"{self.describe()}: {self.quorum_text(have)} met, so the "
                         f"waiting client is answered now{rest}", sorted(have), self.key, op_id=self.op_id,
                         waiting_for=waiting)

    @property
    def decided(self) -> bool:
        """True once the client can be answered (subclasses add: once the quorum is met)."""
        return self.done

    def answered_nodes(self) -> list:
        """The nodes whose answers count toward the quorum so far."""
        raise NotImplementedError

    def quorum_text(self, have: list) -> str:
        """The quorum in words: 'W=2 (2 acks: node-1, node-4)'."""
        raise NotImplementedError

    def _contact(self, target: int, stands_for: Optional[int]) -> None:
        self.stands_for[target] = stands_for
        self.send(self.request(target, stands_for))  # the coordinator's own part comes back like any answer

    def on_timeout(self, silent) -> None:
        """Ask the next untried node clockwise to stand in for each silent replica."""
        for peer in silent:
            owner = self.stands_for.get(peer)
            owner = peer if owner is None else owner
            fallback = next((n for n in self._walk if n not in self.stands_for), None)
            if fallback is None:
                self.seam.emit("no_fallback", f"no node left to stand in for {node_name(owner)} "
                                 f"({self.describe()})", [owner], self.key, op_id=self.op_id)
                continue
            who = ("stands in itself" if fallback == self.node.node_id
                   else f"asks {node_name(fallback)} to stand in")  # never "node-1 asks node-1"
            self.seam.emit("fallback", f"{self.node.name} {who} "
                             f"for silent {node_name(owner)} ({self.describe()})",
                             [self.node.node_id, fallback, owner], self.key, op_id=self.op_id)
            self._contact(fallback, owner)
        self.wait()

    def role(self, peer: int) -> dict:
        """How `peer` took part: its name and the owner it stood in for, if any."""
        owner = self.stands_for.get(peer)
        return {"node": node_name(peer), "stands_in_for": node_name(owner) if owner is not None else None}

    def request(self, target: int, stands_for: Optional[int]) -> Message:
        """The message asking `target` (a replica, or a stand-in for `stands_for`)."""
        raise NotImplementedError



@dataclass
class WriteResult:
    """Outcome of a quorum write, as the HTTP answer reports it."""

    key: str
    record: Record
    coordinator: int
    preference: List[int]
    needed: int
    acks: List[dict] = field(default_factory=list)
    silent: List[int] = field(default_factory=list)
    waiting_for: List[int] = field(default_factory=list)  # asked, not answered yet (step mode)
    conflicts: str = "lww"  # lww | siblings: how to read `record` (cluster/siblings.py)
    version_chosen: bool = True  # False: a linearizable write that failed before choosing its version

    @property
    def ok(self) -> bool:
        """True when at least W replicas acknowledged the write."""
        return len(self.acks) >= self.needed


class WriteOp(QuorumOp):
    """Send a record to its replicas and count acknowledgements against W."""

    name = "write"

    def __init__(self, op_id, node, record: Record, ring, needed: int):
        super().__init__(op_id, node, record.key, ring, needed)
        self.record = record
        self.acks: Dict[int, dict] = {}
        self.result: Optional[WriteResult] = None

    def start(self) -> None:
        """Announce the write, then contact the replicas."""
        what = "delete (tombstone)" if self.record.deleted else f"write {self.key}={preview(self.record.value)}"
        if self.node.conflicts == "siblings":
            what = f"{'delete' if self.record.deleted else 'write'} {self.key} as {siblings.narrate(self.record)}"
        self.seam.emit("write_started", f"{what} coordinated by {self.node.name}: version "
                         f"{self.record.version}, replicas {names(self.preference)}, needs W={self.needed}",
                         [self.node.node_id], self.key, op_id=self.op_id,
                         version=str(self.record.version), replicas=self.preference, w=self.needed)
        super().start()

    def request(self, target: int, stands_for: Optional[int]) -> Put:
        """The Put sent to a replica or stand-in."""
        return Put(self.node.node_id, target, self.op_id, self.record, stands_for)

    def progress(self) -> dict:
        """Acks so far, for a client that stops waiting."""
        return {**super().progress(), "acks": list(self.acks.values()),
                "quorum": {"w": self.needed, "acks": len(self.acks), "met": len(self.acks) >= self.needed},
                "version": self.record.version.to_dict()}

    def on_put_ack(self, msg) -> None:
        """A replica stored (or already had newer than) the record."""
        self._ack(msg.src, msg.outcome, msg.durable)
        self.answered(msg.src)
        self.announce_if_decided()

    def answered_nodes(self) -> list:
        """The nodes that acknowledged so far."""
        return sorted(self.acks)

    def quorum_text(self, have: list) -> str:
        """W and the acks so far."""
        return f"W={self.needed} ({plural(len(have), 'ack')}: {names(have)})"

    def _ack(self, peer: int, outcome: str, durable: bool) -> None:
        # durable: on the replica's disk already, or (batch mode) waiting for its next group commit
        self.acks[peer] = {**self.role(peer), "applied": outcome != KEPT_NEWER, "outcome": outcome,
                           "durable": durable}

    @property
    def decided(self) -> bool:
        """True once the client can be answered: W acks arrived, or the write is over."""
        return self.done or len(self.acks) >= self.needed

    def snapshot(self) -> WriteResult:
        """The outcome as known now (the rest of the replicas may still answer later)."""
        return WriteResult(self.key, self.record, self.node.node_id, self.preference,
                           self.needed, list(self.acks.values()), list(self.silent), sorted(self.outstanding),
                           self.node.conflicts)

    def on_all_answered(self) -> None:
        """Everyone answered or timed out: record the outcome against W."""
        self.finish()
        self.result = self.snapshot()
        acked = names(self.acks)
        if self.result.ok:
            self.seam.emit("write_succeeded", f"write {self.key} v{self.record.version} confirmed: "
                             f"{plural(len(self.acks), 'ack')} ({acked}), W={self.needed} met",
                             sorted(self.acks), self.key, op_id=self.op_id, acks=len(self.acks))
        else:
            self.seam.emit("write_failed", f"write {self.key} v{self.record.version} NOT confirmed: "
                             f"{len(self.acks)} of W={self.needed} acks; the value stays on {acked}",
                             sorted(self.acks), self.key, op_id=self.op_id, acks=len(self.acks))


@dataclass
class ReadResult:
    """Outcome of a quorum read, as the HTTP answer reports it."""

    key: str
    record: Optional[Record]
    coordinator: int
    preference: List[int]
    needed: int
    answers: List[dict] = field(default_factory=list)
    repaired: List[int] = field(default_factory=list)
    silent: List[int] = field(default_factory=list)
    waiting_for: List[int] = field(default_factory=list)  # asked, not answered yet (step mode)
    conflicts: str = "lww"  # lww | siblings: how to read `record` (cluster/siblings.py)

    @property
    def ok(self) -> bool:
        """True when at least R replicas answered."""
        return len(self.answers) >= self.needed

    @property
    def found(self) -> bool:
        """True when the newest answer is a live value (not absent, not a tombstone)."""
        return self.record is not None and not self.record.deleted


class ReadOp(QuorumOp):
    """Ask the replicas, keep the newest answer, repair the stale ones that answered."""

    name = "read"

    def __init__(self, op_id, node, key, ring, needed: int):
        super().__init__(op_id, node, key, ring, needed)
        self.replies: Dict[int, Optional[Record]] = {}
        self.repairing = False
        self.repaired: List[int] = []
        self.result: Optional[ReadResult] = None

    def request(self, target: int, stands_for: Optional[int]) -> Get:
        """The Get sent to a replica or stand-in."""
        return Get(self.node.node_id, target, self.op_id, self.key)

    def progress(self) -> dict:
        """Answers so far, for a client that stops waiting."""
        return {**super().progress(),
                "replicas_read": [{**self.role(n), "version": r.version.to_dict() if r else None}
                                  for n, r in self.replies.items()],
                "quorum": {"r": self.needed, "answers": len(self.replies),
                           "met": len(self.replies) >= self.needed}}

    def on_get_reply(self, msg) -> None:
        """A replica answered with its newest record (or nothing)."""
        if self.repairing:
            return  # a late answer after the decision changes nothing
        self.replies[msg.src] = msg.record
        self.answered(msg.src)
        self.announce_if_decided()

    def answered_nodes(self) -> list:
        """The nodes that answered the read so far."""
        return sorted(self.replies)

    def quorum_text(self, have: list) -> str:
        """R and the answers so far."""
        return f"R={self.needed} ({plural(len(have), 'answer')}: {names(have)})"

    def on_put_ack(self, msg) -> None:
        """A stale replica accepted the repair."""
        if self.repairing and self.fresh(msg.src, "repair_ack"):
            self.repaired.append(msg.src)
            self.answered(msg.src)

    def on_timeout(self, silent) -> None:
        """Replace silent replicas while R is unmet; otherwise stop waiting (and repair)."""
        if self.repairing or len(self.replies) >= self.needed:
            # Repairs that got no ack are left to later mechanisms; and once R answers are
            # in, a stand-in's answer could change nothing, so none is asked.
            self.on_all_answered()
        else:
            super().on_timeout(silent)

    def timeout_note(self) -> str:
        """Say why a read that already met R waited: only to give late replicas a chance."""
        if self.repairing or len(self.replies) < self.needed:
            return ""
        return (f"; R={self.needed} was already met, so the answer did not depend on them: the wait "
                "only gave them a chance to answer and be repaired, and no stand-in is asked")

    def on_all_answered(self) -> None:
        """Answers are in: repair the stale replicas, or finish."""
        if self.repairing or len(self.replies) < self.needed:
            return self._complete()
        best = self.node.combine(self.replies.values())
        stale = stale_replicas(self.node, self.replies, self.stands_for, best)
        if best is None or not stale:
            return self._complete()
        self.repairing = True
        send_repairs(self, best, stale)
        self.wait()

    @property
    def decided(self) -> bool:
        """True once the client can be answered: R answers arrived, or the read is over."""
        return self.done or len(self.replies) >= self.needed

    def snapshot(self) -> ReadResult:
        """The outcome as known now (later answers and repairs may still come)."""
        answers = [{**self.role(n), "version": rec.version.to_dict() if rec else None,
                    "deleted": bool(rec and rec.deleted)} for n, rec in self.replies.items()]
        return ReadResult(self.key, self.node.combine(self.replies.values()), self.node.node_id, self.preference,
                          self.needed, answers, sorted(self.repaired), list(self.silent),
                          sorted(self.outstanding), self.node.conflicts)

    def _complete(self) -> None:
        self.finish()
        self.result = self.snapshot()
        best = self.result.record
        if not self.result.ok:
            self.seam.emit("read_failed", f"read {self.key} failed: {len(self.replies)} of "
                             f"R={self.needed} answers ({names(self.replies)})", sorted(self.replies),
                             self.key, op_id=self.op_id)
            return
        outcome = (f"v{best.version}" + (" (deleted)" if best.deleted else "")) if best else "not found"
        if best is not None and self.node.conflicts == "siblings":
            outcome = siblings.narrate(best)
        self.seam.emit("read_succeeded", f"read {self.key}: {outcome}, from "
                         f"{plural(len(self.replies), 'answer')} ({names(self.replies)}), R={self.needed} met",
                         sorted(self.replies), self.key, op_id=self.op_id)
