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
from typing import Optional
from urllib.parse import urlsplit

from flask import Flask, request

from cluster.errors import Forbidden
from config import Config

LOCAL_NAMES = {"localhost", "localhost.localdomain"}


def host_name(host_header: str) -> str:
    """The name part of a Host header: 'example.org:5000' -> 'example.org', '[::1]:80' -> '::1'."""
    host = host_header.strip().lower()
    if host.startswith("["):
        return host[1:].split("]", 1)[0]
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def is_ip(name: str) -> bool:
    """True for an IPv4 or IPv6 address literal."""
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def host_refusal(config: Config, host_header: str) -> Optional[str]:
    """Why a request with this Host header is refused, or None to serve it."""
    name = host_name(host_header)
    allowed = config.hosts()
    if not name or is_ip(name) or name in LOCAL_NAMES or "*" in allowed or name in allowed:
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

    @app.before_request
    def refuse_cross_site():
        """Refuse requests from other web sites and under unknown host names."""
        why = host_refusal(config, request.host) or origin_refusal(
            config, request.headers.get("Origin"), request.host)
        if why:
            raise Forbidden(why, origin=request.headers.get("Origin"), host=request.host)
