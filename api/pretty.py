"""Terminal-friendly JSON: indented, but small lists and objects stay on one line.

`{"node": "node-1", "stands_in_for": null, "applied": true}` reads better on
one line than on five; answers become a third as long in a terminal.
"""
from __future__ import annotations

import json

WIDTH = 100


def pretty_json(value, indent: int = 2, width: int = WIDTH) -> str:
    """Render `value` indented, keeping any container that fits in `width` on one line."""
    return _render(value, 0, indent, width)


def _render(value, level: int, indent: int, width: int) -> str:
    flat = json.dumps(value, ensure_ascii=False)
    if not isinstance(value, (dict, list)) or not value or len(flat) + level * indent <= width:
        return flat
    pad = " " * ((level + 1) * indent)
    if isinstance(value, dict):
        items = [f"{pad}{json.dumps(str(k), ensure_ascii=False)}: {_render(v, level + 1, indent, width)}"
                 for k, v in value.items()]
        opening, closing = "{", "}"
    else:
        items = [pad + _render(v, level + 1, indent, width) for v in value]
        opening, closing = "[", "]"
    return opening + "\n" + ",\n".join(items) + "\n" + " " * (level * indent) + closing
