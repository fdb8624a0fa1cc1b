"""Benchmark: what does the linearizable mode cost, in messages and latency per operation?

The same seeded workload (writes and reads over a few keys) runs on a fresh
5-node cluster (RF 3, R 2, W 2, latency 1-10 ms) in each mode, first healthy,
then with one replica of every key's preference list down (node-1). For each
operation it counts the messages sent (late replies included) and the
simulated time until the client could be answered (eventual: the W-th ack or
R-th answer; linearizable: the majority of the last phase), and prints the
means, and the ratio linearizable / eventual.

    python -m bench.consistency_price [--ops 2000] [--keys 20] [--seed 0]
"""
from __future__ import annotations

import argparse
import random
from collections import defaultdict

from cluster.errors import KeyNotFound, NoQuorum
from config import simulation_config
from replication import ReplicationManager

MODES = ("eventual", "linearizable")


def measure(mode: str, ops: int, keys: int, seed: int, down: tuple = ()) -> dict:
    """Run the workload in `mode`; per op kind: count, mean messages, mean latency (ms), 503s."""
    cluster = ReplicationManager(simulation_config(consistency=mode, seed=seed, max_events=1_000_000,
                                                   narrate="off"))
    for node in down:
        cluster.fail(node)
    rng = random.Random(seed)
    totals: dict = defaultdict(lambda: {"ops": 0, "messages": 0, "ms": 0, "unavailable": 0})
    for i in range(ops):
        key = f"k{rng.randrange(keys)}"
        kind = "write" if rng.random() < 0.5 else "read"
        seq, start = cluster.events.last_seq, cluster.clock.now()
        result = None
        try:
            result = cluster.write(key, i) if kind == "write" else cluster.read(key)
        except KeyNotFound as error:
            result = error.result
        except NoQuorum:
            totals[kind]["unavailable"] += 1
        events = cluster.events.since(seq)
        row = totals[kind]
        row["ops"] += 1
        row["messages"] += sum(1 for e in events if e.type in ("message_sent", "message_dropped"))
        row["ms"] += answered_at(events, result, cluster.clock.now()) - start
    cluster.close()
    return {kind: {"ops": r["ops"], "messages_per_op": r["messages"] / r["ops"],
                   "latency_ms_per_op": r["ms"] / r["ops"], "unavailable": r["unavailable"]}
            for kind, r in sorted(totals.items())}


def answered_at(events: list, result, settled: int) -> int:
    """When the client could be answered: the decisive reply's delivery (or the settle time)."""
    if result is None:
        return settled  # a 503 is known only once the op gave up
    done = [e.time_ms for e in events if e.type == "abd_done"]
    if done:
        return done[0]
    replies = [e.time_ms for e in events if e.type == "message_delivered"
               and e.details.get("kind") in ("put_ack", "get_reply")]
    own = 1 if result.coordinator in result.preference else 0  # it answers itself at once
    needed = result.needed - own
    return replies[needed - 1] if 0 < needed <= len(replies) else (events[0].time_ms if needed <= 0 else settled)


def report(title: str, results: dict) -> None:
    """Print one table: each op kind in each mode, then the ratio."""
    print(f"\n{title}")
    print(f"{'op':<6} {'mode':<13} {'ops':>6} {'msgs/op':>8} {'ms/op':>8} {'503s':>6}")
    for kind in ("write", "read"):
        for mode in MODES:
            r = results[mode][kind]
            print(f"{kind:<6} {mode:<13} {r['ops']:>6} {r['messages_per_op']:>8.2f} "
                  f"{r['latency_ms_per_op']:>8.2f} {r['unavailable']:>6}")
        e, lin = results["eventual"][kind], results["linearizable"][kind]
        print(f"{kind:<6} {'ratio':<13} {'':>6} {lin['messages_per_op'] / e['messages_per_op']:>7.2f}x "
              f"{lin['latency_ms_per_op'] / e['latency_ms_per_op']:>7.2f}x")


def main(argv=None) -> dict:
    """Parse flags, run both modes healthy and with node-1 down, print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ops", type=int, default=2000)
    parser.add_argument("--keys", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    healthy = {mode: measure(mode, args.ops, args.keys, args.seed) for mode in MODES}
    degraded = {mode: measure(mode, args.ops, args.keys, args.seed, down=(1,)) for mode in MODES}
    report(f"Healthy cluster, {args.ops} ops over {args.keys} keys:", healthy)
    report("With node-1 down (a silent replica costs eventual a timeout and a stand-in):", degraded)
    return {"healthy": healthy, "node_1_down": degraded}


if __name__ == "__main__":
    main()
