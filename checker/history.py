"""Histories: invocation/completion events, pairing them into operations, splitting per key.

An event is one line of a history (`invoke`, `ok`, `fail` or `info`). Pairing
matches each invocation with its process's next completion and decides what
the operation means for the search:

* `ok`: it happened between invocation and completion.
* `fail`: it certainly did not happen and says nothing else (Jepsen, Knossos):
  it is dropped, whatever its kind. One exception is written in the history
  itself: a `cas` completion that carries `observed` (ReplicaLab's export of an
  HTTP 409, "compared and saw another value") happened, so it becomes an `ok`
  cas whose output is False. Jepsen histories never carry it.
* `info` (or no completion at all): unknown. A read constrains nothing and is
  dropped; any other operation may take effect at any point after its
  invocation or never, so its return is +infinity and its output UNKNOWN.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Hashable, Iterable

from wording import agrees

__all__ = ["UNKNOWN", "HistoryError", "Event", "Op", "READS", "RETURNS", "pair", "by_key",
           "event_from_mapping", "jsonable", "where"]

TYPES = ("invoke", "ok", "fail", "info")
READS = frozenset({"read", "get"})          # no effect: an info one is dropped
RETURNS = READS | frozenset({"dequeue"})    # the completion's value is the output


class _Unknown:
    """The output of an operation whose outcome nobody saw."""

    def __repr__(self) -> str:
        return "UNKNOWN"


UNKNOWN = _Unknown()


class HistoryError(ValueError):
    """A history that cannot be read; names the line (or the history's own index) and shows it."""

    def __init__(self, message: str, line: int | None = None, text: str | None = None,
                 index: int | None = None):
        super().__init__(f"{where(line, index, ': ')}{message}"
                         f"{chr(10) + '    ' + text.strip()[:300] if text else ''}")
        self.line = line
        self.text = text
        self.reason = message


def where(line: int | None, index: int | None, after: str = "") -> str:
    """'history index 3' when the history numbers its operations (ReplicaLab's), else 'line 5'."""
    if index is not None:
        return f"history index {index}{after}"
    return f"line {line}{after}" if line is not None else ""


@dataclass
class Event:
    """One history line: a process invoking or completing an operation."""

    process: Hashable
    type: str
    f: str
    value: Any = None
    key: Hashable = None
    time: float | None = None
    line: int | None = None
    observed: bool = False  # a fail cas that compared and saw another value (ReplicaLab's 409)
    index: int | None = None  # the history's own number for the operation (ReplicaLab's "index")

    def to_dict(self) -> dict:
        """The event in ReplicaLab's JSON export shape."""
        out = {"process": self.process, "type": self.type, "f": self.f,
               "key": self.key, "value": jsonable(self.value)}
        if self.time is not None:
            out["time"] = self.time
        return out


@dataclass
class Op:
    """A paired operation ready for the search.

    `call`/`ret` order it in real time: the events' times when the history has
    them, their positions otherwise; `ret` is +inf when the outcome is unknown.
    """

    id: int
    process: Hashable
    f: str
    key: Hashable
    value: Any
    output: Any
    status: str
    call: float
    ret: float
    invoke_time: float | None = None
    complete_time: float | None = None
    line: int | None = None
    index: int | None = None

    def to_dict(self) -> dict:
        """A JSON-safe description of the operation for verdicts."""
        return {
            "process": self.process, "f": self.f, "key": self.key,
            "value": jsonable(self.value),
            "output": None if self.output is UNKNOWN else jsonable(self.output),
            "status": self.status,
            "call": self.call,
            "ret": None if math.isinf(self.ret) else self.ret,
            "invoke_time": self.invoke_time, "complete_time": self.complete_time,
            "line": self.line, "index": self.index,
        }


def jsonable(value):
    """Turn EDN sets and tuples into lists so json.dumps accepts the value."""
    if isinstance(value, (list, tuple, set, frozenset)):
        items = [jsonable(v) for v in value]
        return sorted(items, key=repr) if isinstance(value, (set, frozenset)) else items
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    return value


def event_from_mapping(m: dict, line: int | None = None, text: str | None = None,
                       independent: bool = False) -> Event | None:
    """Build an event from a JSON object or EDN map; None for nemesis lines."""
    if not isinstance(m, dict):
        raise HistoryError("expected an object/map for each operation", line, text)
    missing = [k for k in ("process", "type", "f") if k not in m]
    if missing:
        raise HistoryError(f"missing {agrees(len(missing), 'field', 'fields')}: {', '.join(missing)}", line, text)
    index = m.get("index")
    index = index if isinstance(index, int) and not isinstance(index, bool) else None
    process = m["process"]
    if str(process) == "nemesis":
        return None  # fault injection, not a client operation
    kind = str(m["type"])
    if kind not in TYPES:
        raise HistoryError(f"type must be one of {', '.join(TYPES)}, not {kind!r}", line, text, index)
    if isinstance(process, bool) or not isinstance(process, (int, str)):
        # true == 1 in Python: a bool or float process would be paired with another process's ops
        raise HistoryError("process must be a whole number or a name (a string)", line, text, index)
    value, key = m.get("value"), m.get("key")
    if independent:
        # jepsen.independent wraps every value as a [key value] tuple
        if not (isinstance(value, (list, tuple)) and len(value) == 2):
            raise HistoryError("--independent expects values of the form [key value]", line, text, index)
        key, value = value
    key = _key(key, line, text, index)
    time = m.get("time")
    if time is not None and not _finite(time):
        raise HistoryError("time must be a finite number (milliseconds)", line, text, index)
    observed = kind == "fail" and "observed" in m
    return Event(process, kind, str(m["f"]), value, key, time, line, observed, index)


def _scalar_key(part) -> bool:
    """A string or a finite number (not true/false, which Python would equal 1 and 0)."""
    return isinstance(part, str) or _finite(part)


def _finite(number) -> bool:
    """An int or float (not a bool) that is a finite float too (4,000 digits are not)."""
    if isinstance(number, bool) or not isinstance(number, (int, float)):
        return False
    try:
        return math.isfinite(float(number))
    except OverflowError:
        return False


def _key(key, line: int | None, text: str | None, index: int | None) -> Hashable:
    """The key as the search groups it: None, a string, a number, or a tuple of those."""
    if key is None or _scalar_key(key):
        return key
    if isinstance(key, (list, tuple)) and all(_scalar_key(part) for part in key):
        return tuple(key)
    raise HistoryError("a key must be a string, a number, or a list of those", line, text, index)


def pair(events: Iterable[Event]) -> list[Op]:
    """Match invocations with completions per process; return the operations to check.

    Real-time order comes from the events' `time` when every event has one (ties
    count as overlapping, so a coarse clock never invents a violation), and
    from their order in the history otherwise.
    """
    events = list(events)
    use_time = bool(events) and all(ev.time is not None for ev in events)
    ops: list[Op] = []
    pending: dict[Hashable, tuple[float, Event]] = {}
    for position, ev in enumerate(events):
        when: float = ev.time if use_time and ev.time is not None else position
        if ev.type == "invoke":
            if ev.process in pending:
                raise HistoryError(f"process {ev.process!r} invokes again before its "
                                   f"previous operation completed", ev.line, index=ev.index)
            pending[ev.process] = (when, ev)
            continue
        if ev.process not in pending:
            raise HistoryError(f"process {ev.process!r} completes an operation it never "
                               f"invoked", ev.line, index=ev.index)
        call, inv = pending.pop(ev.process)
        if inv.f != ev.f:
            raise HistoryError(f"process {ev.process!r} invoked {inv.f} but completed "
                               f"{ev.f}", ev.line, index=ev.index)
        if when < call:
            raise HistoryError(f"process {ev.process!r} completes its {ev.f} at time {ev.time}, "
                               f"before it invoked it (time {inv.time}); a completion comes after "
                               f"its invocation", ev.line, index=ev.index)
        op = _complete(inv, call, ev, when)
        if op is not None:
            ops.append(op)
    for call, inv in pending.values():
        # Never completed: exactly like an info completion.
        op = _complete(inv, call, Event(inv.process, "info", inv.f, None, inv.key), math.inf)
        if op is not None:
            ops.append(op)
    ops.sort(key=lambda o: o.call)
    for i, op in enumerate(ops):
        op.id = i
    return ops


def _complete(inv: Event, call: float, done: Event, ret: float) -> Op | None:
    """The operation an invocation and its completion stand for, or None to drop it."""
    f, kind = inv.f, done.type
    if kind == "fail" and not (f == "cas" and done.observed):
        return None
    if kind == "info" and f in READS:
        return None
    value = inv.value if inv.value is not None else done.value
    if f in RETURNS:
        value, output = None, UNKNOWN if kind == "info" else done.value
    elif f == "cas":
        output = {"ok": True, "fail": False, "info": UNKNOWN}[kind]
    else:
        output = UNKNOWN if kind == "info" else None
    key = inv.key if inv.key is not None else done.key
    unknown = kind == "info"
    return Op(0, inv.process, f, key, value, output, "info" if unknown else "ok",
              call, math.inf if unknown else ret, inv.time,
              None if unknown else done.time, inv.line, inv.index)


def by_key(ops: Iterable[Op]) -> dict[Hashable, list[Op]]:
    """Split operations per key (P-compositionality: each key is checked on its own)."""
    groups: dict[Hashable, list[Op]] = {}
    for op in ops:
        groups.setdefault(op.key, []).append(op)
    return groups
