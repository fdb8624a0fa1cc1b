"""The client a lab runs against a live server over HTTP (`python -m labs run --url`, real mode)."""
from __future__ import annotations

import json
from typing import Optional


class HttpClient:
    """Requests against a running ReplicaLab server (with its admin token, if it has one)."""

    def __init__(self, url: str, token: Optional[str] = None):
        import requests
        self._requests = requests
        self.url = url.rstrip("/")
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}

    def request(self, method: str, path: str, body=None, headers: Optional[dict] = None):
        """Send one request (from any thread); returns (status code, parsed JSON)."""
        data = json.dumps(body) if body is not None else None
        response = self._requests.request(method, self.url + path, data=data,
                                          headers={**self.headers, **(headers or {})}, timeout=60)
        try:
            return response.status_code, response.json()
        except ValueError:
            return response.status_code, {"raw": response.text}
