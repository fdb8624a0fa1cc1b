"""The acceptor side of compare-and-set: each replica's Paxos state, per key, on disk.

Every replica of a key is an acceptor for that key's single-decree Paxos
(cluster/paxos.py is the proposer). Per key it remembers the highest ballot it
promised, the proposal it last accepted (ballot and record) and the ballot of
the last commit it applied. That state lives in its own table of the node's
storage (`node-N.paxos`) and is committed before the acceptor answers, so a
restart or a crash cannot make it forget a promise: a promise forgotten is a
proposal accepted twice.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Dict, Optional

from cluster.messages import Accepted, Commit, Committed, Message, Promise, Propose
from models import Ballot, Record, preview


@dataclass
class AcceptorState:
    """What one acceptor remembers about one key."""

    promised: Optional[Ballot] = None
    accepted: Optional[Ballot] = None
    record: Optional[Record] = None  # the proposal accepted at `accepted`
    committed: Optional[Ballot] = None  # ballot of the last commit applied here
    proposed: Optional[Ballot] = None  # highest ballot this node proposed for the key (as coordinator)

    def to_dict(self) -> dict:
        """The JSON-safe form kept on disk."""
        def ballot(b: Optional[Ballot]) -> Optional[dict]:
            """A ballot's stored form, or None."""
            return b.to_dict() if b else None
        return {"promised": ballot(self.promised), "accepted": ballot(self.accepted),
                "record": self.record.to_dict() if self.record else None,
                "committed": ballot(self.committed), "proposed": ballot(self.proposed)}

    @classmethod
    def from_dict(cls, data: dict) -> AcceptorState:
        """Rebuild the state from `to_dict` output."""
        record = data.get("record")
        return cls(Ballot.from_dict(data.get("promised")), Ballot.from_dict(data.get("accepted")),
                   Record.from_dict(record) if record else None, Ballot.from_dict(data.get("committed")),
                   Ballot.from_dict(data.get("proposed")))


class PaxosState:
    """One node's acceptor state for every key it has seen a Paxos message about."""

    def __init__(self, backend):
        self.backend = backend

    def get(self, key: str) -> AcceptorState:
        """The state of `key` (empty if this node never took part in a round for it)."""
        data = self.backend.get(key)
        return AcceptorState.from_dict(data) if data else AcceptorState()

    def put(self, key: str, state: AcceptorState) -> None:
        """Commit the state of `key` to disk before the node answers."""
        self.backend.put_many({key: state.to_dict()})

    def describe(self) -> dict:
        """Every key's state, as /cas/state shows it."""
        return {key: AcceptorState.from_dict(data).to_dict() for key, data in sorted(self.backend.items())}

    def wipe(self) -> int:
        """Lose every promise (a wiped disk); returns how many keys had state."""
        count = len(self.backend)
        self.backend.clear()
        return count

    def close(self) -> None:
        """Close the backend."""
        self.backend.close()


def _higher(ballot: Ballot, than: Optional[Ballot]) -> bool:
    return than is None or ballot > than


def _refuses(node: Any, msg: Any, state: AcceptorState, phase: str) -> bool:
    """True (and narrated) when `msg`'s ballot is below the one this acceptor promised."""
    if state.promised is None or msg.ballot >= state.promised:
        return False
    node.seam.emit("paxos_refused", f"{node.name} refuses {phase} {msg.key} at ballot {msg.ballot}: "
                     f"it promised {state.promised}", [node.node_id, msg.src], msg.key,
                     ballot=str(msg.ballot), promised=str(state.promised))
    return True


def answer_prepare(node: Any, msg: Any) -> Promise:
    """Phase 1b: promise the ballot if it is the highest seen, with what was accepted."""
    state = node.paxos.get(msg.key)
    if _refuses(node, msg, state, "prepare"):
        return Promise(node.node_id, msg.src, msg.op_id, msg.key, msg.ballot, False, state.promised)
    state.promised = msg.ballot
    node.paxos.put(msg.key, state)
    held = (f"accepted v{state.record.version} at ballot {state.accepted}" if state.record else "accepted nothing")
    commit = f"at ballot {state.committed}" if state.committed else "none"
    node.seam.emit("paxos_promised", f"{node.name} promises ballot {msg.ballot} for {msg.key} "
                     f"({held}; last commit {commit})", [node.node_id, msg.src], msg.key,
                     ballot=str(msg.ballot))
    return Promise(node.node_id, msg.src, msg.op_id, msg.key, msg.ballot, True, state.promised,
                   state.accepted, state.record, state.committed, node.store.get(msg.key))


def answer_propose(node: Any, msg: Propose) -> Accepted:
    """Phase 2b: accept the proposal unless a higher ballot was promised meanwhile."""
    state = node.paxos.get(msg.key)
    if _refuses(node, msg, state, "accept"):
        return Accepted(node.node_id, msg.src, msg.op_id, msg.key, msg.ballot, False, state.promised)
    state.promised = msg.ballot
    state.accepted, state.record = msg.ballot, msg.record
    node.paxos.put(msg.key, state)
    assert msg.record is not None
    node.seam.emit("paxos_accepted", f"{node.name} accepts {msg.key} v{msg.record.version} = "
                     f"{preview(msg.record.value)} at ballot {msg.ballot}", [node.node_id, msg.src], msg.key,
                     ballot=str(msg.ballot), version=str(msg.record.version))
    return Accepted(node.node_id, msg.src, msg.op_id, msg.key, msg.ballot, True, state.promised)


def answer_commit(node: Any, msg: Commit) -> Committed:
    """Phase 3: store the chosen record as a normal version (LWW) and note the commit."""
    assert msg.record is not None and msg.ballot is not None
    outcome = node.accept_put(msg.record, None, "paxos commit", msg.op_id)
    node.store.flush()  # a CAS is durable before it answers, in batch mode too (as its Paxos state is)
    state = node.paxos.get(msg.key)
    if _higher(msg.ballot, state.committed):
        state.committed = msg.ballot
        node.paxos.put(msg.key, state)
    return Committed(node.node_id, msg.src, msg.op_id, msg.key, msg.ballot, outcome)


# Paxos requests and the function answering each (registered in node.py's ANSWERED_BY_MECHANISM).
ANSWERS: Dict[str, Callable[[Any, Any], Message]] = {
    "paxos_prepare": answer_prepare, "paxos_propose": answer_propose, "paxos_commit": answer_commit}
