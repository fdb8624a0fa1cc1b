"""Checking a whole history: pair, split per key, search each key, build the verdict."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Hashable, Iterable

from .explain import describe_violation
from .history import Event, Op, by_key, event_from_mapping, jsonable, pair
from .models import get_model, thaw
from .wgl import KeyResult, check_ops

__all__ = ["Verdict", "Violation", "check_history"]

LINEARIZABLE, NOT_LINEARIZABLE, UNKNOWN_RESULT = "linearizable", "not_linearizable", "unknown"


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
class Verdict:
    """The checker's answer for a whole history."""

    result: str
    model: str
    keys_checked: int
    ops_checked: int
    violations: list[Violation] = field(default_factory=list)
    unknown_keys: list = field(default_factory=list)
    elapsed_ms: float = 0.0

    @property
    def linearizable(self) -> bool | None:
        """True, False, or None when the timeout left a key undecided and none failed."""
        return {LINEARIZABLE: True, NOT_LINEARIZABLE: False}.get(self.result)

    def to_dict(self) -> dict:
        """JSON-safe form for `--json` and the HTTP API."""
        return {"linearizable": self.linearizable, "result": self.result,
                "model": self.model, "keys_checked": self.keys_checked,
                "ops_checked": self.ops_checked,
                "violations": [v.to_dict() for v in self.violations],
                "unknown_keys": [jsonable(k) for k in self.unknown_keys],
                "elapsed_ms": round(self.elapsed_ms, 3)}


def check_history(events: Iterable[Event | dict], model: str = "store",
                  timeout: float | None = None) -> Verdict:
    """Check invoke/ok/fail/info events (Event objects or export-shaped dicts) in real-time order."""
    started = time.monotonic()
    deadline = None if timeout is None else started + timeout
    chosen = get_model(model)
    evs = []
    for n, e in enumerate(events, 1):
        ev = e if isinstance(e, Event) else event_from_mapping(e, n, None)
        if ev is not None:
            evs.append(ev)
    groups = by_key(pair(evs))
    violations, unknown, checked, count = [], [], 0, 0
    for key in sorted(groups, key=repr):
        ops = groups[key]
        result = check_ops(chosen, ops, deadline)
        if result.linearizable is None:
            unknown.append(key)
            continue
        checked += 1
        count += len(ops)
        if not result.linearizable:
            violations.append(_violation(chosen.name, key, result))
    if violations:
        outcome = NOT_LINEARIZABLE
    else:
        outcome = UNKNOWN_RESULT if unknown else LINEARIZABLE
    return Verdict(outcome, chosen.name, checked, count, violations, unknown,
                   (time.monotonic() - started) * 1000)


def _violation(model: str, key: Hashable, result: KeyResult) -> Violation:
    """A Violation with a one-sentence explanation of the first operation that cannot fit."""
    blocking = result.blocking
    unplaceable = [blocking] + [op for op in result.pending if op.status == "ok"]
    message = describe_violation(model, key, result.prefix, result.state, blocking)
    return Violation(key, result.prefix, unplaceable, result.state, message)
