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
            "silent": [node_name(n) for n in result.silent]}
    if isinstance(result, WriteResult):
        data.update({"version": result.record.version.to_dict(), "acks": result.acks,
                     "quorum": {"w": result.needed, "acks": len(result.acks), "met": result.ok},
                     "hints": [{"held_by": a["node"], "for": a["stands_in_for"]}
                               for a in result.acks if a["stands_in_for"]],
                     "stored_on": [a["node"] for a in result.acks if a["applied"]]})
    else:
        rec = result.record
        data.update({"version": rec.version.to_dict() if rec else None, "replicas_read": result.answers,
                     "repaired": [node_name(n) for n in result.repaired],
                     "quorum": {"r": result.needed, "answers": len(result.answers), "met": result.ok}})
    return data


def error_body(error: ReplicaLabError) -> dict:
    """The JSON body of a domain error, with the fields of the result it carries, if any."""
    shaped = result_fields(error.result) if error.result is not None else {}
    return {"status": "error", "error": error.code, "message": error.message, **shaped, **error.data}
