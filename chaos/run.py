"""A deterministic chaos run: concurrent clients and a nemesis on the virtual clock.

No OS threads: each client is a loop of operations, and an operation is the
cluster's own Operation object (a quorum or ABD read/write) started on the
client's node without waiting for it. The driver moves the simulation one
message or timer at a time, starts a client's next operation when its think
time is over, and records each completion the moment its client could be
answered (W acks, R answers, an ABD majority). So the clients' messages
really overlap, and the same seed gives the same report, byte for byte.
"""
from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

from cluster.history import History, Outcome
from cluster.linearizable import PROPAGATE, AbdOp, majority
from cluster.paxos import PaxosOp, version_text
from cluster.quorum import ReadOp, WriteOp
from config import simulation_config
from models import Record, Version
from replication import ReplicationManager

from .nemesis import KINDS, LocalControls, Nemesis


@dataclass
class ChaosSettings:
    """What one chaos run does."""

    ops: int = 10_000
    clients: int = 8
    seed: int = 1
    consistency: str = "eventual"
    durability: str = "sync"
    keys: int = 10
    faults: tuple = KINDS
    fault_every_ms: int = 150  # mean simulated time between two faults
    think_ms: int = 5  # longest pause of a client between two operations
    check_timeout_s: float = 120.0


@dataclass
class Pending:
    """A client's operation in flight."""

    client: int
    f: str
    key: str
    value: Any
    op: Any
    invoke: dict
    meta: Dict[str, Any] = field(default_factory=dict)


class ChaosRun:
    """Drive `settings.clients` clients and the nemesis until `settings.ops` operations are done."""

    def __init__(self, settings: ChaosSettings):
        self.s = settings
        self.cluster = ReplicationManager(simulation_config(
            seed=settings.seed, consistency=settings.consistency, durability=settings.durability,
            narrate="off", max_events=10_000, max_history=settings.ops + settings.keys + 10))
        self.history = History(self.cluster.clock, settings.ops + settings.keys + 10)
        self.rng = random.Random(f"clients-{settings.seed}")
        self.nemesis = Nemesis(LocalControls(self.cluster), settings.seed, settings.faults)
        self.plain_keys = [f"k{i}" for i in range(settings.keys)]
        # CAS gets keys of its own: mixing it with plain writes voids its guarantee (docs/architecture.md)
        self.cas_keys = [f"c{i}" for i in range(max(1, settings.keys // 3))]
        self.keys = self.plain_keys + self.cas_keys
        self.seen: Dict[tuple, Optional[str]] = {}  # (client, key) -> the version it last saw, for its CAS
        self.meta: Dict[int, Dict[str, Any]] = {}  # op index -> version, stand-ins, coordinator
        self.started = 0
        self.pending: Dict[int, Pending] = {}
        self.next_start = dict.fromkeys(range(settings.clients), 0)
        self.next_fault = self._fault_delay()

    def _fault_delay(self) -> int:
        return self.cluster.clock.now() + self.rng.randint(1, 2 * self.s.fault_every_ms)

    # --- one operation -------------------------------------------------------------

    def _start(self, client: int) -> None:
        """Begin the client's next operation on the node it is connected to."""
        f = self.rng.choices(("read", "write", "delete", "cas"), (40, 40, 8, 12))[0]
        key = self.rng.choice(self.cas_keys if f == "cas" else self.keys if f == "read" else self.plain_keys)
        value = self.started + 1 if f in ("write", "cas") else None  # unique, so every read names its write
        self.started += 1
        cluster = self.cluster
        node_id = client % len(cluster.nodes)  # each client is connected to one node...
        if not cluster.is_up(node_id):  # ...and fails over to the key's first up node when it is down
            node_id = next((n for n in cluster.ring.walk(key) if cluster.is_up(n)), node_id)
        node = cluster.nodes[node_id]
        expected = self.seen.get((client, key))
        invoke = self.history.begin(client, f, key, [{"expected_version": expected}, value] if f == "cas" else value)
        op_id = node.next_op_id()
        if f == "cas":
            op: Any = PaxosOp(op_id, node, key, expected, value, cluster.ring)
        elif self.s.consistency == "linearizable":
            write = None if f == "read" else Record(key, value, Version(0, node_id), f == "delete")
            op = AbdOp(op_id, node, key, cluster.ring, majority(cluster.config.rf, 0), write)
        elif f == "read":
            op = ReadOp(op_id, node, key, cluster.ring, cluster.config.r)
        else:
            record = Record(key, value, Version(node.timestamp(), node_id), f == "delete")
            op = WriteOp(op_id, node, record, cluster.ring, cluster.config.w)
        self.pending[client] = Pending(client, f, key, value, op, invoke, {"coordinator": node_id})
        op.start()

    def _finish(self, p: Pending) -> None:
        """Record the outcome the client sees now."""
        op = p.op
        outcome = self._outcome(p)
        self.history.end(p.invoke, outcome)
        record = getattr(op, "record", None)
        if p.f != "read" and record is not None:
            p.meta["version"] = [record.version.timestamp, record.version.node]
        acks = getattr(op, "acks", {})
        p.meta["stand_ins"] = sum(1 for a in acks.values() if a.get("stands_in_for"))
        self.meta[p.invoke["index"]] = p.meta
        del self.pending[p.client]
        self.next_start[p.client] = self.cluster.clock.now() + self.rng.randint(0, self.s.think_ms)

    def _outcome(self, p: Pending) -> Outcome:
        op = p.op
        if op.abandoned and not isinstance(op, PaxosOp):  # its node crashed or stopped: a write may have landed
            return Outcome("fail" if p.f == "read" else "info", None, {"error": op.abandoned})
        if isinstance(op, PaxosOp):
            return self._cas_outcome(p)
        if isinstance(op, AbdOp):
            if op.failure or op.abandoned:
                unknown = p.f != "read" and op.phase == PROPAGATE
                return Outcome("info" if unknown else "fail", None, {"error": op.failure or op.abandoned})
            record = op.record
            if p.f == "read":
                p.meta["read_version"] = _version(record)
                self.seen[(p.client, p.key)] = version_text(record)
                return Outcome("ok", None if record is None or record.deleted else record.value)
            return Outcome("ok")
        if isinstance(op, ReadOp):
            result = op.snapshot()
            if op.abandoned or not result.ok:
                return Outcome("fail", None, {"error": op.abandoned or "no_quorum"})
            p.meta["read_version"] = _version(result.record)
            self.seen[(p.client, p.key)] = version_text(result.record)
            return Outcome("ok", result.record.value if result.found and result.record else None)
        if len(op.acks) >= op.needed and not op.abandoned:
            return Outcome("ok")
        return Outcome("info" if op.acks else "fail", None, {"error": op.abandoned or "no_quorum"})

    def _cas_outcome(self, p: Pending) -> Outcome:
        """A CAS: applied (ok), conflict or nothing chosen (fail), or maybe chosen later (info)."""
        op = p.op
        result = op.snapshot()
        compared = result.fields()["compared_with"]
        if op.abandoned:
            # Its coordinator stopped: a proposal of ours that a minority accepted may be completed.
            return Outcome("info", None, {"compared_with": compared}) if op.ours else Outcome("fail")
        if result.outcome == "applied":
            self.seen[(p.client, p.key)] = version_text(result.record)
            return Outcome("ok", None, {"compared_with": compared})
        if result.outcome == "conflict":
            self.seen[(p.client, p.key)] = version_text(result.current)
        if result.outcome == "unknown":
            return Outcome("info", None, {"compared_with": compared})
        return Outcome("fail", None, {"error": result.outcome})

    def _answerable(self, p: Pending) -> bool:
        if not p.op.done and not self.cluster.is_up(p.meta["coordinator"]):
            # Its node stopped: the connection broke, and a stopped node's timers do not fire.
            p.op.abandon(f"{p.op.node.name} stopped before answering")
        return p.op.done or p.op.decided

    # --- the loop --------------------------------------------------------------------

    def _collect(self) -> None:
        for p in [p for p in self.pending.values() if self._answerable(p)]:
            self._finish(p)

    def run(self) -> dict:
        """Run the clients and the nemesis, then heal, read every key, and return the raw run."""
        began = time.monotonic()
        clock, network = self.cluster.clock, self.cluster.network
        with self.cluster.lock:
            while self.started < self.s.ops or self.pending:
                now = clock.now()
                more = self.started < self.s.ops
                if more:
                    for client, at in sorted(self.next_start.items()):
                        if client not in self.pending and at <= now and self.started < self.s.ops:
                            self._start(client)
                    self._collect()
                if more and now >= self.next_fault:
                    self.nemesis.act()
                    self.next_fault = self._fault_delay()
                    self._collect()
                    continue
                # the next thing to happen: a message or timer, a client's start, or a fault
                starts = [at for c, at in self.next_start.items() if c not in self.pending]
                wake = min(starts + [self.next_fault]) if more and starts else (self.next_fault if more else None)
                due = network.next_due()
                if due is not None and (wake is None or due <= wake):
                    network.step()
                    self._collect()
                    continue
                if wake is None:
                    raise RuntimeError("operations are pending but nothing is due: an operation lost its timer")
                clock.advance_to(max(wake, now + 1))
            self.nemesis.heal_everything()
            self._final_reads()
        return {"elapsed_s": time.monotonic() - began}

    def _final_reads(self) -> None:
        """After healing, one client reads every key, as the last word on what survived."""
        final = self.s.clients  # a process of its own
        for key in self.keys:
            self.next_start[final] = 0
            invoke = self.history.begin(final, "read", key)
            node = self.cluster.nodes[self.cluster.coordinator_for(key).node_id]
            op_id = node.next_op_id()
            rf = self.cluster.config.rf
            op = (AbdOp(op_id, node, key, self.cluster.ring, rf) if self.s.consistency == "linearizable"
                  else ReadOp(op_id, node, key, self.cluster.ring, rf))
            pending = Pending(final, "read", key, None, op, invoke, {"coordinator": node.node_id, "final": True})
            self.pending[final] = pending
            op.start()
            self.cluster.settle()
            self._finish(pending)


def _version(record: Optional[Record]) -> Optional[List[int]]:
    return None if record is None else [record.version.timestamp, record.version.node]
