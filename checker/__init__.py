"""Linearizability checker for ReplicaLab histories (Wing & Gong search, Lowe's memoisation).

    from checker import check_history, check_text, parse_history
    verdict = check_history(events, model="store")   # events: export-shaped dicts
    verdict.linearizable, verdict.to_dict()

Command line: `python -m checker FILE [--model NAME] [--initial JSON] [--json] [--html OUT]`.
"""
from __future__ import annotations

import time
from typing import Any

from . import more_models  # noqa: F401  (registers mutex, set and fifo-queue)
from .check import Verdict, Violation, check_history
from .formats import FORMATS, detect_format, parse_document, parse_history
from .history import UNKNOWN, Event, HistoryError, Op, pair
from .models import DEFAULT, MODELS
from .wgl import DEFAULT_MEMORY_MB

__all__ = ["check_history", "check_text", "parse_history", "default_model", "detect_format",
           "Verdict", "Violation", "Event", "Op", "HistoryError", "MODELS", "FORMATS",
           "UNKNOWN", "pair", "parse_document", "DEFAULT", "DEFAULT_MEMORY_MB"]


def default_model(fmt: str, events: list | None = None) -> str:
    """The model a history gets when none is named.

    store for our JSON export, register for Jepsen's formats, unless the
    history's operations belong to another model (Porcupine's kv histories
    append and get: kv; a Jepsen mutex test acquires: mutex).
    """
    preferred = "store" if fmt == "json" else "register"
    fs = {ev.f for ev in events or ()}
    if fs <= MODELS[preferred].fs:
        return preferred
    return next((name for name, m in MODELS.items() if fs <= m.fs), preferred)


def check_text(text: str, model: str | None = None, fmt: str | None = None,
               independent: bool = False, timeout: float | None = None,
               memory_mb: float | None = DEFAULT_MEMORY_MB, initial: Any = DEFAULT,
               stop_at_first: bool = True) -> Verdict:
    """Parse a history in any supported format and check it.

    The model is `model`, else the document's own, else the format's default;
    the initial state is `initial`, else the document's, else the model's.
    """
    started = time.monotonic()  # reading the history counts against the timeout too
    fmt = fmt or detect_format(text)
    events, meta = parse_document(text, fmt, independent)
    if timeout is not None:
        timeout = max(0.0, timeout - (time.monotonic() - started))
    chosen = model or meta.get("model") or default_model(fmt, events)
    start = initial if initial is not DEFAULT else meta.get("initial", DEFAULT)
    return check_history(events, chosen, timeout, memory_mb, start, stop_at_first)
