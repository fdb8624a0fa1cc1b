"""Siblings mode (--conflicts siblings): a key's value is a set of concurrent siblings.

Instead of one last-writer-wins version, a replica keeps for each key a
`SiblingSet`: the causal context it has seen (cluster/version_vectors.py) and
the siblings, each a value (or tombstone) named by the dot of the write that
made it. This is Riak 2's dotted-version-vector set. A write carries the
context its client read plus its own new dot, so it supersedes exactly the
siblings that context saw and stays beside the rest.

Merging two sets (a replica receiving a write, a repair, a hint, a sync or an
anti-entropy record) keeps a sibling unless the other side has seen its dot
and no longer holds it — superseded — so no replica drops a sibling it has not
seen superseded, and every replica that merged the same writes holds the same
set, whatever the order. The set is stored as the Record's value (JSON), so it
goes through storage, hints, messages and replay unchanged.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import json
from dataclasses import dataclass
from typing import Any, Iterable, List, Optional, Tuple

import cluster.version_vectors as vv
from cluster.messages import ALREADY_HAD, STORED
from models import Record, Version, node_name, preview

MAX_CONTEXT_CHARS = 8192
MAX_CLIENT_COUNTER = 2 ** 31  # a client's context may not push counters toward vv.MAX_COUNTER


@dataclass(frozen=True)
class Sibling:
    """One concurrent value (or tombstone), named by the dot of the write that made it."""

    dot: vv.Dot
    value: Any
    deleted: bool
    at: int  # the coordinator's clock when written: shown, never compared for causality

    def to_dict(self) -> dict:
        """The JSON form a student sees and the disk keeps."""
        return {"dot": list(self.dot), "vector": vv.dot_text(self.dot), "value": self.value,
                "deleted": self.deleted, "at": self.at}


@dataclass(frozen=True)
class SiblingSet:
    """What one replica holds for a key: the dots it has seen and the siblings still standing."""

    context: vv.Context
    siblings: Tuple[Sibling, ...]

    @property
    def live(self) -> List[Sibling]:
        """The siblings that are values, not tombstones."""
        return [s for s in self.siblings if not s.deleted]


def merge(a: SiblingSet, b: SiblingSet) -> SiblingSet:
    """Both sides' knowledge: a sibling stays unless the other side saw its dot and dropped it."""
    a_dots = {s.dot for s in a.siblings}
    b_dots = {s.dot for s in b.siblings}
    kept = [s for s in a.siblings if s.dot in b_dots or not vv.contains(b.context, s.dot)]
    kept += [s for s in b.siblings if s.dot not in a_dots and not vv.contains(a.context, s.dot)]
    return SiblingSet(vv.join(a.context, b.context), tuple(sorted(kept, key=lambda s: s.dot)))


def merge_all(sets: Iterable[Optional[SiblingSet]]) -> Optional[SiblingSet]:
    """The merge of every set given (None entries ignored); None if there is none."""
    result = None
    for one in sets:
        if one is not None:
            result = one if result is None else merge(result, one)
    return result


# --- records: a sibling set stored as a Record's value ------------------------

def of(record: Optional[Record]) -> Optional[SiblingSet]:
    """The sibling set a siblings-mode record holds (None for no record)."""
    if record is None:
        return None
    data = record.value
    sibs = tuple(Sibling((int(s["dot"][0]), int(s["dot"][1])), s.get("value"), bool(s["deleted"]),
                         int(s.get("at", 0))) for s in data["siblings"])
    return SiblingSet(vv.from_json(data["context"]), sibs)


def to_record(key: str, sset: SiblingSet) -> Record:
    """The Record storing a sibling set: its version is the newest sibling's, a tombstone if all are."""
    newest = max(sset.siblings, key=lambda s: (s.at, s.dot), default=None)
    version = Version(newest.at, newest.dot[0]) if newest else Version(0, 0)
    value = {"context": vv.to_json(sset.context), "siblings": [s.to_dict() for s in sset.siblings]}
    return Record(key, value, version, all(s.deleted for s in sset.siblings))


def combine(records: Iterable[Optional[Record]]) -> Optional[Record]:
    """The merge of several replicas' records of one key, as a record (None if all absent)."""
    present = [r for r in records if r is not None]
    merged = merge_all(of(r) for r in present)
    return to_record(present[0].key, merged) if merged is not None else None


def improves(best: Optional[Record], other: Optional[Record]) -> bool:
    """True when `other` would learn something from `best` (repair, push-back)."""
    if best is None:
        return False
    if other is None:
        return True
    mine = of(other)
    assert mine is not None
    return merge(mine, of(best) or mine) != mine


def digest(record: Record) -> int:
    """A number equal on replicas that hold equal sibling sets, whatever the merge order."""
    sset = of(record)
    assert sset is not None
    canonical = json.dumps(to_record(record.key, sset).value, sort_keys=True, separators=(",", ":"))
    return int(hashlib.sha1(canonical.encode("utf-8")).hexdigest()[:15], 16)


# --- writes ------------------------------------------------------------------

def new_write(node, key: str, value, deleted: bool, context: vv.Context) -> Record:
    """The record a coordinator sends for a write: one new sibling and the context it saw.

    The new dot's counter is above every dot of this node the coordinator knows
    for the key (its copy, its hints, the client's context, what it issued), so
    two writes it coordinates never share a dot.
    """
    local = merge_all([of(node.store.get(key)), *map(of, node.hints.for_key(key))])
    known = [vv.max_counter(context, node.node_id), node.issued.get(key, 0)]
    if local is not None:
        known.append(vv.max_counter(local.context, node.node_id))
    dot = (node.node_id, max(known) + 1)
    node.issued[key] = dot[1]
    sibling = Sibling(dot, None if deleted else value, deleted, node.timestamp())
    return to_record(key, SiblingSet(vv.add(context, dot), (sibling,)))


def accept(node, record: Record, hint_for: Optional[int], purpose: str, op_id: Optional[str] = None) -> str:
    """Merge an incoming record into the node's copy (or its hint); STORED if it changed anything.

    `op_id` (the operation that sent it) tags the event, as in ReplicaNode.accept_put.
    """
    tag = {"op_id": op_id} if op_id is not None else {}
    incoming = of(record)
    assert incoming is not None
    as_hint = hint_for is not None and hint_for != node.node_id
    held = node.hints.get(hint_for, record.key) if as_hint else node.store.get(record.key)
    current = of(held)
    merged = incoming if current is None else merge(current, incoming)
    if merged == current:
        node.seam.emit("replica_kept_newer", f"{node.name} already knew everything in {record.key} "
                         f"{vv.readable(incoming.context)} [{purpose}]", [node.node_id], record.key,
                         version=str(record.version), kept=str(held.version if held else None), **tag)
        return ALREADY_HAD
    stored = to_record(record.key, merged)
    if as_hint:
        node.hints.add(hint_for, stored)
    else:
        node.store.put(stored)
    where = f" as a hint for {node_name(hint_for)}" if as_hint and hint_for is not None else ""
    tail = "" if purpose == "write" else f" [{purpose}]"
    node.seam.emit("hint_stored" if as_hint else "replica_stored",
                     f"{node.name} merged {record.key}{where}: {describe(merged)}"
                     + (f" — {why(merged)}" if len(merged.siblings) > 1 else "") + tail,
                     [node.node_id], record.key, version=str(stored.version), purpose=purpose,
                     siblings=len(merged.siblings), **tag)
    return STORED


def describe(sset: SiblingSet) -> str:
    """The siblings in one phrase: '2 siblings: "a" {node-1: 2}, "b" {node-3: 1}'."""
    parts = [("(tombstone)" if s.deleted else preview(s.value, 24)) + " " + vv.dot_text(s.dot)
             for s in sset.siblings]
    return f"{len(parts)} sibling{'s' if len(parts) != 1 else ''}: " + ", ".join(parts)


def narrate(record: Record) -> str:
    """A siblings-mode record in one phrase: its siblings and, if several, why."""
    sset = of(record)
    assert sset is not None
    return describe(sset) + (f" ({why(sset)})" if len(sset.siblings) > 1 else "")


def why(sset: SiblingSet) -> str:
    """Why the siblings stand side by side ('' for one): no write that made one had seen the others."""
    if len(sset.siblings) < 2:
        return ""
    dots = [vv.dot_text(s.dot) for s in sset.siblings]
    listed = ", ".join(dots[:-1]) + " and " + dots[-1]
    return (f"{listed} are concurrent: no write that made one had seen the other"
            f"{'s' if len(dots) > 2 else ''}, so {'both' if len(dots) == 2 else 'all'} stay for the client to merge")


def message_detail(msg) -> dict:
    """What a held message's record carries, for /network/messages: the context and the dots."""
    record = getattr(msg, "record", None)
    if record is None:
        return {}
    sset = of(record)
    assert sset is not None
    return {"context_vector": vv.readable(sset.context),
            "siblings": [{"dot": vv.dot_text(s.dot), "value": s.value, "deleted": s.deleted} for s in sset.siblings]}


# --- the opaque client context --------------------------------------------------

def key_tag(key: str) -> str:
    """A short digest of the key a context belongs to, so a context cannot be sent to another key."""
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:16]


class OtherKeyContext(ValueError):
    """A context that came from a read of another key (or says of no key)."""


def encode_context(ctx: vv.Context, key: str) -> str:
    """The context a client gets with a read of `key` and sends back with its next write of it.

    It is base64 JSON of the causal context plus a digest of the key: a context
    copied from a read of another key would make the write supersede siblings
    that no read of this key ever saw, so decode_context refuses it.
    """
    data = {"key": key_tag(key), **vv.to_json(ctx)}
    text = json.dumps(data, separators=(",", ":"), sort_keys=True)
    return base64.urlsafe_b64encode(text.encode("ascii")).decode("ascii")


def decode_context(text, nodes: int, key: str) -> vv.Context:
    """The context a client sent for `key`; ValueError with a sentence if it is not one this cluster gave.

    OtherKeyContext when it was given by a read of another key.
    """
    if not isinstance(text, str) or not text or len(text) > MAX_CONTEXT_CHARS:
        raise ValueError(f"a context is the non-empty string a read answered with (at most "
                         f"{MAX_CONTEXT_CHARS} characters)")
    try:
        data = json.loads(base64.b64decode(text.encode("ascii"), altchars=b"-_", validate=True))
    except (UnicodeError, binascii.Error, ValueError, RecursionError):
        raise ValueError("the context is not base64 JSON as a read answered it") from None
    if not isinstance(data, dict) or data.get("key") != key_tag(key):
        raise OtherKeyContext(f"this context came from a read of another key; send back the context "
                              f"a read of {preview(key, 60)} answered with")
    ctx = vv.from_json({k: v for k, v in data.items() if k != "key"})
    strangers = {n for n, _ in ctx.vector} | {n for n, _ in ctx.cloud}
    if any(n >= nodes for n in strangers):
        raise ValueError(f"the context names a node this {nodes}-node cluster does not have")
    if any(c > MAX_CLIENT_COUNTER for _, c in (*ctx.vector, *ctx.cloud)):
        raise ValueError("the context holds a counter no write of this cluster reached")
    return ctx
