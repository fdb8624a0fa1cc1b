"""Benchmark (first part): two real node processes talking through HttpTransport and node_server on loopback.

Prints the time from start to two healthy processes, one message round trip
(p50/p99, one ping at a time: ping out, pong back, through the fault table,
the per-peer queue and worker, a POST, the node's timer thread, both ways),
messages per second with 64 pings in flight, and each process's resident
memory. The processes are realmode.demo_node (a ping node): the figures are
the transport's own cost, before any protocol work.

Beside them, the same figures for two *student* nodes (bench/stdio_ping_node.py,
a program speaking docs/node-protocol.md on stdin/stdout) under their node
processes (`run.py node --node-cmd`): each message crosses the sender's stdout
pipe and bridge, the HttpTransport and node_server, and the receiver's bridge
and stdin pipe (bring your own node, issue 18).

Then, side by side in one run, `python run.py` (simulated) and `python run.py
cluster` (real: one process per ReplicaNode), both 5 nodes with default
settings (scheduler and apps on, sqlite, sync): the time from start to a
healthy cluster, write and read p50/p99 one request at a time, requests/s
with 8 clients (writes and reads alternating), and each node process's RSS.
Issue 21's targets: a real write p50 within 3x the simulated one, a node
process under 80 MiB, a healthy 5-node cluster in under 5 s.

    python -m bench.real_mode [--round-trips 500] [--messages 4000] [--window 64] [--requests 300]
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Dict, List, Tuple

import requests

from bench.measure import percentile, rss_mib
from realmode import processes

RSS_TARGET_MIB = 80
HEALTHY_TARGET_S = 5.0
LATENCY_RATIO_TARGET = 3.0
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


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


def start_student_pair(data_dir: str) -> Tuple[List[processes.Child], List[int]]:
    """Two node processes running bench/stdio_ping_node.py as their student program; children and ports."""
    ports = [processes.free_port(), processes.free_port()]
    env = {**os.environ, "PYTHONPATH": ROOT, "REPLICALAB_NODES": "2", "REPLICALAB_RF": "2", "REPLICALAB_R": "1",
           "REPLICALAB_W": "1"}
    program = f"{sys.executable} {os.path.join(ROOT, 'bench', 'stdio_ping_node.py')}"
    children = []
    for node in (0, 1):
        other = 1 - node
        children.append(processes.start(
            [sys.executable, os.path.join(ROOT, "run.py"), "node", "--id", str(node),
             "--listen", f"127.0.0.1:{ports[node]}", "--peers", f"{other}=127.0.0.1:{ports[other]}",
             "--data-dir", os.path.join(data_dir, f"node-{node}"), "--node-cmd", program],
            name=f"node-{node}", env=env, cwd=ROOT))
    return children, ports


def student_ping(port: int, count: int, window: int) -> dict:
    """Ask the student program of the node on `port` to ping n1 (a lin-kv read the program understands)."""
    answer = requests.post(f"http://127.0.0.1:{port}/node/kv", timeout=120, json={
        "request": {"type": "read", "key": "bench", "to": "n1", "count": count, "window": window},
        "timeout_ms": 60_000})
    answer.raise_for_status()
    value = (answer.json().get("reply") or {}).get("value")
    if not isinstance(value, dict):
        raise RuntimeError(f"the ping program did not answer: {answer.json()}")
    return value


def measure_student_pair(round_trips: int, messages: int, window: int) -> Dict:
    """Round trips and messages/s between two student programs through their node processes."""
    data_dir = tempfile.mkdtemp(prefix="replicalab-bench-stdio-")
    children, ports = start_student_pair(data_dir)
    try:
        for child, port in zip(children, ports):
            processes.wait_healthy(f"http://127.0.0.1:{port}/peer/health", child)
        student_ping(ports[0], 50, 1)
        trips = student_ping(ports[0], round_trips, 1)
        flow = student_ping(ports[0], messages, window)
        rss = [rss_mib(child.pid) for child in children]
    finally:
        for child in children:
            processes.stop(child)
        shutil.rmtree(data_dir, ignore_errors=True)
    return {"trips": trips, "flow": flow, "rss": rss}


def ping(port: int, count: int, window: int) -> dict:
    """Ask the node on `port` to ping node 1 `count` times with `window` in flight; its measurements."""
    answer = requests.post(f"http://127.0.0.1:{port}/demo/ping",
                           json={"to": 1, "count": count, "window": window}, timeout=300)
    answer.raise_for_status()
    return answer.json()


FAILED: List[str] = []  # requests answered with an error, kept for the report


def timed(session: requests.Session, method: str, url: str, body=None) -> float:
    """One request's wall time in ms (an error answer is counted in FAILED, its time kept)."""
    began = time.perf_counter()
    answer = session.request(method, url, json=body, timeout=60)
    if answer.status_code >= 300:
        FAILED.append(f"{method} {url.rsplit('/', 1)[-1]}: {answer.status_code} {answer.json().get('message')}")
    return (time.perf_counter() - began) * 1000


def measure_cluster(real: bool, nodes: int, requests_count: int) -> Dict:
    """Start `run.py [cluster]`, wait until /health answers; latencies, req/s and RSS; stop it by PID."""
    port, data_dir = processes.free_port(), tempfile.mkdtemp(prefix="bench-real-")
    argv = [sys.executable, os.path.join(ROOT, "run.py"), *(["cluster"] if real else []), "--nodes", str(nodes),
            "--port", str(port), "--data-dir", data_dir, "--fresh", "--narrate", "off"]
    url = f"http://127.0.0.1:{port}"
    began = time.perf_counter()
    front = processes.start(argv, "front", cwd=ROOT, env={**os.environ, "PYTHONPATH": ROOT})
    try:
        processes.wait_healthy(f"{url}/health", front, timeout_s=120)
        healthy_s = time.perf_counter() - began
        session = requests.Session()
        for i in range(20):  # warm up connections and code paths
            timed(session, "POST", f"{url}/write", {"key": f"warm-{i}", "value": i})
        writes = sorted(timed(session, "POST", f"{url}/write", {"key": f"k{i}", "value": i})
                        for i in range(requests_count))
        reads = sorted(timed(session, "GET", f"{url}/read/k{i}") for i in range(requests_count))

        def client(n: int) -> int:
            mine, done, stop = requests.Session(), 0, time.perf_counter() + 3
            while time.perf_counter() < stop:
                timed(mine, "POST", f"{url}/write", {"key": f"c{n}-{done}", "value": done})
                timed(mine, "GET", f"{url}/read/c{n}-{done}")
                done += 2
            return done
        with ThreadPoolExecutor(8) as pool:
            throughput = sum(pool.map(client, range(8))) / 3
        pids = [n.get("pid") for n in session.get(f"{url}/nodes", timeout=30).json()["nodes"]]
        rss = [rss_mib(pid) for pid in pids if pid] or [rss_mib(front.pid)]
    finally:
        processes.stop(front, grace_s=15)
        shutil.rmtree(data_dir, ignore_errors=True)
    failed, FAILED[:] = list(FAILED), []
    return {"failed": failed, "healthy_s": healthy_s, "write": (percentile(writes, 0.5), percentile(writes, 0.99)),
            "read": (percentile(reads, 0.5), percentile(reads, 0.99)), "req_s": throughput, "rss": rss}


def print_side_by_side(sim: Dict, real: Dict, nodes: int) -> bool:
    """The simulated and real figures in two columns; True when every target is met."""
    print(f"\nSimulated (python run.py) vs real (python run.py cluster), {nodes} nodes, default settings")
    print(f"  {'':34s}{'simulated':>14s}{'real':>14s}")
    print(f"  {'start to healthy':34s}{sim['healthy_s'] * 1000:11.0f} ms{real['healthy_s'] * 1000:11.0f} ms")
    for what in ("write", "read"):
        for i, name in enumerate(("p50", "p99")):
            print(f"  {what + ' ' + name + ', one at a time':34s}{sim[what][i]:11.2f} ms{real[what][i]:11.2f} ms")
    print(f"  {'requests/s, 8 clients':34s}{sim['req_s']:14.0f}{real['req_s']:14.0f}")
    print(f"  {'RSS per process (max)':34s}{max(sim['rss']):10.1f} MiB{max(real['rss']):10.1f} MiB "
          f"({'front' if len(sim['rss']) == 1 else ''} vs each node: "
          f"{', '.join(f'{m:.1f}' for m in real['rss'])})")
    print(f"  {'error answers (of all requests)':34s}{len(sim['failed']):14d}{len(real['failed']):14d}")
    for line in (sim["failed"] + real["failed"])[:3]:
        print(f"    e.g. {line[:150]}")
    ratio = real["write"][0] / sim["write"][0]
    met = {"real write p50 within 3x simulated": ratio <= LATENCY_RATIO_TARGET,
           f"node process < {RSS_TARGET_MIB} MiB": max(real["rss"]) < RSS_TARGET_MIB,
           f"{nodes}-node real cluster healthy < {HEALTHY_TARGET_S:g} s": real["healthy_s"] < HEALTHY_TARGET_S}
    print(f"  real/simulated write p50: {ratio:.2f}x; read p50: {real['read'][0] / sim['read'][0]:.2f}x")
    for target, ok in met.items():
        print(f"  target {target}: {'met' if ok else 'NOT met'}")
    return all(met.values())


def main(argv=None) -> int:
    """Run the measurements, print them; exit 1 if a node process exceeds the RSS target."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--round-trips", type=int, default=500)
    parser.add_argument("--messages", type=int, default=4000, help="pings for the throughput run (pongs as many)")
    parser.add_argument("--window", type=int, default=64)
    parser.add_argument("--requests", type=int, default=300, help="writes then reads, one at a time, per mode")
    parser.add_argument("--nodes", type=int, default=5)
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
    student = measure_student_pair(args.round_trips, args.messages, args.window)
    trips_s, flow_s = student["trips"], student["flow"]
    print("Bring your own node: two stdin/stdout ping programs under node processes (bridge + HttpTransport)")
    print(f"  round trip, one at a time:      p50 {trips_s['p50_ms']:.2f} ms, p99 {trips_s['p99_ms']:.2f} ms "
          f"({trips_s['pongs']}/{trips_s['pings']} answered); HTTP node p50 {trips['round_trip_ms']['p50']:.2f} ms")
    print(f"  messages/s, {args.window} pings in flight:   {flow_s['messages_per_s']:8d} "
          f"({flow_s['pongs']}/{flow_s['pings']} answered); HTTP node {flow['messages_per_s']} "
          f"({flow_s['messages_per_s'] / max(1, flow['messages_per_s']):.2f}x)")
    print(f"  one-at-a-time messages/s:       {trips_s['messages_per_s']:8d}")
    print(f"  RSS node process (max):         {max(student['rss']):8.1f} MiB (its program not counted)")
    sim = measure_cluster(False, args.nodes, args.requests)
    real = measure_cluster(True, args.nodes, args.requests)
    return 0 if print_side_by_side(sim, real, args.nodes) else 1


if __name__ == "__main__":
    raise SystemExit(main())
