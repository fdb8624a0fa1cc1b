"""Benchmark: sequential latency of write, read and delete, ReplicaLab against bare Flask.

Both run on the development server of `python run.py` (the bare app on the
same server, bench/bare_app.py), with their default settings; one client sends
one request at a time, alternating between the two servers so that both see
the same machine load. Target: p50 of write and read <= 1.3x bare Flask's.

    python -m bench.latency [--requests 1000] [--durability sync|batch]
"""
from __future__ import annotations

import argparse
import http.client
import json
import sys
import time
from typing import Dict, List, Optional

from bench import servers
from bench.measure import percentile

TARGET = 1.3


def timed(port: int, method: str, path: str, body: Optional[bytes] = None) -> float:
    """Seconds for one request on a fresh connection (the development server closes each one)."""
    started = time.perf_counter()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    connection.request(method, path, body=body)
    response = connection.getresponse()
    response.read()
    connection.close()
    elapsed = time.perf_counter() - started
    if response.status >= 300:
        raise RuntimeError(f"{method} {path} answered {response.status}")
    return elapsed


def run(count: int, bare: servers.Server, ours: servers.Server) -> Dict[str, Dict[str, List[float]]]:
    """Latencies in seconds by operation and server, requests alternating between the servers."""
    found: Dict[str, Dict[str, List[float]]] = {op: {"bare": [], "ours": []} for op in ("write", "read", "delete")}
    for i in range(count):
        body = json.dumps({"key": f"latency:{i}", "value": {"reading": i}}).encode()
        for name, server in (("bare", bare), ("ours", ours)):
            found["write"][name].append(timed(server.port, "POST", "/write", body))
    for op, method, path in (("read", "GET", "/read/"), ("delete", "DELETE", "/delete/")):
        for i in range(count):
            for name, server in (("bare", bare), ("ours", ours)):
                found[op][name].append(timed(server.port, method, f"{path}latency:{i}"))
    return found


def main(argv=None) -> int:
    """Start both servers, measure, print p50/p99 and ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1000, help="requests per operation and server")
    parser.add_argument("--durability", choices=["sync", "batch"], default="sync")
    args = parser.parse_args(argv)
    env = {"REPLICALAB_DURABILITY": args.durability}
    bare, ours = servers.dev_server(True, env), servers.dev_server(False, env)
    try:
        found = run(args.requests, bare, ours)
    finally:
        bare.stop()
        ours.stop()
    print(f"python run.py ({args.durability} durability) vs bare Flask, same development server, "
          f"{args.requests} sequential requests each")
    print(f"{'op':<7} {'bare p50':>9} {'ours p50':>9} {'ratio':>6} {'bare p99':>9} {'ours p99':>9}  target")
    missed = 0
    for op, times in found.items():
        b50, o50 = percentile(times["bare"], 0.5) * 1000, percentile(times["ours"], 0.5) * 1000
        b99, o99 = percentile(times["bare"], 0.99) * 1000, percentile(times["ours"], 0.99) * 1000
        ratio = o50 / b50
        target = op in ("write", "read")
        verdict = ("met" if ratio <= TARGET else "MISSED") if target else "(reported)"
        missed += target and ratio > TARGET
        print(f"{op:<7} {b50:>7.2f}ms {o50:>7.2f}ms {ratio:>6.2f} {b99:>7.2f}ms {o99:>7.2f}ms  "
              f"{'<= ' + str(TARGET) + ' ' if target else ''}{verdict}")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
