"""python -m labs grade-node "CMD" [--workload lin-kv|eventual-kv] [--seeds 5] [--time 30] [--seed N] [--out DIR]"""
from __future__ import annotations

import argparse
import sys
import tempfile
from typing import List, Optional

from chaos.nemesis import GRADER_KINDS
from wording import agrees

from . import report
from .run import OWN_NODES, WORKLOADS, GradeSettings, RunResult, grade

# Bounds of the flags: a run starts a process (and a program) per node and a thread per client, and the
# nemesis plans one fault per --fault-every seconds of --time up front.
MAX_SEEDS, MAX_NODES, MAX_CLIENTS, MAX_KEYS = 1000, 25, 100, 10_000
MAX_TIME_S, MIN_FAULT_EVERY_S, MAX_SETTLE_S = 3600.0, 0.05, 600.0


def parse(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """The command line of grade-node."""
    p = argparse.ArgumentParser(prog="python -m labs grade-node",
                                description="Run a cluster of CMD under concurrent clients and a seeded nemesis "
                                            "(partitions, kill -9, SIGSTOP, lost messages), check the history, "
                                            "and write a report (summary, JUnit XML, Gradescope JSON).")
    p.add_argument("node_cmd", metavar="CMD",
                   help='the node program, e.g. "python3 my_node.py" (or "replicalab": ReplicaLab\'s own nodes)')
    p.add_argument("--workload", choices=WORKLOADS, default="lin-kv",
                   help="lin-kv: the history must be linearizable; eventual-kv: no acknowledged write lost "
                        "after the heal, and all replicas converged (default lin-kv)")
    p.add_argument("--seeds", type=int, default=5, help="runs, with seeds 1..N (default 5)")
    p.add_argument("--seed", type=int, help="run (replay) only this seed's schedule")
    p.add_argument("--time", type=float, default=30.0, help="seconds of clients and faults per run (default 30)")
    p.add_argument("--nodes", type=int, default=5, help="nodes in the cluster (default 5)")
    p.add_argument("--faults", default=",".join(GRADER_KINDS),
                   help=f"fault kinds, comma-separated, or none (default: {','.join(GRADER_KINDS)})")
    p.add_argument("--clients", type=int, default=10, help="concurrent clients (default 10)")
    p.add_argument("--keys", type=int, default=3, help="keys the clients share (default 3)")
    p.add_argument("--fault-every", type=float, default=1.0,
                   help="mean seconds between two faults (default 1)")
    p.add_argument("--settle", type=float, default=3.0, help="seconds to settle after the heal (default 3)")
    p.add_argument("--out", help="where to write the report (default: a new temporary directory)")
    args = p.parse_args(argv)
    args.faults = () if args.faults in ("", "none") else tuple(args.faults.split(","))
    unknown = set(args.faults) - set(GRADER_KINDS)
    if unknown:
        p.error(f"unknown fault {agrees(len(unknown), 'kind', 'kinds')} {', '.join(sorted(unknown))}; "
                f"choose from {', '.join(GRADER_KINDS)}")
    for flag, value, low, high in (("--seeds", args.seeds, 1, MAX_SEEDS), ("--nodes", args.nodes, 1, MAX_NODES),
                                   ("--clients", args.clients, 1, MAX_CLIENTS), ("--keys", args.keys, 1, MAX_KEYS),
                                   ("--time", args.time, 0.1, MAX_TIME_S),
                                   ("--fault-every", args.fault_every, MIN_FAULT_EVERY_S, MAX_TIME_S),
                                   ("--settle", args.settle, 0, MAX_SETTLE_S)):
        # `not low <= value` also refuses nan, which float() accepts and no comparison stops (an endless plan).
        if not low <= value <= high:
            p.error(f"{flag} must be from {low:g} to {high:g}, not {value:g}")
    if not args.node_cmd.strip():
        p.error("CMD is empty: give the command that starts your node, e.g. \"python3 my_node.py\"")
    return args


def main(argv: Optional[List[str]] = None) -> int:
    """Grade, print the summary and where the report is; exit 0 if every run passed, 1 if not."""
    args = parse(argv)
    settings = GradeSettings(args.node_cmd, args.workload, args.seeds, args.time, args.nodes, args.seed,
                             args.faults, args.clients, args.keys, args.fault_every, settle_s=args.settle)
    out = args.out or tempfile.mkdtemp(prefix="grade-node-")
    who = "ReplicaLab's own nodes" if args.node_cmd == OWN_NODES else args.node_cmd
    print(f"grading {who}: {args.workload}, {args.nodes} nodes, seeds {settings.seed_list()}, "
          f"{args.time:g} s each", flush=True)

    def progress(result: RunResult) -> None:
        broken = ", ".join(f.property for f in result.failed())
        print(f"  seed {result.seed}: {'PASS' if result.passed else 'FAIL (' + broken + ')'} "
              f"in {result.seconds:.0f} s", flush=True)

    try:
        results = grade(settings, out, progress)
    except KeyboardInterrupt:
        print("\nstopped (every cluster started was stopped).", file=sys.stderr)
        return 130
    paths = report.write(settings, results, out)
    print()
    print(report.summary(settings, results), end="")
    print(f"Report: {', '.join(paths)}")
    return 0 if all(r.passed for r in results) else 1
