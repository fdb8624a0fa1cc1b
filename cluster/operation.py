"""Operation: something one node does that waits for replies from others.

A node keeps its running operations by id; replies carrying that op_id are
handed to the operation (on_<kind>), and a timer ends the wait. Every
operation waits one way: `send` (or `ask_self`, for the node's own part)
counts one answer expected from the destination, a handler calls `answered`
for each answer it takes, and when no answer is expected any more the
operation moves on (`on_all_answered`). `fresh` lets a handler ignore a
duplicate answer, which a network may deliver. Quorum reads/writes, Paxos,
ABD, hint handoff, recovery sync and anti-entropy all build on it.
"""
from __future__ import annotations

from typing import Callable, Dict, Hashable, Optional, Set, Tuple

from cluster.messages import Message
from models import node_name


class Operation:
    """Base: bookkeeping of outstanding peers, one timer, and completion."""

    name = "operation"

    def __init__(self, op_id: str, node):
        self.op_id = op_id
        self.node = node
        self.done = False
        self.abandoned: Optional[str] = None  # why the operation stopped before finishing, if it did
        self.outstanding: Dict[int, int] = {}  # peer -> answers still expected from it
        self._heard: Set[Tuple[int, Hashable]] = set()  # (peer, what) answers already taken
        self.silent: list = []  # peers that did not answer in time
        self._timer = None
        # Whether this operation's client is answered as soon as it is decided (step mode), before
        # the operation is over: the control plane knows, a node does not (ClusterCore.run sets it).
        self.client_answered_early: Callable[[], bool] = lambda: False
        node.ops[op_id] = self

    @property
    def seam(self):
        """The seam of the node running this operation: send, timers, time, events."""
        return self.node.seam

    @property
    def timeout_ms(self) -> int:
        """How long to wait for peers, in simulated milliseconds."""
        return self.node.timeout_ms

    def send(self, msg: Message) -> None:
        """Send `msg` and expect one more answer from its destination (this node itself included)."""
        self.outstanding[msg.dst] = self.outstanding.get(msg.dst, 0) + 1
        self.seam.send(msg)

    def ask_self(self, msg: Message) -> None:
        """Send `msg` to this operation's own node (zero delay, through the seam), expecting its answer."""
        assert msg.dst == self.node.node_id, "ask_self sends to the operation's own node"
        self.send(msg)

    def fresh(self, peer: int, what: Hashable) -> bool:
        """True the first time `peer` answers about `what`; False for a duplicate of that answer."""
        if (peer, what) in self._heard:
            return False
        self._heard.add((peer, what))
        return True

    def answered(self, peer: int) -> None:
        """Count one answer from `peer`; when no answer is expected from anyone, move on."""
        left = self.outstanding.get(peer, 0)
        if left > 1:
            self.outstanding[peer] = left - 1
            return
        self.outstanding.pop(peer, None)
        if not self.outstanding and not self.done:
            self._cancel_timer()
            self.on_all_answered()

    def wait(self) -> None:
        """Arm the timeout if anyone is outstanding, otherwise move on at once."""
        self._cancel_timer()
        if self.outstanding:
            self._timer = self.seam.set_timer(self.timeout_ms, self._timed_out)
        else:
            self.on_all_answered()

    def _timed_out(self) -> None:
        if self.done:
            return
        silent = sorted(self.outstanding)
        self.outstanding.clear()
        self.silent.extend(silent)
        self.seam.emit("timeout",
                         f"{self.node.name} gave up waiting {self.timeout_ms}ms for "
                         f"{', '.join(node_name(p) for p in silent)} ({self.describe()}){self.timeout_note()}",
                         [self.node.node_id, *silent], self.key, op_id=self.op_id)
        self.on_timeout(silent)

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def finish(self) -> None:
        """Mark the operation done and forget it on its node."""
        self._cancel_timer()
        self.done = True
        self.node.ops.pop(self.op_id, None)

    def abandon(self, reason: str) -> None:
        """Stop without a result (its node crashed); waiting clients are told why."""
        self.abandoned = reason
        self.finish()

    def progress(self) -> dict:
        """What has arrived so far, for a client that stops waiting (504).

        It names the key, the coordinator and the replicas as every other answer does.
        """
        about = {} if self.key is None else {"key": self.key, "coordinator": self.node.name}
        preference = getattr(self, "preference", None)  # quorum and ABD operations have one
        if preference is not None:
            about["replicas"] = [node_name(n) for n in preference]
        return {**about, "waiting_for": [node_name(p) for p in sorted(self.outstanding)]}

    # --- for subclasses -------------------------------------------------------

    key: Optional[str] = None

    def describe(self) -> str:
        """A few words naming this operation in events."""
        return f"{self.name} {self.key}" if self.key else self.name

    def timeout_note(self) -> str:
        """Words added to this operation's timeout line (none by default)."""
        return ""

    def on_all_answered(self) -> None:
        """Everyone we waited for answered (or the wait was empty)."""
        self.finish()

    def on_timeout(self, silent) -> None:
        """Some peers stayed silent; the default is to stop waiting for them."""
        self.on_all_answered()
