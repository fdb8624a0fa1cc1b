"""Benchmark: does a request cost the same on day one and after 200,000 requests?

Drives one app in-process through Flask's test client with the default
settings (sqlite storage in a temporary directory, 100,000 events kept,
narration on, sent to /dev/null as a terminal nobody reads): writes and reads
in turn over 1,000 keys. It prints the time of a read and of a write after the
first 1,000 requests and after all of them, and resident memory at 20,000
requests and at the end. Targets: a read after 200,000 requests within 1.3x of
one after 1,000; memory grows by less than 20 MiB from 20,000 to 200,000.

    python -m bench.soak [--requests 200000] [--storage sqlite|memory]
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import sys
import tempfile
import time

from app import create_app
from bench.measure import percentile, rss_mib
from config import Config

SAMPLE = 1000  # requests timed at each checkpoint


def sample(client, base: int) -> dict:
    """Median microseconds of SAMPLE reads and SAMPLE writes (the requests count toward the total)."""
    reads, writes = [], []
    for i in range(SAMPLE):
        started = time.perf_counter()
        client.get(f"/read/soak:{(base + i) % 1000}")
        reads.append(time.perf_counter() - started)
        body = json.dumps({"key": f"soak:{(base + i) % 1000}", "value": {"n": base + i}})
        started = time.perf_counter()
        client.post("/write", data=body)
        writes.append(time.perf_counter() - started)
    return {"read": percentile(reads, 0.5) * 1e6, "write": percentile(writes, 0.5) * 1e6}


def main(argv=None) -> int:
    """Run the soak and print per-request times and memory."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200_000)
    parser.add_argument("--storage", choices=["sqlite", "memory"], default="sqlite")
    args = parser.parse_args(argv)
    data_dir = tempfile.mkdtemp(prefix="replicalab-soak-")
    logging.getLogger("replicalab").addHandler(logging.StreamHandler(open(os.devnull, "w")))
    app = create_app(Config(data_dir=data_dir, storage=args.storage, scheduler="off"))
    client = app.test_client()
    for i in range(1000):
        client.post("/write", data=json.dumps({"key": f"soak:{i}", "value": {"n": i}}))
    sent = 1000
    early = sample(client, sent)
    sent += 2 * SAMPLE
    rss_at, started = {}, time.perf_counter()
    checkpoint = 20_000
    while sent < args.requests - 2 * SAMPLE:
        if sent >= checkpoint and checkpoint not in rss_at:
            rss_at[checkpoint] = rss_mib()
        key = f"soak:{sent % 1000}"
        if sent % 2:
            client.get(f"/read/{key}")
        else:
            client.post("/write", data=json.dumps({"key": key, "value": {"n": sent}}))
        sent += 1
        if sent % 50_000 == 0:
            print(f"  {sent:,} requests, {time.perf_counter() - started:.0f}s, rss {rss_mib():.1f} MiB",
                  file=sys.stderr, flush=True)
    late = sample(client, sent)
    sent += 2 * SAMPLE
    rss_end = rss_mib()
    manager = app.extensions["replicalab"]
    print(f"requests served            {sent:>10,}  ({args.storage} storage, defaults otherwise)")
    print(f"events kept / emitted      {manager.events.last_seq - manager.events.first_seq + 1:>10,}"
          f" / {manager.events.last_seq:,}")
    print(f"scenario requests recorded {len(manager.scenario._lines):>10,}  "
          f"(not recorded: {manager.scenario.not_recorded:,})")
    for op in ("read", "write"):
        ratio = late[op] / early[op]
        print(f"{op} p50 after 1k / {sent // 1000}k   {early[op]:>7.0f} us / {late[op]:.0f} us  ratio "
              f"{ratio:.2f}  (target <= 1.3)")
    first = rss_at.get(20_000, rss_end)
    print(f"rss at 20k / at {sent // 1000}k        {first:>7.1f} MiB / {rss_end:.1f} MiB  growth "
          f"{rss_end - first:.1f} MiB  (target < 20)")
    app.extensions["replicalab"].close()
    shutil.rmtree(data_dir, ignore_errors=True)
    return 0 if late["read"] / early["read"] <= 1.3 and rss_end - first < 20 else 1


if __name__ == "__main__":
    sys.exit(main())
