"""Hinted handoff: a stand-in node keeps a write plus a hint, and hands it back.

When a preference-list node is silent, the coordinator sends the write to the
next node clockwise with `hint_for` set. That node keeps the record in its
HintStore (hints.py), not among its own records, and answers reads for the key
with it. When the owner is back, the holder sends each hinted record home
(HandoffOp) and drops the hint once the owner acknowledges it.
"""
from __future__ import annotations

from typing import List

from cluster.messages import ALREADY_HAD, KEPT_NEWER, Put
from cluster.operation import Operation
from models import node_name
from wording import plural


class HandoffOp(Operation):
    """Send every hint held for `owner` home; drop each one the owner acknowledges."""

    name = "handoff"

    def __init__(self, op_id: str, holder, owner: int):
        super().__init__(op_id, holder)
        self.owner = owner
        self.records = {rec.key: rec for rec in holder.hints.for_owner(owner)}
        self.delivered: List[str] = []

    def start(self) -> None:
        """Send the hinted records to their owner and wait for its acks."""
        if not self.records:
            return self.finish()
        self.seam.emit("handoff_started", f"{self.node.name} hands "
                         f"{plural(len(self.records), 'hinted write')} back to {node_name(self.owner)}: "
                         f"{', '.join(sorted(self.records))}",
                         [self.node.node_id, self.owner], None, op_id=self.op_id,
                         keys=sorted(self.records))
        for record in self.records.values():
            self.send(Put(self.node.node_id, self.owner, self.op_id, record, None, "handoff"))
        self.wait()

    def on_put_ack(self, msg) -> None:
        """The owner has the record: the hint can go."""
        if not self.fresh(msg.src, msg.key):
            return  # a duplicate ack
        record = self.records.get(msg.key)
        if record is not None and self.node.hints.remove(self.owner, record):
            self.delivered.append(msg.key)
            # The ack says whether the owner took the hint's version: it may already hold a newer one.
            held = {KEPT_NEWER: f"already had a newer {msg.key} than the hint's v{record.version} and keeps it",
                    ALREADY_HAD: f"already had {msg.key} v{record.version}"}.get(
                        msg.outcome, f"now has {msg.key} v{record.version}")
            self.seam.emit("hint_delivered", f"{node_name(self.owner)} {held}; {self.node.name} drops its hint",
                             [self.node.node_id, self.owner], msg.key, op_id=self.op_id)
        self.answered(msg.src)

    def on_all_answered(self) -> None:
        """Report hints that could not be handed back."""
        self.finish()
        kept = len(self.records) - len(self.delivered)
        if kept:
            self.seam.emit("handoff_incomplete", f"{self.node.name} still holds {plural(kept, 'hint')} for "
                             f"{node_name(self.owner)}; they will be retried", [self.node.node_id, self.owner],
                             None, op_id=self.op_id)
