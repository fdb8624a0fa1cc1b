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
import sys
import time
from dataclasses import dataclass, field
from typing import Any, Hashable

from .history import Op
from .models import DEFAULT, Model

__all__ = ["KeyResult", "check_ops", "DEFAULT_MEMORY_MB"]

_CHECK_EVERY = 256        # loop turns between clock and memory checks: a few ms at most
DEFAULT_MEMORY_MB = 300   # what one key's search may hold before its answer is unknown
# Freeing the cache takes time too (about 0.4-0.6 us an entry on a busy 2-core machine): the
# search stops early enough that freeing it still ends before the deadline.
_FREE_S_PER_ENTRY = 6e-7


@dataclass
class KeyResult:
    """The verdict on one key; on a violation, the deepest partial linearization found."""

    linearizable: bool | None  # None: a budget ran out first (see reason)
    prefix: list[Op] = field(default_factory=list)  # the whole order when linearizable
    state: Hashable = None
    blocking: Op | None = None
    pending: list[Op] = field(default_factory=list)
    reason: str | None = None  # "deadline" or "memory" when linearizable is None
    explored: int = 0          # search steps taken (for nodes per second)


class _Entry:
    """A call (match = its return entry) or a return (match = None) in the list."""

    __slots__ = ("id", "input", "output", "match", "prev", "next", "bit", "info", "need")

    def __init__(self, id_, input_=None, output=None, match=None):
        self.id = id_
        self.input = input_
        self.output = output
        self.match = match
        self.prev: Any = None  # an _Entry; None only past the ends
        self.next: Any = None
        self.bit = 0        # its bit in the ok set, or in the info set when `info`
        self.info = False   # outcome unknown: it may be left out
        self.need = 0       # info-set bit of the equal info op that must be placed first


def _build(model: Model, ops: list[Op]) -> _Entry:
    """The linked list of entries in real-time order, behind a head sentinel."""
    order: list[tuple] = []
    entries: list[_Entry] = []
    for i, op in enumerate(ops):
        op_input, output = model.prepare(op)
        ret = _Entry(i)
        call = _Entry(i, op_input, output, ret)
        order.append((op.call, 0, i, len(entries)))
        entries.append(call)
        # Unknown completions (info) all sit at the end, after every known event.
        order.append((op.ret, 1, i, len(entries)))
        entries.append(ret)
    order.sort()
    head = _Entry(-1)
    last = head
    for *_, at in order:
        entry = entries[at]
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


def check_ops(model: Model, ops: list[Op], deadline: float | None = None,
              memory_mb: float | None = DEFAULT_MEMORY_MB, initial: Any = DEFAULT) -> KeyResult:
    """Is this one key's history linearizable under `model`?

    `deadline` is a time.monotonic() instant; `memory_mb` bounds what the
    search's caches may hold (an estimate of their bytes, checked with the
    clock); `initial` is a JSON value for the model's starting state.
    """
    if not ops:
        return KeyResult(True)
    # gc would walk the cache's millions of objects again and again for nothing
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        return _Search(model, ops, deadline, memory_mb, initial).run()
    finally:
        if was_enabled:
            gc.enable()


class _Failed:
    """Exhausted configurations: (ok ops placed, state) -> the info sets it failed with.

    Info ops may be left out, so having placed fewer of them is never worse: a
    failed configuration proves that every one with the same ok ops and state
    and a superset of its info ops fails too. Each entry keeps only the minimal
    info sets (an antichain) and at most WIDTH of them, so a question costs a
    dict lookup and a few mask tests; this index replaces the linear scan over
    every failure ever recorded there.
    """

    __slots__ = ("sets", "count")
    WIDTH = 8  # minimal sets kept per configuration: past that, scanning costs more than it saves

    def __init__(self):
        self.sets: dict[tuple, list[int]] = {}
        self.count = 0

    def add(self, where: tuple, info: int) -> None:
        """Record that the search failed from `where` with the info ops `info` placed."""
        tried = self.sets.get(where)
        if tried is None:
            self.sets[where] = [info]
            self.count += 1
            return
        kept = [t for t in tried if t & ~info]  # drop the supersets this one dominates
        if len(kept) >= self.WIDTH:
            return  # forgetting a failure is sound: the search only prunes less
        kept.append(info)
        self.count += len(kept) - len(tried)
        self.sets[where] = kept

    def dominates(self, where: tuple, info: int) -> bool:
        """Did the search already fail from `where` with a subset of `info` placed?"""
        tried = self.sets.get(where)
        if not tried:
            return False
        return any(not earlier & ~info for earlier in tried)


class _Search:
    """One key's Wing & Gong search with its caches and budgets."""

    def __init__(self, model: Model, ops: list[Op], deadline: float | None,
                 memory_mb: float | None, initial: Any):
        self.model, self.ops, self.deadline = model, ops, deadline
        self.initial = model.init(initial)
        self.head = _build(model, ops)
        self.entry_bytes = 0  # the largest cost of one cache entry seen so far (sampled)
        self.budget = None if memory_mb is None else memory_mb * 1024 * 1024
        self.states: dict[Hashable, int] = {}
        self.state_bytes = 0

    def state_id(self, state: Hashable) -> int:
        """A small number for a state: cache keys hold it, so a big state is stored once."""
        sid = self.states.get(state)
        if sid is None:
            sid = self.states[state] = len(self.states)
            self.state_bytes += sys.getsizeof(state) + 100
        return sid

    def over_budget(self, cache_size: int, failed: _Failed, key: tuple) -> str | None:
        """'deadline' or 'memory' when a budget has run out, else None.

        Memory is estimated from the size of the current cache key (its tuple,
        its `high` int, a set slot; the other ints are shared between keys), the
        largest seen so far, times the entries held.
        """
        entries = cache_size + failed.count
        if self.deadline is not None and \
                time.monotonic() + entries * _FREE_S_PER_ENTRY > self.deadline:
            return "deadline"
        if self.budget is not None:
            cost = sys.getsizeof(key) + sys.getsizeof(key[1]) + 40
            self.entry_bytes = max(self.entry_bytes, cost)
            used = (entries + failed.count) * self.entry_bytes + self.state_bytes
            if used > self.budget:
                return "memory"
        return None

    def run(self) -> KeyResult:
        """The Wing & Gong loop; see the module docstring and _info_order for the pruning."""
        self.cache: set = set()
        self.failed = _Failed()
        try:
            return self._loop()
        except MemoryError:
            return KeyResult(None, reason="memory")
        finally:
            # One by one rather than in one C call: a server's other threads get the
            # interpreter between entries instead of waiting for millions of them.
            pop = self.cache.pop
            while self.cache:
                pop()
            self.failed.sets.clear()

    def _number(self) -> int:
        """Number ok ops and info ops apart, in call order; returns the ok count.

        An ok op's `bit` is its number; an info op's is its bit in the info set.
        """
        after = _info_order(self.ops, self.head)
        counts = [0, 0]
        calls = {}
        entry = self.head.next
        while entry is not None:
            if entry.match is not None:
                entry.info = self.ops[entry.id].status == "info"
                entry.bit = (1 << counts[1]) if entry.info else counts[0]
                counts[entry.info] += 1
                calls[entry.id] = entry
            entry = entry.next
        for op_id, earlier in enumerate(after):
            if earlier >= 0:
                calls[op_id].need = calls[earlier].bit
        return counts[0]

    def _loop(self) -> KeyResult:
        """The search. The set of ok ops placed is kept compact, as (low, high).

        Ops are numbered in call order and the search places them roughly in
        that order, so the set is "all of 0..low-1" plus a few bits of `high`
        above low (bit j: op low+j): small ints rather than one bit per op of
        the history, in the cache key and in every step.
        """
        ops, head = self.ops, self.head
        ok_left = self._number()
        step, states, state_id = self.model.step, self.states, self.state_id
        state = self.initial
        sid = state_id(state)
        low = high = info_set = 0
        cache, failed = self.cache, self.failed
        cache.add((0, 0, 0, sid))
        calls: list[tuple[_Entry, Hashable, int]] = []
        best: list[tuple[_Entry, Hashable, int]] = []
        best_state, best_blocking, best_pending = state, None, []
        has_info = any(op.status == "info" for op in ops)
        entry = head.next
        turns = 0
        while ok_left:
            turns += 1
            if turns % _CHECK_EVERY == 1:  # the first turn too: a spent budget stops at once
                reason = self.over_budget(len(cache), failed, (low, high, info_set, sid))
                if reason:
                    return KeyResult(None, reason=reason, explored=turns)
            if entry.match is not None:
                if not entry.need or info_set & entry.need:
                    ok, new_state = step(state, entry.input, entry.output)
                    if ok:
                        new_sid = states.get(new_state)
                        if new_sid is None:
                            new_sid = state_id(new_state)
                        new_low, new_high, new_info = low, high, info_set
                        if entry.info:
                            new_info |= entry.bit
                        elif entry.bit == low:
                            new_low, new_high = low + 1, high >> 1
                            while new_high & 1:
                                new_low, new_high = new_low + 1, new_high >> 1
                        else:
                            new_high |= 1 << (entry.bit - low)
                        seen = (new_low, new_high, new_info, new_sid)
                        if seen not in cache and not (failed.count and failed.dominates(
                                (new_low, new_high, new_sid), new_info)):
                            cache.add(seen)
                            calls.append((entry, state, sid))
                            state, sid = new_state, new_sid
                            low, high, info_set = new_low, new_high, new_info
                            _lift(entry)
                            if not entry.info:
                                ok_left -= 1
                            entry = head.next
                            continue
                entry = entry.next
                continue
            # A return entry: its operation had to be placed by now and was not.
            if len(calls) > len(best) or best_blocking is None:
                best = calls[:]  # a shallow copy is cheap; ids are read once, at the end
                best_state, best_blocking = state, entry.id
                best_pending = _pending_before(head, entry)
            if not calls:
                return KeyResult(False, [ops[e.id] for e, _, _ in best], best_state,
                                 ops[best_blocking],
                                 [ops[i] for i in best_pending if i != best_blocking],
                                 explored=turns)
            if has_info:
                # Exhausted: remember it so configurations it dominates are not searched again.
                failed.add((low, high, sid), info_set)
            top, state, sid = calls.pop()
            if top.info:
                info_set &= ~top.bit
            elif top.bit >= low:
                high &= ~(1 << (top.bit - low))
            else:  # it was inside the full run: the run now ends just before it
                gap = low - top.bit
                low, high = top.bit, (high << gap) | ((1 << gap) - 2)
            if not top.info:
                ok_left += 1
            _unlift(top)
            entry = top.next
        return KeyResult(True, [ops[e.id] for e, _, _ in calls], state, explored=turns)


def _info_order(ops: list[Op], head: _Entry) -> list[int]:
    """For each info op, the previous info op with the same input (-1: none).

    Info ops with equal inputs are interchangeable (same effect, any output,
    return at infinity), so only orders that linearize them in invocation
    order need exploring. And with the exhausted-configuration index
    (_Failed) this keeps many pending info ops from multiplying the search.
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


def _pending_before(head: _Entry, stop: _Entry) -> list[int]:
    """Ids of the calls still in the list before `stop`: the candidates that did not fit."""
    ids = []
    entry = head.next
    while entry is not None and entry is not stop:
        if entry.match is not None:
            ids.append(entry.id)
        entry = entry.next
    return ids
