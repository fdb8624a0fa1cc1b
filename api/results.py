"""How read and write results look in answers: the fields a student needs to see
what happened (coordinator, replicas asked, acks or answers, quorum, repairs,
hints). The cluster returns plain results; only the HTTP layer shapes them.
"""
from __future__ import annotations

from cluster.errors import ReplicaLabError
from cluster.quorum import ReadResult, WriteResult
from models import node_name


def result_fields(result: ReadResult | WriteResult) -> dict:
    """The fields of a read or write result that every answer shows."""
    data = {"key": result.key, "coordinator": node_name(result.coordinator),
            "replicas": [node_name(n) for n in result.preference],
            "silent": [node_name(n) for n in result.silent],
            "waiting_for": [node_name(n) for n in result.waiting_for]}
    if isinstance(result, WriteResult):
        data.update({"version": result.record.version.to_dict(), "acks": result.acks,
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
    return data


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
    newer = (f"; {kept} node(s) kept the newer version they already held (outcome kept_newer)"
             if kept else "")
    return f"Stored {key!r} on {len(stored)} node(s){hints}{newer}. {quorum}{still_waiting(result)}"


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
