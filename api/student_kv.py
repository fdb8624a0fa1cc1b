"""/write, /read, /cas and /delete when the nodes are student programs (run.py cluster --node-cmd).

api/kv.py and api/cas.py call these instead of the quorum paths when
byon.front_kv.student_mode is on: parse and shape only; byon/front_kv.py sends
the lin-kv request and records the history.
"""
from __future__ import annotations

import re

from flask import request

from byon import front_kv
from byon.lin_kv import KvOperation
from byon.node_host import program_dirs, student_node
from byon.program_status import DATA_NOTE
from cluster.errors import BadRequest, Conflict, NodeNotFound, ReplicaLabError

from .common import check_key, check_value_size, coordinator_param, json_fields, manager, success, with_story
from .validation import MAX_VALUE_DEPTH

CAS_EXAMPLE = '{"key": "x", "from": 1, "to": 2}'


def student_mode() -> bool:
    """True when this front's nodes are student programs."""
    return front_kv.student_mode(manager())


def _coordinator(data: dict):
    """The coordinator parameter; a program's own name for a node ("n2") is accepted too."""
    given = data["coordinator"] if "coordinator" in data else request.args.get("coordinator")
    nodes = manager().config.nodes
    node = student_node(given, nodes) if isinstance(given, str) else None
    if node is None and isinstance(given, str) and re.fullmatch(r"n\d{1,6}", given):
        raise NodeNotFound(f"There is no node {given}: this cluster's nodes are n0 to n{nodes - 1} "
                           f"(or 0 to {nodes - 1}).", coordinator=given)
    return node if node is not None else coordinator_param(data)


def _answer(op: KvOperation, coordinator):
    result, story = with_story(front_kv.run, manager(), op, coordinator)
    kv_result, node = result
    fields = {"key": op.key, "node": node, "outcome": kv_result.type}
    if op.f == "read":
        fields["value"] = kv_result.value
    else:
        fields["value"] = op.value
    if op.f == "cas":
        fields["from"] = op.expected
    return success(kv_result.message, **fields, **story)


def write(data: dict):
    """A lin-kv write of data's key and value to a student node."""
    key = check_key(data["key"])
    check_value_size(data["value"])
    return _answer(KvOperation("write", key, data["value"]), _coordinator(data))


def read(key: str):
    """A lin-kv read of `key` from a student node (404 when the node answers code 20)."""
    return _answer(KvOperation("read", check_key(key)), _coordinator({}))


def cas():
    """A lin-kv cas {key, from, to} to a student node (409 when the node answers code 22)."""
    data = json_fields(("key", "from", "to", "coordinator"), CAS_EXAMPLE, MAX_VALUE_DEPTH + 1)
    for name in ("key", "from", "to"):
        if name not in data:
            raise BadRequest(f"The body has no {name!r}: on student nodes a cas compares values, as lin-kv "
                             f"does; send for example {CAS_EXAMPLE}.", field=name)
    key = check_key(data["key"])
    check_value_size(data["from"])
    check_value_size(data["to"])
    return _answer(KvOperation("cas", key, data["to"], data["from"]), _coordinator(data))


def keys():
    """No listing: ReplicaLab cannot see the keys a student program keeps (the same shape, and why)."""
    where = program_dirs(manager().config.data_dir)
    return success("No keys to list: the nodes are student programs. " + DATA_NOTE.format(where=where),
                   count=0, keys=[], deleted_keys=[], listed=False)


APP_BLUEPRINTS = ("dispatch", "sensors", "alerts")


def refuse_apps() -> None:
    """Before an app route: on student nodes, a 409 saying why the apps cannot run there."""
    if student_mode():
        raise Conflict("Dispatch, sensors and alerts keep their data with ReplicaLab's own protocol (versions, "
                       "compare-and-set on a version, key listings); student programs speak lin-kv, which has "
                       "none of those. Try the apps on python run.py, or python run.py cluster without --node-cmd.")


class NoDelete(ReplicaLabError):
    """lin-kv has no delete."""

    status = 405
    code = "not_supported"


def delete(key: str):
    """Refuse: lin-kv has no delete, so a student node cannot be asked for one."""
    raise NoDelete(f"Student nodes speak lin-kv, which has no delete: {key!r} stays. Write a value that "
                   "means 'gone' instead (for example null) with POST /write.", key=key)
