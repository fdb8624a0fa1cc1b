"""Compare-and-set: POST /cas, linearizable by single-decree Paxos (cluster/paxos.py)."""
from __future__ import annotations

from flask import Blueprint

from cluster.errors import BadRequest

from .common import check_key, check_value_size, coordinator_param, example, json_fields, manager, success, with_story
from .validation import MAX_VALUE_DEPTH

bp = Blueprint("cas", __name__)

CAS_EXAMPLE = '{"key": "drone:d1", "expected": null, "value": {"status": "idle"}}'


@bp.post("/cas")
@example(body=CAS_EXAMPLE + '; "expected" is a version text such as "27@node-4"; optional "coordinator"')
def cas():
    """Set a key only if its current version is the expected one (Paxos over its replicas)."""
    # The body object is one level; the value inside it may use MAX_VALUE_DEPTH more.
    data = json_fields(("key", "expected", "value", "coordinator"), CAS_EXAMPLE, MAX_VALUE_DEPTH + 1)
    for name in ("key", "expected", "value"):
        if name not in data:
            raise BadRequest(f"The body has no {name!r}; send for example {CAS_EXAMPLE} "
                             "(\"expected\": null means the key must be absent).", field=name)
    key = check_key(data["key"])
    expected = data["expected"]
    if expected is not None and (not isinstance(expected, str) or "@node-" not in expected):
        raise BadRequest(f"\"expected\" must be a version text such as \"27@node-4\" (a read's "
                         f"version.text) or null for an absent key, not {expected!r}.", field="expected")
    check_value_size(data["value"])
    result, story = with_story(manager().cas, key, expected, data["value"], coordinator_param(data))
    fields = result.fields()
    repaired = f" after completing {len(result.repaired)} in-progress proposal(s)" if result.repaired else ""
    return success(f"CAS applied{repaired}: {key!r} is now v{fields['version']['text']}, chosen by a majority "
                   f"of {result.majority} at ballot {fields['ballot']}.", value=data["value"], **fields, **story)
