"""python -m chaos: concurrent clients and a nemesis, then a report of what held.

    python -m chaos --ops 10000 --clients 8 --seed 1 [--consistency linearizable] [--json]
    python -m chaos --url http://127.0.0.1:5800 --ops 500     # a real server (see chaos/remote.py)
"""
from __future__ import annotations

import argparse
import json
import sys

from wording import agrees

from .nemesis import KINDS
from .report import build_report, render
from .run import ChaosSettings


def parse(argv=None) -> argparse.Namespace:
    """The command line."""
    p = argparse.ArgumentParser(prog="python -m chaos", description=__doc__.splitlines()[0])
    p.add_argument("--ops", type=int, default=10_000, help="client operations in all (default 10000)")
    p.add_argument("--clients", type=int, default=8, help="concurrent clients (default 8)")
    p.add_argument("--seed", type=int, default=1, help="seed of the cluster, clients and nemesis")
    p.add_argument("--consistency", choices=("eventual", "linearizable"), default="eventual")
    p.add_argument("--durability", choices=("sync", "batch"), default="sync")
    p.add_argument("--keys", type=int, default=10, help="keys the clients share (default 10)")
    p.add_argument("--faults", default=",".join(KINDS),
                   help=f"fault kinds the nemesis may use, comma-separated (default all: {','.join(KINDS)})")
    p.add_argument("--fault-every-ms", type=int, default=150, help="mean simulated ms between faults")
    p.add_argument("--url", help="run against a real server instead of an in-process cluster")
    p.add_argument("--json", action="store_true", help="print the report as one JSON object")
    args = p.parse_args(argv)
    unknown = set(args.faults.split(",")) - set(KINDS)
    if unknown:
        p.error(f"unknown fault {agrees(len(unknown), 'kind', 'kinds')} {', '.join(sorted(unknown))}; "
                f"choose from {', '.join(KINDS)}")
    if args.ops < 1 or args.clients < 1 or args.keys < 1:
        p.error("--ops, --clients and --keys must be at least 1")
    return args


def main(argv=None) -> int:
    """Run, print the report; exit 1 when a promise of the chosen mode is broken."""
    args = parse(argv)
    settings = ChaosSettings(ops=args.ops, clients=args.clients, seed=args.seed, consistency=args.consistency,
                             durability=args.durability, keys=args.keys, faults=tuple(args.faults.split(",")),
                             fault_every_ms=args.fault_every_ms)
    if args.url:
        from .remote import run_remote
        report = run_remote(args.url, settings)
    else:
        report = build_report(settings)
    print(json.dumps(report, sort_keys=True) if args.json else render(report))
    broken = settings.consistency == "linearizable" and (report["violations"] or report["lost_acked_writes"])
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
