"""One kept-alive HTTP/1.1 connection to one node process, for the hot paths of real mode.

A message between nodes and a batch of events are small POSTs sent again and
again to the same address. `requests` spends more of a node's CPU preparing a
request (proxies from the environment, cookies, hooks, adapters) than the
node spends storing the write (bench/README.md, "Where a real write's time
goes"), so the peer links and the event relay use this thin wrapper around the
standard library's `http.client` instead: one socket kept open between
requests (node_server.py answers with keep-alive), TCP_NODELAY, a connect
timeout and a read timeout. Not thread-safe: each sending thread has its own.
"""
from __future__ import annotations

import http.client
import select
import socket
import time
from typing import Dict, Optional, Tuple

STALE_AFTER_S = 15.0  # reconnect before reusing a connection idle this long (the server closes one after 30 s)


class Unreachable(Exception):
    """The connection could not be made (`sent` False: nothing was done), or broke before an answer came."""

    def __init__(self, reason: str, sent: bool):
        super().__init__(reason)
        self.reason = reason
        self.sent = sent


class NoAnswer(Unreachable):
    """Connected and sent, but no answer came within the read timeout."""


class KeepAliveClient:
    """POSTs to one `host:port` over one kept-alive connection; reconnects when it breaks."""

    def __init__(self, address: str, connect_timeout_s: float, read_timeout_s: float,
                 headers: Optional[Dict[str, str]] = None):
        host, _, port = address.rpartition(":")
        self.host, self.port = host, int(port)
        self.connect_timeout_s, self.read_timeout_s = connect_timeout_s, read_timeout_s
        self.headers = {"Content-Type": "application/json", **(headers or {})}
        self._connection: Optional[http.client.HTTPConnection] = None
        self._last_used = 0.0

    def post(self, path: str, body: bytes, retry_broken: bool = True) -> Tuple[int, bytes]:
        """POST `body`; (status, answer body). Unreachable or NoAnswer when no answer came.

        A kept-alive connection that broke under the request is tried once more on a new
        one when `retry_broken` (the peer may have closed it a moment before): that may
        deliver the request twice, so a caller that must not repeat one passes False.
        """
        reused = self._connection is not None and not self._dropped()
        if not reused:
            self.close()
        try:
            return self._exchange(path, body)
        except NoAnswer:
            raise
        except Unreachable:
            if not (reused and retry_broken):
                raise
        return self._exchange(path, body)

    def _dropped(self) -> bool:
        """True when the kept connection is idle too long or the peer closed it (EOF waiting to be read)."""
        sock = self._connection.sock if self._connection is not None else None
        if sock is None or time.monotonic() - self._last_used > STALE_AFTER_S:
            return True
        try:
            readable, _, _ = select.select([sock], [], [], 0)
        except (OSError, ValueError):
            return True
        return bool(readable)  # an idle kept-alive connection has nothing to read: EOF or junk means it is gone

    def _exchange(self, path: str, body: bytes) -> Tuple[int, bytes]:
        connection = self._connection or self._connect()
        try:
            connection.request("POST", path, body, self.headers)
            answer = connection.getresponse()
            data = answer.read()
        except TimeoutError:
            self.close()
            raise NoAnswer(f"no answer within {self.read_timeout_s:g} s", sent=True) from None
        except (OSError, http.client.HTTPException) as error:
            self.close()
            raise Unreachable(f"the connection broke ({type(error).__name__})", sent=True) from None
        if answer.will_close:
            self.close()
        self._last_used = time.monotonic()
        return answer.status, data

    def _connect(self) -> http.client.HTTPConnection:
        connection = http.client.HTTPConnection(self.host, self.port, timeout=self.connect_timeout_s)
        try:
            connection.connect()
        except (OSError, http.client.HTTPException) as error:
            connection.close()
            raise Unreachable(f"could not connect ({type(error).__name__})", sent=False) from None
        assert connection.sock is not None
        connection.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        connection.sock.settimeout(self.read_timeout_s)
        self._connection = connection
        return connection

    def close(self) -> None:
        """Close the connection (the next post opens a new one)."""
        if self._connection is not None:
            self._connection.close()
            self._connection = None
