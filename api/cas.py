"""Compare-and-set: POST /cas, linearizable by single-decree Paxos (cluster/paxos.py)."""
from __future__ import annotations

import json
import re

from flask import Blueprint

from cluster.errors import BadRequest
from wording import plural

from . import student_kv
from .common import check_key, check_value_size, coordinator_param, example, json_fields, manager, success, with_story
from .validation import MAX_VALUE_DEPTH

bp = Blueprint("cas", __name__)

CAS_EXAMPLE = '{"key": "drone:d1", "expected": null, "value": {"status": "idle"}}'


# Bounded digit counts: int() refuses texts past 4,300 digits (a 500), and no clock reaches
# 20 digits of milliseconds nor a cluster a million nodes.
VERSION_TEXT = re.compile(r"v?(\d{1,20})@node-(\d{1,6})")


def parse_expected(expected, nodes: int):
    """A version text as answers show it ("27@node-4", or "v27@node-4" as stories print it), or None.

    Anything else is a 400 rather than a 409: a typo must not look like a lost race.
    """
    if expected is None:
        return None
    match = VERSION_TEXT.fullmatch(expected.strip()) if isinstance(expected, str) else None
    if match is None or int(match.group(2)) >= nodes:
        raise BadRequest(f"\"expected\" must be a version text such as \"27@node-4\" (the version.text of a "
                         f"read or write answer) with a node from node-0 to node-{nodes - 1}, or null for an "
                         f"absent key; got {json.dumps(expected)[:60]}.", field="expected")
    return f"{int(match.group(1))}@node-{int(match.group(2))}"


@bp.post("/cas")
@example(body=CAS_EXAMPLE + '; "expected" is a version text such as "27@node-4"; optional "coordinator"')
def cas():
    """Set a key only if its current version is the expected one (Paxos over its replicas)."""
    if student_kv.student_mode():
        return student_kv.cas()
    # The body object is one level; the value inside it may use MAX_VALUE_DEPTH more.
    data = json_fields(("key", "expected", "value", "coordinator"), CAS_EXAMPLE, MAX_VALUE_DEPTH + 1)
    for name in ("key", "expected", "value"):
        if name not in data:
            raise BadRequest(f"The body has no {name!r}; send for example {CAS_EXAMPLE} "
                             "(\"expected\": null means the key must be absent).", field=name)
    key = check_key(data["key"])
    expected = parse_expected(data["expected"], manager().config.nodes)
    check_value_size(data["value"])
    result, story = with_story(manager().cas, key, expected, data["value"], coordinator_param(data))
    fields = result.fields()
    repaired = f" after completing {plural(len(result.repaired), 'in-progress proposal')}" if result.repaired else ""
    durable = (" Durable: each replica commits it to disk before acknowledging the commit, in batch "
               "mode too." if manager().config.durability == "batch" else "")
    return success(f"CAS applied{repaired}: {key!r} is now v{fields['version']['text']}, chosen by a majority "
                   f"of {result.majority} at ballot {fields['ballot']}.{durable}", value=data["value"],
                   **fields, **story)
