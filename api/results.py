"""How read and write results look in answers: the fields a student needs to see
what happened (coordinator, replicas asked, acks or answers, quorum, repairs,
hints). The cluster returns plain results; only the HTTP layer shapes them.
"""
from __future__ import annotations

from typing import Any, Dict

from cluster import siblings
from cluster import version_vectors as vv
from cluster.errors import ReplicaLabError
from cluster.quorum import ReadResult, WriteResult
from models import node_name
from wording import agrees, plural


def result_fields(result: ReadResult | WriteResult) -> dict:
    """The fields of a read or write result that every answer shows."""
    data: Dict[str, Any] = {"key": result.key, "coordinator": node_name(result.coordinator),
                            "replicas": [node_name(n) for n in result.preference],
                            "silent": [node_name(n) for n in result.silent],
                            "waiting_for": [node_name(n) for n in result.waiting_for]}
    if isinstance(result, WriteResult):
        version = result.record.version.to_dict() if result.version_chosen else None
        data.update({"version": version, "acks": result.acks,
                     "quorum": {"w": result.needed, "acks": len(result.acks), "met": result.ok},
                     "hints": [{"held_by": a["node"], "for": a["stands_in_for"]}
                               for a in result.acks if a["stands_in_for"]],
                     "stored_on": [a["node"] for a in result.acks if a["applied"]],
                     "not_yet_durable": waiting_for_commit(result)})
    else:
        rec = result.record
        data.update({"version": rec.version.to_dict() if rec else None, "replicas_read": result.answers,
                     "repaired": [node_name(n) for n in result.repaired],
                     "quorum": {"r": result.needed, "answers": len(result.answers), "met": result.ok}})
    if getattr(result, "conflicts", "lww") == "siblings" and result.record is not None:
        data.update(sibling_fields(result))
    return data


def sibling_fields(result: ReadResult | WriteResult) -> dict:
    """Siblings mode: the siblings with their dots, the opaque context to send back, and why.

    A read shows every concurrent sibling; a write shows the sibling it made. Its
    context covers what the client had seen plus this write, so a client that
    chains writes with it never makes siblings of its own writes.
    """
    record = result.record
    sset = siblings.of(record)
    assert record is not None and sset is not None  # siblings mode: every answer carries a sibling set
    fields = {"siblings": [sibling_view(s) for s in sset.siblings],
              "context": siblings.encode_context(sset.context, record.key),
              # A sibling set has no single version: `version` would be the newest sibling's, an LWW
              # notion that the value (null when several stand) does not follow. Dots name the writes.
              "version": None,
              "context_vector": vv.readable(sset.context),
              "conflict": siblings.why(sset) or None}
    if isinstance(result, WriteResult):
        made = sset.siblings[0]
        before = _without(sset.context, made.dot)
        fields["dot"] = vv.dot_text(made.dot)
        fields["supersedes"] = (f"what its context saw: {vv.readable(before)}" if before != vv.EMPTY
                                else "nothing: no context was sent, so it is concurrent with every earlier value")
    return fields


def sibling_view(sibling: siblings.Sibling) -> dict:
    """A sibling as answers show it: its dot in the same form as a write's `dot` ({node-1: 2})."""
    return {"dot": vv.dot_text(sibling.dot), "value": sibling.value, "deleted": sibling.deleted, "at": sibling.at}


def _without(ctx: vv.Context, dot: vv.Dot) -> vv.Context:
    """The context a write was sent with: its own, minus the write's dot (the highest of its node)."""
    if dot in ctx.cloud:
        return vv.Context(ctx.vector, tuple(d for d in ctx.cloud if d != dot))
    return vv.make({n: c - 1 if n == dot[0] else c for n, c in ctx.vector}, ctx.cloud)


def read_value(result: ReadResult):
    """The value a read answers with: in siblings mode the one live sibling's, or None when several."""
    if result.conflicts != "siblings":
        return result.record.value if result.record else None
    sset = siblings.of(result.record)  # None exactly when there is no record
    live = sset.live if sset else []
    return live[0].value if len(live) == 1 else None


def write_summary(key: str, result: WriteResult) -> str:
    """One sentence on a confirmed write that agrees with its acks: stored where applied.

    A replica that already held a newer version acknowledges without storing
    (outcome kept_newer), so the count of acks alone would overstate it (lab 4).
    """
    stored = [a for a in result.acks if a["applied"]]
    kept = len(result.acks) - len(stored)
    hinted = sum(1 for a in stored if a["stands_in_for"])
    hints = f" ({hinted} of them as hints)" if hinted else ""
    quorum = f"W={result.needed} acknowledgements were needed and {len(result.acks)} arrived."
    if not stored:
        return (f"{key!r} was acknowledged but stored nowhere: every replica that answered already "
                f"held a newer version (outcome kept_newer), so this write lost under last-writer-wins. "
                + quorum)
    newer = (f"; {plural(kept, 'node')} kept the newer version "
             f"{agrees(kept, 'it', 'they')} already held (outcome kept_newer)"
             if kept else "")
    return f"Stored {key!r} on {plural(len(stored), 'node')}{hints}{newer}. {quorum}{still_waiting(result)}"


def still_waiting(result: ReadResult | WriteResult) -> str:
    """A sentence for an answer given before every replica replied (step mode); empty otherwise."""
    if not result.waiting_for:
        return ""
    return (f" No answer yet from {', '.join(node_name(n) for n in result.waiting_for)}: the quorum "
            "is met, so you get this answer now and the rest goes on in the background.")


def waiting_for_commit(result: WriteResult) -> list:
    """Nodes that acknowledged the write but keep it in memory until their next group commit."""
    return [a["node"] for a in result.acks if a["applied"] and not a["durable"]]


def durability_note(result: WriteResult) -> str:
    """A sentence for batch-mode answers: acknowledged is not yet on disk (empty when it is)."""
    waiting = waiting_for_commit(result)
    if not waiting:
        return ""
    return (f" Acknowledged but not yet durable on {', '.join(waiting)} (durability batch): it waits "
            "in memory for their next group commit, and a crash before then loses it there.")


def error_body(error: ReplicaLabError) -> dict:
    """The JSON body of a domain error, with the fields of the result it carries, if any."""
    shaped = result_fields(error.result) if error.result is not None else {}
    return {"status": "error", "error": error.code, "message": error.message, **shaped, **error.data}
