"""Benchmark: where a real-mode write's time goes, hop by hop, on one `python run.py cluster` (5 nodes, defaults).

Each line is one hop measured on its own, one request at a time (p50 of
`--requests`), so the differences between lines say what each layer costs:

- the front's whole `/write` (client -> front -> coordinator process -> replicas -> answer), and
  the CPU time all the processes together spent per write meanwhile (the machine has two cores);
- the coordinator process's `/node/write` asked directly (the same write without the front);
- one HTTP request to a node process that does nothing (`GET /peer/health`), with `requests`
  and with the standard library's `http.client`: the floor of one hop (server + client);
- one HTTP request to the front that does nothing (`GET /health`);
- one sync sqlite commit (`SqliteStorage.put_many` of one record, in this process);
- one message round trip between two node processes (the ping node of bench/real_mode.py).

    python -m bench.real_path [--requests 200]
"""
from __future__ import annotations

import argparse
import http.client
import os
import shutil
import sys
import tempfile
import time
from typing import Callable, List

import requests

from bench.measure import percentile
from bench.real_mode import ROOT, ping, start_pair
from db import SqliteStorage
from realmode import processes


def p50(call: Callable[[], object], count: int) -> float:
    """The median wall time of `call` in ms, after a few warm-up calls."""
    for _ in range(10):
        call()
    times: List[float] = []
    for _ in range(count):
        began = time.perf_counter()
        call()
        times.append((time.perf_counter() - began) * 1000)
    return percentile(times, 0.5)


def cpu_ms(pid: int) -> float:
    """CPU time (user + system) a process has used so far, in ms, from /proc."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * 1000 / os.sysconf("SC_CLK_TCK")


def cluster_hops(count: int, nodes: int) -> dict:
    """Start a real cluster with default settings; the p50 of each hop; stop it by PID."""
    port, data_dir = processes.free_port(), tempfile.mkdtemp(prefix="bench-path-")
    argv = [sys.executable, os.path.join(ROOT, "run.py"), "cluster", "--nodes", str(nodes), "--port", str(port),
            "--data-dir", data_dir, "--fresh", "--narrate", "off"]
    url = f"http://127.0.0.1:{port}"
    front = processes.start(argv, "front", cwd=ROOT, env={**os.environ, "PYTHONPATH": ROOT})
    try:
        processes.wait_healthy(f"{url}/health", front, timeout_s=120)
        session = requests.Session()
        listing = session.get(f"{url}/nodes", timeout=30).json()["nodes"]
        node = listing[0]["address"]
        # Keys that node 0 coordinates (first in their preference list), so both write paths match.
        keys = [k for k in (f"hop-{i}" for i in range(20 * count))
                if session.get(f"{url}/placement/{k}", timeout=30).json()["preference_list"][0] == "node-0"]
        mine = iter(keys)
        pids = [front.pid] + [n["pid"] for n in listing]
        before = [cpu_ms(pid) for pid in pids]
        figures = {
            "front /write (whole path)": p50(lambda: session.post(f"{url}/write", json={
                "key": next(mine), "value": 1, "coordinator": 0}, timeout=30), count),
        }
        spent = [cpu_ms(pid) - was for pid, was in zip(pids, before)]
        figures.update({
            f"  CPU per write, front + {nodes} node processes": sum(spent) / (count + 10),
            "  of which the front": spent[0] / (count + 10),
            "coordinator's /node/write, no front": p50(lambda: session.post(f"http://{node}/node/write", json={
                "key": next(mine), "value": 1, "needed": 2, "mode": "eventual"}, timeout=30), count),
            "node GET /peer/health (requests)": p50(lambda: session.get(f"http://{node}/peer/health", timeout=30),
                                                    count),
        })
        host, _, node_port = node.rpartition(":")
        connection = http.client.HTTPConnection(host, int(node_port), timeout=30)

        def bare() -> None:
            connection.request("GET", "/peer/health")
            connection.getresponse().read()
        figures["node GET /peer/health (http.client)"] = p50(bare, count)
        figures["front GET /health (requests)"] = p50(lambda: session.get(f"{url}/health", timeout=30), count)
    finally:
        processes.stop(front, grace_s=15)
        shutil.rmtree(data_dir, ignore_errors=True)
    return figures


def sqlite_commit(count: int) -> float:
    """The p50 of one sync commit of one small record (what each replica does before it acks)."""
    folder = tempfile.mkdtemp(prefix="bench-commit-")
    store = SqliteStorage(os.path.join(folder, "node-0.records.sqlite"))
    numbers = iter(range(10 ** 9))
    try:
        return p50(lambda: store.put_many({f"k{next(numbers)}": {"value": 1, "version": [1, 0]}}), count)
    finally:
        store.close()
        shutil.rmtree(folder, ignore_errors=True)


def main(argv=None) -> int:
    """Measure each hop and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--nodes", type=int, default=5)
    args = parser.parse_args(argv)
    figures = cluster_hops(args.requests, args.nodes)
    figures["one sync sqlite commit (in process)"] = sqlite_commit(args.requests)
    children, ports = start_pair()
    try:
        for child, node_port in zip(children, ports):
            processes.wait_healthy(f"http://127.0.0.1:{node_port}/peer/health", child)
        ping(ports[0], 50, 1)
        figures["message round trip between two processes"] = ping(ports[0], args.requests, 1)["round_trip_ms"]["p50"]
    finally:
        for child in children:
            processes.stop(child)
    print(f"Where a real-mode write's time goes (p50 of {args.requests}, one at a time, {args.nodes} nodes)")
    for name, ms in figures.items():
        print(f"  {name:44s}{ms:8.2f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
