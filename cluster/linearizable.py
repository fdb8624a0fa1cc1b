"""The linearizable mode: ABD reads and writes over strict majorities (no stand-ins).

Attiya, Bar-Noy and Dolev's algorithm makes a replicated register
linearizable with two phases per operation, each waiting for a majority of
the key's RF replicas (`RF // 2 + 1`, or more if R or W ask for more):

* **query**: ask the replicas for their newest record (`Get`), keep the
  newest of a majority. A silent replica is never replaced by a stand-in: a
  stand-in is outside the majorities that must intersect, so without a
  majority the operation fails (503).
* **propagate**: a write stamps a version *above* the newest it found (so a
  node whose clock runs behind cannot order its write before an older one)
  and sends it to the replicas; a read sends the newest record to the
  replicas that lack it (a blocking read repair) and answers only once a
  majority holds it, so no later read can return anything older.

The price is one extra round trip per write, and per read whenever the
replicas disagree (`python -m bench.consistency_price`).
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional

from cluster.messages import Get, Put
from cluster.operation import Operation
from cluster.quorum import ReadResult, WriteResult
from models import Record, names, newest, node_name

QUERY, PROPAGATE = "query", "propagate"
CONSISTENCY_MODES = ("eventual", "linearizable")


def majority(rf: int, asked: int = 0) -> int:
    """The strict quorum: a majority of RF replicas, or `asked` if that is larger."""
    return max(rf // 2 + 1, min(asked, rf))


class AbdOp(Operation):
    """One ABD read or write of a key, coordinated by `node` over its preference list."""

    key: str

    def __init__(self, op_id: str, node, key: str, ring, needed: int, write: Optional[Record] = None):
        super().__init__(op_id, node)
        self.key = key
        self.needed = needed
        self.preference: List[int] = ring.preference_list(key)
        self.name = "linearizable write" if write is not None else "linearizable read"
        self.proposed = write  # value and tombstone flag of a write; its version comes after the query
        self.phase = QUERY
        self.replies: Dict[int, Optional[Record]] = {}
        self.acks: Dict[int, dict] = {}
        self.record: Optional[Record] = None  # the record the propagate phase spreads
        self.failure: Optional[str] = None
        self.result: Any = None

    # --- query -----------------------------------------------------------------

    def start(self) -> None:
        """Ask every replica for its newest record."""
        self.seam.emit("abd_query", f"{self.node.name} starts a {self.name} of {self.key}: asks "
                         f"{names(self.preference)} for their newest version, needs a majority of "
                         f"{self.needed} (no stand-ins)", [self.node.node_id], self.key, op_id=self.op_id)
        for replica in self.preference:
            self.send(Get(self.node.node_id, replica, self.op_id, self.key))
        self.wait()

    def on_get_reply(self, msg) -> None:
        """A replica named its newest record."""
        if self.phase != QUERY or self.done:
            return
        self.replies[msg.src] = msg.record
        self.outstanding.pop(msg.src, None)
        self._maybe_advance()

    def _maybe_advance(self) -> None:
        if len(self.replies) >= self.needed:
            self._propagate()
        else:
            self.wait()

    # --- propagate ---------------------------------------------------------------

    def _propagate(self) -> None:
        best = newest(self.replies.values())
        self.outstanding.clear()
        self.phase = PROPAGATE
        if self.proposed is not None:
            # ABD needs every write's version unique and above the newest a majority holds.
            self.record = Record(self.key, self.proposed.value,
                                 self.node.stamp_above(best.version if best else None), self.proposed.deleted)
            holders: List[int] = []
            self.seam.emit("abd_propagate", f"{self.node.name} saw newest "
                             f"{'v' + str(best.version) if best else 'nothing'} from "
                             f"{names(self.replies)}; writes v{self.record.version} above it",
                             [self.node.node_id], self.key, op_id=self.op_id,
                             version=str(self.record.version))
        else:
            self.record = best
            if best is None:
                return self._finish()  # nobody has it: nothing to make durable
            holders = [n for n, rec in self.replies.items() if rec is not None and rec.version == best.version]
            for n in holders:
                self.acks[n] = {"node": node_name(n), "stands_in_for": None, "applied": True,
                                "outcome": "already_had", "durable": True}
            if len(holders) < self.needed:
                self.seam.emit("abd_write_back", f"{self.node.name} read v{best.version} but only "
                                 f"{names(holders)} hold it: writes it back before answering",
                                 [self.node.node_id], self.key, op_id=self.op_id, version=str(best.version))
        if len(self.acks) >= self.needed:
            return self._finish()
        assert self.record is not None  # a read with nothing to spread finished above
        for replica in self.preference:
            if replica not in holders:
                self.send(Put(self.node.node_id, replica, self.op_id, self.record, None, self._purpose()))
        self.wait()

    def _purpose(self) -> str:
        return "write" if self.proposed is not None else "repair"

    def on_put_ack(self, msg) -> None:
        """A replica holds the record now (or something newer)."""
        if self.phase != PROPAGATE or self.done:
            return
        self._ack(msg.src, msg.outcome, msg.durable)
        self.outstanding.pop(msg.src, None)
        if len(self.acks) >= self.needed:
            self._finish()

    def _ack(self, peer: int, outcome: str, durable: bool = True) -> None:
        self.acks[peer] = {"node": node_name(peer), "stands_in_for": None, "applied": True,
                           "outcome": outcome, "durable": durable}

    # --- ending --------------------------------------------------------------------

    def on_all_answered(self) -> None:
        """The timer ran out (or nobody is left to wait for) before a majority answered."""
        have = len(self.replies) if self.phase == QUERY else len(self.acks)
        self.failure = (f"{have} of the {self.needed} replicas needed "
                        f"{'answered' if self.phase == QUERY else 'acknowledged'} in the {self.phase} phase")
        self._finish()

    def on_timeout(self, silent) -> None:
        """No stand-ins in this mode: a silent majority ends the operation."""
        self.on_all_answered()

    def _finish(self) -> None:
        self.finish()
        answers = [{"node": node_name(n), "stands_in_for": None,
                    "version": rec.version.to_dict() if rec else None, "deleted": bool(rec and rec.deleted)}
                   for n, rec in self.replies.items()]
        if self.proposed is not None:
            self.result = WriteResult(self.key, self.record or self.proposed, self.node.node_id,
                                      self.preference, self.needed, list(self.acks.values()), list(self.silent),
                                      version_chosen=self.record is not None)
        else:
            repaired = sorted(n for n, a in self.acks.items() if a["outcome"] != "already_had")
            self.result = ReadResult(self.key, self.record, self.node.node_id, self.preference,
                                     self.needed, answers, repaired, list(self.silent))
        verdict = f"failed: {self.failure}" if self.failure else (
            f"done: a majority ({names(self.acks) or names(self.replies)}) holds "
            f"{'v' + str(self.record.version) if self.record else 'nothing'}")
        self.seam.emit("abd_failed" if self.failure else "abd_done", f"{self.name} {self.key} {verdict}",
                         [self.node.node_id], self.key, op_id=self.op_id)

    @property
    def decided(self) -> bool:
        """True once the client can be answered (the op answers only when it is over)."""
        return self.done

    def progress(self) -> dict:
        """What has arrived so far, for a client that stops waiting."""
        return {**super().progress(), "phase": self.phase, "acks": list(self.acks.values()),
                "quorum": {"needed": self.needed, "answers": len(self.replies), "acks": len(self.acks)}}
