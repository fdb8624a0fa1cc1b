"""Fuzz figures: hostile requests to every endpoint, and what came back.

    python -m bench.fuzz [--requests 3000] [--seed 1] [--url http://127.0.0.1:5000]

Without --url it drives a fresh in-process cluster through the Flask test
client; with --url, a running server (start it with a short client timeout,
e.g. REPLICALAB_CLIENT_TIMEOUT_MS=100, so paused writes answer 504 quickly).
It prints the requests sent by status, any problem (a 5xx other than 503/504,
an answer that is not strict JSON), and whether every acknowledged write is
still readable after the cluster is healed. Exit status 1 if anything failed.
"""
from __future__ import annotations

import argparse
import random
import sys
import time
from urllib.parse import quote

from tests.fuzzing import FuzzLog, heal_everything, lost_writes, next_request, strict_json


def main(argv=None) -> int:
    """Run the fuzz and print its figures; returns the exit status."""
    parser = argparse.ArgumentParser(prog="python -m bench.fuzz", description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--url", help="a running server (default: in-process)")
    args = parser.parse_args(argv)

    if args.url:
        import requests
        session = requests.Session()

        def send(method, path, body, headers=None):
            """One request to the server."""
            answer = session.request(method, args.url + path, data=body, headers=headers or {}, timeout=30)
            return answer.status_code, answer.headers.get("Content-Type", ""), answer.text
        nodes = len(session.get(args.url + "/nodes", timeout=10).json()["nodes"])
    else:
        from tests.helpers import make_app
        _, client = make_app(client_timeout_ms=50)

        def send(method, path, body, headers=None):
            """One request through the test client."""
            answer = client.open(path, method=method, data=body, headers=headers or {})
            return answer.status_code, answer.content_type, answer.get_data(as_text=True)
        nodes = 5

    rng = random.Random(args.seed)
    log = FuzzLog()
    started = time.perf_counter()
    for _ in range(args.requests):
        request = next_request(rng)
        log.record(request, *send(request.method, request.path, request.body, request.headers))
    elapsed = time.perf_counter() - started
    heal_everything(lambda m, p, b: send(m, p, b)[::2], nodes)

    def read(key):
        """Read a key from every replica."""
        status, _, text = send("GET", "/read/" + quote(key, safe="") + "?r=3", None)
        return status, strict_json(text)

    lost = lost_writes(log, read)
    print(f"target: {args.url or 'in-process test client'}, seed {args.seed}")
    print(log.summary())
    print(f"time: {elapsed:.1f} s ({log.requests / elapsed:.0f} requests/s)")
    for problem in log.problems[:20]:
        print("  problem:", problem)
    print(f"acknowledged writes lost after healing: {len(lost)}")
    for item in lost[:20]:
        print("  lost:", item)
    return 1 if log.problems or lost else 0


if __name__ == "__main__":
    sys.exit(main())
