"""python -m labs list | run N [--url URL] [--no-pause] | check N|all"""
from __future__ import annotations

import argparse
import sys

from labs import runner


def main(argv=None) -> int:
    """Parse the command and run it; returns the exit code."""
    parser = argparse.ArgumentParser(prog="python -m labs", description="ReplicaLab's guided labs.")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="list the labs")
    run = sub.add_parser("run", help="walk through a lab step by step")
    run.add_argument("number", type=int)
    run.add_argument("--url", help="a running server, e.g. http://127.0.0.1:5000 "
                                   "(default: a fresh in-process cluster)")
    run.add_argument("--no-pause", action="store_true", help="do not wait for Enter between steps")
    run.add_argument("--anyway", action="store_true",
                     help="run on a --url server even if it lacks the lab's flags")
    check = sub.add_parser("check", help="verify a lab's observations on a fresh cluster")
    check.add_argument("which", help="a lab number, or all")
    replay = sub.add_parser("replay", help="replay a scenario file (GET /scenario) and compare event logs")
    replay.add_argument("file")
    replay.add_argument("--quiet", action="store_true", help="print only the verdict")
    args = parser.parse_args(argv)

    if args.command == "replay":
        return replay_file(args.file, args.quiet)

    try:
        if args.command == "list":
            for lab in runner.discover():
                print(f"{lab.number}  {lab.title}  (labs/{lab.folder}/README.md, {len(lab.steps)} steps)")
            return 0
        if args.command == "run":
            lab = runner.find(args.number)
            client = runner.HttpClient(args.url) if args.url else runner.InProcessClient(lab.settings)
            if args.url and not args.anyway:
                problem = runner.server_mismatch(lab, client)
                if problem:
                    print(problem, file=sys.stderr)
                    return 2
            return 0 if runner.guided(lab, client, pause=not args.no_pause) else 1
        if args.which == "all":
            labs = runner.discover()
        else:
            try:
                labs = [runner.find(int(args.which))]
            except ValueError:
                parser.error(f"check takes a lab number or 'all', not {args.which!r}")
        results = [runner.check(lab) for lab in labs]
        print(f"{sum(results)} passed, {len(results) - sum(results)} failed")
        return 0 if all(results) else 1
    except LookupError as error:
        print(error, file=sys.stderr)
        return 2
    except (KeyboardInterrupt, EOFError):
        print("\nstopped.", file=sys.stderr)
        return 130
    except OSError as error:  # requests' connection errors derive from OSError
        print(f"Cannot reach the server: {error}. Is `python run.py` running at that --url?",
              file=sys.stderr)
        return 2


def replay_file(path: str, quiet: bool = False) -> int:
    """Replay a scenario on a fresh virtual-clock cluster; 0 if the event log is identical."""
    from cluster.event_log import MESSAGE_EVENTS
    from cluster.scenario import event_digest
    from labs import replay
    try:
        data = replay.load(path)
        app, _ = replay.replay(data)
    except replay.ScenarioError as error:
        print(f"Cannot replay: {error}", file=sys.stderr)
        return 2
    events = app.extensions["replicalab"].events.page(0, 10 ** 9)
    if not quiet:
        for event in events:
            if event.type not in MESSAGE_EVENTS:
                print(f"[t={event.time_ms:6d}ms #{event.seq}] {event.text}")
    digest = event_digest(events)
    same = digest == data.get("event_digest")
    print(f"replayed {len(data['requests'])} request(s): {len(events)} events, digest {digest[:16]}")
    if same:
        print("identical event log: yes, byte for byte")
        return 0
    print(f"identical event log: NO (the file says {data.get('event_digest', '?')[:16]}, "
          f"{data.get('events')} events)")
    for note in data.get("notes", []):
        print(f"  note: {note}")
    return 1


if __name__ == "__main__":
    sys.exit(main())
