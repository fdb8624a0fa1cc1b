"""A coordinator's answer between processes: results and domain errors as JSON, and back.

In real mode the coordinator node process runs a client operation
(cluster/coordinator.py) and the front shapes the answer (api/results.py)
from the same WriteResult, ReadResult or CasResult objects as in simulated
mode. This file carries those results, and the ReplicaLabError that may wrap
one, across HTTP unchanged: records as Record.to_dict, everything else as the
plain JSON the answers already show.
"""
from __future__ import annotations

from dataclasses import fields
from typing import Any, Dict, Optional, Type

from cluster import errors
from cluster.paxos import CasResult
from cluster.quorum import ReadResult, WriteResult
from models import Record

RESULT_TYPES: Dict[str, type] = {cls.__name__: cls for cls in (WriteResult, ReadResult, CasResult)}
RECORD = "__record__"


def _error_classes() -> Dict[str, Type[errors.ReplicaLabError]]:
    """Every domain error class by its code (the most specific class wins a shared code)."""
    found: Dict[str, Type[errors.ReplicaLabError]] = {}
    pending = [errors.ReplicaLabError]
    while pending:
        cls = pending.pop(0)
        found[cls.code] = cls
        pending.extend(cls.__subclasses__())
    return found


ERROR_CLASSES = _error_classes()


def encode_result(result: Any) -> Optional[dict]:
    """A result object as JSON ({"type": ..., "fields": {...}}); None stays None."""
    if result is None:
        return None
    data = {}
    for f in fields(result):
        value = getattr(result, f.name)
        data[f.name] = {RECORD: value.to_dict()} if isinstance(value, Record) else value
    return {"type": type(result).__name__, "fields": data}


def decode_result(data: Optional[dict]) -> Any:
    """The result object `encode_result` carried (None for None)."""
    if data is None:
        return None
    cls = RESULT_TYPES[data["type"]]
    values = {name: Record.from_dict(value[RECORD]) if isinstance(value, dict) and RECORD in value else value
              for name, value in data["fields"].items()}
    return cls(**values)


def encode_error(error: errors.ReplicaLabError) -> dict:
    """A domain error as JSON: its code, sentence, data and the result it carries."""
    return {"status": "error", "error": error.code, "message": error.message, "data": error.data,
            "result": encode_result(error.result)}


def decode_error(data: dict) -> errors.ReplicaLabError:
    """The domain error `encode_error` carried, of the same class."""
    cls = ERROR_CLASSES.get(data.get("error", ""), errors.ReplicaLabError)
    return cls(data.get("message", ""), result=decode_result(data.get("result")), **(data.get("data") or {}))
