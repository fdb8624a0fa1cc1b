"""Compare-and-set by single-decree Paxos per key, as Cassandra's lightweight transactions.

The coordinator (the proposer) runs, over the key's RF replicas (the
acceptors, cluster/paxos_acceptor.py), with a strict majority and no stand-ins:

1. prepare: pick a ballot (round, node id) above every ballot it has seen and
   ask every replica to promise it. A majority of promises is needed. Each
   promise carries the acceptor's accepted proposal, the ballot of its last
   commit and its current record of the key.
2. repair: a proposal accepted at a ballot above every commit the promises
   report may already be chosen. It is completed first (accepted again with
   our ballot, then committed), and the round restarts with a new ballot.
3. read and compare: the newest record among the promises is the current
   value (a quorum read inside the Paxos round). If its version is not the
   expected one, the CAS fails with a conflict and nothing is proposed.
4. accept: propose the new record, versioned above the current one, at our
   ballot; a majority of accepts makes it chosen.
5. commit: send the chosen record to every replica; each stores it as a
   normal version (last-writer-wins), so plain reads see it.

A refusal (a higher ballot was promised) means another proposer is running:
start again with a higher ballot, a bounded number of times. Every message goes
through the node's seam (the simulated network by default), so partitions, drops, duplicates and step mode
apply to each phase.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Set

from cluster.errors import Conflict, NoQuorum
from cluster.messages import Commit, Message, Prepare, Propose
from cluster.operation import Operation
from models import Ballot, Record, Version, names, newest, node_name, preview
from wording import plural

MAX_ROUNDS = 5  # prepares per CAS before giving up on contention


def _value(record: Optional[Record]) -> Any:
    """The value a record stands for in a history: None when absent or deleted."""
    return None if record is None or record.deleted else record.value


def version_text(record: Optional[Record]) -> Optional[str]:
    """The version a CAS compares `expected` with: None for an absent or deleted key."""
    return None if record is None or record.deleted else str(record.version)


@dataclass
class CasResult:
    """What a compare-and-set did, round by round, as the HTTP answer reports it."""

    key: str
    expected: Optional[str]
    coordinator: int
    replicas: List[int]
    majority: int
    outcome: str  # applied | conflict | no_quorum | unknown | contention
    record: Optional[Record] = None  # the record this CAS made chosen (applied) or proposed (unknown)
    current: Optional[Record] = None  # what the CAS compared `expected` with
    compared: Optional[Record] = None  # what the current value was when our own proposal was made
    rounds: List[dict] = field(default_factory=list)
    repaired: List[dict] = field(default_factory=list)

    @property
    def applied(self) -> bool:
        """True when the new value was chosen by a majority."""
        return self.outcome == "applied"

    def fields(self) -> dict:
        """The answer's fields: outcome, versions, ballots, and every round's replies."""
        cur = self.current
        return {"key": self.key, "applied": self.applied, "outcome": self.outcome, "expected": self.expected,
                "version": self.record.version.to_dict() if self.record and self.applied else None,
                "proposed_version": self.record.version.to_dict() if self.record else None,
                "current": None if cur is None else {"value": None if cur.deleted else cur.value,
                                                     "version": cur.version.to_dict(), "deleted": cur.deleted},
                "coordinator": node_name(self.coordinator), "replicas": [node_name(n) for n in self.replicas],
                "majority": self.majority, "ballot": self.rounds[-1]["ballot"] if self.rounds else None,
                "compared_with": _value(self.compared),
                "rounds": self.rounds, "repaired": self.repaired}


class PaxosOp(Operation):
    """The proposer: prepare, (repair), compare, accept, commit — over the key's replicas."""

    name = "cas"
    key: str

    def __init__(self, op_id: str, node, key: str, expected: Optional[str], value: Any, ring,
                 max_rounds: int = MAX_ROUNDS):
        super().__init__(op_id, node)
        self.key = key
        self.expected = expected
        self.value = value
        self.replicas: List[int] = ring.preference_list(key)
        self.majority = len(self.replicas) // 2 + 1
        self.max_rounds = max_rounds
        self.phase = ""
        self.ballot: Optional[Ballot] = None
        self.highest_seen: Optional[Ballot] = None  # the highest ballot any refusal named
        self.replies: Dict[int, Message] = {}
        self.rounds: List[dict] = []
        self.proposal: Optional[Record] = None  # the record of the running accept/commit
        self.repairing = False
        self.ours: Set[Version] = set()  # versions of the records this CAS proposed
        self.own: Optional[Record] = None  # the last record this CAS proposed
        self.current: Optional[Record] = None
        self.compared: Optional[Record] = None
        self.repaired: List[dict] = []
        self.outcome = ""
        self.attempts = 0
        self.result: Optional[CasResult] = None

    @property
    def decided(self) -> bool:
        """A CAS answers its client only when it is over (a value chosen or not)."""
        return self.done

    def start(self) -> None:
        """Begin with a prepare."""
        self._prepare()

    # --- phases -----------------------------------------------------------------

    def _prepare(self) -> None:
        if self.attempts >= self.max_rounds:
            return self._finish("contention")
        self.attempts += 1
        own = self.node.paxos.get(self.key)
        known = [b for b in (self.highest_seen, own.promised, own.proposed, self.ballot) if b is not None]
        self.ballot = Ballot(max((b.round for b in known), default=0) + 1, self.node.node_id)
        own.proposed = self.ballot  # on disk: a restarted coordinator still goes higher
        self.node.paxos.put(self.key, own)
        self.seam.emit("paxos_prepare", f"{self.node.name} starts Paxos for {self.key} (attempt {self.attempts}) "
                         f"with ballot {self.ballot}: prepare to {names(self.replicas)} (majority "
                         f"{self.majority})", [self.node.node_id], self.key, op_id=self.op_id,
                         ballot=str(self.ballot))
        self._send_phase("prepare", lambda t: Prepare(self.node.node_id, t, self.op_id, self.key, self.ballot))

    def _accept(self, record: Record, repair: bool) -> None:
        self.proposal, self.repairing = record, repair
        why = "completing the in-progress proposal" if repair else f"expected {self.expected or 'absent'} matched"
        self.seam.emit("paxos_propose", f"{self.node.name} asks {names(self.replicas)} to accept {self.key} "
                         f"v{record.version} = {preview(record.value)} at ballot {self.ballot} ({why})",
                         [self.node.node_id], self.key, op_id=self.op_id, ballot=str(self.ballot),
                         version=str(record.version))
        self._send_phase("accept", lambda t: Propose(self.node.node_id, t, self.op_id, self.key,
                                                     self.ballot, record))

    def _commit(self) -> None:
        assert self.proposal is not None
        accepted = [n for n, m in self.replies.items() if getattr(m, "ok", False)]
        self.seam.emit("paxos_chosen", f"{self.key} v{self.proposal.version} accepted at ballot {self.ballot} "
                         f"by {names(sorted(accepted))}: a majority, so it is chosen; committing to "
                         f"{names(self.replicas)}", accepted, self.key, op_id=self.op_id, ballot=str(self.ballot))
        record = self.proposal
        self._send_phase("commit", lambda t: Commit(self.node.node_id, t, self.op_id, self.key,
                                                    self.ballot, record))

    def _send_phase(self, phase: str, make) -> None:
        """Send this phase's message to every replica (the coordinator's own acceptor too, through its seam)."""
        self._cancel_timer()
        self.outstanding.clear()
        self.replies = {}
        self.phase = phase
        entry: Dict[str, Any] = {"phase": phase, "ballot": str(self.ballot),
                                 "sent_to": [node_name(n) for n in self.replicas],
                                 "ok": [], "refused": [], "silent": [], "late": []}
        if phase != "prepare" and self.proposal is not None:
            entry["record_version"] = str(self.proposal.version)
            entry["purpose"] = "repair" if self.repairing else "new value"
        self.rounds.append(entry)
        for target in self.replicas:
            self.send(make(target))
        self.wait()

    # --- replies ------------------------------------------------------------------

    def on_paxos_promise(self, msg) -> None:
        """A replica promised (or refused) our ballot."""
        self._reply(msg, "prepare")

    def on_paxos_accepted(self, msg) -> None:
        """A replica accepted (or refused) our proposal."""
        self._reply(msg, "accept")

    def on_paxos_committed(self, msg) -> None:
        """A replica stored the chosen record."""
        self._reply(msg, "commit")

    def _reply(self, msg, phase: str) -> None:
        if self.done or self.phase != phase or msg.ballot != self.ballot or msg.src in self.replies:
            return  # from an earlier round or phase, or a duplicate: it changes nothing
        self.replies[msg.src] = msg
        self.outstanding.pop(msg.src, None)
        promised = getattr(msg, "promised", None)
        if promised is not None and (self.highest_seen is None or promised > self.highest_seen):
            self.highest_seen = promised
        entry = self.rounds[-1]
        if getattr(msg, "ok", True):
            entry["ok"].append(node_name(msg.src))
        else:
            entry["refused"].append({"node": node_name(msg.src), "promised": str(msg.promised)})
        self._tally()

    def on_all_answered(self) -> None:
        """Nobody is outstanding any more: decide this phase with what arrived."""
        self._tally()

    def on_timeout(self, silent) -> None:
        """Silent replicas are not replaced (a strict quorum): decide with what arrived."""
        self.rounds[-1]["silent"].extend(node_name(p) for p in silent)
        self._tally()

    def _tally(self) -> None:
        oks = [m for m in self.replies.values() if getattr(m, "ok", True)]
        refused = len(self.replies) - len(oks)
        if len(oks) >= self.majority:
            self.rounds[-1]["late"] = [node_name(p) for p in sorted(self.outstanding)]
            self._advance(oks)
        elif refused > len(self.replicas) - self.majority:
            self._preempted()
        elif not self.outstanding:
            self._no_majority(len(oks))

    def _advance(self, oks: list) -> None:
        if self.phase == "prepare":
            self._after_promises(oks)
        elif self.phase == "accept":
            self._commit()
        else:
            self._after_commit()

    def _after_promises(self, promises: list) -> None:
        committed = max((p.committed for p in promises if p.committed), default=None)
        open_ = [p for p in promises if p.accepted and (committed is None or p.accepted > committed)]
        self.current = newest(p.current for p in promises)
        found = f"v{self.current.version}" if self.current else "nothing"
        self.seam.emit("paxos_promises", f"ballot {self.ballot} for {self.key} promised by "
                         f"{names(sorted(p.src for p in promises))} (majority {self.majority}); their newest "
                         f"record: {found}", [p.src for p in promises], self.key, op_id=self.op_id,
                         ballot=str(self.ballot))
        if open_:
            best = max(open_, key=lambda p: p.accepted)
            self.repaired.append({"version": str(best.record.version), "accepted_at": str(best.accepted),
                                  "found_on": node_name(best.src)})
            self.seam.emit("paxos_repair", f"{node_name(best.src)} had accepted {self.key} v{best.record.version} "
                             f"at ballot {best.accepted}, never committed: it may be chosen, so it is "
                             "completed before anything new", [self.node.node_id, best.src], self.key,
                             op_id=self.op_id)
            return self._accept(best.record, repair=True)
        if self.current is not None and self.current.version in self.ours:
            # Our proposal was completed by a repair. Answer only once a majority stores it,
            # or a plain quorum read right after this answer could miss it.
            holders = [p for p in promises if p.current is not None and p.current.version == self.current.version]
            if len(holders) >= self.majority:
                return self._finish("applied", self.current)
            record = self.proposal = self.current
            return self._send_phase("commit", lambda t: Commit(self.node.node_id, t, self.op_id, self.key,
                                                               self.ballot, record))
        if version_text(self.current) != self.expected:
            return self._finish("conflict")
        self.compared = self.current  # the history needs it even if another round completes ours
        self._accept(Record(self.key, self.value, self._new_version()), repair=False)
        assert self.proposal is not None
        self.own = self.proposal
        self.ours.add(self.proposal.version)

    def _after_commit(self) -> None:
        assert self.proposal is not None
        if self.proposal.version in self.ours:
            return self._finish("applied", self.proposal)
        self._prepare()  # a repair is done; now our own round, with a new ballot

    def _preempted(self) -> None:
        self.seam.emit("paxos_preempted", f"ballot {self.ballot} for {self.key} was refused by a majority: "
                         f"another proposer holds ballot {self.highest_seen}; trying again higher",
                         [self.node.node_id], self.key, op_id=self.op_id, ballot=str(self.ballot))
        self._prepare()

    def _no_majority(self, oks: int) -> None:
        if self.phase == "commit":  # chosen already; the replicas that missed it learn it later (repair)
            if self.proposal is not None and self.proposal.version in self.ours:
                # Chosen but stored on fewer than a majority: a quorum read may still miss it, so
                # the client cannot be told "applied" yet; the next CAS on the key completes it.
                return self._finish("unknown", self.proposal)
            return self._after_commit()
        if self.phase == "accept" and not self.repairing:
            # Our accept requests are out: an acceptor may hold the value with its ack lost or
            # late (it was killed after accepting), and a later proposer would then complete it.
            return self._finish("unknown", self.proposal)
        self._finish("no_quorum")

    def _new_version(self) -> Version:
        """A version above the current one, so the commit wins under last-writer-wins."""
        return self.node.stamp_above(self.current.version if self.current is not None else None)

    # --- the end ----------------------------------------------------------------

    def _finish(self, outcome: str, record: Optional[Record] = None) -> None:
        if outcome in ("conflict", "no_quorum", "contention") and self.ours:
            # A proposal of ours, accepted by a minority in an earlier round, may still be completed.
            outcome, record = "unknown", self.own
        self.outcome = outcome
        texts = {
            "applied": lambda: f"CAS {self.key} applied: v{record.version if record else '?'} is chosen",
            "conflict": lambda: f"CAS {self.key} not applied: expected {self.expected or 'absent'}, found "
                                f"{version_text(self.current) or 'absent'}",
            "no_quorum": lambda: f"CAS {self.key} failed: no majority ({self.majority} of "
                                 f"{len(self.replicas)}) answered the {self.phase}",
            "unknown": lambda: f"CAS {self.key} outcome unknown: v{record.version if record else '?'} is held by "
                               "fewer than a majority (accepted by a minority, or chosen but committed to a "
                               "minority); a later CAS may complete it",
            "contention": lambda: f"CAS {self.key} gave up after {plural(self.attempts, 'round')} of contention",
        }
        self.seam.emit("cas_" + outcome, texts[outcome](), [self.node.node_id], self.key, op_id=self.op_id)
        self.finish()
        self.result = self.snapshot(record)

    def snapshot(self, record: Optional[Record] = None) -> CasResult:
        """The outcome as known now."""
        return CasResult(self.key, self.expected, self.node.node_id, self.replicas, self.majority,
                         self.outcome or "pending", record or self.proposal, self.current,
                         self.compared, [dict(r) for r in self.rounds], list(self.repaired))

    def progress(self) -> dict:
        """Rounds so far, for a client that stops waiting."""
        return {**super().progress(), **self.snapshot().fields()}


def compare_and_set(run: Callable[[PaxosOp], Any], node, key: str, expected: Optional[str], value: Any) -> CasResult:
    """Run one CAS coordinated by `node` with `run` (the control plane's: start it, wait for the result).

    Returns the applied result or raises Conflict/NoQuorum.
    """
    op = PaxosOp(node.next_op_id(), node, key, expected, value, node.ring)
    result: CasResult = run(op)
    data = result.fields()
    if result.outcome == "conflict":
        found = version_text(result.current) or "null (absent)"
        raise Conflict(f"CAS on {key!r} not applied: you expected version {expected or 'null (absent)'}, but "
                       f"the current version is {found}. Read it again and retry with that.", **data)
    if result.outcome == "no_quorum":
        last = result.rounds[-1] if result.rounds else {"ok": [], "refused": [], "silent": []}
        heard = (f"in the last {last.get('phase', 'round')}, {len(last['ok'])} agreed"
                 + (f", {len(last['refused'])} refused (a higher ballot was promised)" if last["refused"] else "")
                 + (f", {len(last['silent'])} stayed silent ({', '.join(last['silent'])})" if last["silent"] else ""))
        raise NoQuorum(f"CAS on {key!r} failed: it needs a majority ({result.majority} of {len(result.replicas)}) "
                       f"of its replicas to agree, and {heard}. Paxos has no stand-ins. Nothing was chosen; "
                       "retry when the replicas are reachable.", **data)
    if result.outcome == "unknown":
        raise NoQuorum(f"CAS on {key!r} outcome unknown: the new value reached fewer than {result.majority} "
                       "replicas (accepted by a minority, or chosen but not yet stored by a majority), so a read "
                       "may not see it yet, but a later CAS on this key may complete it. Read the key (or CAS "
                       "again) to find out.", **data)
    if result.outcome == "contention":
        raise NoQuorum(f"CAS on {key!r} gave up: other proposers kept preempting it for {MAX_ROUNDS} rounds. "
                       "Retry.", **data)
    return result
