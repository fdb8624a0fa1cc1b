"""Input checks shared by the application blueprints (dispatch, sensors, alerts)."""
from __future__ import annotations

import json
import re

from flask import current_app

from cluster.errors import BadRequest, NeedsLww

ID_PATTERN = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


def check_id(value, what: str, example_body: str, field: str = "id") -> str:
    """An id: 1..64 letters, digits, '_', '.', '-'."""
    if not isinstance(value, str) or not ID_PATTERN.match(value):
        raise BadRequest(f"{field!r} of a {what} must be 1 to 64 letters, digits, '_', '.' or '-' "
                         f"(got {shown(value)}), for example {example_body}.", field=field)
    return value


MAX_NUMBER = 1e9  # coordinates, readings and thresholds: large enough for any building


def check_number(value, name: str) -> float:
    """A finite JSON number (not a boolean) between -1e9 and 1e9."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not abs(value) <= MAX_NUMBER:
        raise BadRequest(f"{name!r} must be a number between -{MAX_NUMBER:,.0f} and {MAX_NUMBER:,.0f} "
                         f"(got {shown(value)}).", field=name)
    return value


def shown(value) -> str:
    """A value as the student wrote it (JSON), cut short."""
    text = json.dumps(value)
    return text if len(text) <= 60 else text[:57] + "..."


def check_point(value, name: str) -> list:
    """A point [x, y] of two numbers."""
    if not isinstance(value, list) or len(value) != 2:
        raise BadRequest(f"{name!r} must be a point [x, y] of two numbers (got {shown(value)}).",
                         field=name)
    return [check_number(v, f"{name}[{i}]") for i, v in enumerate(value)]


def require(data: dict, names, example_body: str) -> None:
    """Refuse a body missing any of `names`."""
    for name in names:
        if name not in data:
            raise BadRequest(f"The body has no {name!r}; send for example {example_body}.", field=name)


APPS_NEED_LWW = ("The dispatch, sensors and alerts applications need --conflicts lww (the default): "
                 "they claim drones, readings and alerts with compare-and-set, which compares one "
                 "version per key, and this server keeps concurrent writes as siblings "
                 "(--conflicts siblings). Start `python run.py --fresh` without it to use them.")


def applications():
    """The applications (apps/registry.Applications) of the current app; refused in siblings mode."""
    if current_app.extensions["replicalab"].siblings_mode:
        raise NeedsLww(APPS_NEED_LWW, conflicts="siblings")
    return current_app.extensions["replicalab_apps"]
