"""JSON for the errors the HTTP servers produce themselves, before Flask sees a request.

A request line too long, a raw space in it, or headers too large are refused
by the server (Werkzeug's development server or gunicorn), which answers with
an HTML page of its own. Students' tools expect JSON from every answer, so
both servers here answer those refusals with the same shape as the app's
errors: {"status": "error", "error": ..., "message": ...}.
"""
from __future__ import annotations

import json
from typing import Tuple

from flask import current_app, request
from gunicorn import util as gunicorn_util
from gunicorn.workers.base import Worker
from gunicorn.workers.gthread import ThreadWorker
from werkzeug.serving import WSGIRequestHandler

# The longest request line gunicorn accepts (its own maximum). A key of 512
# characters, each percent-encoded to at most 12 bytes, fits with room to spare.
MAX_REQUEST_LINE = 8190

SENTENCES = {
    400: "The server could not read this request: {detail}. Check the URL for spaces or odd characters "
         "(percent-encode them) and the headers.",
    414: "The request line is longer than this server accepts ({limit} bytes). Keys are at most 512 "
         "characters, which always fit: shorten the URL.",
    431: "The request's headers are larger than this server accepts: send fewer or shorter headers.",
    501: "The server does not support this request: {detail}.",
}


def json_error(status: int, reason: str, detail: str = "") -> Tuple[str, bytes]:
    """The JSON body (and its code) for a server-level refusal."""
    sentence = SENTENCES.get(status, "The server refused this request: {detail}.")
    message = sentence.format(detail=detail.strip() or reason, limit=MAX_REQUEST_LINE)
    code = reason.lower().replace(" ", "_")
    return code, json.dumps({"status": "error", "error": code, "message": message}).encode("utf-8")


class JSONErrorRequestHandler(WSGIRequestHandler):
    """Werkzeug's development-server handler, answering its own errors in JSON."""

    def send_error(self, code: int, message=None, explain=None) -> None:
        """Write a JSON error instead of http.server's HTML page."""
        reason = self.responses.get(code, ("Error", ""))[0]
        _, body = json_error(code, reason, message or "")
        self.log_error("code %d, message %s", code, message)
        self.close_connection = True
        self.send_response(code, reason)
        self.send_header("Connection", "close")
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD" and code >= 200 and code not in (204, 304):
            self.wfile.write(body)


def drain_unread_body(response):
    """Read the rest of a body the route did not need (within the size limit) before answering.

    gunicorn drains at most 64 KiB of an unread body after sending a kept-alive
    answer; past that it closes the connection without saying so, and the
    client's next request on it (a browser's, a requests.Session's) fails with
    no answer at all. A body within MAX_CONTENT_LENGTH is read here instead,
    so the connection stays usable; a larger one was already refused (413).
    """
    length = request.content_length
    if length and length <= current_app.config["MAX_CONTENT_LENGTH"]:
        request.get_data()  # cached: free when the route already read it
    return response


def write_json_error(sock, status_int: int, reason: str, mesg: str) -> None:
    """gunicorn's error writer, with a JSON body instead of an HTML page."""
    _, body = json_error(status_int, reason, mesg)
    head = (f"HTTP/1.1 {status_int} {reason}\r\nConnection: close\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n")
    gunicorn_util.write_nonblock(sock, head.encode("latin-1") + body)


class JSONErrorThreadWorker(ThreadWorker):
    """gunicorn's threaded (gthread) worker, answering its own request errors in JSON.

    It also stops on SIGINT/SIGQUIT without deadlocking: gthread's handler calls
    `tpool.shutdown()`, which takes the thread pool's shutdown lock; when the
    signal lands while the main thread is inside `tpool.submit()`, which holds
    that lock, the worker hung until the master's SIGKILL after graceful_timeout
    (30 s), and batched writes never reached the disk. Ours is the base worker's
    handler, which takes no lock and exits; gunicorn then calls worker_exit
    (gunicorn.conf.py), which commits and closes the nodes' files. (SIGTERM's
    handler only puts on a SimpleQueue, which is safe in a signal handler.)
    """

    def handle_quit(self, sig, frame) -> None:
        """SIGINT/SIGQUIT: exit now (worker_exit still flushes), without taking the pool's lock."""
        Worker.handle_quit(self, sig, frame)

    def init_process(self) -> None:
        """Swap gunicorn's HTML error writer for ours in this worker process, then serve.

        gunicorn still classifies and logs each error (status, reason, detail);
        only the page it writes changes. The swap happens after the fork, inside
        the one process that serves the cluster, so nothing else is affected.
        """
        gunicorn_util.write_error = write_json_error
        super().init_process()
