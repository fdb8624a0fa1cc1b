"""What the background jobs cost as the store grows, and what they cost the requests.

    python -m bench.background [--sizes 1000,20000,100000] [--nodes 50] [--samples 2000]

For each size: a cluster of --nodes nodes on memory storage (default settings
otherwise: wall clock, the applications, the scheduler) is loaded with that
many keys through quorum writes. Then, with no drone, delivery, rule or alert
(each application job has nothing to do):
1. every job is run by hand, best of 3, with a lock meter in front of the
   cluster lock: its run time and its longest single lock hold (wall time, and
   the holding thread's CPU time, which other processes on a shared machine
   do not inflate);
2. writes are timed with the scheduler off, then with the default scheduler on
   and every job it schedules started at once, so that the window holds a
   whole anti-entropy round (p50 and p99 of each), then while a thread runs
   those jobs back to back (a stress figure: no target);
3. with the scheduler on, reads are timed too (the "done when" figure compares
   writes and reads at the largest size with the smallest).
Exits 1 when a target is missed.
"""
from __future__ import annotations

import argparse
import random
import sys
import threading
import time
from datetime import datetime
from typing import Callable, Dict, List

from apps.registry import build
from config import Config
from replication import ReplicationManager
from scheduler import APP_JOBS, Scheduler

from .measure import meter_lock, percentile

APP_JOB_LIMIT_MS = 1.0  # an application job with nothing to do, at the largest size
P99_RATIO_LIMIT = 2.0  # p99 of writes while jobs run / with the scheduler off, at the largest size
FLAT_LIMIT = 1.3  # write (and read) at the largest size / at the smallest, scheduler on


def load(manager: ReplicationManager, keys: int) -> float:
    """Write `keys` keys through the quorum path; returns the seconds it took."""
    began = time.perf_counter()
    for i in range(keys):
        manager.write(f"user:{i:06d}", i)
    return time.perf_counter() - began


def time_jobs(manager: ReplicationManager, jobs: Scheduler) -> Dict[str, dict]:
    """Each job run by hand (not under the lock, so sliced as when scheduled): best run, longest hold."""
    meter = meter_lock(manager)
    figures = {}
    try:
        for name in jobs.table():
            runs, longest, longest_cpu = [], 0.0, 0.0
            for _ in range(3):
                meter.reset()
                began = time.perf_counter()
                jobs.run(name)
                runs.append(time.perf_counter() - began)
                longest, longest_cpu = max(longest, meter.longest), max(longest_cpu, meter.longest_cpu)
            figures[name] = {"run_ms": min(runs) * 1000, "longest_hold_ms": longest * 1000,
                             "longest_hold_cpu_ms": longest_cpu * 1000, "holds": meter.holds}
    finally:
        manager.lock = manager.core.lock = meter.inner
    return figures


def scheduled(jobs: Scheduler) -> List[str]:
    """The jobs the default settings schedule (an interval of 0 leaves a job to be run by hand)."""
    return [name for name, (_, setting, _) in jobs.table().items() if getattr(jobs.manager.config, setting)]


def timed(operation: Callable[[int], object], samples: int) -> List[float]:
    """Seconds per call of `operation(i)` for i in range(samples)."""
    took = []
    for i in range(samples):
        began = time.perf_counter()
        operation(i)
        took.append(time.perf_counter() - began)
    return took


def writes_under_churn(manager: ReplicationManager, jobs: Scheduler, samples: int, keys: int) -> List[float]:
    """Write latencies while another thread runs the scheduled jobs back to back (a stress figure)."""
    stop = threading.Event()

    def churn() -> None:
        while not stop.is_set():
            for name in scheduled(jobs):
                jobs._scheduled(name)  # the scheduler's own entry point: the lock per slice
                time.sleep(0)

    rng = random.Random(7)
    worker = threading.Thread(target=churn, daemon=True)
    worker.start()
    try:
        return timed(lambda i: manager.write(f"user:{rng.randrange(keys):06d}", -i), samples)
    finally:
        stop.set()
        worker.join()


def measure(size: int, nodes: int, samples: int) -> dict:
    """Every figure for one store size."""
    manager = ReplicationManager(Config(nodes=nodes, storage="memory", narrate="off"))
    jobs = Scheduler(manager, build(manager))
    loaded = load(manager, size)
    rng = random.Random(1)

    def write(i: int) -> None:
        manager.write(f"user:{rng.randrange(size):06d}", i)

    figures: Dict[str, object] = {"size": size, "load_s": loaded, "jobs": time_jobs(manager, jobs)}
    figures["off"] = timed(write, samples)
    jobs.start()  # the default scheduler at its default intervals...
    try:
        aps = jobs._aps
        assert aps is not None, "start() builds the APScheduler"
        for name in scheduled(jobs):  # ...with every job due now, so the window holds one run of each
            aps.modify_job(name, next_run_time=datetime.now(aps.timezone))
        figures["on_write"] = timed(write, samples)
        figures["on_read"] = timed(lambda i: manager.read(f"user:{rng.randrange(size):06d}"), samples)
    finally:
        jobs.shutdown()
    figures["churn"] = writes_under_churn(manager, jobs, samples, size)
    manager.close()
    return figures


def us(samples: List[float], fraction: float) -> float:
    """A percentile in microseconds."""
    return percentile(samples, fraction) * 1e6


def mean_us(samples: List[float]) -> float:
    """The mean in microseconds."""
    return sum(samples) / len(samples) * 1e6


def report(results: List[dict], nodes: int) -> int:
    """Print the tables and the targets; returns the exit code."""
    names = list(results[0]["jobs"])
    print(f"\nEach job run by hand with nothing to do ({nodes} nodes, memory storage): run time, longest lock "
          "hold in wall time and in CPU time, ms, and lock holds per run")
    print(f"{'job':<16}" + "".join(f"{r['size']:>30,}" for r in results))
    for name in names:
        cells = "".join(f"{j['run_ms']:>9.2f} {j['longest_hold_ms']:>6.2f} {j['longest_hold_cpu_ms']:>6.2f} "
                        f"({j['holds']:>3})" for j in (r["jobs"][name] for r in results))
        print(f"{name:<16}{cells}")
    print(f"\nWrites, µs ({len(results[0]['off'])} each): scheduler off; on (every scheduled job started in the "
          "window); jobs back to back (stress)")
    print(f"{'keys':>8} {'off p50':>8} {'off p99':>8} {'on p50':>8} {'on p99':>8} {'p99 on/off':>11} "
          f"{'stress p50':>11} {'stress p99':>11}")
    for r in results:
        print(f"{r['size']:>8,} {us(r['off'], 0.5):>8.0f} {us(r['off'], 0.99):>8.0f} {us(r['on_write'], 0.5):>8.0f} "
              f"{us(r['on_write'], 0.99):>8.0f} {us(r['on_write'], 0.99) / us(r['off'], 0.99):>11.2f} "
              f"{us(r['churn'], 0.5):>11.0f} {us(r['churn'], 0.99):>11.0f}")
    print("\nScheduler on, µs")
    print(f"{'keys':>8} {'write p50':>10} {'write mean':>11} {'read p50':>9} {'read mean':>10}")
    for r in results:
        print(f"{r['size']:>8,} {us(r['on_write'], 0.5):>10.0f} {mean_us(r['on_write']):>11.0f} "
              f"{us(r['on_read'], 0.5):>9.0f} {mean_us(r['on_read']):>10.0f}")
    small, large = results[0], results[-1]
    idle_jobs = [n for n in APP_JOBS if n != "sensor_simulate"]  # that one always writes a reading per floor
    checks = [
        (f"app jobs with nothing to do ({', '.join(idle_jobs)}) at {large['size']:,} keys, ms <= {APP_JOB_LIMIT_MS}",
         max(large["jobs"][n]["run_ms"] for n in idle_jobs), APP_JOB_LIMIT_MS),
        (f"write p99 with the scheduler on / off at {large['size']:,} keys <= {P99_RATIO_LIMIT}",
         us(large["on_write"], 0.99) / us(large["off"], 0.99), P99_RATIO_LIMIT),
        (f"write p50 at {large['size']:,} / {small['size']:,} keys, scheduler on <= {FLAT_LIMIT}",
         us(large["on_write"], 0.5) / us(small["on_write"], 0.5), FLAT_LIMIT),
        (f"read p50 at {large['size']:,} / {small['size']:,} keys, scheduler on <= {FLAT_LIMIT}",
         us(large["on_read"], 0.5) / us(small["on_read"], 0.5), FLAT_LIMIT),
    ]
    print()
    missed = 0
    for what, figure, limit in checks:
        ok = figure <= limit
        missed += not ok
        print(f"{what}: {figure:.2f} {'met' if ok else 'MISSED'}")
    return 1 if missed else 0


def main(argv=None) -> int:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,20000,100000", help="store sizes in keys, comma-separated")
    parser.add_argument("--nodes", type=int, default=50)
    parser.add_argument("--samples", type=int, default=2000, help="writes (and reads) timed per phase")
    args = parser.parse_args(argv)
    results = []
    for size in (int(s) for s in args.sizes.split(",")):
        figures = measure(size, args.nodes, args.samples)
        print(f"{size:,} keys loaded in {figures['load_s']:.1f} s", flush=True)
        results.append(figures)
    return report(results, args.nodes)


if __name__ == "__main__":
    sys.exit(main())
