"""Benchmark: messages per second through the stdio bridge to a student's node.

Starts lab 12's starter node (Python, and JavaScript when `node` is installed)
through `byon.stdio_bridge` and measures, for each:

* pipelined throughput: N lin-kv reads sent as fast as `send` accepts them,
  every reply counted (messages/s counts requests and replies): the bridge's
  rate with a node that does little per message;
* pipelined durable writes: the starter saves its whole state with fsync before
  each write_ok, so this is the node's disk rate, not the bridge's;
* sequential round trips: one read at a time, p50/p99 in µs (what a request
  pays for the two pipes, the node's JSON and the reader thread).

There is no target yet: issue 18 asks `bench/real_mode.py` to print this rate
beside the HTTP node's once real mode lands; this script is that figure's source.

    python -m bench.stdio_bridge [--messages 20000] [--writes 500] [--round-trips 2000]
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time

from byon.stdio_bridge import StdioBridge

LAB12 = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "labs",
                     "lab12_build_your_own_replica")


class Client:
    """Counts replies and wakes whoever waits for one."""

    def __init__(self):
        self.replies = 0
        self.errors = 0
        self.changed = threading.Condition()

    def on_message(self, envelope) -> None:
        """A reply from the node."""
        with self.changed:
            self.replies += 1
            self.errors += envelope.type == "error"
            self.changed.notify_all()

    def wait_for(self, count: int) -> None:
        """Block until `count` replies arrived."""
        with self.changed:
            self.changed.wait_for(lambda: self.replies >= count, 60)


def pipelined(bridge: StdioBridge, client: Client, kind: str, count: int) -> float:
    """Send `count` requests as fast as the bounded queue takes them; seconds until every reply came."""
    first = client.replies
    start = time.perf_counter()
    for i in range(count):
        body = {"type": kind, "msg_id": first + i + 1, "key": f"k{i % 100}", "value": i}
        while not bridge.send({"src": "c1", "dest": "n1", "body": body}):
            time.sleep(0.0005)  # the bounded queue is full: the node is the bottleneck
    client.wait_for(first + count)
    return time.perf_counter() - start


def measure(name: str, command: list, messages: int, writes: int, round_trips: int) -> None:
    """Print throughput and round-trip latency for one node program."""
    client = Client()
    with tempfile.TemporaryDirectory() as data_dir:
        bridge = StdioBridge("n1", ["n1"], command, client.on_message, on_log=lambda n, t: None,
                             on_problem=lambda problem: None, data_dir=data_dir)
        bridge.start()
        try:
            write_s = pipelined(bridge, client, "write", writes)
            read_s = pipelined(bridge, client, "read", messages)
            samples = []
            for i in range(round_trips):
                began = time.perf_counter()
                bridge.send({"src": "c1", "dest": "n1", "body": {"type": "read", "msg_id": 10**9 + i, "key": "k1"}})
                client.wait_for(writes + messages + i + 1)
                samples.append((time.perf_counter() - began) * 1e6)
        finally:
            bridge.stop()
    samples.sort()
    print(f"{name}: {messages} reads pipelined in {read_s:.2f} s: {messages / read_s:,.0f} requests/s, "
          f"{2 * messages / read_s:,.0f} messages/s through the bridge (requests and replies)")
    print(f"{name}: {writes} durable writes pipelined: {writes / write_s:,.0f} writes/s (fsync per write)")
    print(f"{name}: sequential read round trip p50 {statistics.median(samples):,.0f} µs, "
          f"p99 {samples[int(len(samples) * 0.99) - 1]:,.0f} µs over {round_trips}; error replies {client.errors}, "
          f"queue-full refusals {bridge.stats.dropped_full}")


def main(argv=None) -> int:
    """Run the measurements and print them."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--writes", type=int, default=500)
    parser.add_argument("--round-trips", type=int, default=2_000)
    args = parser.parse_args(argv)
    measure("python starter", [sys.executable, os.path.join(LAB12, "python", "starter.py")],
            args.messages, args.writes, args.round_trips)
    node = shutil.which("node")
    if node:
        measure("javascript starter", [node, os.path.join(LAB12, "js", "starter.js")],
                args.messages, args.writes, args.round_trips)
    else:
        print("javascript starter: skipped (install the Debian package nodejs)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
