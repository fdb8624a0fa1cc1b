"""The search: Wing & Gong's algorithm with Lowe's memoisation, as Porcupine does it.

The history of one key is a doubly linked list of call and return entries in
real-time order. Walking from the head, a call entry whose operation the model
accepts in the current state is "lifted" out of the list (call and return
both) and pushed on a stack; reaching a return entry means the operation it
closes cannot be placed any more, so the last lifted call is put back and the
next candidate tried. A cache of (linearized set, state) pairs stops the search
from exploring the same situation twice: that is what keeps it polynomial on
the histories real systems produce.
"""
from __future__ import annotations

import gc
import math
import time
from dataclasses import dataclass, field
from typing import Hashable

from .history import Op
from .models import Model

__all__ = ["KeyResult", "check_ops"]

_DEADLINE_EVERY = 2048  # loop turns between clock reads: cheap enough, still prompt


@dataclass
class KeyResult:
    """The verdict on one key; on a violation, the deepest partial linearization found."""

    linearizable: bool | None  # None: the deadline passed first
    prefix: list[Op] = field(default_factory=list)
    state: Hashable = None
    blocking: Op | None = None
    pending: list[Op] = field(default_factory=list)


class _Entry:
    """A call (match = its return entry) or a return (match = None) in the list."""

    __slots__ = ("id", "input", "output", "match", "prev", "next")

    def __init__(self, id_, input_=None, output=None, match=None):
        self.id = id_
        self.input = input_
        self.output = output
        self.match = match
        self.prev = None
        self.next = None


def _build(model: Model, ops: list[Op]) -> _Entry:
    """The linked list of entries in real-time order, behind a head sentinel."""
    events = []
    for i, op in enumerate(ops):
        op_input, output = model.prepare(op)
        ret = _Entry(i)
        call = _Entry(i, op_input, output, ret)
        events.append((op.call, 0, i, call))
        # Unknown completions (info) all sit at the end, after every known event.
        events.append((op.ret if not math.isinf(op.ret) else math.inf, 1, i, ret))
    events.sort(key=lambda e: e[:3])
    head = _Entry(-1)
    last = head
    for *_, entry in events:
        last.next = entry
        entry.prev = last
        last = entry
    return head


def _lift(entry: _Entry) -> None:
    """Take a call and its return out of the list (their own links are kept for unlift)."""
    entry.prev.next = entry.next
    entry.next.prev = entry.prev
    match = entry.match
    match.prev.next = match.next
    if match.next is not None:
        match.next.prev = match.prev


def _unlift(entry: _Entry) -> None:
    """Put a lifted call and its return back where they were."""
    match = entry.match
    match.prev.next = match
    if match.next is not None:
        match.next.prev = match
    entry.prev.next = entry
    entry.next.prev = entry


def check_ops(model: Model, ops: list[Op], deadline: float | None = None) -> KeyResult:
    """Is this one key's history linearizable under `model`? `deadline` is time.monotonic()."""
    if not ops:
        return KeyResult(True)
    # gc would walk the cache's millions of tuples again and again for nothing
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        return _search(model, ops, deadline)
    finally:
        if was_enabled:
            gc.enable()


def _search(model: Model, ops: list[Op], deadline: float | None) -> KeyResult:
    """The Wing & Gong loop; see the module docstring and _info_order for the pruning."""
    head = _build(model, ops)
    after = _info_order(ops, head)
    info_mask = sum(1 << i for i, op in enumerate(ops) if op.status == "info")
    ok_mask = ((1 << len(ops)) - 1) & ~info_mask
    ok_left = len(ops) - bin(info_mask).count("1")
    step = model.step
    state = model.init()
    linearized = 0
    cache = {(0, state)}
    # (ok ops linearized, state) -> info sets from which the search failed
    failed: dict[tuple, list[int]] = {}
    calls: list[tuple[_Entry, Hashable]] = []
    best: list[int] = []
    best_state, best_blocking, best_pending = state, None, []
    entry = head.next
    turns = 0
    while ok_left:
        turns += 1
        if deadline is not None and turns % _DEADLINE_EVERY == 0 and time.monotonic() > deadline:
            return KeyResult(None)
        if entry.match is not None:
            earlier = after[entry.id]
            if earlier < 0 or (linearized >> earlier) & 1:
                ok, new_state = step(state, entry.input, entry.output)
                if ok:
                    new_linearized = linearized | (1 << entry.id)
                    seen = (new_linearized, new_state)
                    if seen not in cache and not (
                            failed and _dominated(failed, new_linearized, new_state,
                                                  ok_mask, info_mask)):
                        cache.add(seen)
                        calls.append((entry, state))
                        state, linearized = new_state, new_linearized
                        _lift(entry)
                        if not info_mask >> entry.id & 1:
                            ok_left -= 1
                        entry = head.next
                        continue
            entry = entry.next
            continue
        # A return entry: its operation had to be placed by now and was not.
        if len(calls) > len(best) or best_blocking is None:
            best = [e.id for e, _ in calls]
            best_state, best_blocking = state, entry.id
            best_pending = _pending_before(head, entry)
        if not calls:
            return KeyResult(False, [ops[i] for i in best], best_state, ops[best_blocking],
                             [ops[i] for i in best_pending if i != best_blocking])
        if info_mask:
            # Exhausted: remember it so configurations it dominates are not searched again.
            failed.setdefault((linearized & ok_mask, state), []).append(linearized & info_mask)
        top, state = calls.pop()
        linearized &= ~(1 << top.id)
        if not info_mask >> top.id & 1:
            ok_left += 1
        _unlift(top)
        entry = top.next
    return KeyResult(True)


def _info_order(ops: list[Op], head: _Entry) -> list[int]:
    """For each info op, the previous info op with the same input (-1: none).

    Info ops with equal inputs are interchangeable (same effect, any output,
    return at infinity), so only orders that linearize them in invocation
    order need exploring. And with the exhausted-configuration check in
    _dominated this keeps many pending info ops from multiplying the search.
    """
    after = [-1] * len(ops)
    last: dict = {}
    entry = head.next
    while entry is not None:
        if entry.match is not None and ops[entry.id].status == "info":
            after[entry.id] = last.get(entry.input, -1)
            last[entry.input] = entry.id
        entry = entry.next
    return after


def _dominated(failed: dict, linearized: int, state: Hashable, ok_mask: int,
               info_mask: int) -> bool:
    """Did the search already fail from the same ok ops and state with fewer info ops placed?

    Info ops may be left out, so having placed fewer of them is never worse:
    such a failed configuration proves this one fails too.
    """
    tried = failed.get((linearized & ok_mask, state))
    if not tried:
        return False
    info = linearized & info_mask
    return any(not (earlier & ~info) for earlier in tried)


def _pending_before(head: _Entry, stop: _Entry) -> list[int]:
    """Ids of the calls still in the list before `stop`: the candidates that did not fit."""
    ids = []
    entry = head.next
    while entry is not None and entry is not stop:
        if entry.match is not None:
            ids.append(entry.id)
        entry = entry.next
    return ids
