"""One line of a node's stdout: check it is a Maelstrom envelope, or say why not.

A student's program may print anything: a debug line, half a JSON object, a
NaN, a message without a type. Each line is checked here before anything else
sees it, and a bad one becomes a `MalformedLine` whose sentence names the
problem, so the cluster reports it to the student and carries on.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Dict

MAX_LINE_BYTES = 1024 * 1024  # a longer line is refused (and skipped up to its newline)
SHOWN_CHARS = 200  # how much of a bad line a report quotes
MAX_ID_CHARS = 64  # node and client ids are short names such as "node-3" or "c12"
ID_FIELDS = ("msg_id", "in_reply_to")


class MalformedLine(ValueError):
    """A line on a node's stdout that is not a valid message; `why` says what is wrong."""

    def __init__(self, why: str):
        super().__init__(why)
        self.why = why


@dataclass(frozen=True)
class Envelope:
    """A checked message: who sent it, to whom, and its body (which has a string "type")."""

    src: str
    dest: str
    body: Dict[str, Any]

    @property
    def type(self) -> str:
        """The body's type, e.g. "read_ok"."""
        return self.body["type"]

    def to_dict(self) -> dict:
        """The JSON object of this envelope."""
        return {"src": self.src, "dest": self.dest, "body": self.body}

    def to_line(self) -> bytes:
        """The envelope as one line of compact JSON, newline included."""
        return encode_line(self.to_dict())


def encode_line(envelope: dict) -> bytes:
    """One envelope as UTF-8 JSON on one line (JSON escapes every newline inside strings)."""
    return (json.dumps(envelope, separators=(",", ":"), ensure_ascii=False, allow_nan=False) + "\n").encode()


def _refuse_constant(name: str):
    raise MalformedLine(f"it contains {name}, which is not JSON (JSON has no NaN or Infinity)")


def shown(line: bytes | str) -> str:
    """A line as a report quotes it: decoded leniently and cut to SHOWN_CHARS characters."""
    text = line.decode("utf-8", errors="replace") if isinstance(line, bytes) else line
    text = text.rstrip("\r\n")
    return text if len(text) <= SHOWN_CHARS else text[:SHOWN_CHARS] + f"… ({len(text)} characters)"


def _check_id(envelope: dict, name: str) -> str:
    value = envelope.get(name)
    if not isinstance(value, str) or not value:
        raise MalformedLine(f'"{name}" must be a non-empty string naming a node or client, '
                            f"got {json.dumps(value)[:40]}")
    if len(value) > MAX_ID_CHARS:
        raise MalformedLine(f'"{name}" is {len(value)} characters long; ids are at most {MAX_ID_CHARS}')
    return value


def parse_line(line: bytes) -> Envelope:
    """Check one stdout line (without or with its newline) and return its envelope."""
    if len(line) > MAX_LINE_BYTES:
        raise MalformedLine(f"the line is {len(line)} bytes long; a message may be at most {MAX_LINE_BYTES}")
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError as error:
        raise MalformedLine(f"it is not UTF-8 text (byte {error.start})") from None
    if not text.strip():
        raise MalformedLine("it is an empty line; print exactly one JSON message per line")
    try:
        envelope = json.loads(text, parse_constant=_refuse_constant)
    except MalformedLine:
        raise
    except RecursionError:
        raise MalformedLine("it is nested too deeply") from None
    except ValueError as error:  # JSONDecodeError, or an integer too long to convert
        hint = " (logs belong on stderr, not stdout)" if not text.lstrip().startswith("{") else ""
        where = f"{error.msg} at character {error.pos}" if isinstance(error, json.JSONDecodeError) else str(error)
        raise MalformedLine(f"it is not JSON: {where}{hint}") from None
    if not isinstance(envelope, dict):
        raise MalformedLine(f"it is a JSON {type(envelope).__name__}, not an object "
                            '{"src", "dest", "body"}')
    src, dest = _check_id(envelope, "src"), _check_id(envelope, "dest")
    # Other top-level fields (Maelstrom's network adds "id") are ignored.
    return Envelope(src, dest, check_body(envelope.get("body")))


def check_body(body: Any) -> Dict[str, Any]:
    """Check a message body (an object with a "type" string, integer ids, valid Unicode); returns it, or MalformedLine.

    The transports check a student's message with it again where it arrives (cluster/codec.py).
    """
    if not isinstance(body, dict):
        raise MalformedLine(f'"body" must be a JSON object, got {json.dumps(body)[:40]}')
    kind = body.get("type")
    if not isinstance(kind, str) or not kind:
        raise MalformedLine('the body has no "type" string (e.g. "read_ok")')
    for name in ID_FIELDS:
        value = body.get(name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
            raise MalformedLine(f'body "{name}" must be a non-negative integer, got {json.dumps(value)[:40]}')
    try:  # "\ud800" is valid JSON text but no UTF-8 line can carry it to the receiving program's stdin
        json.dumps(body, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError as error:
        half = error.object[error.start] if isinstance(error.object, str) else "?"
        raise MalformedLine(f"a string holds a lone surrogate (\\u{ord(half):04x}), half of a UTF-16 pair, "
                            "which no UTF-8 line can carry: send the whole character") from None
    return body
