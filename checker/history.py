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
           "event_from_mapping", "jsonable"]

TYPES = ("invoke", "ok", "fail", "info")
READS = frozenset({"read", "get"})          # no effect: an info one is dropped
RETURNS = READS | frozenset({"dequeue"})    # the completion's value is the output


class _Unknown:
    """The output of an operation whose outcome nobody saw."""

    def __repr__(self) -> str:
        return "UNKNOWN"


UNKNOWN = _Unknown()


class HistoryError(ValueError):
    """A history that cannot be read; names the line and shows it."""

    def __init__(self, message: str, line: int | None = None, text: str | None = None):
        where = f"line {line}: " if line is not None else ""
        shown = f"\n    {text.strip()[:300]}" if text else ""
        super().__init__(f"{where}{message}{shown}")
        self.line = line
        self.text = text
        self.reason = message


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
            "line": self.line,
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
    process = m["process"]
    if str(process) == "nemesis":
        return None  # fault injection, not a client operation
    kind = str(m["type"])
    if kind not in TYPES:
        raise HistoryError(f"type must be one of {', '.join(TYPES)}, not {kind!r}", line, text)
    try:
        hash(process)
    except TypeError:
        raise HistoryError("process must be a number or a name", line, text) from None
    value, key = m.get("value"), m.get("key")
    if independent:
        # jepsen.independent wraps every value as a [key value] tuple
        if not (isinstance(value, (list, tuple)) and len(value) == 2):
            raise HistoryError("--independent expects values of the form [key value]", line, text)
        key, value = value
    if isinstance(key, list):
        key = tuple(key)
    time = m.get("time")
    if time is not None and not isinstance(time, (int, float)):
        raise HistoryError("time must be a number", line, text)
    observed = kind == "fail" and "observed" in m
    return Event(process, kind, str(m["f"]), value, key, time, line, observed)


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
                                   f"previous operation completed", ev.line)
            pending[ev.process] = (when, ev)
            continue
        if ev.process not in pending:
            raise HistoryError(f"process {ev.process!r} completes an operation it never "
                               f"invoked", ev.line)
        call, inv = pending.pop(ev.process)
        if inv.f != ev.f:
            raise HistoryError(f"process {ev.process!r} invoked {inv.f} but completed "
                               f"{ev.f}", ev.line)
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
              None if unknown else done.time, inv.line)


def by_key(ops: Iterable[Op]) -> dict[Hashable, list[Op]]:
    """Split operations per key (P-compositionality: each key is checked on its own)."""
    groups: dict[Hashable, list[Op]] = {}
    for op in ops:
        groups.setdefault(op.key, []).append(op)
    return groups
