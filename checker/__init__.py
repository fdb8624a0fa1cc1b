"""Linearizability checker for ReplicaLab histories (Wing & Gong search, Lowe's memoisation).

    from checker import check_history, check_text, parse_history
    verdict = check_history(events, model="store")   # events: export-shaped dicts
    verdict.linearizable, verdict.to_dict()

Command line: `python -m checker FILE [--model register|kv|store] [--json]`.
"""
from __future__ import annotations

from . import more_models  # noqa: F401  (registers mutex, set and fifo-queue)
from .check import Verdict, Violation, check_history
from .formats import FORMATS, detect_format, parse_history
from .history import UNKNOWN, Event, HistoryError, Op, pair
from .models import MODELS

__all__ = ["check_history", "check_text", "parse_history", "default_model", "detect_format",
           "Verdict", "Violation", "Event", "Op", "HistoryError", "MODELS", "FORMATS",
           "UNKNOWN", "pair"]


def default_model(fmt: str) -> str:
    """register for Jepsen's formats (their tests are registers), store for our JSON export."""
    return "store" if fmt == "json" else "register"


def check_text(text: str, model: str | None = None, fmt: str | None = None,
               independent: bool = False, timeout: float | None = None) -> Verdict:
    """Parse a history in any supported format and check it (model defaults by format)."""
    fmt = fmt or detect_format(text)
    events = parse_history(text, fmt, independent)
    return check_history(events, model or default_model(fmt), timeout)
