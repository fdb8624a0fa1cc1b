"""Resident memory of a server before and after many large writes.

    python -m bench.value_memory [--writes 1500] [--kib 512] [--server run|gunicorn]

Starts `python run.py` (or gunicorn) with the default settings on a free
loopback port and a fresh data directory, writes `--writes` values of `--kib`
KiB each to distinct keys, and prints the server's resident memory before and
after. Target: under 250 MB after 1,500 writes of 512 KiB, because every
in-memory record of the past (history, event log, scenario record, caches)
has a budget in bytes. Exit status 1 when the target is missed.
"""
from __future__ import annotations

import argparse
import json
import sys
import time

import requests

from bench.measure import rss_mib
from bench.servers import dev_server, gunicorn

TARGET_MB = 250


def worker_pid(pid: int) -> int:
    """The process that holds the cluster: run.py itself, or the child of gunicorn's arbiter."""
    try:
        with open(f"/proc/{pid}/task/{pid}/children", encoding="ascii") as children:
            found = children.read().split()
    except OSError:
        found = []
    return int(found[0]) if found else pid


def main(argv=None) -> int:
    """Run the writes and print the memory figures; returns the exit status."""
    parser = argparse.ArgumentParser(prog="python -m bench.value_memory", description=__doc__.split("\n")[0])
    parser.add_argument("--writes", type=int, default=1500)
    parser.add_argument("--kib", type=int, default=512)
    parser.add_argument("--server", choices=("run", "gunicorn"), default="run")
    args = parser.parse_args(argv)

    server = dev_server(False) if args.server == "run" else gunicorn(False)
    try:
        session = requests.Session()
        pid = worker_pid(server.pid())
        before = rss_mib(pid)
        value = "x" * (args.kib * 1024 - 2)  # its JSON encoding is exactly --kib KiB
        started = time.perf_counter()
        statuses: dict = {}
        peak = before
        for i in range(args.writes):
            body = json.dumps({"key": f"big-{i}", "value": value})
            status = session.post(server.url + "/write", data=body, timeout=60).status_code
            statuses[status] = statuses.get(status, 0) + 1
            if i % 100 == 99:
                peak = max(peak, rss_mib(pid))
        elapsed = time.perf_counter() - started
        after = rss_mib(pid)
        peak = max(peak, after)
    finally:
        server.stop()
    after_mb = after * 1.048576
    print(f"server: {args.server} (defaults), pid {pid}")
    print(f"writes: {args.writes} x {args.kib} KiB in {elapsed:.1f} s, statuses {statuses}")
    print(f"resident memory: before {before:.1f} MiB, after {after:.1f} MiB ({after_mb:.0f} MB), "
          f"peak {peak:.1f} MiB, growth {after - before:+.1f} MiB")
    met = after_mb < TARGET_MB
    print(f"target: under {TARGET_MB} MB after the writes: {'met' if met else 'MISSED'}")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
