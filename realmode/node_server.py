"""The node-to-node HTTP routes one node process serves, and the server that binds them.

- `POST /peer/message`: one message envelope from a peer (HttpTransport POSTs it);
- `GET /peer/health`: the node's id, pid and address (the front polls it);
- `POST /peer/faults`: the fault table the front sends (fault_table.py).

These routes are not the student API: only the peers and the front may call
them (their addresses are given at start), with the admin token when one is
set, and never a web page (a request with an Origin header is refused). Every
refusal and every bad body is a JSON error with a sentence, never HTML and
never a 5xx.
"""
from __future__ import annotations

import contextlib
import hmac
import ipaddress
import json
import logging
import os
import socket
import threading
from typing import Callable, Dict, Iterable, List, Optional

from flask import Flask, jsonify, request
from werkzeug.exceptions import ClientDisconnected, HTTPException
from werkzeug.serving import BaseWSGIServer, ThreadedWSGIServer, WSGIRequestHandler
from werkzeug.wsgi import LimitedStream

from cluster.codec import body_object
from cluster.errors import Forbidden, ReplicaLabError, Unauthorized
from models import node_name
from realmode.fault_table import FaultTable, LiveFaults
from realmode.http_transport import REPLIES_HEADER

logger = logging.getLogger("replicalab")

MAX_MESSAGE_BYTES = 4 * 1024 * 1024  # a recovery sync's SyncReply carries a batch of records
MAX_CONNECTIONS = 512  # connections served at once (peers, the front, its relay: a few per node)
IDLE_CONNECTION_S = 30.0  # a kept-alive connection nobody uses for this long is closed (its thread ends)
Receive = Callable[..., tuple]  # HttpTransport.receive(envelope[, replies]): (accepted, why[, replies])


def create_node_app(node_id: int, address: str, receive: Receive, faults: LiveFaults,
                    allowed: Iterable[str], token: Optional[str] = None,
                    health: Optional[Callable[[], Dict]] = None) -> Flask:
    """The Flask app of one node process: the peer routes, guarded, with JSON errors.

    `allowed` are the IP addresses of the peers and the front ("*": any address, only
    with a token: beyond loopback the token is the guard); `health()` may add fields
    to GET /peer/health.
    """
    app = Flask(f"replicalab-{node_name(node_id)}")
    own_host = address.rpartition(":")[0].strip("[]").lower()
    app.config["MAX_CONTENT_LENGTH"] = MAX_MESSAGE_BYTES
    allowed_ips = frozenset(allowed)

    @app.before_request
    def guard():
        """Only the peers and the front, never a web page, and with the token when one is set."""
        if request.headers.get("Origin") is not None:
            raise Forbidden("Node-to-node routes do not answer web pages; students use the front's API.")
        if token is None and not _known_host(request.host, own_host):
            # DNS rebinding: a page whose name resolves to 127.0.0.1 sends its GETs (no Origin on those) here.
            raise Forbidden(f"{node_name(node_id)} does not answer to the host name in {request.host[:80]!r}: "
                            "only IP addresses, localhost and its own --listen host (no web site's name).")
        if request.remote_addr not in allowed_ips and not (token and "*" in allowed_ips):
            raise Forbidden(f"{node_name(node_id)} answers only its peers and the front; "
                            f"{request.remote_addr} is neither. Start the node with that address in --peers "
                            "or --front.", remote=request.remote_addr)
        if token and not hmac.compare_digest(request.headers.get("Authorization", "").encode(),
                                             f"Bearer {token}".encode()):
            raise Unauthorized("Node-to-node routes need the admin token: "
                               "add -H 'Authorization: Bearer <token>'.")

    def body() -> dict:
        return body_object(request.get_data(cache=False))

    @app.post("/peer/message")
    def message():
        """Take one envelope from a peer and queue it for the node."""
        takes_replies = request.headers.get(REPLIES_HEADER) == "1"
        accepted, why, *replies = receive(body(), True) if takes_replies else receive(body())
        if accepted:  # replies: what the node sent back to this peer while it handled the message (an ack)
            return jsonify(status="ok", accepted=True, replies=replies[0] if replies else []), 202
        return jsonify(status="ok", accepted=False, reason=why), 200

    @app.get("/peer/health")
    def peer_health():
        """Who this process is: node id, pid, address, the fault table version in force."""
        return jsonify(status="ok", mode="real", node=node_name(node_id), node_id=node_id, pid=os.getpid(),
                       address=address, faults_version=faults.table.version, **(health() if health else {}))

    @app.post("/peer/faults")
    def set_faults():
        """Adopt the front's fault table (an older version than the one in force is ignored)."""
        table = FaultTable.from_json(body())
        adopted = faults.replace(table)
        return jsonify(status="ok", adopted=adopted, version=faults.table.version)

    @app.errorhandler(ReplicaLabError)
    def domain_error(error: ReplicaLabError):
        """A refusal or bad input: its status, code and sentence."""
        return jsonify(status="error", error=error.code, message=error.message, **error.data), error.status

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        """404, 405, 413 and the like, as a JSON sentence."""
        code = error.name.lower().replace(" ", "_")
        message = {404: f"{node_name(node_id)} serves only /peer/message, /peer/health and /peer/faults.",
                   405: f"{request.path} does not accept {request.method}.",
                   413: f"A message may be at most {MAX_MESSAGE_BYTES} bytes."}.get(error.code or 0, error.name)
        return jsonify(status="error", error=code, message=message), error.code

    @app.errorhandler(Exception)
    def unexpected(error: Exception):
        """A bug (never bad input, which is a 4xx above): JSON 500 here, the traceback in the node's log."""
        logger.exception("%s failed on %s %s", node_name(node_id), request.method, request.path)
        return jsonify(status="error", error="internal_error",
                       message=f"{node_name(node_id)} failed on this request; its log has the details."), 500

    return app


def _known_host(host_header: str, own_host: str) -> bool:
    """True for a Host header naming an IP address, localhost or this node's own host (what peers use)."""
    if host_header.startswith("["):  # [::1]:5001
        name = host_header[1:].partition("]")[0]
    else:
        name = host_header.partition(":")[0]
    name = name.lower().rstrip(".")
    if not name or name in ("localhost", "localhost.localdomain", own_host):
        return True
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


class QuietHandler(WSGIRequestHandler):
    """Werkzeug's handler answering its own refusals in JSON, without a console line per request.

    api/server_errors.py does the same for the front; importing it would import
    the whole api package (every blueprint, the apps, the scheduler) into each
    node process, a third of its start time, for one method.
    """

    def send_error(self, code: int, message=None, explain=None) -> None:
        """Refuse a request the server could not read (bad request line, headers too large) in JSON."""
        reason = self.responses.get(code, ("Error", ""))[0]
        body = json.dumps({"status": "error", "error": reason.lower().replace(" ", "_"),
                           "message": f"This node could not read the request: {message or reason}."}).encode()
        self.log_error("code %d, message %s", code, message)
        self.close_connection = True
        self.send_response(code, reason)
        for name, value in (("Connection", "close"), ("Content-Type", "application/json"),
                            ("Content-Length", str(len(body)))):
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def setup(self) -> None:
        """Send each write at once: without TCP_NODELAY an answer's body waits for the ACK of its headers."""
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_request(self, code="-", size="-") -> None:
        """Say nothing for a served request (errors are still logged)."""


class KeepAliveHandler(QuietHandler):
    """QuietHandler that keeps the connection open between requests (HTTP/1.1 keep-alive).

    Werkzeug's development server closes every connection after one answer, so each
    message between nodes paid a new TCP connection and a new server thread
    (bench/README.md, "Where a real write's time goes"). A request with a
    Content-Length body is answered here with a Content-Length answer, and the
    body's unread rest is read before the next request line; anything else
    (a chunked body, `Expect: 100-continue`, a body larger than a message may
    be) takes Werkzeug's own path, which closes the connection after it.
    """

    protocol_version = "HTTP/1.1"
    timeout = IDLE_CONNECTION_S

    def log_error(self, format: str, *args) -> None:  # noqa: A002 -- the base class's parameter name
        """Log errors, except an idle kept-alive connection closing on its timeout: normal, and noise to a student."""
        if format.startswith("Request timed out"):
            return
        super().log_error(format, *args)

    def run_wsgi(self) -> None:
        """Run the app on one request and answer it, leaving the connection open unless the client closes it."""
        length = self.headers.get("Content-Length", "0")
        if not (length.isascii() and length.isdigit()) or len(length) > 12:
            # int() would refuse "²" (a digit to str.isdigit) or 5,000 digits with an exception: no answer at all.
            self.send_error(400, f"its Content-Length {length[:40]!r} is not a number of bytes")
            return
        if ("Transfer-Encoding" in self.headers or "Expect" in self.headers or int(length) > MAX_MESSAGE_BYTES):
            self.close_connection = True
            super().run_wsgi()
            return
        self.environ = environ = self.make_environ()
        body = LimitedStream(self.rfile, int(length))  # type: ignore[arg-type]
        environ["wsgi.input"] = body
        started: list = []
        chunks: List[bytes] = []

        def start_response(status, headers, exc_info=None):
            started[:] = [status, headers]
            return chunks.append

        try:
            result = self.server.app(environ, start_response)
            try:
                chunks.extend(result)
            finally:
                if hasattr(result, "close"):
                    result.close()
            body.exhaust()  # the next request starts right after this one's body
        except ClientDisconnected:  # it sent less body than its Content-Length and left: nobody to answer
            self.close_connection = True
            return
        except Exception:  # noqa: BLE001 -- the app answers its own errors; this is a broken body or a bug
            logger.exception("a node server request failed")
            self.close_connection = True  # where the next request starts is unknown now
            chunks[:] = [json.dumps({"status": "error", "error": "internal_error",
                                     "message": "This node failed on the request; its log has the details."}).encode()]
            started[:] = ["500 INTERNAL SERVER ERROR", [("Content-Type", "application/json")]]
        payload = b"".join(chunks)
        status, headers = started
        code, _, reason = status.partition(" ")
        self.send_response(int(code), reason)
        for name, value in headers:
            if name.lower() not in ("connection", "content-length", "transfer-encoding"):
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)


BUSY = json.dumps({"status": "error", "error": "too_many_connections",
                   "message": f"This node already serves {MAX_CONNECTIONS} connections; try again shortly."}).encode()


class BoundedServer(ThreadedWSGIServer):
    """Werkzeug's threaded server with at most `max_connections` connections (threads) at once.

    A kept-alive connection holds its thread until idle for IDLE_CONNECTION_S, and a client
    sending one header byte at a time holds it for ever (slowloris): without a bound, each
    such connection was one more thread, before the guard could refuse it. Past the bound a
    new connection gets a JSON 503 and is closed.
    """

    def __init__(self, host: str, port: int, app: Flask, max_connections: int = MAX_CONNECTIONS):
        super().__init__(host, port, app, handler=KeepAliveHandler)
        self._slots = threading.BoundedSemaphore(max_connections)
        self._open: set = set()  # connections being served: closed with the server
        self._open_lock = threading.Lock()

    def process_request(self, request, client_address) -> None:
        """Serve the connection on a thread of its own if a slot is free, else answer 503 and close it."""
        if not self._slots.acquire(blocking=False):
            with contextlib.suppress(OSError):
                request.sendall(b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
                                b"Connection: close\r\nContent-Length: %d\r\n\r\n%s" % (len(BUSY), BUSY))
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._slots.release()  # no thread started: nobody else frees the slot
            raise

    def process_request_thread(self, request, client_address) -> None:
        """Serve one connection, then free its slot."""
        with self._open_lock:
            self._open.add(request)
        try:
            super().process_request_thread(request, client_address)
        finally:
            with self._open_lock:
                self._open.discard(request)
            self._slots.release()

    def server_close(self) -> None:
        """Close the listening socket and every kept-alive connection, as a process that exits would.

        A connection left open would keep its handler thread waiting for the next request,
        and its socket would hold the port (a new server could not bind it).
        """
        super().server_close()
        with self._open_lock:
            still_open = list(self._open)
        for connection in still_open:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)


class NodeServer:
    """A threaded Werkzeug server bound to exactly the address it is given, run on its own thread."""

    def __init__(self, app: Flask, host: str, port: int, max_connections: int = MAX_CONNECTIONS):
        self._server: BaseWSGIServer = BoundedServer(host, port, app, max_connections)
        self.host, self.port = host, self._server.server_port
        self._thread = threading.Thread(target=self.serve_forever, name=f"node-server-{self.port}",
                                        daemon=True)

    @property
    def address(self) -> str:
        """host:port as peers write it in --peers."""
        return f"{self.host}:{self.port}"

    def start(self) -> NodeServer:
        """Serve in the background; returns self."""
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve on the calling thread until shutdown()."""
        self._server.serve_forever(poll_interval=0.1)  # shutdown() waits up to one interval

    def shutdown(self) -> None:
        """Stop serving and close the socket."""
        self._server.shutdown()
        self._server.server_close()
