"""Benchmark: CPU cost of one quorum write and one read inside the cluster (no HTTP).

Drives `ReplicationManager.write` and `.read` directly on a 5-node cluster with
default settings except memory storage and narration off (so the figure is the
protocol, the simulated network and the events, not sqlite or the console).
Prints the median CPU µs (process time, so other load on the machine counts
less) per write and per read over `--rounds` rounds of
`--ops` operations each. It measures the cost of the message path (encode,
JSON, decode on every delivery since the transport seam); there is no target,
the figure is compared before and after a change.

    python -m bench.write_cost [--ops 2000] [--rounds 5]
"""
from __future__ import annotations

import argparse
import statistics
import time

from config import Config
from replication import ReplicationManager


def one_round(ops: int) -> tuple:
    """µs per write and per read over `ops` operations on a fresh cluster."""
    cluster = ReplicationManager(Config(storage="memory", narrate="off", clock="virtual"))
    started = time.process_time()
    for i in range(ops):
        cluster.write(f"k{i % 500}", {"n": i, "who": "bench"})
    wrote = time.process_time()
    for i in range(ops):
        cluster.read(f"k{i % 500}")
    read = time.process_time()
    cluster.close()
    return (wrote - started) / ops * 1e6, (read - wrote) / ops * 1e6


def main(argv=None) -> int:
    """Run the rounds and print the medians."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ops", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    results = [one_round(args.ops) for _ in range(args.rounds)]
    writes = [w for w, _ in results]
    reads = [r for _, r in results]
    print(f"write  median {statistics.median(writes):8.1f} µs  (rounds: {', '.join(f'{w:.0f}' for w in writes)})")
    print(f"read   median {statistics.median(reads):8.1f} µs  (rounds: {', '.join(f'{r:.0f}' for r in reads)})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
