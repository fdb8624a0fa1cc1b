"""Step-mode routes: pause the network, move messages one by one, tick time."""
from __future__ import annotations

from flask import Blueprint

from cluster.errors import BadRequest
from wording import plural

from .common import admin_only, example, json_fields, manager, success, with_story

bp = Blueprint("network", __name__)
MAX_MSG_ID_DIGITS = 18  # ids count messages; a longer one names none, and its echo would be the whole input


def parse_msg_id(raw: str) -> int:
    """A message id is a whole number (see GET /network/messages)."""
    digits = raw[1:] if raw.startswith("-") else raw
    if not (digits.isascii() and digits.isdigit()) or len(digits) > MAX_MSG_ID_DIGITS:
        quoted = repr(raw) if len(raw) <= 40 else f"{raw[:40]!r}… ({len(raw)} characters)"
        raise BadRequest(f"A message id is a whole number of at most {MAX_MSG_ID_DIGITS} digits from "
                         f"GET /network/messages, not {quoted}.", field="msg_id")
    return int(raw)


@bp.post("/network/pause")
@admin_only
def pause():
    """Hold every message until a student moves it."""
    view, story = with_story(manager().steps.pause)
    return success("Network paused: new messages are held. GET /network/messages lists them.",
                   **view, **story)


@bp.post("/network/resume")
@admin_only
def resume():
    """Deliver every held message and go back to normal delivery."""
    view, story = with_story(manager().steps.resume)
    return success("Network resumed.", **view, **story)


@bp.get("/network/messages")
def messages():
    """Messages in flight, in the order the network would deliver them."""
    view = manager().steps.messages_view()
    return success(f"{plural(len(view['messages']), 'message')} in flight"
                   + (" (network paused)." if view["paused"] else ".")
                   + "".join(f" {why}." for why in view["not_listed"]), **view)


def with_message_story(action, *args):
    """with_story, but the story keeps message events too.

    Other answers leave sent/delivered/dropped lines out as noise; here the
    message is what the student moved, so a drop must not answer "story: []".
    """
    result, story = with_story(action, *args)
    span = story["events"]
    if span["count"]:
        events = manager().events.since(span["first"] - 1)
        story["story"] = [e.text for e in events if e.seq <= span["last"]]
    return result, story


def move(action_name: str, raw_id: str, verb: str):
    """Apply a step-mode action to one held message and answer with the new view."""
    msg_id = parse_msg_id(raw_id)
    view, story = with_message_story(getattr(manager().steps, action_name), msg_id)
    return success(f"Message {msg_id} {verb}.", **view, **story)


@bp.post("/network/deliver/<raw_id>")
@admin_only
def deliver(raw_id):
    """Deliver one held message now."""
    return move("deliver_message", raw_id, "delivered")


@bp.post("/network/drop/<raw_id>")
@admin_only
def drop(raw_id):
    """Lose one held message."""
    return move("drop_message", raw_id, "dropped")


@bp.post("/network/duplicate/<raw_id>")
@admin_only
def duplicate(raw_id):
    """Put a copy of a held message in flight."""
    return move("duplicate_message", raw_id, "duplicated")


@bp.post("/network/step")
@admin_only
def step():
    """Deliver the next held message in the network's own order."""
    view, story = with_message_story(manager().steps.step_message)
    return success(f"Delivered message {view['delivered']}.", **view, **story)


TICK_EXAMPLE = '{"ms": 100}'


@bp.post("/tick")
@admin_only
@example(body=TICK_EXAMPLE)
def tick():
    """Advance simulated time so timers and delayed messages fire."""
    data = json_fields(("ms",), TICK_EXAMPLE)
    view, story = with_message_story(manager().steps.tick, data.get("ms"))
    return success(f"Time moved forward {data.get('ms')} ms.", **view, **story)
