"""Helpers every blueprint uses: the cluster, request parsing, success answers.

Parsing is strict and explains itself: every rejection is a BadRequest with a
sentence naming the field and showing a correct example.
"""
from __future__ import annotations

import hmac
import re
from functools import wraps
from typing import Optional, TypeVar
from urllib.parse import quote

from flask import current_app, g, jsonify, request

from cluster.errors import BadRequest, PayloadTooLarge, ReplicaLabError, Unauthorized
from cluster.event_log import MESSAGE_EVENTS
from models import DUMPS, MAX_NODE_DIGITS, shown
from wording import agrees

from .validation import MAX_CONTROL_DEPTH, check_text, parse_json

# query_int answers an int, or its default when the parameter is absent (None: "not given").
Default = TypeVar("Default", bound=Optional[int])


def manager():
    """The ReplicationManager of the current app."""
    return current_app.extensions["replicalab"]


def success(message: str | None = None, http_status: int = 200, **data):
    """A JSON success answer: {"status": "success", "message": ..., **data}."""
    body = {"status": "success"}
    if message:
        body["message"] = message
    body.update(data)
    return jsonify(body), http_status


def json_body(example: str, max_depth: int = MAX_CONTROL_DEPTH) -> dict:
    """Parse the body as a JSON object whatever the Content-Type (curl -d sends form type).

    The edge rules (api/validation.py) apply: depth, valid Unicode, finite numbers.
    """
    raw = request.get_data(cache=True)
    if not raw.strip():
        raise BadRequest(f"This endpoint needs a JSON body, for example {example}.")
    data = parse_json(raw, max_depth, example)
    if not isinstance(data, dict):
        raise BadRequest(f"The body must be a JSON object, for example {example}.")
    g.json_body = data  # the scenario record reuses it instead of parsing again
    return data


def reject_unknown_fields(data: dict, allowed, example: str) -> None:
    """Refuse fields the endpoint does not know, so a typo is not silently ignored."""
    unknown = sorted(set(data) - set(allowed))
    if unknown:
        raise BadRequest(f"Unknown {agrees(len(unknown), 'field', 'fields')} {', '.join(map(repr, unknown))}; "
                         f"this endpoint accepts {', '.join(map(repr, allowed))}, for example {example}.",
                         fields=unknown)


def json_fields(allowed, example: str, max_depth: int = MAX_CONTROL_DEPTH) -> dict:
    """The JSON object body, refusing fields the endpoint does not know."""
    data = json_body(example, max_depth)
    reject_unknown_fields(data, allowed, example)
    return data


def check_key(key) -> str:
    """Validate a key: a non-empty string no longer than the configured limit."""
    limit = manager().config.max_key_length
    if not isinstance(key, str):
        raise BadRequest(f"The key must be a string, not {type(key).__name__}.", field="key")
    if not key:
        raise BadRequest("The key must not be empty.", field="key")
    if len(key) > limit:
        raise BadRequest(f"The key is {len(key)} characters long; the limit is {limit}.",
                         field="key", limit=limit)
    return check_text(key, "The key")


def check_value_size(value) -> None:
    """Refuse a value whose JSON encoding exceeds the configured size (413)."""
    limit = manager().config.max_value_bytes
    size = len(DUMPS(value))  # ASCII JSON (as json.dumps writes it): as many bytes as characters
    if size > limit:
        raise PayloadTooLarge(f"The value is {size} bytes as JSON; the limit is {limit} bytes.",
                              size=size, limit=limit)


def quorum_param(data: dict, name: str):
    """Read an optional quorum override (r or w) from the body or the query string."""
    if name in data:
        return data[name]  # type and range are checked by the cluster, which knows RF
    raw = request.args.get(name)
    if raw is None:
        return None
    try:
        return int(raw)
    except ValueError:
        raise BadRequest(f"?{name}= must be a whole number, not {raw!r}.", field=name) from None


def coordinator_param(data: dict):
    """An optional coordinator node id from the body or ?coordinator= (id or node-N)."""
    if "coordinator" in data:
        return data["coordinator"]  # type and range are checked by the cluster
    raw = request.args.get("coordinator")
    return None if raw is None else parse_node_id(raw)


def query_int(name: str, default: Default, minimum: int, maximum: int) -> int | Default:
    """Read an integer query parameter within bounds, or explain what is wrong."""
    raw = request.args.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BadRequest(f"?{name}= must be a whole number, not {raw!r}.", field=name) from None
    if not minimum <= value <= maximum:
        raise BadRequest(f"?{name}= must be between {minimum} and {maximum} (got {value}).", field=name)
    return value


def parse_node_id(raw: str) -> int:
    """Accept '1' or 'node-1'; anything else is a BadRequest (unknown ids are 404 later)."""
    text = raw[5:] if raw.startswith("node-") else raw
    try:
        if len(text) > MAX_NODE_DIGITS + 1:  # a sign and the digits: anything longer names no node
            raise ValueError(text)
        return int(text)
    except ValueError:
        raise BadRequest(f"A node id is a whole number such as 1 (or node-1, at most {MAX_NODE_DIGITS} digits), "
                         f"not {shown(raw)}.", field="node_id") from None


def example(body: str | None = None, path: str | None = None):
    """Attach a usage example to a view (a JSON body or a path); GET / shows it beside the view's docstring."""
    def mark(view):
        """Remember the example on the view function."""
        view.example = f"body {body}" if body else f"e.g. {path}"
        return view
    return mark


def admin_only(view):
    """Require 'Authorization: Bearer <token>' when an admin token is configured."""
    @wraps(view)
    def guarded(*args, **kwargs):
        """Refuse the call unless the bearer token matches."""
        token = manager().config.admin_token
        if token:
            given = request.headers.get("Authorization", "")
            if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
                raise Unauthorized("This endpoint changes the cluster and needs the admin token: "
                                   "add -H 'Authorization: Bearer <token>'.")
        return view(*args, **kwargs)
    return guarded


def with_story(action, *args, **kwargs):
    """Run a cluster action and return (result, story): the events it caused.

    The story (one sentence per event, message-level events left out) is what
    lets a student see what happened from the answer alone; errors carry it too.
    """
    cluster = manager()
    with cluster.lock:  # no other request's events can interleave
        cluster.record(request_entry())
        start = cluster.events.last_seq
        try:
            result = action(*args, **kwargs)
        except ReplicaLabError as error:
            error.data.update(story_fields(cluster, start))
            raise
        finally:
            cluster.events.flush()  # the console shows this request's lines before the next one's
        return result, story_fields(cluster, start)


_PATH_SAFE = "/:@!$&'()*+,;="
_PLAIN_PATH = re.compile(r"[A-Za-z0-9_.~/:@!$&'()*+,;=-]*")  # what quote() leaves as it is


def request_entry() -> dict:
    """This request as a scenario line: method, path (re-quoted) with its query, JSON body."""
    path = request.path
    if not _PLAIN_PATH.fullmatch(path):  # quote() is slow; most paths need none
        path = quote(path, safe=_PATH_SAFE)
    if request.query_string:
        path += "?" + request.query_string.decode("latin-1")
    # Only bodies the route parsed (and validated) matter: the others were ignored.
    return {"method": request.method, "path": path, "body": g.get("json_body")}


def by_hand(event) -> bool:
    """A message event a person caused (POST /network/drop): part of the story, unlike routine sends.

    A hand duplication is already told (message_duplicated is no routine event);
    a hand drop explains why a write's `waiting_for` still names that replica, and so
    does a held message lost with a process the student killed (marked `in_story`).
    """
    return event.type == "message_dropped" and (event.details.get("reason") == "dropped by hand"
                                                 or bool(event.details.get("in_story")))


def story_fields(manager, start: int) -> dict:
    """The 'story' and 'events' fields for events after seq `start`."""
    events = manager.events.since(start)
    last = manager.events.last_seq
    # A request that caused nothing has no range: null, never a backwards one like 2..1.
    span = {"first": start + 1, "last": last} if last > start else {"first": None, "last": None}
    return {"story": [e.text for e in events if e.type not in MESSAGE_EVENTS or by_hand(e)],
            "events": {**span, "count": last - start, "see": f"/events?since={start}"}}
