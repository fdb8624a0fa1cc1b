"""python -m labs list | run N [--url URL --token T] | check N|all | replay FILE | answers N | report N | grade FILE
| grade-node "CMD" [--workload lin-kv|eventual-kv] [--seeds 5] [--time 30] [--nodes 5] [--seed N] [--out DIR]"""
from __future__ import annotations

import argparse
import json
import os
import re
import sys

from labs import runner
from wording import plural


def main(argv=None) -> int:
    """Parse the command and run it; returns the exit code."""
    parser = argparse.ArgumentParser(prog="python -m labs", description="ReplicaLab's guided labs.")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="list the labs")
    run = sub.add_parser("run", help="walk through a lab step by step")
    run.add_argument("number", type=int)
    run.add_argument("--url", help="a running server, e.g. http://127.0.0.1:5000 "
                                   "(default: a fresh in-process cluster)")
    add_token_option(run)
    run.add_argument("--no-pause", action="store_true", help="do not wait for Enter between steps")
    run.add_argument("--anyway", action="store_true",
                     help="run on a --url server even if it lacks the lab's flags")
    check = sub.add_parser("check", help="verify a lab's observations on a fresh cluster")
    check.add_argument("which", help="a lab number, or all")
    check.add_argument("--real", action="store_true",
                       help="run the check on real node processes (python run.py cluster); with all: "
                            "the labs that run there")
    replay = sub.add_parser("replay", help="replay a scenario file (GET /scenario) and compare event logs")
    replay.add_argument("file")
    replay.add_argument("--quiet", action="store_true", help="print only the verdict")
    answers = sub.add_parser("answers", help="for instructors: each step's expected observations, and "
                                               "model answers to the questions")
    answers.add_argument("number", type=int)
    report = sub.add_parser("report", help="after the lab: record what the student did and answered into a file")
    report.add_argument("number", type=int)
    report.add_argument("--url", required=True, help="the student's server, e.g. http://127.0.0.1:5000")
    report.add_argument("--student", help="the student's name (in the report and its file name)")
    report.add_argument("--out", help="the report file (default: labN-STUDENT-report.json)")
    report.add_argument("--answers", help="the student's answers to the questions: a numbered list "
                                          "(default: asked here, one question at a time)")
    report.add_argument("--force", action="store_true", help="replace an existing report file")
    add_token_option(report)
    grade = sub.add_parser("grade", help="check a report file against the lab's observations")
    grade.add_argument("file")
    sub.add_parser("grade-node", add_help=False, help="grade a node program (any language) under faults; "
                                                      "`python -m labs grade-node --help`")
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["grade-node"]:
        from labs.grade_node.cli import main as grade_node
        return grade_node(argv[1:])
    args = parser.parse_args(argv)

    if args.command == "replay":
        return replay_file(args.file, args.quiet)
    if args.command in ("answers", "report", "grade"):
        return teacher_command(args)

    try:
        if args.command == "list":
            for lab in runner.discover():
                print(f"{lab.number}  {lab.title}  (labs/{lab.folder}/README.md, {len(lab.steps)} steps)")
            return 0
        if args.command == "run":
            lab = runner.find(args.number)
            client = (runner.HttpClient(args.url, args.token) if args.url
                      else runner.lab_client(lab))
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
        if args.real:
            labs = [lab for lab in labs if lab.mode == "real" or lab.runs_real or args.which != "all"]
        results = [runner.check(lab, real=args.real) for lab in labs]
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


def add_token_option(parser) -> None:
    """--token: the server's admin token (default: $REPLICALAB_ADMIN_TOKEN), sent with every request."""
    parser.add_argument("--token", default=os.environ.get("REPLICALAB_ADMIN_TOKEN") or None,
                        help="the server's admin token, if it was started with one "
                             "(default: $REPLICALAB_ADMIN_TOKEN)")


def teacher_command(args) -> int:
    """answers, report and grade (labs/teacher.py); returns the exit code."""
    from labs import teacher
    try:
        if args.command == "answers":
            print(teacher.answers_text(runner.find(args.number)))
            return 0
        if args.command == "report":
            return report_command(args, teacher)
        ok, text = teacher.grade_text(teacher.load_report(args.file))
        print(text)
        return 0 if ok else 1
    except (LookupError, teacher.ReportError) as error:
        print(f"{error}.".replace("..", "."), file=sys.stderr)
        return 2
    except OSError as error:  # requests' connection errors derive from OSError
        print(f"Cannot reach the server: {error}. Is `python run.py` running at that --url?", file=sys.stderr)
        return 2


def report_command(args, teacher) -> int:
    """Record the student's run and answers into a file that no other student's report overwrites."""
    lab = runner.find(args.number)
    name = re.sub(r"[^A-Za-z0-9_.-]+", "-", args.student or "student").strip("-.") or "student"
    path = args.out or f"lab{lab.number}-{name}-report.json"
    if os.path.exists(path) and not args.force:
        print(f"{path} exists already (another student's report?): name this one with --student or --out, "
              "or pass --force to replace it.", file=sys.stderr)
        return 2
    client = runner.HttpClient(args.url, args.token)
    problem = runner.server_mismatch(lab, client, rerun_hint=False)
    if problem:
        print(f"note: {problem} Recording anyway; the report names the missing flags.", file=sys.stderr)
    answers = (teacher.read_answers(args.answers, lab) if args.answers
               else teacher.ask_answers(lab) if sys.stdin.isatty() else [])
    data = teacher.record(lab, client, args.student, answers)
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=1, ensure_ascii=False)
    answered = sum(1 for q in data["questions"] if q["answer"])
    sent = plural(len(data["scenario"]["requests"]), "request")
    print(f"Recorded lab {lab.number} from {args.url} into {path}: {sent} the student sent, {answered} of "
          f"{plural(len(data['questions']), 'question')} answered. Hand in {path}; "
          f"`python -m labs grade {path}` replays the requests and checks each step.")
    return 0


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
    print(f"replayed {plural(len(data['requests']), 'request')}: {len(events)} events, digest {digest[:16]}")
    if same:
        print("identical event log: yes, byte for byte")
        return 0
    print(f"identical event log: NO (the file says {data.get('event_digest', '?')[:16]}, "
          f"{plural(data.get('events') or 0, 'event')})")
    for note in data.get("notes", []):
        print(f"  note: {note}")
    return 1


if __name__ == "__main__":
    sys.exit(main())
