"""Terminal-friendly JSON: indented, but small lists and objects stay on one line.

`{"node": "node-1", "stands_in_for": null, "applied": true}` reads better on
one line than on five; answers become a third as long in a terminal.
"""
from __future__ import annotations

import json
import json.encoder
import math
from json.encoder import encode_basestring, encode_basestring_ascii

WIDTH = 100
_CONSTANTS = {None: "null", True: "true", False: "false"}
# By ascii_only: how strings are written, and a strict (allow_nan=False) encoder.
_STRING = {False: encode_basestring, True: encode_basestring_ascii}
_PYTHON = {ascii_only: json.JSONEncoder(ensure_ascii=ascii_only, allow_nan=False).encode
           for ascii_only in (False, True)}
# json.dumps builds a new encoder on every call, which cost more than the encoding itself
# for the many small values of an answer: build the C ones once. The C encoder is private
# to json (typeshed leaves it out) and None in a Python built without the C speedups.
c_make_encoder = getattr(json.encoder, "c_make_encoder", None)
_C = {ascii_only: c_make_encoder and c_make_encoder(None, json.JSONEncoder().default, _STRING[ascii_only],
                                                    None, ": ", ", ", False, False, False)
      for ascii_only in (False, True)}


def pretty_json(value, indent: int = 2, width: int = WIDTH) -> str:
    """Render `value` indented, keeping any container that fits in `width` on one line.

    The text is always strict JSON that UTF-8 can carry, even for data an older
    version stored without today's input rules: a lone surrogate is shown
    escaped ("\\ud800") and a non-finite number as a string ("NaN").
    """
    try:
        text = _render(value, 0, indent, width, False)
        text.encode("utf-8")
        return text
    except (ValueError, UnicodeEncodeError):
        return _render(_finite(value), 0, indent, width, True)


def compact_json(value) -> str:
    """One-line strict JSON (for event streams), with the same guarantees as pretty_json."""
    try:
        return json.dumps(value, allow_nan=False)
    except ValueError:
        return json.dumps(_finite(value))


def _finite(value):
    """A copy of `value` with every non-finite float replaced by its name as a string."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value).replace("inf", "Infinity").replace("nan", "NaN")
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def _encode(value, ascii_only: bool) -> str:
    """json.dumps(value, ensure_ascii=ascii_only, allow_nan=False), without its per-call set-up."""
    if isinstance(value, str):
        return _STRING[ascii_only](value)
    encoder = _C[ascii_only]
    if encoder and isinstance(value, (dict, list)):
        return "".join(encoder(value, 0))
    return _PYTHON[ascii_only](value)


def _render(value, level: int, indent: int, width: int, ascii_only: bool) -> str:
    is_dict = isinstance(value, dict)
    if not value or not (is_dict or isinstance(value, list)):
        return _encode(value, ascii_only)
    room = width - level * indent
    # The shortest one-line form of n items is 7n characters for an object ('"": 0, ' each)
    # and 3n for an array: when even that does not fit, do not encode it just to measure it.
    if (7 if is_dict else 3) * len(value) <= room:
        flat = _encode(value, ascii_only)
        if len(flat) <= room:
            return flat
    pad = " " * ((level + 1) * indent)
    if is_dict:
        string = _STRING[ascii_only]
        items = [f"{pad}{string(str(k))}: {_child(v, level + 1, indent, width, ascii_only)}"
                 for k, v in value.items()]
        opening, closing = "{", "}"
    else:
        items = [pad + _child(v, level + 1, indent, width, ascii_only) for v in value]
        opening, closing = "[", "]"
    return opening + "\n" + ",\n".join(items) + "\n" + " " * (level * indent) + closing


def _child(value, level: int, indent: int, width: int, ascii_only: bool) -> str:
    """A container's item: strings, numbers and constants (most items) without the call to _render."""
    kind = type(value)
    if kind is str:
        return _STRING[ascii_only](value)
    if kind is dict or kind is list:
        return _render(value, level, indent, width, ascii_only)
    if value is None or kind is bool:
        return _CONSTANTS[value]
    if kind is int:
        return int.__repr__(value)
    return _encode(value, ascii_only)  # floats (NaN refused), tuples, subclasses: as json.dumps writes them
