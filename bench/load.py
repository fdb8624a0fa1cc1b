"""Load clients for the HTTP benchmarks: wrk when installed, else our own.

`throughput` drives one URL with 2 threads and 16 connections for a few
seconds and returns requests per second. With `wrk` on PATH (apt package
`wrk`) it runs `wrk -t2 -c16`; otherwise 2 processes of 8 keep-alive
connections each (http.client), which is slower and so measures less of the
gap, but the ratio between two servers driven the same way stays meaningful.
"""
from __future__ import annotations

import http.client
import json
import multiprocessing
import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
from typing import List, Optional
from urllib.parse import urlsplit

WRITE_LUA = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local n = 0
request = function()
  n = n + 1
  return wrk.format(nil, nil, nil, string.format('{"key": "k%d", "value": %d}', n % 1000, n))
end
"""


def write_body(n: int) -> bytes:
    """The body of the n-th benchmark write (1,000 keys in turn)."""
    return json.dumps({"key": f"k{n % 1000}", "value": n}).encode()


def throughput(url: str, method: str = "GET", seconds: float = 5, threads: int = 2,
               connections: int = 16) -> float:
    """Requests per second of `method url` (POST sends write bodies) under concurrent load."""
    if shutil.which("wrk"):
        return _wrk(url, method, seconds, threads, connections)
    return _own_client(url, method, seconds, threads, connections)


def _wrk(url: str, method: str, seconds: float, threads: int, connections: int) -> float:
    command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds:g}s"]
    script: Optional[str] = None
    if method == "POST":
        handle, script = tempfile.mkstemp(suffix=".lua")
        with os.fdopen(handle, "w") as out:
            out.write(WRITE_LUA)
        command += ["-s", script]
    try:
        output = subprocess.run(command + [url], capture_output=True, text=True, check=True).stdout
    finally:
        if script:
            os.unlink(script)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    if errors:
        raise RuntimeError(f"{errors.group(1)} requests failed:\n{output}")
    found = re.search(r"Requests/sec:\s+([\d.]+)", output)
    if found is None:
        raise RuntimeError(f"wrk printed no Requests/sec:\n{output}")
    return float(found.group(1))


def _own_client(url: str, method: str, seconds: float, threads: int, connections: int) -> float:
    per_process = max(1, connections // threads)
    with multiprocessing.Pool(threads) as pool:
        counts = pool.starmap(_client_process, [(url, method, seconds, per_process, i) for i in range(threads)])
    return sum(counts) / seconds


def _client_process(url: str, method: str, seconds: float, connections: int, seed: int) -> int:
    """One load process: `connections` threads, each on its own keep-alive connection."""
    done: List[int] = []
    deadline = time.monotonic() + seconds
    workers = [threading.Thread(target=lambda i=i: done.append(_connection(url, method, deadline, seed * 100 + i)))
               for i in range(connections)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return sum(done)


def _connection(url: str, method: str, deadline: float, offset: int) -> int:
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=30)
    count = 0
    while time.monotonic() < deadline:
        body = write_body(offset * 1_000_000 + count) if method == "POST" else None
        connection.request(method, parts.path, body=body)
        response = connection.getresponse()
        response.read()
        if response.status >= 300:
            raise RuntimeError(f"{method} {url} answered {response.status}")
        count += 1
    connection.close()
    return count
