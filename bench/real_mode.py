"""Benchmark (first part): two real node processes talking through HttpTransport and node_server on loopback.

Prints the time from start to two healthy processes, one message round trip
(p50/p99, one ping at a time: ping out, pong back, through the fault table,
the per-peer queue and worker, a POST, the node's timer thread, both ways),
messages per second with 64 pings in flight, and each process's resident
memory. The processes are realmode.demo_node (a ping node): the figures are
the transport's own cost, before any protocol work.

NOTE for the wiring phase: once `python run.py cluster` runs ReplicaNodes in
their own processes, this script also prints, side by side in one run, write
and read p50/p99 and requests/s in simulated and real mode, each ReplicaNode
process's RSS and the time from `run.py cluster` to a healthy 5-node cluster
(issue 21's targets: real write p50 within 3x the simulated one, a node under
80 MiB, healthy in under 5 s). Only the 80 MiB target is checked here, on the
ping node, as a lower bound.

    python -m bench.real_mode [--round-trips 500] [--messages 4000] [--window 64]
"""
from __future__ import annotations

import argparse
import sys
import time
from typing import List, Tuple

import requests

from bench.measure import rss_mib
from realmode import processes

RSS_TARGET_MIB = 80


def start_pair() -> Tuple[List[processes.Child], List[int]]:
    """Two ping nodes on free loopback ports, each the other's peer; the children and their ports."""
    ports = [processes.free_port(), processes.free_port()]
    children = []
    for node in (0, 1):
        other = 1 - node
        children.append(processes.start(
            [sys.executable, "-m", "realmode.demo_node", "--id", str(node), "--listen", f"127.0.0.1:{ports[node]}",
             "--peers", f"{other}=127.0.0.1:{ports[other]}"], name=f"node-{node}"))
    return children, ports


def ping(port: int, count: int, window: int) -> dict:
    """Ask the node on `port` to ping node 1 `count` times with `window` in flight; its measurements."""
    answer = requests.post(f"http://127.0.0.1:{port}/demo/ping",
                           json={"to": 1, "count": count, "window": window}, timeout=300)
    answer.raise_for_status()
    return answer.json()


def main(argv=None) -> int:
    """Run the measurements, print them; exit 1 if a node process exceeds the RSS target."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--round-trips", type=int, default=500)
    parser.add_argument("--messages", type=int, default=4000, help="pings for the throughput run (pongs as many)")
    parser.add_argument("--window", type=int, default=64)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    children, ports = start_pair()
    try:
        for child, port in zip(children, ports):
            processes.wait_healthy(f"http://127.0.0.1:{port}/peer/health", child)
        healthy_s = time.perf_counter() - started
        ping(ports[0], 50, 1)  # warm up connections and code paths
        trips = ping(ports[0], args.round_trips, 1)
        flow = ping(ports[0], args.messages, args.window)
        rss = [rss_mib(child.pid) for child in children]
    finally:
        for child in children:
            processes.stop(child)
    print("Real mode, two ping-node processes on loopback (HttpTransport + node_server)")
    print(f"  start to both healthy:          {healthy_s * 1000:8.0f} ms")
    print(f"  round trip, one at a time:      p50 {trips['round_trip_ms']['p50']:.2f} ms, "
          f"p99 {trips['round_trip_ms']['p99']:.2f} ms ({trips['pongs']}/{trips['pings']} answered)")
    print(f"  messages/s, {args.window} pings in flight:   {flow['messages_per_s']:8d} "
          f"({2 * flow['pongs']} messages in {flow['seconds']:.2f} s; {flow['pongs']}/{flow['pings']} answered)")
    print(f"  one-at-a-time messages/s:       {trips['messages_per_s']:8d}")
    for child, mib in zip(children, rss):
        print(f"  RSS {child.name}:                   {mib:8.1f} MiB (target < {RSS_TARGET_MIB} MiB for a ReplicaNode)")
    print("  simulated vs real write/read latency: after the wiring phase (see the note at the top of this file)")
    return 0 if max(rss) < RSS_TARGET_MIB else 1


if __name__ == "__main__":
    raise SystemExit(main())
