"""Reading histories: Jepsen EDN, jepsen.util log lines, ReplicaLab's JSON export.

Every reader returns Events in the order of the file and raises HistoryError
naming the line that could not be read.
"""
from __future__ import annotations

import bisect
import json
import math
import re

from .edn import MAX_DIGITS, EDNError, read_form, skip_space
from .history import TYPES, Event, HistoryError, event_from_mapping

__all__ = ["FORMATS", "MAX_DEPTH", "detect_format", "load_json", "parse_history", "parse_document"]

FORMATS = ("edn", "jepsen-log", "json")
# A value may nest 32 levels (the store's own limit), inside an event, a list and a document.
MAX_DEPTH = 35
_BLANKS = re.compile(r"[\t ]+")
_WORD = re.compile(r"\w+")
_WHOLE = re.compile(r"-?\d+")


def detect_format(text: str) -> str:
    """Guess the format from the first characters; HistoryError when it cannot tell."""
    body = text.lstrip("\ufeff \t\r\n")
    if not body:
        raise HistoryError("the history is empty")
    if "jepsen.util" in body[:2000]:
        return "jepsen-log"
    head = re.sub(r"\s+", "", body[:200])
    if head.startswith(("[{\"", "{\"", "[]")):
        return "json"
    if head[0] in "{[(#;":
        return "edn"
    raise HistoryError("cannot tell the format (expected JSON, EDN maps or jepsen.util log "
                       "lines); choose one with --format", 1, body.splitlines()[0][:300])


def parse_history(text: str, fmt: str | None = None, independent: bool = False) -> list[Event]:
    """Events from a history in any supported format (`fmt` None: detect it)."""
    return parse_document(text, fmt, independent)[0]


def parse_document(text: str, fmt: str | None = None,
                   independent: bool = False) -> tuple[list[Event], dict]:
    """Events plus what the document says about itself (`model`, `initial`).

    Only the JSON object form `{"history": [...], "model": ..., "initial": ...}`
    carries such fields; EDN and log lines leave them to the command line.
    """
    fmt = fmt or detect_format(text)
    if fmt == "json" and text.lstrip("\ufeff \t\r\n").startswith("{"):
        try:
            whole = load_json(text.lstrip("\ufeff"))
        except json.JSONDecodeError:
            whole = None  # JSON lines: one object per line
        if isinstance(whole, dict) and "history" in whole:
            return _read_document(whole, independent)
    return _parse(text, fmt, independent), {}


def load_json(text: str):
    """json.loads under the rules every input meets: finite numbers of at most MAX_DIGITS
    digits, valid Unicode, at most MAX_DEPTH levels. HistoryError names the rule broken;
    json.JSONDecodeError is left for the caller to place."""
    try:
        data = json.loads(text, parse_constant=_refuse_constant, parse_float=_finite_float,
                          parse_int=_short_int)
    except RecursionError:
        raise HistoryError(f"it nests lists or objects too deeply (at most {MAX_DEPTH} levels)") from None
    stack = [(data, 1)]
    while stack:  # iterative: a hostile depth must not cost us our own stack
        item, depth = stack.pop()
        if isinstance(item, (dict, list)):
            if depth > MAX_DEPTH:
                raise HistoryError(f"it nests lists or objects more than {MAX_DEPTH} levels deep")
            children = list(item.items()) if isinstance(item, dict) else [(None, v) for v in item]
            for name, child in children:
                if name is not None:
                    _unicode(name)
                stack.append((child, depth + 1))
        elif isinstance(item, str):
            _unicode(item)
    return data


def _unicode(text: str) -> None:
    """Refuse a lone surrogate (half of a UTF-16 pair), which no UTF-8 answer can hold."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as err:
        raise HistoryError(f"a string holds a lone surrogate (\\u{ord(text[err.start]):04x}), half "
                           f"of a UTF-16 pair: send the whole character") from None


def _refuse_constant(name: str):
    raise HistoryError(f"{name} is not a number JSON can carry: send a finite number or a string")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise HistoryError(f"the number {text[:40]} is too large to be a finite number")
    return value


def _short_int(text: str) -> int:
    digits = len(text.lstrip("-"))
    if digits > MAX_DIGITS:
        raise HistoryError(f"a number with {digits} digits is too long (at most {MAX_DIGITS}); "
                           f"send it as a string")
    return int(text)


def _read_document(whole: dict, independent: bool) -> tuple[list[Event], dict]:
    """The events of a `{"history": [...]}` object and its `model` / `initial` fields."""
    items = whole["history"]
    if not isinstance(items, list):
        raise HistoryError('"history" must be a list of events')
    events: list[Event] = []
    for item in items:
        _keep(events, event_from_mapping(item, None, None, independent))
    meta = {k: whole[k] for k in ("model", "initial") if k in whole}
    if "model" in meta and not isinstance(meta["model"], str):
        raise HistoryError('"model" must be the name of a model, e.g. "store"')
    return events, meta


def _parse(text: str, fmt: str, independent: bool) -> list[Event]:
    """Events from a list-shaped history in `fmt`."""
    if fmt == "json":
        return _read_json(text, independent)
    if fmt == "edn":
        return _read_edn(text, independent)
    if fmt == "jepsen-log":
        return _read_log(text, independent)
    raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")


def _keep(events: list, ev: Event | None) -> None:
    """Append an event unless it was a nemesis line (None)."""
    if ev is not None:
        events.append(ev)


def _read_json(text: str, independent: bool) -> list[Event]:
    """A JSON array of objects, or one object per line (JSON lines)."""
    lines = text.splitlines()
    events: list[Event] = []
    if text.lstrip("\ufeff \t\r\n").startswith("["):
        try:
            items = load_json(text.lstrip("\ufeff"))
        except json.JSONDecodeError as err:
            raise HistoryError(f"invalid JSON: {err.msg}", err.lineno,
                               _line(lines, err.lineno)) from None
        # json does not say where each item was; the array is usually one object per line
        starts = [n for n, ln in enumerate(lines, 1) if ln.lstrip().lstrip("[").startswith("{")]
        for i, item in enumerate(items):
            n = starts[i] if len(starts) == len(items) else None
            _keep(events, event_from_mapping(item, n, _line(lines, n), independent))
        return events
    for n, ln in enumerate(lines, 1):
        if not ln.strip():
            continue
        try:
            item = load_json(ln.lstrip("\ufeff"))
        except json.JSONDecodeError as err:
            raise HistoryError(f"invalid JSON: {err.msg}", n, ln) from None
        except HistoryError as err:
            raise HistoryError(err.reason, n, ln) from None
        _keep(events, event_from_mapping(item, n, ln, independent))
    return events


def _read_edn(text: str, independent: bool) -> list[Event]:
    """EDN maps one after another, possibly wrapped in one vector or list."""
    newlines = [i for i, c in enumerate(text) if c == "\n"]
    lines = text.splitlines()

    def line_of(pos: int) -> int:
        return bisect.bisect_left(newlines, pos) + 1

    events: list[Event] = []
    pos = skip_space(text, 0)
    closer = None
    if pos < len(text) and text[pos] in "[(":
        closer = "]" if text[pos] == "[" else ")"
        pos += 1
    while True:
        pos = skip_space(text, pos)
        if pos >= len(text):
            if closer:
                raise HistoryError(f"missing '{closer}' at the end", line_of(pos - 1),
                                   _line(lines, line_of(pos - 1)))
            return events
        if closer and text[pos] == closer:
            return events
        n = line_of(pos)
        try:
            form, pos = read_form(text, pos)
        except EDNError as err:
            bad = line_of(err.pos)
            raise HistoryError(f"invalid EDN: {err}", bad, _line(lines, bad)) from None
        _keep(events, event_from_mapping(form, n, _line(lines, n), independent))


def _read_log(text: str, independent: bool) -> list[Event]:
    """`jepsen.util` lines (process, type, f, value, tab-separated); other lines are skipped."""
    events: list[Event] = []
    for n, ln in enumerate(text.splitlines(), 1):
        if "jepsen.util" not in ln:
            continue
        fields = _log_fields(ln)
        if fields is None:
            if "\t" in ln.split("jepsen.util", 1)[1]:
                raise HistoryError("a jepsen.util line without process, :type, :f and value",
                                   n, ln)
            continue  # jepsen.util also logs prose, which is not an operation
        process, kind, f, rest = fields
        if kind not in TYPES:
            raise HistoryError(f"type must be one of {', '.join(TYPES)}, not :{kind}", n, ln)
        value = None
        if rest and rest.strip():
            try:
                value, _ = read_form(rest, 0)  # anything after the value is an error note
            except EDNError as err:
                raise HistoryError(f"invalid value: {err}", n, ln) from None
        if _WHOLE.fullmatch(process) and len(process) > MAX_DIGITS:
            raise HistoryError(f"a process number of {len(process)} digits is too long", n, ln)
        who: int | str = int(process) if _WHOLE.fullmatch(process) else process.lstrip(":")
        mapping = {"process": who, "type": kind, "f": f, "value": value}
        _keep(events, event_from_mapping(mapping, n, ln, independent))
    if not events:
        raise HistoryError("no jepsen.util operation lines found")
    return events


def _log_fields(ln: str) -> tuple[str, str, str, str | None] | None:
    """(process, type, f, rest) of "jepsen.util - 3\t:invoke\t:cas\t[1 4]", or None for prose.

    Read left to right in linear time: a backtracking regex took seconds on a long line.
    """
    after = ln.split("jepsen.util", 1)[1]
    start = 0
    while start < len(after) and not after[start].isspace():
        start += 1  # "jepsen.util:" or a logger suffix
    after = after[start:].strip()
    if after[:1] in ("-", ":"):
        after = after[1:].lstrip()
    parts = _BLANKS.split(after, maxsplit=3)
    if len(parts) < 3 or any(not part or any(c.isspace() for c in part) for part in parts[:3]):
        return None
    process, kind, f = parts[:3]
    if not (kind.startswith(":") and _WORD.fullmatch(kind[1:]) and f.startswith(":") and len(f) > 1):
        return None
    return process, kind[1:], f[1:], parts[3] if len(parts) > 3 else None


def _line(lines: list[str], n: int | None) -> str | None:
    """The text of line n (1-based), or None."""
    if n is None or not 1 <= n <= len(lines):
        return None
    return lines[n - 1]
