"""Benchmark: how long does the linearizability checker take on 10,000 operations?

Generates seeded store histories (read/write/cas/delete over a handful of keys,
many concurrent clients, small values so many orders are plausible) by
simulating a linearizable store: every operation takes effect at a random
instant inside its interval. Then times `checker.check_history` on:

* a linearizable history;
* the same with some writes, deletes and cas left `info` (half of them took
  effect, half never did);
* a non-linearizable one: the same history with one read returning a value
  nobody wrote, without and with info ops (the hard case: to prove a violation
  the search must exhaust every order of the prefix, and each pending info op
  multiplies them; --timeout bounds it and the verdict is then "unknown").

    python -m bench.checker_speed [--ops 10000] [--clients 10] [--keys 5] [--seed 0]
                                     [--repeat 3] [--timeout 60]
"""
from __future__ import annotations

import argparse
import random
import time
from typing import Any, Optional

from checker import check_history


def generate(ops: int, clients: int, keys: int, seed: int, info: float = 0.0) -> list[dict]:
    """A linearizable store history of `ops` operations as export-shaped event dicts."""
    rng = random.Random(seed)
    names = [f"k{i}" for i in range(keys)]
    planned: list = []  # (invoke, effect, complete, process, f, key, value)
    clock = [0.0] * clients
    for n in range(ops):
        process = n % clients
        start = clock[process] + rng.uniform(0, 3)
        due = start + rng.uniform(0, 5)
        end = due + rng.uniform(0, 5)
        clock[process] = end
        f = rng.choices(["read", "write", "cas", "delete"], [50, 30, 15, 5])[0]
        drawn: Any = [rng.randrange(5), rng.randrange(5)] if f == "cas" else rng.randrange(5)
        planned.append((start, due, end, process, f, rng.choice(names), drawn))
    state: dict = {}
    events = []
    for start, planned_effect, end, process, f, key, planned_value in sorted(planned, key=lambda p: p[1]):
        effect: Optional[float] = planned_effect
        value = planned_value
        kind = "ok"
        lost = f != "read" and rng.random() < info
        if lost:
            kind = "info"
            if rng.random() < 0.5:
                effect = None  # the request never reached the store
        result: Any = value
        if f == "read":
            result = state.get(key)
        elif f == "write" and effect is not None:
            state[key] = value
        elif f == "delete" and effect is not None:
            state.pop(key, None)
        elif f == "cas":
            applied = state.get(key) == value[0]
            if applied and effect is not None:
                state[key] = value[1]
            if not applied and not lost:
                kind = "fail"  # HTTP 409: compared and saw another value
        events.append({"process": process, "type": "invoke", "f": f, "key": key,
                       "value": None if f == "read" else value, "time": start})
        events.append({"process": process, "type": kind, "f": f, "key": key,
                       "value": result if kind != "info" else None, "time": end})
    events.sort(key=lambda e: (e["time"], e["type"] != "invoke"))
    return events


def make_stale(events: list[dict], seed: int) -> list[dict]:
    """Copy the history with one read, in its middle third, returning a value nobody wrote."""
    rng = random.Random(seed)
    events = [dict(e) for e in events]
    reads = [i for i, e in enumerate(events)
             if e["f"] == "read" and e["type"] == "ok" and e["value"] is not None
             and len(events) // 3 < i < 2 * len(events) // 3]
    target = rng.choice(reads)
    events[target]["value"] = 99  # never written by anyone
    return events


def timed(label: str, events: list[dict], repeat: int, timeout: float) -> None:
    """Check a history `repeat` times and print the verdict and the best time."""
    best: Optional[float] = None
    verdict: Any = None
    for _ in range(repeat):
        started = time.perf_counter()
        verdict = check_history(events, model="store", timeout=timeout)
        took = time.perf_counter() - started
        best = took if best is None else min(best, took)
    ops = sum(1 for e in events if e["type"] == "invoke")
    assert best is not None and verdict is not None, "repeat is at least 1"
    print(f"{label:<36} {ops:>6} ops  {verdict.result:<17} keys={verdict.keys_checked}  "
          f"best of {repeat}: {best * 1000:8.1f} ms  ({best / ops * 1e6:.1f} us/op)")


def main() -> None:
    """Parse flags, generate the histories, time the checker on each."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--ops", type=int, default=10_000)
    p.add_argument("--clients", type=int, default=10)
    p.add_argument("--keys", type=int, default=5)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--timeout", type=float, default=60.0, help="seconds per verdict")
    args = p.parse_args()
    run = {"repeat": args.repeat, "timeout": args.timeout}
    plain = generate(args.ops, args.clients, args.keys, args.seed)
    timed("linearizable", plain, **run)
    for share in (0.05, 0.2):
        lossy = generate(args.ops, args.clients, args.keys, args.seed, info=share)
        timed(f"linearizable, {share:.0%} of updates info", lossy, **run)
    timed("one bad read (not linearizable)", make_stale(plain, args.seed), **run)
    one_key = generate(args.ops, args.clients, 1, args.seed)
    timed("linearizable, all on one key", one_key, **run)
    timed("one bad read, all on one key", make_stale(one_key, args.seed), **run)
    lossy = generate(args.ops, args.clients, args.keys, args.seed, info=0.05)
    timed("one bad read, 5% of updates info", make_stale(lossy, args.seed),
          repeat=1, timeout=args.timeout)


if __name__ == "__main__":
    main()
