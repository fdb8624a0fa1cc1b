"""The client a lab runs against a live server over HTTP (`python -m labs run --url`, real mode)."""
from __future__ import annotations

import json


class HttpClient:
    """Requests against a running ReplicaLab server."""

    def __init__(self, url: str):
        import requests
        self._requests = requests
        self.url = url.rstrip("/")

    def request(self, method: str, path: str, body=None):
        """Send one request (from any thread); returns (status code, parsed JSON)."""
        data = json.dumps(body) if body is not None else None
        response = self._requests.request(method, self.url + path, data=data, timeout=60)
        try:
            return response.status_code, response.json()
        except ValueError:
            return response.status_code, {"raw": response.text}
