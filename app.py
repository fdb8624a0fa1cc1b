"""create_app(config) -> Flask app: the cluster, the blueprints, JSON errors.

Nothing is built at import time; each app gets its own ReplicationManager in
app.extensions["replicalab"], so every test gets a fresh cluster.
"""
from __future__ import annotations

import logging
import sys
from typing import Optional

from flask import Flask, current_app, jsonify, request
from flask.json.provider import DefaultJSONProvider
from werkzeug.exceptions import HTTPException

from api import BLUEPRINTS, student_kv
from api.guards import register_guards
from api.lifecycle import install
from api.pretty import pretty_json
from api.results import error_body
from api.server_errors import drain_unread_body
from cluster.errors import ReplicaLabError
from config import Config, env_sources, from_env
from scheduler import should_start

logger = logging.getLogger("replicalab")

# Room for the key, the JSON punctuation and "w" around the largest value allowed.
BODY_OVERHEAD_BYTES = 64 * 1024


class TerminalJSONProvider(DefaultJSONProvider):
    """Answers as indented JSON with small containers on one line (see pretty.py)."""

    def response(self, *args, **kwargs):
        """Serialize like jsonify: one positional value, several, or keyword arguments."""
        obj = kwargs or (args[0] if len(args) == 1 else list(args))
        return self._app.response_class(pretty_json(obj) + "\n", mimetype=self.mimetype)


class ReplicaLabFlask(Flask):
    """Flask with terminal-friendly JSON answers."""

    json_provider_class = TerminalJSONProvider


def create_app(config: Optional[Config] = None, world_factory=None) -> Flask:
    """Build the app and its cluster; with no config, read REPLICALAB_* variables.

    `world_factory` (real mode: realmode.front.ProcessWorld) puts each node in its own process.
    """
    config = config.validate() if config else from_env().validate(env_sources())
    setup_console()
    app = ReplicaLabFlask(__name__)
    app.url_map.merge_slashes = False  # keys may contain "//"
    app.config["MAX_CONTENT_LENGTH"] = config.max_value_bytes + BODY_OVERHEAD_BYTES
    install(app, config, start_scheduler=config.scheduler == "on" and should_start(app.debug),
            world_factory=world_factory)
    register_guards(app, config)
    for blueprint in BLUEPRINTS:
        app.register_blueprint(blueprint)
    for name in student_kv.APP_BLUEPRINTS:  # the apps need ReplicaLab's own nodes
        app.before_request_funcs.setdefault(name, []).append(student_kv.refuse_apps)
    register_error_handlers(app)
    app.after_request(answer_options_in_json)
    app.after_request(drain_unread_body)
    return app


def setup_console() -> None:
    """Send the cluster's narration to stderr, one line per event (once per process)."""
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False


def http_error_message(error: HTTPException, limit: int) -> str:
    """A sentence a student understands for a framework-level HTTP error."""
    if error.code == 404:
        return not_found_message()
    if error.code == 405:
        methods = getattr(error, "valid_methods", None) or []  # set by MethodNotAllowed
        allowed = ", ".join(sorted(m for m in methods if m not in ("HEAD", "OPTIONS")))
        return f"{request.path} does not accept {request.method}; use {allowed}."
    if error.code == 413:
        return f"The request body is larger than the {limit} bytes this server accepts."
    return error.description or error.name


def not_found_message() -> str:
    """A 404 sentence with the hint that fits: a trailing slash, a key in the wrong place, or GET /."""
    path = request.path
    if path.endswith("/") and len(path) > 1:
        adapter = current_app.url_map.bind("localhost")
        if adapter.test(path.rstrip("/"), method=request.method):
            return (f"There is no endpoint {request.method} {path}; drop the trailing slash: "
                    f"{path.rstrip('/')}.")
    if path.count("/") == 1 and request.method == "GET":
        return (f"There is no endpoint GET {path}. GET / lists the endpoints; a key goes after "
                f"an operation, e.g. /read{path}.")
    return f"There is no endpoint {request.method} {path}. GET / lists the endpoints."


def answer_options_in_json(response):
    """OPTIONS gets Flask's automatic answer (the Allow header) with a JSON body, like every answer."""
    if request.method == "OPTIONS" and response.mimetype != "application/json":
        allowed = sorted(m for m in response.allow if m != "OPTIONS")
        body = {"status": "success", "message": f"{request.path} accepts {', '.join(allowed)}.",
                "allowed": allowed}
        response.set_data(pretty_json(body) + "\n")
        response.mimetype = "application/json"
    return response


def register_error_handlers(app: Flask) -> None:
    """Turn every error into {"status": "error", "error", "message"} JSON."""

    @app.errorhandler(ReplicaLabError)
    def domain_error(error: ReplicaLabError):
        """A ReplicaLabError: its status, code, sentence and data."""
        return jsonify(error_body(error)), error.status

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        """A framework error (404, 405, 413...) as a JSON sentence."""
        code = error.name.lower().replace(" ", "_")
        body = {"status": "error", "error": code,
                "message": http_error_message(error, app.config["MAX_CONTENT_LENGTH"])}
        return jsonify(body), error.code

    @app.errorhandler(Exception)
    def unexpected(error: Exception):
        """A bug: JSON 500 for the client, the traceback on the console."""
        logger.exception("unexpected error while handling %s %s", request.method, request.path)
        body = {"status": "error", "error": "internal_error",
                "message": "Something went wrong inside ReplicaLab; the server console has the "
                           "details. Your data is safe: nothing was acknowledged for this request."}
        return jsonify(body), 500


def shutdown(app: Flask) -> None:
    """Stop the scheduler, then flush and close every node's storage."""
    app.extensions["replicalab_scheduler"].shutdown()
    app.extensions["replicalab"].close()
