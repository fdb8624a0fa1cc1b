"""Key-value routes: /write, /read/<key>, /delete/<key>, /keys, /placement/<key>.

Keys are taken with the `key` converter (KeyConverter below), so they may hold
slashes and colons (energy:p1:12:00, a/b/c), even a leading slash (/etc).
Routes only parse and shape: the cluster does the work.
"""
from __future__ import annotations

from flask import Blueprint, request
from werkzeug.routing import PathConverter

from cluster.errors import BadRequest
from wording import plural

from . import student_kv
from .common import (
    check_key,
    check_value_size,
    coordinator_param,
    example,
    json_fields,
    manager,
    query_int,
    quorum_param,
    success,
    with_story,
)
from .results import durability_note, read_value, result_fields, still_waiting, write_summary
from .validation import MAX_VALUE_DEPTH

bp = Blueprint("kv", __name__)


class KeyConverter(PathConverter):
    """Flask's path converter, but a key may also start with a slash.

    The path converter refuses a leading "/", so a key like "/a" could be
    written (in the body) but never read or deleted (in the URL).
    """

    regex = r"[\s\S]+?"  # any character, newlines too
    part_isolating = False  # it spans slashes (Werkzeug would infer True from a regex with no "/")


@bp.record_once
def register_key_converter(state):
    """Make <key:...> available before the routes below are added."""
    state.app.url_map.converters["key"] = KeyConverter

WRITE_EXAMPLE = '{"key": "color", "value": "blue"}'


def consistency_param(data: dict):
    """An optional "consistency" (eventual | linearizable) from the body or ?consistency=."""
    if "consistency" in data:
        return data["consistency"]  # checked by the cluster, which knows the modes
    return request.args.get("consistency")


@bp.post("/write")
@example(body=WRITE_EXAMPLE + '; optional "w", "coordinator", "consistency", "context" (--conflicts siblings)')
def write():
    """Store a value under a key on W of its RF replicas."""
    # The body object is one level; the value inside it may use MAX_VALUE_DEPTH more.
    data = json_fields(("key", "value", "w", "coordinator", "consistency", "context"), WRITE_EXAMPLE,
                       MAX_VALUE_DEPTH + 1)
    if "key" not in data:
        raise BadRequest(f"The body has no \"key\"; send for example {WRITE_EXAMPLE}.", field="key")
    if "value" not in data:
        raise BadRequest(f"The body has no \"value\"; send for example {WRITE_EXAMPLE}.", field="value")
    if student_kv.student_mode():
        return student_kv.write(data)
    key = check_key(data["key"])
    check_value_size(data["value"])
    result, story = with_story(manager().write, key, data["value"], quorum_param(data, "w"),
                               coordinator=coordinator_param(data), consistency=consistency_param(data),
                               context=data.get("context"))
    return success(write_summary(key, result) + durability_note(result), value=data["value"],
                   **result_fields(result), **story)


@bp.get("/read/<key:key>")
@example(path="/read/color?r=1&coordinator=2&consistency=linearizable")
def read(key):
    """Read a key from R replicas; stale replicas that answered are repaired."""
    if student_kv.student_mode():
        return student_kv.read(key)
    check_key(key)
    result, story = with_story(manager().read, key, quorum_param({}, "r"), coordinator_param({}),
                               consistency_param({}))
    repaired = f"; repaired {plural(len(result.repaired), 'stale replica')}" if result.repaired else ""
    fields = result_fields(result)
    standing = len(fields.get("siblings", []))
    if standing > 1:
        repaired += (f"; {standing} concurrent siblings: merge them and write the result back with this "
                     "answer's context")
    return success(f"Read {key!r} from {plural(len(result.answers), 'replica')} (R={result.needed}){repaired}."
                   + still_waiting(result),
                   value=read_value(result), **fields, **story)


@bp.get("/read/")
@bp.delete("/delete/")
def missing_key():
    """A key is required in the path."""
    raise BadRequest("Put the key in the path, for example /read/color or /delete/color.")


@bp.delete("/delete/<key:key>")
def delete(key):
    """Delete a key by writing a tombstone (404 if it does not exist)."""
    check_key(key)
    if student_kv.student_mode():
        return student_kv.delete(key)
    (found, result), story = with_story(manager().delete, key, quorum_param({}, "w"),
                                        quorum_param({}, "r"), coordinator_param({}),
                                        consistency_param({}), request.args.get("context"))
    return success(f"Deleted {key!r}: a tombstone v{result.record.version} replaces "
                   f"v{found.record.version} on {plural(len(result.acks), 'node')}.{durability_note(result)}",
                   previous_version=found.record.version.to_dict(), deleted=True,
                   **result_fields(result), **story)


@bp.get("/keys")
def keys():
    """Every key the nodes hold, with its newest version and holders (no quorum read)."""
    if student_kv.student_mode():
        return student_kv.keys()
    return success("Keys as stored on the nodes (a listing, not a quorum read).", **manager().keys_view())


@bp.get("/placement/<key:key>")
def placement(key):
    """Where a key lives on the ring and why."""
    check_key(key)
    rf = query_int("rf", None, 1, 1000)
    info = manager().placement(key, rf)
    what_if = f" (if RF were {rf})" if rf else ""
    return success(f"{key!r} belongs to {', '.join(info['preference_list'])}{what_if}: the first "
                   f"{len(info['preference_list'])} distinct nodes clockwise from its hash.", **info)
