"""Benchmark: the linearizability checker beside a plain reference WGL and Porcupine.

1. Speed. Seeded store histories of 10,000 operations (read/write/cas/delete,
   many concurrent clients, small values so many orders are plausible, made by
   simulating a linearizable store), with and without `info` updates, on 5 keys
   and on one key; and, with --porcupine DIR (a checkout of
   github.com/anishathalye/porcupine), its 102 Jepsen etcd logs and 6.5840 kv
   files. Each is checked by `checker` and by bench/reference_wgl.py (plain
   Wing & Gong + Lowe's cache, no pruning), side by side, with search steps
   per second; Porcupine's own time (Go) when `go` is installed.
2. Budgets. One hard key with several failing easy keys (the answer must name
   an easy key within 1 s), and the hard key alone under --deadline, run by
   `python -m checker` in a child process: wall time against the deadline
   (target: within 10 %) and peak RSS against the memory budget.

    python -m bench.checker_speed [--ops 10000] [--porcupine DIR] [--deadline 5]

Prints figures and ratios; exits 1 when a target is missed.
"""
from __future__ import annotations

import argparse
import io
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from contextlib import redirect_stdout
from typing import Any

from bench.reference_wgl import reference_check
from checker import MODELS, check_history, parse_history
from checker.formats import detect_format
from checker.history import Event, by_key, event_from_mapping, pair
from checker.wgl import DEFAULT_MEMORY_MB


def generate(ops: int, clients: int, keys: int, seed: int, info: float = 0.0) -> list[dict]:
    """A linearizable store history of `ops` operations as export-shaped event dicts."""
    rng = random.Random(seed)
    names = [f"k{i}" for i in range(keys)]
    planned: list[tuple] = []  # (invoke, effect, complete, process, f, key, value)
    clock = [0.0] * clients
    for n in range(ops):
        process = n % clients
        start = clock[process] + rng.uniform(0, 3)
        effect: float | None = start + rng.uniform(0, 5)
        end = (effect or 0.0) + rng.uniform(0, 5)
        clock[process] = end
        f = rng.choices(["read", "write", "cas", "delete"], [50, 30, 15, 5])[0]
        value: Any = [rng.randrange(5), rng.randrange(5)] if f == "cas" else rng.randrange(5)
        planned.append((start, effect, end, process, f, rng.choice(names), value))
    state: dict = {}
    events = []
    for start, effect, end, process, f, key, value in sorted(planned, key=lambda p: p[1]):
        kind = "ok"
        lost = f != "read" and rng.random() < info
        if lost:
            kind = "info"
            if rng.random() < 0.5:
                effect = None  # the request never reached the store
        result = value
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


def side_by_side(label: str, events: list, model: str, timeout: float,
                 stop_at_first: bool = False) -> tuple[float, float]:
    """Time the checker and the reference on one history; print a row; return both times.

    With `stop_at_first` both stop at the first key that is not linearizable:
    the checker in its own order (easiest first), the reference in key order.
    """
    started = time.perf_counter()
    verdict = check_history(events, model, timeout=timeout, stop_at_first=stop_at_first)
    ours = time.perf_counter() - started
    started = time.perf_counter()  # the reference pays for pairing too, as the checker does
    paired = [e if isinstance(e, Event) else event_from_mapping(e) for e in events]
    ops = by_key(pair([e for e in paired if e is not None]))
    deadline = time.monotonic() + timeout
    ref_steps, ref_results = 0, []
    for key in sorted(ops, key=repr):
        result, steps = reference_check(MODELS[model], ops[key], deadline)
        ref_steps += steps
        ref_results.append(result)
        if stop_at_first and result is False:
            break
    theirs = time.perf_counter() - started
    if False in ref_results:
        ref_verdict = "not_linearizable"
    elif None in ref_results:
        ref_verdict = "gave up"
    else:
        ref_verdict = "linearizable" if all(ref_results) else "not_linearizable"
    agree = "" if ref_verdict in (verdict.result, "gave up") or verdict.result == "unknown" \
        else "  DISAGREE"
    n = sum(len(v) for v in ops.values())
    print(f"{label:<38} {n:>6} ops  {verdict.result:<16} {ours * 1000:8.1f} ms "
          f"{verdict.explored / max(ours, 1e-9) / 1000:7.0f}k steps/s | reference "
          f"{ref_verdict:<16} {theirs * 1000:8.1f} ms {ref_steps / max(theirs, 1e-9) / 1000:6.0f}k "
          f"steps/s | ratio {ours / max(theirs, 1e-9):5.2f}{agree}")
    return ours, theirs


def events_of(path: str) -> tuple[list, str]:
    """A Porcupine test file's events and the model it needs (kv files: kv; etcd logs: register)."""
    with open(path, encoding="utf-8") as fh:
        text = fh.read()
    events = parse_history(text, detect_format(text))
    return events, "kv" if path.endswith(".txt") else "register"


def porcupine_files(root: str) -> list[str]:
    """The etcd logs and kv histories of a Porcupine checkout."""
    out = []
    for sub in ("test_data/jepsen", "test_data/kv"):
        folder = os.path.join(root, sub)
        if os.path.isdir(folder):
            out += [os.path.join(folder, f) for f in sorted(os.listdir(folder))
                    if f.endswith((".log", ".txt"))
                    and os.path.getsize(os.path.join(folder, f))]  # etcd_095 is empty
    return out


def porcupine_go_times(root: str | None) -> dict:
    """Porcupine's own per-test times (go test -v), or {} with the reason printed."""
    if shutil.which("go") is None:
        print("Porcupine (Go): skipped - `go` is not installed on this machine "
              "(apt-get install golang-go), so Porcupine's own times cannot be measured here.")
        return {}
    if not root:
        print("Porcupine (Go): skipped - pass --porcupine DIR (a checkout of "
              "github.com/anishathalye/porcupine) to run its tests beside ours.")
        return {}
    # its etcd and kv tests (not TestKvNoPartition*, which skip the per-key split we always do);
    # Porcupine needs no module, so nothing is downloaded
    env = dict(os.environ, GOPROXY="off", GOTOOLCHAIN="local", GOFLAGS="-mod=mod")
    run = subprocess.run(["go", "test", "-run", "^(TestEtcdJepsen|TestKv[0-9])", "-count=1",
                          "-v", "."], cwd=root, capture_output=True, text=True, timeout=900,
                         env=env)
    times = {m.group(1): float(m.group(2))
             for m in re.finditer(r"--- (?:PASS|FAIL): (\w+) \(([\d.]+)s\)", run.stdout)}
    print(f"Porcupine (Go): {len(times)} tests timed, total {sum(times.values()):.2f} s")
    return times


def speed(args) -> bool:
    """Part 1: ours against the reference, slowest hard history within 2x; True when met."""
    print("== speed: checker vs a plain reference WGL (same models, same paired operations) ==")
    rows = []
    plain = generate(args.ops, args.clients, args.keys, args.seed)
    rows.append(side_by_side("linearizable, 5 keys", plain, "store", args.timeout))
    for share in (0.05, 0.2):
        lossy = generate(args.ops, args.clients, args.keys, args.seed, info=share)
        rows.append(side_by_side(f"5 keys, {share:.0%} of updates info", lossy, "store",
                                 args.timeout))
    rows.append(side_by_side("one bad read, 5 keys", make_stale(plain, args.seed), "store",
                             args.timeout))
    one_key = generate(args.ops, args.clients, 1, args.seed)
    hard = [side_by_side("linearizable, all on one key", one_key, "store", args.timeout)]
    hard.append(side_by_side("one key, 5% of updates info",
                             generate(args.ops, args.clients, 1, args.seed, info=0.05), "store",
                             args.timeout))
    go = porcupine_go_times(args.porcupine)
    if args.porcupine:
        files = porcupine_files(args.porcupine)
        total_ours = total_ref = 0.0
        per_file: list[tuple[float, float, str, str]] = []
        for path in files:
            events, model = events_of(path)
            shown = io.StringIO()
            with redirect_stdout(shown):
                # as Porcupine itself: stop at the first key that fails
                ours, theirs = side_by_side(os.path.basename(path), events, model,
                                            args.timeout, stop_at_first=True)
            total_ours, total_ref = total_ours + ours, total_ref + theirs
            per_file.append((ours, theirs, os.path.basename(path), shown.getvalue().rstrip()))
        per_file.sort()
        print(f"Porcupine's {len(files)} test histories (etcd logs: register; kv files: kv), "
              f"five slowest for the checker:")
        for *_, name, row in per_file[-5:]:
            print(row + (f" | Porcupine {go_time(go, name)}" if go else ""))
        print(f"all {len(files)}: checker {total_ours:.2f} s, reference {total_ref:.2f} s")
        slowest = per_file[-1]
        hard.append(slowest[:2])
    slow = max(hard)
    ratio = slow[0] / max(slow[1], 1e-9)
    print(f"slowest hard history: {slow[0] * 1000:.0f} ms vs reference {slow[1] * 1000:.0f} ms: "
          f"{ratio:.2f}x (target <= 2x): {'met' if ratio <= 2 else 'MISSED'}")
    return ratio <= 2


def go_time(times: dict, name: str) -> str:
    """Porcupine's time for a test file, by its test's name (etcd_002.log, c50-ok.txt)."""
    etcd = re.match(r"etcd_(\d+)\.log", name)
    kv = re.match(r"c(\d+)-(ok|bad)\.txt", name)
    test = None
    if etcd:
        test = f"TestEtcdJepsen{int(etcd.group(1)):03d}"
    elif kv:
        clients = int(kv.group(1))
        test = f"TestKv{clients}Client{'s' if clients > 1 else ''}{kv.group(2).capitalize()}"
    return f"{times[test] * 1000:.0f} ms" if test in times else "n/a"


CHILD = ("import time\n"
         "began = time.monotonic()\n"
         "import sys\n"
         "from checker.__main__ import main\n"
         "code = main(sys.argv[1:])\n"
         "peak = [ln for ln in open('/proc/self/status') if ln.startswith('VmHWM')]\n"
         "sys.stderr.write(f'{peak[0] if peak else \"\"}took {time.monotonic() - began}\\n')\n"
         "sys.exit(code)\n")


def child_check(path: str, *flags: str) -> tuple[float, float, int, dict]:
    """Run the checker CLI on PATH in a child.

    Returns (wall s of the whole child, s from its first line to its exit,
    its own peak RSS in MiB, the verdict). The peak is the child's VmHWM,
    read by the child itself: a forked child's ru_maxrss would count the
    parent's pages it shared before exec.
    """
    started = time.monotonic()
    run = subprocess.run([sys.executable, "-c", CHILD, path, "--json", *flags],
                         capture_output=True, text=True, timeout=600)
    wall = time.monotonic() - started
    peak = re.search(r"VmHWM:\s+(\d+) kB", run.stderr)
    took = re.search(r"took ([\d.]+)", run.stderr)
    return (wall, float(took.group(1)) if took else wall,
            int(peak.group(1)) // 1024 if peak else -1, json.loads(run.stdout))


def budgets(args) -> bool:
    """Part 2: early stop on easy keys, the hard key's deadline and memory; True when met."""
    print("\n== budgets: one hard key, easy failing keys, deadline and memory ==")
    hard = make_stale(generate(args.ops, args.clients, 1, args.seed, info=0.05), args.seed)
    for e in hard:
        e["key"] = "hard"
    easy = []
    for i in range(4):
        part = make_stale(generate(60, 4, 1, args.seed + i), args.seed + i)
        for e in part:
            e["key"] = f"easy{i}"
            e["process"] = f"e{i}-{e['process']}"
        easy += part
    mixed = sorted(hard + easy, key=lambda e: (e["time"], e["type"] != "invoke"))
    started = time.perf_counter()
    verdict = check_history(mixed, "store", timeout=args.deadline)
    took = time.perf_counter() - started
    named = verdict.violations[0].key if verdict.violations else None
    early = verdict.result == "not_linearizable" and str(named).startswith("easy") and took < 1
    print(f"hard key + 4 failing easy keys: {verdict.result}, first violation on key {named!r} "
          f"in {took * 1000:.0f} ms (target: an easy key, < 1 s): {'met' if early else 'MISSED'}")
    ok = early
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "hard.json")
        with open(path, "w") as fh:
            json.dump(hard, fh)
        tiny = os.path.join(tmp, "tiny.json")
        with open(tiny, "w") as fh:
            json.dump(generate(10, 2, 1, 0), fh)
        base_wall, base_took, base_rss, _ = child_check(tiny)
        print(f"(a child checking a 10-op history: {base_wall:.2f} s wall, {base_took:.2f} s "
              f"from its first line, {base_rss} MiB RSS: the interpreter's own share)")
        # the last one gives memory the time to run out first
        for deadline, memory in ((args.deadline, 100_000), (args.deadline, DEFAULT_MEMORY_MB),
                                 (2 * args.deadline, DEFAULT_MEMORY_MB), (120.0, 50)):
            wall, took, rss, answer = child_check(path, "--timeout", str(deadline),
                                                  "--memory", str(memory))
            reasons = [r["reason"] for r in answer.get("unknown_reasons", [])]
            within_time = took <= deadline * 1.1
            within_memory = memory >= 100_000 or rss - base_rss <= memory
            ok = ok and within_time and within_memory
            print(f"hard key alone, --timeout {deadline} --memory {memory}: {answer['result']} "
                  f"({', '.join(reasons) or '-'}) after {took:.2f} s from the child's first line "
                  f"to its exit (target <= {deadline * 1.1:.2f} s: "
                  f"{'met' if within_time else 'MISSED'}; {wall:.2f} s with interpreter "
                  f"start-up), peak RSS {rss} MiB (+{rss - base_rss} MiB over a 10-op check; "
                  f"budget {'none' if memory >= 100_000 else f'{memory} MB'}: "
                  f"{'met' if within_memory else 'MISSED'})")
    return ok


def main() -> None:
    """Parse flags, run both parts, exit 1 when a target is missed."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--ops", type=int, default=10_000)
    p.add_argument("--clients", type=int, default=10)
    p.add_argument("--keys", type=int, default=5)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--timeout", type=float, default=60.0, help="seconds per speed verdict")
    p.add_argument("--deadline", type=float, default=5.0, help="the hard key's --timeout")
    p.add_argument("--porcupine", metavar="DIR", help="a checkout of anishathalye/porcupine")
    p.add_argument("--only", choices=("speed", "budgets"), help="run one part")
    args = p.parse_args()
    met = True
    if args.only != "budgets":
        met = speed(args) and met
    if args.only != "speed":
        met = budgets(args) and met
    sys.exit(0 if met else 1)


if __name__ == "__main__":
    main()
