"""The rules every input meets at the edge, before the cluster sees it.

A value that passes them can always be stored, replicated, read, listed,
exported and replayed; one that does not is refused with a 400 that names the
rule. The rules:
- JSON nests at most MAX_VALUE_DEPTH levels in a written value, and at most
  MAX_CONTROL_DEPTH levels in the body of a control endpoint;
- every string (keys, values, object keys inside values) is valid Unicode:
  no lone surrogates such as "\\ud800", which no UTF-8 file or answer can hold;
- every number is finite: NaN, Infinity and numbers too large for a float
  (1e400) are not JSON that every client can read back;
- sizes are bounded: the body (413, see app.py), the key (max_key_length
  characters) and the value (max_value_bytes of JSON).
"""
from __future__ import annotations

import json
import math
from typing import Any

from cluster.errors import BadRequest

MAX_VALUE_DEPTH = 32  # levels of lists/objects inside a value
MAX_CONTROL_DEPTH = 4  # {"groups": [[0, 1], [2, 3]]} is 3 levels deep


def _refuse_constant(name: str):
    raise BadRequest(f"The body contains {name}, which is not a number JSON can carry: send a "
                     "finite number (or a string).", rule="finite_numbers")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise BadRequest(f"The number {text[:40]} is too large to store as a finite number; "
                         "send a smaller number or a string.", rule="finite_numbers")
    return value


def json_hint(text: str) -> str:
    """The start of a hint that fits the mistake: a form body, single quotes, or something else."""
    start = text.lstrip()[:1]
    if start and start not in "{[\"" and "=" in text:
        # curl -d 'key=color&value=blue' or a browser form: fields, not JSON.
        return ("It looks like form fields (name=value&...); send a JSON object instead, with "
                "-d and single quotes around it in the shell, for example ")
    if start in ("{", "["):
        return "Use double quotes around names and strings, for example "
    return "Send a JSON object, for example "


def parse_json(raw: bytes, max_depth: int, example: str) -> Any:
    """Decode a JSON body under the edge rules; any breach is a BadRequest naming the rule."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise BadRequest("The body is not valid JSON: it is not UTF-8 text. Send JSON, for example "
                         f"{example}.", rule="utf8") from None
    try:
        data = json.loads(text, parse_constant=_refuse_constant, parse_float=_finite_float)
    except RecursionError:
        raise BadRequest(f"The body nests lists or objects too deeply to read (a written value may "
                         f"nest {MAX_VALUE_DEPTH} levels, a control body {MAX_CONTROL_DEPTH}); "
                         "flatten it.", rule="max_depth", limit=max_depth) from None
    except ValueError as exc:
        hint = json_hint(text)
        raise BadRequest(f"The body is not valid JSON ({exc}). {hint}{example}.",
                         rule="json") from None
    check_tree(data, max_depth)
    return data


def check_tree(data: Any, max_depth: int, what: str = "The body") -> None:
    """Refuse nesting deeper than `max_depth`, lone surrogates and non-finite numbers."""
    stack = [(data, 1)]
    while stack:  # iterative: a hostile depth must not cost us our own stack
        item, depth = stack.pop()
        if isinstance(item, (dict, list)):
            if depth > max_depth:
                raise BadRequest(f"{what} nests lists or objects more than {max_depth} levels deep "
                                 f"(a written value may nest {MAX_VALUE_DEPTH} levels, a control body "
                                 f"{MAX_CONTROL_DEPTH}); flatten it.", rule="max_depth", limit=max_depth)
            if isinstance(item, dict):
                for key, child in item.items():
                    check_text(key, f"{what} has an object key that")
                    stack.append((child, depth + 1))
            else:
                stack.extend((child, depth + 1) for child in item)
        elif isinstance(item, str):
            check_text(item, f"{what} has a string that")
        elif isinstance(item, float) and not math.isfinite(item):
            raise BadRequest(f"{what} has a number that is not finite ({item}).", rule="finite_numbers")


def check_text(text: str, subject: str) -> str:
    """Refuse a string with a lone surrogate (half of a UTF-16 pair); returns it otherwise."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        bad = text[exc.start]
        raise BadRequest(f"{subject} is not valid Unicode: it holds a lone surrogate "
                         f"(\\u{ord(bad):04x}), half of a UTF-16 pair. Send the whole character.",
                         rule="valid_unicode") from None
    return text
