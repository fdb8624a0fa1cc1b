"""Plain data: versions, records, Paxos ballots and events.

The node-to-node messages live in cluster/messages.py, their JSON wire format
in cluster/codec.py.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Callable, Dict, Optional, Tuple, Union


def node_name(node_id: int) -> str:
    """Return the display name of a node id: 2 -> 'node-2'."""
    return f"node-{node_id}"


def node_id_of(name: str) -> int:
    """Return the node id in a display name: 'node-2' -> 2."""
    return int(name.rsplit("-", 1)[1])


MAX_NODE_DIGITS = 6  # no cluster has a million nodes; int() of 5,000 digits would raise, not answer


def node_ref(value) -> Optional[int]:
    """The node id a client means by 2, "2" or "node-2"; None if the value names no node.

    Longer than MAX_NODE_DIGITS digits names no node either (so a hostile id is a 400, never a 500).
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if abs(value) < 10 ** MAX_NODE_DIGITS else None
    if isinstance(value, str):
        text = value[5:] if value.startswith("node-") else value
        if text.isascii() and text.isdigit() and len(text) <= MAX_NODE_DIGITS:
            return int(text)
    return None


def shown(value, limit: int = 40) -> str:
    """repr(value), cut to `limit` characters: an error message may quote what a client sent, not all of it."""
    if isinstance(value, int) and abs(value) >= 10 ** limit:  # str() of a huge int is slow, past 4,300 digits an error
        return f"a number of about {int(value.bit_length() * 0.30103) + 1} digits"
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


@dataclass(frozen=True, order=True, slots=True)  # slots: every record and lazy event holds one
class Version:
    """Last-writer-wins version: a node-clock timestamp, ties broken by node id."""

    timestamp: int
    node: int

    def to_dict(self) -> dict:
        """Return the JSON form a student sees: both fields plus 'ts@node-N'."""
        return {"timestamp": self.timestamp, "node": node_name(self.node), "text": str(self)}

    @classmethod
    def from_dict(cls, data: dict) -> Version:
        """Rebuild a Version from its stored form (node given as id or name)."""
        node = data["node"]
        if isinstance(node, str):
            node = node_id_of(node)
        return cls(int(data["timestamp"]), int(node))

    def __str__(self) -> str:
        return f"{self.timestamp}@{node_name(self.node)}"


@dataclass(frozen=True)
class Record:
    """One key's value at one version on one node; `deleted` marks a tombstone."""

    key: str
    value: Any
    version: Version
    deleted: bool = False

    def newer_than(self, other: Optional[Record]) -> bool:
        """True when this record wins over `other` under last-writer-wins."""
        return other is None or self.version > other.version

    def to_dict(self) -> dict:
        """Return the JSON-safe form used on disk and in answers."""
        return {"key": self.key, "value": self.value, "version": self.version.to_dict(),
                "deleted": self.deleted}

    @classmethod
    def from_dict(cls, data: dict) -> Record:
        """Rebuild a Record from `to_dict` output."""
        return cls(data["key"], data.get("value"), Version.from_dict(data["version"]),
                   bool(data.get("deleted", False)))

    def size_bytes(self) -> int:
        """Approximate size of the record as stored (its JSON encoding)."""
        return len(COMPACT(self.to_dict()))  # ASCII JSON: as many bytes as characters


def newest(records) -> Optional[Record]:
    """Return the record that wins under last-writer-wins, or None if there is none."""
    best = None
    for record in records:
        if record is not None and record.newer_than(best):
            best = record
    return best


# --- Paxos ballots (compare-and-set, cluster/paxos.py) ----------------------

@dataclass(frozen=True, order=True)
class Ballot:
    """A Paxos ballot: a round number, ties broken by the proposer's node id (unique)."""

    round: int
    node: int

    def to_dict(self) -> dict:
        """The JSON form a student sees: both fields plus '(round, node-N)'."""
        return {"round": self.round, "node": node_name(self.node), "text": str(self)}

    @classmethod
    def from_dict(cls, data: Optional[dict]) -> Optional[Ballot]:
        """Rebuild a Ballot from its stored form, or None."""
        if not data:
            return None
        node = data["node"]
        return cls(int(data["round"]), node_id_of(node) if isinstance(node, str) else int(node))

    def __str__(self) -> str:
        return f"({self.round}, {node_name(self.node)})"  # a ballot is (round, node), as lab 7 defines it



# --- JSON text, with encoders built once ---------------------------------------

def _not_json(value: Any) -> Any:
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def json_writer(ascii: bool = True, compact: bool = False, sort_keys: bool = False) -> Callable[[Any], str]:
    """A function writing exactly what json.dumps(value, ensure_ascii=ascii, separators=compact
    or default, sort_keys=sort_keys) writes, for values without cycles (JSON data has none).

    json.dumps builds a new C encoder on every call, which costs more than encoding a small
    value; a request encodes values many times (the wire, storage, cache sizes, history,
    previews), so each set of options gets one encoder, built here once.
    """
    item, key = (",", ":") if compact else (", ", ": ")
    make = getattr(json.encoder, "c_make_encoder", None)  # private to json; absent without the C module
    if make is None:
        return json.JSONEncoder(ensure_ascii=ascii, separators=(item, key), sort_keys=sort_keys).encode
    strings = json.encoder.encode_basestring_ascii if ascii else json.encoder.encode_basestring
    chunks = make(None, _not_json, strings, None, key, item, sort_keys, False, True)
    return lambda value: "".join(chunks(value, 0))


DUMPS = json_writer()  # json.dumps(value)
COMPACT = json_writer(compact=True)  # json.dumps(value, separators=(",", ":")): ASCII, one byte a character
_PREVIEW = json_writer(ascii=False)  # json.dumps(value, ensure_ascii=False)


def preview(value, limit: int = 40) -> str:
    """Short JSON rendering of a value for one-line narration."""
    text = _PREVIEW(value)
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate stored by an older version: show it escaped
            text = json.dumps(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def names(node_ids) -> str:
    """Comma-separated node names, or 'nobody'."""
    node_ids = list(node_ids)
    return ", ".join(node_name(n) for n in node_ids) if node_ids else "nobody"


# --- events ----------------------------------------------------------------

class Event:
    """One thing the cluster did, in order, at a simulated time.

    Slim, as a server keeps --max-events of them: slots, and details as values
    beside a names tuple shared by events of one kind (`details` rebuilds the dict).
    Its sentence is stored written (`text` a str), or lazily as a format function
    and its arguments (`args` not None): `text` then writes it each time it is read,
    from small immutable fields only (never a value), so the same event always
    reads the same and nothing is written that nobody reads.
    """

    __slots__ = ("seq", "time_ms", "type", "nodes", "key", "_names", "_values", "_text", "_args")
    _shared_names: Dict[Tuple[str, ...], Tuple[str, ...]] = {}  # as many as the code has emit calls

    def __init__(self, seq: int, time_ms: int, type: str, text: Union[str, Callable[..., str]],
                 nodes: Tuple[int, ...] = (), key: Optional[str] = None, details: Optional[dict] = None,
                 args: Optional[tuple] = None):
        self.seq, self.time_ms, self.type, self.nodes, self.key = seq, time_ms, type, nodes, key
        self._text, self._args = text, args
        if details:
            names = tuple(details)
            self._names = self._shared_names.setdefault(names, names)
            self._values = tuple(details.values())
        else:
            self._names = self._values = ()

    @property
    def text(self) -> str:
        """The event's sentence (written from its template and fields now, if it was stored lazily)."""
        if self._args is None:
            return self._text  # type: ignore[return-value]  # a str whenever args is None
        return self._text(*self._args)  # type: ignore[operator]

    @property
    def details(self) -> dict:
        """The event's details (a new dict each time)."""
        return dict(zip(self._names, self._values))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Event) and self.to_dict() == other.to_dict()

    __hash__ = None  # type: ignore[assignment]  # equal by value, like the dataclass it replaces

    def to_dict(self) -> dict:
        """Return the JSON form served by /events."""
        return {"seq": self.seq, "time_ms": self.time_ms, "type": self.type,
                "nodes": [node_name(n) for n in self.nodes], "key": self.key,
                "text": self.text, "details": self.details}
