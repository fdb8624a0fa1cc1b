"""Checking a whole history: pair, split per key, search each key, build the verdict."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Hashable, Iterable

from .explain import describe_violation
from .history import Event, Op, by_key, event_from_mapping, jsonable, pair
from .models import DEFAULT, get_model, thaw
from .wgl import DEFAULT_MEMORY_MB, KeyResult, check_ops

__all__ = ["Verdict", "Violation", "KeyReport", "check_history"]

LINEARIZABLE, NOT_LINEARIZABLE, UNKNOWN_RESULT = "linearizable", "not_linearizable", "unknown"
_SEARCH_SHARE = 0.9


@dataclass
class Violation:
    """Why one key is not linearizable: how far the search got and what it could not place."""

    key: Hashable
    linearizable_prefix: list[Op]
    unplaceable: list[Op]
    state_after_prefix: Any
    message: str

    def to_dict(self) -> dict:
        """JSON-safe form; `unplaceable[0]` is the operation that had to be placed first."""
        return {"key": jsonable(self.key),
                "message": self.message,
                "state_after_prefix": thaw(self.state_after_prefix),
                "linearizable_prefix": [op.to_dict() for op in self.linearizable_prefix],
                "unplaceable": [op.to_dict() for op in self.unplaceable]}


@dataclass
class KeyReport:
    """One key's operations and what the search made of them (the HTML picture draws these)."""

    key: Hashable
    ops: list[Op]
    result: str
    order: list[Op] = field(default_factory=list)  # the linearization, or the longest prefix
    violation: Violation | None = None
    reason: str | None = None  # why a key is unknown: "deadline", "memory" or "skipped"


@dataclass
class Verdict:
    """The checker's answer for a whole history."""

    result: str
    model: str
    keys_checked: int
    ops_checked: int
    violations: list[Violation] = field(default_factory=list)
    unknown_keys: list = field(default_factory=list)
    elapsed_ms: float = 0.0
    initial: Any = None
    unknown_reasons: dict = field(default_factory=dict)
    explored: int = 0
    reports: list[KeyReport] = field(default_factory=list)

    @property
    def linearizable(self) -> bool | None:
        """True, False, or None when a budget left a key undecided and none failed."""
        return {LINEARIZABLE: True, NOT_LINEARIZABLE: False}.get(self.result)

    def to_dict(self) -> dict:
        """JSON-safe form for `--json` and the HTTP API."""
        return {"linearizable": self.linearizable, "result": self.result,
                "model": self.model, "initial": jsonable(self.initial),
                "keys_checked": self.keys_checked,
                "ops_checked": self.ops_checked,
                "violations": [v.to_dict() for v in self.violations],
                "unknown_keys": [jsonable(k) for k in self.unknown_keys],
                "unknown_reasons": [{"key": jsonable(k), "reason": r}
                                    for k, r in self.unknown_reasons.items()],
                "explored": self.explored,
                "elapsed_ms": round(self.elapsed_ms, 3)}


def check_history(events: Iterable[Event | dict], model: str = "store",
                  timeout: float | None = None, memory_mb: float | None = DEFAULT_MEMORY_MB,
                  initial: Any = DEFAULT, stop_at_first: bool = True) -> Verdict:
    """Check invoke/ok/fail/info events (Event objects or export-shaped dicts) in real-time order.

    Keys are searched easiest first (fewest operations, then fewest info ones),
    and the check stops at the first violation unless `stop_at_first` is False.
    `timeout` (seconds) bounds the whole check and `memory_mb` each key's
    search; a key either budget stops is `unknown` with the reason. `initial`
    (a JSON value) is where every key starts instead of the model's own state.
    """
    started = time.monotonic()
    # the search aims a little short of the timeout: what follows it (freeing its cache,
    # building the answer, a busy machine's scheduling) must fit in before the deadline
    deadline = None if timeout is None else started + timeout * _SEARCH_SHARE
    chosen = get_model(model)
    chosen.init(initial)  # refuse an impossible initial state before searching
    evs = []
    for n, e in enumerate(events, 1):
        # ReplicaLab's own events carry their "index": errors name it rather than a position
        line = None if isinstance(e, dict) and "index" in e else n
        ev = e if isinstance(e, Event) else event_from_mapping(e, line, None)
        if ev is not None:
            evs.append(ev)
    groups = by_key(pair(evs))
    violations: list[Violation] = []
    unknown: dict = {}
    checked = count = explored = 0
    reports: list[KeyReport] = []
    for key in sorted(groups, key=lambda k: _difficulty(k, groups[k])):
        ops = groups[key]
        if violations and stop_at_first:
            unknown[key] = "skipped"
            reports.append(KeyReport(key, ops, UNKNOWN_RESULT, reason="skipped"))
            continue
        result = check_ops(chosen, ops, deadline, memory_mb, initial)
        explored += result.explored
        if result.linearizable is None:
            unknown[key] = result.reason
            reports.append(KeyReport(key, ops, UNKNOWN_RESULT, reason=result.reason))
            continue
        checked += 1
        count += len(ops)
        if result.linearizable:
            reports.append(KeyReport(key, ops, LINEARIZABLE, result.prefix))
        else:
            violation = _violation(chosen.name, key, result)
            violations.append(violation)
            reports.append(KeyReport(key, ops, NOT_LINEARIZABLE, result.prefix, violation))
    if violations:
        outcome = NOT_LINEARIZABLE
    else:
        outcome = UNKNOWN_RESULT if unknown else LINEARIZABLE
    shown_initial = chosen.initial if initial is DEFAULT else initial
    return Verdict(outcome, chosen.name, checked, count, violations, list(unknown),
                   (time.monotonic() - started) * 1000, shown_initial, unknown, explored,
                   reports)


def _difficulty(key: Hashable, ops: list[Op]) -> tuple:
    """Easiest first: fewer operations, then fewer info ones (each may multiply the search)."""
    return len(ops), sum(op.status == "info" for op in ops), repr(key)


def _violation(model: str, key: Hashable, result: KeyResult) -> Violation:
    """A Violation with a one-sentence explanation of the first operation that cannot fit."""
    blocking = result.blocking
    assert blocking is not None  # a violation always has the operation that could not be placed
    unplaceable = [blocking] + [op for op in result.pending if op.status == "ok"]
    message = describe_violation(model, key, result.prefix, result.state, blocking)
    return Violation(key, result.prefix, unplaceable, result.state, message)
