"""Benchmark: ReplicaLab's requests per second as a fraction of bare Flask's.

Both apps run under gunicorn with gunicorn.conf.py (one worker, 8 gthreads),
each on its own 127.0.0.1 port, and the same load client drives them in turn,
round after round (wrk -t2 -c16 when installed: see bench/load.py). Targets:
/read/<key> >= 0.8 of the bare endpoint; /write (RF 3, W 2, batch) >= 0.6;
/write with sync durability is reported too. A later round equal to the first
shows that the cost does not grow with the server's age.

    python -m bench.http_ratio [--seconds 5] [--rounds 2] [--narrate all|ops|off]
"""
from __future__ import annotations

import argparse
import json
import sys
import urllib.request

from bench import servers
from bench.load import throughput

CASES = [  # name, method, path, durability, target ratio
    ("read", "GET", "/read/hot", "batch", 0.8),
    ("write batch", "POST", "/write", "batch", 0.6),
    ("write sync", "POST", "/write", "sync", None),
]


def seed_key(url: str) -> None:
    """Store the key the read benchmark reads."""
    body = json.dumps({"key": "hot", "value": {"temperature": 21.5}}).encode()
    urllib.request.urlopen(urllib.request.Request(url + "/write", data=body, method="POST")).close()


def measure(method: str, path: str, durability: str, seconds: float, rounds: int, narrate: str):
    """Requests per second of the bare app and of ReplicaLab, round by round."""
    env = {"REPLICALAB_DURABILITY": durability, "REPLICALAB_NARRATE": narrate}
    bare = servers.gunicorn(True, env)
    try:
        ours = servers.gunicorn(False, env)
    except Exception:
        bare.stop()  # no orphan when ours fails to start
        raise
    try:
        seed_key(ours.url)
        results = []
        for _ in range(rounds):
            base = throughput(bare.url + path, method, seconds)
            mine = throughput(ours.url + path, method, seconds)
            results.append((base, mine))
        return results
    finally:
        bare.stop()
        ours.stop()


def main(argv=None) -> int:
    """Run every case and print requests per second and ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--only", choices=[case[0] for case in CASES], help="run one case")
    parser.add_argument("--narrate", choices=["all", "ops", "off"], default="all",
                        help="ReplicaLab's console narration (default: all, the server's default)")
    args = parser.parse_args(argv)
    print(f"{'case':<12} {'round':>5} {'bare req/s':>11} {'ours req/s':>11} {'ratio':>6}  target")
    missed = 0
    for name, method, path, durability, target in CASES:
        if args.only and name != args.only:
            continue
        results = measure(method, path, durability, args.seconds, args.rounds, args.narrate)
        for index, (base, mine) in enumerate(results, 1):
            print(f"{name:<12} {index:>5} {base:>11,.0f} {mine:>11,.0f} {mine / base:>6.2f}  "
                  + (f">= {target}" if target else "(reported)"))
        overall = sum(m for _, m in results) / sum(b for b, _ in results)
        verdict = "" if target is None else ("met" if overall >= target else "MISSED")
        print(f"{name:<12} {'all':>5} {'':>11} {'':>11} {overall:>6.2f}  {verdict}")
        missed += bool(target and overall < target)
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
