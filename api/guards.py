"""Guards of a shared class server: no other web site may drive the cluster.

curl and scripts send no `Origin` header and keep working exactly as the
README shows. A browser sends `Origin` on every cross-site request (and on
same-site POSTs): a request whose Origin is present and is neither this
server's own nor in --allowed-origins is refused, whatever its Content-Type
(a text/plain form post is parsed as JSON here, so content types protect
nothing). DNS rebinding makes a browser send a page's requests to this server
under the attacker's host name, so the Host header must be an IP address,
localhost, or a name in --allowed-hosts.
"""
from __future__ import annotations

import ipaddress
import re
from typing import Dict, Optional
from urllib.parse import urlsplit

from flask import Flask, request

from cluster.errors import Forbidden
from config import Config

LOCAL_NAMES = {"localhost", "localhost.localdomain"}
MAX_VERDICTS = 64  # Host headers whose verdict is remembered


# RFC 9110's Host: a name or IPv4 address, or an IPv6 literal in brackets, then an optional
# port, and nothing else: no user part ("127.0.0.1:5000@evil.example"), path, space or comma.
HOST_FORM = re.compile(r"(?:\[(?P<literal>[0-9a-z:.%_-]{2,60})\]|(?P<name>[a-z0-9_.-]{1,253}))(?::\d{0,5})?")


def host_name(host_header: str) -> Optional[str]:
    """The name part of a Host header, or None when it is not host[:port].

    'example.org:5000' -> 'example.org', '[::1]:80' -> '::1', 'localhost.' -> 'localhost';
    '127.0.0.1:5000@evil.example' -> None: a browser would have asked evil.example.
    """
    match = HOST_FORM.fullmatch(host_header.lower())
    if match is None:
        return None
    if match.group("literal") is not None:
        literal = match.group("literal")
        return literal if is_ip(literal) else None
    name = match.group("name")
    return name[:-1] if name.endswith(".") and len(name) > 1 else name


def is_ip(name: str) -> bool:
    """True for an IPv4 or IPv6 address literal."""
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def host_refusal(config: Config, host_header: str) -> Optional[str]:
    """Why a request with this Host header is refused, or None to serve it."""
    if not host_header:
        return None  # an HTTP/1.0 client sends none; browsers always do
    name = host_name(host_header)
    if name is None:
        return (f"This server does not answer to the Host header {host_header[:80]!r}: it must be a host "
                "name or IP address with an optional port (host or host:port) and nothing else. "
                "curl and browsers send it by themselves; check a script that sets it.")
    allowed = config.hosts()
    if is_ip(name) or name in LOCAL_NAMES or "*" in allowed or name in allowed:
        return None
    return (f"This server does not answer to the host name {name!r}: only IP addresses, localhost "
            "and the names in --allowed-hosts. That stops other web sites from reaching it by "
            f"DNS rebinding. An instructor can add it: --allowed-hosts {name}.")


def origin_refusal(config: Config, origin: Optional[str], host_header: str) -> Optional[str]:
    """Why a request from this Origin is refused, or None (no Origin, same origin, or allowed)."""
    if origin is None:
        return None  # curl, scripts, and browsers' same-origin GETs
    cleaned = origin.strip().rstrip("/").lower()
    if cleaned in config.origins():
        return None
    if cleaned != "null" and urlsplit(cleaned).netloc == host_header.strip().lower():
        return None  # this server's own pages (the dashboard)
    return (f"This request came from the web page at {origin!r}, not from this server's own pages "
            "or a command line; ReplicaLab refuses it so that other web sites cannot drive the "
            "class cluster. An instructor can allow that page with --allowed-origins.")


def register_guards(app: Flask, config: Config) -> None:
    """Check Host and Origin before any route runs (errors answer JSON 403)."""

    # host_refusal per Host header seen, as every request asks it again (ipaddress refuses a
    # name by raising, which costs more than the rest of the guard); bounded, as headers are input.
    verdicts: Dict[str, Optional[str]] = {}

    @app.before_request
    def refuse_cross_site():
        """Refuse requests from other web sites and under unknown host names."""
        # The raw header: Werkzeug's request.host turns a malformed one into "", which says nothing.
        host = request.headers.get("Host", "")
        if host in verdicts:
            why = verdicts[host]
        else:
            why = host_refusal(config, host)
            if len(verdicts) < MAX_VERDICTS:
                verdicts[host] = why
        why = why or origin_refusal(config, request.headers.get("Origin"), host)
        if why:
            raise Forbidden(why, origin=request.headers.get("Origin"), host=host[:200])
