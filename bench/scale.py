"""Benchmark: a large cluster — loading keys stays flat, and a lagging node catches up cheaply.

Loads `--keys` keys through quorum writes (the full cluster path: ring, network,
events) into a `--nodes` cluster with RF 3, W 2, and compares the time per key
of the first 1,000 keys with that of the last 1,000 (target <= 1.3x); prints
resident memory. Then one node misses 1% of its keys (it is down while they are
rewritten, and comes back without catch-up) and Merkle-tree anti-entropy with
each of its peers brings it back: target <= 2x the differing keys transferred
(bench/merkle_transfer.py measures one exchange between two replicas).

    python -m bench.scale [--nodes 50] [--keys 100000] [--storage memory|sqlite]
"""
from __future__ import annotations

import argparse
import random
import shutil
import sys
import tempfile
import time

from bench.measure import rss_mib
from config import Config
from replication import ReplicationManager

WINDOW = 1000  # keys timed at the start and at the end of the load


def load(cluster: ReplicationManager, keys: int) -> list:
    """Write every key once; returns the seconds each one took."""
    took = []
    for i in range(keys):
        started = time.perf_counter()
        cluster.write(f"sensor:{i:07d}", {"kwh": i % 97})
        took.append(time.perf_counter() - started)
    return took


def lag_and_catch_up(cluster: ReplicationManager, keys: int, node_id: int, fraction: float, seed: int) -> dict:
    """Node `node_id` misses `fraction` of its keys; anti-entropy with each peer repairs it."""
    mine = [f"sensor:{i:07d}" for i in range(keys) if node_id in cluster.ring.preference_list(f"sensor:{i:07d}")]
    missed = random.Random(seed).sample(mine, max(1, int(len(mine) * fraction)))
    cluster.fail(node_id)
    for key in missed:
        cluster.write(key, {"kwh": -1})
    cluster.recover(node_id, catch_up=False)
    started = time.perf_counter()
    moved = compared = 0
    for peer in range(len(cluster.nodes)):
        if peer != node_id:
            summary = cluster.jobs.anti_entropy(node_id, peer)
            moved += summary["keys_transferred"]
            compared += summary["tree_nodes_compared"]
    elapsed = time.perf_counter() - started
    store = cluster.nodes[node_id].store
    caught_up = all(getattr(store.get(key), "value", None) == {"kwh": -1} for key in missed)
    return {"held": len(mine), "missed": len(missed), "moved": moved, "compared": compared,
            "seconds": elapsed, "caught_up": caught_up}


def main(argv=None) -> int:
    """Load, measure, catch up, print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=50)
    parser.add_argument("--keys", type=int, default=100_000)
    parser.add_argument("--storage", choices=["memory", "sqlite"], default="memory")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    data_dir = tempfile.mkdtemp(prefix="replicalab-scale-")
    rss_before = rss_mib()
    cluster = ReplicationManager(Config(nodes=args.nodes, rf=3, r=2, w=2, clock="virtual", storage=args.storage,
                                        data_dir=data_dir, durability="batch", narrate="off", scheduler="off",
                                        seed=args.seed))
    started = time.perf_counter()
    took = load(cluster, args.keys)
    loaded = time.perf_counter() - started
    first = sum(took[:WINDOW]) / min(WINDOW, len(took))
    last = sum(took[-WINDOW:]) / min(WINDOW, len(took))
    rss_loaded = rss_mib()
    lag = lag_and_catch_up(cluster, args.keys, 7 % args.nodes, 0.01, args.seed)
    ratio = lag["moved"] / lag["missed"]
    print(f"cluster                    {args.nodes} nodes, RF 3, W 2, {args.storage} storage, "
          f"{args.keys:,} keys loaded in {loaded:.1f}s")
    print(f"load per key, first {WINDOW:,}    {first * 1e6:>8.0f} us")
    print(f"load per key, last {WINDOW:,}     {last * 1e6:>8.0f} us   ratio {last / first:.2f}  (target <= 1.3)")
    print(f"resident memory            {rss_loaded:>8.1f} MiB  ({rss_loaded - rss_before:.1f} MiB for the "
          f"cluster, its {args.keys * 3:,} replicas and its event log)")
    print(f"node-7 holds / missed      {lag['held']:>8,} / {lag['missed']:,} keys (1%)")
    print(f"anti-entropy with {args.nodes - 1} peers   {lag['moved']:>8,} keys transferred, "
          f"{lag['compared']:,} tree nodes compared, {lag['seconds']:.1f}s")
    print(f"transfer ratio             {ratio:>8.2f}x the differing keys (target <= 2.00x); "
          f"caught up: {lag['caught_up']}")
    cluster.close()
    shutil.rmtree(data_dir, ignore_errors=True)
    return 0 if last / first <= 1.3 and ratio <= 2 and lag["caught_up"] else 1


if __name__ == "__main__":
    sys.exit(main())
