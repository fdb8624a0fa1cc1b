"""GET /dashboard: the live dashboard page (static/dashboard.html and its scripts).

The page is plain HTML, CSS and JavaScript from the app's static folder; it only
composes the JSON endpoints and /events/stream, so it needs no server state.
"""
from __future__ import annotations

from flask import Blueprint, current_app, send_from_directory

bp = Blueprint("dashboard", __name__)

# Everything the page loads comes from this server: no inline script, no CDN.
# Scripts set element positions through the CSSOM, which style-src 'self' allows.
CONTENT_SECURITY_POLICY = ("default-src 'self'; script-src 'self'; style-src 'self'; "
                           "img-src 'self' data:; connect-src 'self'; object-src 'none'; "
                           "base-uri 'none'; frame-ancestors 'none'")


@bp.get("/dashboard")
def dashboard():
    """The dashboard page: ring, messages, step mode, controls, key inspector, event log."""
    assert current_app.static_folder is not None  # Flask(__name__) always has one: static/
    response = send_from_directory(current_app.static_folder, "dashboard.html")
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    response.headers["Cache-Control"] = "no-cache"  # a reload always gets the page of this server
    return response
