"""Profile: where the CPU of /read and /write goes, in process (no server, no socket).

Builds the app with the default settings of `python -m bench.http_ratio`
(batch durability, sqlite, scheduler on, narration as asked), sends
`--requests` requests of one kind through `app.test_client()` under cProfile,
and prints the top functions by own time and by cumulative time, plus the
CPU µs per request without the profiler (measured first, so the profiler's
overhead is not in it). The console narration goes to a temporary file, as a
terminal would take it. There is no target: it says what to work on next.

    python -m bench.profile_path [--requests 3000] [--case read|write] [--narrate all|ops|off] [--top 25]

`--top 0` prints only the CPU figure (for before/after runs, alternated).
"""
from __future__ import annotations

import argparse
import cProfile
import io
import logging
import pstats
import shutil
import tempfile
import time

from app import create_app, setup_console
from config import Config

BODY = {"key": "hot", "value": {"temperature": 21.5}}


def build(narrate: str, data_dir: str):
    """The app and a test client, with the hot key stored and the narration sent to a file."""
    setup_console()
    for handler in logging.getLogger("replicalab").handlers:
        if isinstance(handler, logging.StreamHandler):
            handler.setStream(tempfile.TemporaryFile("w"))
    app = create_app(Config(data_dir=data_dir, durability="batch", narrate=narrate, fresh=True))
    client = app.test_client()
    client.post("/write", json=BODY)
    return app, client


def send(client, case: str, count: int) -> None:
    """`count` requests of one case."""
    for _ in range(count):
        answer = client.get("/read/hot") if case == "read" else client.post("/write", json=BODY)
        assert answer.status_code == 200, answer.get_data(as_text=True)[:200]


def main(argv=None) -> int:
    """Time, then profile, one case and print the top functions."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--case", choices=["read", "write"], default="read")
    parser.add_argument("--narrate", choices=["all", "ops", "off"], default="all")
    parser.add_argument("--top", type=int, default=25, help="functions to list; 0 skips the profile")
    args = parser.parse_args(argv)
    data_dir = tempfile.mkdtemp(prefix="replicalab-profile-")
    try:
        app, client = build(args.narrate, data_dir)
        send(client, args.case, 200)  # warm caches and code paths
        started = time.process_time()
        send(client, args.case, args.requests)
        cpu = (time.process_time() - started) / args.requests * 1e6
        profiler = cProfile.Profile()
        if args.top:
            profiler.enable()
            send(client, args.case, args.requests)
            profiler.disable()
        app.extensions["replicalab_scheduler"].shutdown()
        app.extensions["replicalab"].close()
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)
    print(f"{args.case}, narrate={args.narrate}: {cpu:.0f} µs CPU per request (unprofiled, "
          f"{args.requests} requests)")
    for order in ("tottime", "cumulative") if args.top else ():
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats(order).print_stats(args.top)
        print(out.getvalue().split("\n", 4)[-1] if order == "tottime" else out.getvalue())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
