"""Client histories and the linearizability checker: /history and /check.

Every write, read, delete and cas is recorded as an invocation and a
completion (cluster/history.py); `X-Client-Id` names the client. GET /check
runs the checker (the `checker` package) on the recorded history, POST /check
on a history sent in the body (Jepsen EDN, jepsen.util log lines or our JSON).
GET/POST /check/view answer the same check as a self-contained HTML picture.
Every check runs outside the cluster lock, within CHECK_TIMEOUT_S and
CHECK_MEMORY_MB, one at a time.
"""
from __future__ import annotations

import json
import re
import threading
import time
from contextlib import contextmanager, suppress
from typing import Optional

from flask import Blueprint, Response, current_app, request

from checker import DEFAULT, MODELS, HistoryError, check_history, parse_document
from checker.formats import load_json
from checker.html import CONTENT_SECURITY_POLICY, render_html
from cluster.errors import BadRequest, PayloadTooLarge, TooManyRequests
from cluster.history import to_edn
from wording import agrees, plural

from .common import admin_only, example, manager, query_int, success
from .validation import check_text as check_clean_text

bp = Blueprint("history", __name__)

MAX_CLIENT_ID = 64
# The search is CPU-bound and holds the GIL: on a shared class server one check at a time, for a
# few seconds at most, so that a pathological history cannot slow everyone else's requests.
CHECK_TIMEOUT_S = 5
CHECK_MEMORY_MB = 200  # per key's search; past it the key is "unknown" (memory)
_CHECKING = threading.BoundedSemaphore(1)


@contextmanager
def one_check_at_a_time():
    """Run a check if no other is running; otherwise 429 with a sentence."""
    if not _CHECKING.acquire(blocking=False):
        raise TooManyRequests("Another linearizability check is running on this server (they are CPU-heavy, "
                              "so they run one at a time). Retry in a few seconds.")
    try:
        yield
    finally:
        _CHECKING.release()


def over_http(text: str) -> str:
    """The checker's sentence with its command-line options named as this server's query parameters."""
    return re.sub(r"--(format|model|initial)\b", r"?\1=", text)


def checked(run):
    """Run a checker call (parse, check, draw) one at a time, turning what it cannot read into a 400."""
    try:
        with one_check_at_a_time():
            return run(time.monotonic() + CHECK_TIMEOUT_S)
    except HistoryError as error:
        raise BadRequest(f"The history cannot be checked: {over_http(str(error))}", field="history") from None
    except RecursionError:
        raise BadRequest("The history nests lists or maps too deeply to read.", rule="max_depth") from None
    except ValueError as error:  # an unknown model or format named in the body
        raise BadRequest(over_http(str(error))) from None


def _left(deadline: float) -> float:
    """Seconds of the check's budget still left (reading the history spends it too)."""
    return max(0.0, deadline - time.monotonic())


@bp.before_app_request
def name_the_client():
    """Take the client's name from X-Client-Id for the operations this request records."""
    raw = request.headers.get("X-Client-Id")
    if raw is not None:
        with suppress(UnicodeError):  # WSGI hands headers over as latin-1; clients send UTF-8 (élève-😀)
            raw = raw.encode("latin-1").decode("utf-8")
        raw = "".join(ch for ch in raw if ch.isprintable())
    if raw is not None and (not raw.strip() or len(raw) > MAX_CLIENT_ID):
        raw = None  # an unusable name is not worth refusing the request: it records as anonymous
    manager().history.set_client(raw.strip() if raw else None)


def _model() -> str:
    model = request.args.get("model", "store")
    if model not in MODELS:
        raise BadRequest(f"?model= must be one of {', '.join(MODELS)}, not {model!r}.", field="model")
    return model


def _initial():
    """?initial= as a JSON value (the state every key starts in), or the model's own."""
    raw = request.args.get("initial")
    if raw is None:
        return DEFAULT
    try:
        return load_json(raw)
    except json.JSONDecodeError:
        raise BadRequest(f"?initial= must be JSON, for example ?initial=0 or ?initial=%22%22 (the "
                         f"empty string), not {raw[:40]!r}.", field="initial") from None
    except HistoryError as error:  # NaN, 1e400, a lone surrogate, too deep
        raise BadRequest(f"?initial= cannot be a state: {error}.", field="initial") from None


@bp.get("/history")
@example(path="/history?key=color&offset=0&limit=100 (or ?format=edn)")
def history():
    """Recorded client operations (invoke and ok/fail/info events), paged; ?format=edn for Jepsen."""
    key = request.args.get("key")
    if key is not None:
        check_clean_text(key, "?key=")
    fmt = request.args.get("format", "json")
    if fmt not in ("json", "edn"):
        raise BadRequest(f"?format= must be json or edn, not {fmt!r}.", field="format")
    cluster = manager()
    with cluster.lock:
        if fmt == "edn":
            return Response(to_edn(cluster.history.complete_events(key)), mimetype="application/edn")
        page = cluster.history.page(key, query_int("offset", 0, 0, 10**9), query_int("limit", 200, 1, 10_000))
    dropped = (f" {plural(page['dropped_ops'], 'older operation')} {agrees(page['dropped_ops'], 'was', 'were')} "
               f"dropped (--max-history "
               f"{page['max_history']})." if page["dropped_ops"] else "")
    return success(f"{len(page['events'])} of {plural(page['total_events'], 'history event')}"
                   f"{' for ' + repr(key) if key else ''}: an invoke when a client asked, then ok "
                   f"(happened), fail (did not; a cas fail with 'observed' compared and saw another "
                   f"value) or info (unknown).{dropped}", **page)


@bp.delete("/history")
@admin_only
def clear_history():
    """Forget the recorded client operations (the cluster's data stays)."""
    cluster = manager()
    with cluster.lock:
        result = cluster.history.clear()
    return success(f"History cleared: {plural(result['forgotten_ops'], 'operation')} forgotten.", **result)


def _answer(verdict, source: str, recorded: Optional[int] = None):
    """The verdict as an answer; `recorded` (operations in the history) lets it count the fails left out."""
    data = verdict.to_dict()
    left_out = recorded - data["ops_checked"] if recorded is not None else 0
    # A fail did not happen, so the checker places no fail: say so, or "all 2" reads as a lost half.
    fails = (f"; the other {plural(left_out, 'operation')} of the {recorded} recorded "
             f"failed (fail: {agrees(left_out, 'it', 'they')} did not happen), so "
             f"{agrees(left_out, 'it needs', 'they need')} no place in it") if left_out > 0 else ""
    if not verdict.reports and not recorded:
        message = (f"Nothing to check: no operations were recorded"
                   f"{' for key ' + repr(request.args['key']) if 'key' in request.args else ''} "
                   f"({source}). Write or read something first, then ask again."
                   if recorded is not None else
                   f"Nothing to check: {source} has no operations (only nemesis lines, or none).")
    elif verdict.linearizable:
        message = (f"Linearizable: one sequential order explains all {plural(data['ops_checked'], 'operation')} "
                   f"on {plural(data['keys_checked'], 'key')} ({source}, model {data['model']}){fails}.")
    elif verdict.linearizable is None:
        reasons = sorted({r["reason"] for r in data["unknown_reasons"]})
        message = (f"Undecided: the checker's {' and '.join(reasons)} budget ({CHECK_TIMEOUT_S} s, "
                   f"{CHECK_MEMORY_MB} MB per key) ran out on {plural(len(data['unknown_keys']), 'key')} "
                   f"({source}); no violation found so far, and a verdict is never guessed.")
    else:
        first = data["violations"][0]
        message = (f"NOT linearizable: {plural(len(data['violations']), 'key')} "
                   f"{agrees(len(data['violations']), 'has', 'have')} no sequential order that "
                   f"explains {agrees(len(data['violations']), 'it', 'them')} ({source}). "
                   f"First, {first['message']}.")
    return success(message, **data)


def _recorded(finish):
    """Check the recorded history (?model=, ?key=, ?initial=); finish(verdict, source, recorded) answers."""
    model, initial = _model(), _initial()
    key = request.args.get("key")
    cluster = manager()
    with cluster.lock:  # copy under the lock, check outside it: the search may take a while
        events = cluster.history.complete_events(key)
        dropped = cluster.history.dropped_ops
    note = f"the last {len(events) // 2} recorded operations" if dropped else "the recorded history"
    recorded = sum(1 for event in events if event["type"] == "invoke")

    def run(deadline):
        verdict = check_history(events, model, _left(deadline), CHECK_MEMORY_MB, initial)
        return verdict, finish(verdict, note, recorded)
    return checked(run)[1]


def _head_only(mimetype: str) -> Optional[Response]:
    """HEAD asks for the headers only: answer them without running a check."""
    return Response(status=200, mimetype=mimetype) if request.method == "HEAD" else None


@bp.get("/check")
@example(path="/check?model=store&key=color")
def check_recorded():
    """Check the recorded history for linearizability (?model=store|register|kv|..., ?key=, ?initial=)."""
    return _head_only("application/json") or _recorded(_answer)


CHECK_EXAMPLE = '{"history": [{"process": 0, "type": "invoke", "f": "write", "key": "x", "value": 1}, ...]}'


def _body() -> str:
    """The body as text; 413 for a chunked body past the limit (the server cuts it silently)."""
    raw = request.get_data(cache=True)
    limit = current_app.config.get("MAX_CONTENT_LENGTH")
    if request.content_length is None and limit and len(raw) >= limit:
        stream = request.environ.get("wsgi.input")
        if stream is not None and stream.read(1):
            raise PayloadTooLarge(f"The history is larger than the {limit} bytes this server accepts; "
                                  f"check a shorter one, or check it offline: python -m checker FILE.",
                                  limit=limit)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise BadRequest("The history must be UTF-8 text.") from None
    if not text.strip():
        raise BadRequest(f"Send a history in the body, for example {CHECK_EXAMPLE}.")
    return text


def _posted(finish):
    """Check the history in the body (?model=, ?format=, ?initial=); finish(verdict, source) answers."""
    model = request.args.get("model")
    if model is not None:
        model = _model()
    initial = _initial()
    fmt = request.args.get("format")
    text = _body()

    def run(deadline):
        events, meta = parse_document(text, fmt)  # every format through the same validation
        start = meta.get("initial", DEFAULT) if initial is DEFAULT else initial
        verdict = check_history(events, model or meta.get("model") or "store", _left(deadline),
                                CHECK_MEMORY_MB, start)
        return verdict, finish(verdict, "the posted history")
    return checked(run)[1]


@bp.post("/check")
@example(body=CHECK_EXAMPLE + ", or the EDN / jepsen.util text itself; ?model=, ?format=, ?initial=")
def check_posted():
    """Check a history in the body: our JSON, Jepsen EDN or jepsen.util log lines (model store by default)."""
    return _posted(_answer)


def _page(verdict, source: str, recorded: Optional[int] = None) -> Response:
    """The verdict's picture as a self-contained HTML page (the dashboard links to or embeds it)."""
    response = Response(render_html(verdict, f"Linearizability of {source}"), mimetype="text/html")
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    response.headers["Cache-Control"] = "no-store"  # each load checks the history as it is now
    return response


@bp.get("/check/view")
@example(path="/check/view?model=store&key=color (open it in a browser)")
def view_recorded():
    """GET /check as a picture: one lane per client, the linearization, the ops that cannot be placed."""
    return _head_only("text/html") or _recorded(_page)


@bp.post("/check/view")
@example(body="the same body as POST /check; answers the HTML picture")
def view_posted():
    """POST /check as a picture of the verdict (HTML)."""
    return _posted(_page)
