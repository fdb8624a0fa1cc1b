"""python -m checker FILE: is this history linearizable?

Exit status: 0 every key is linearizable, 1 a key is not, 2 the input cannot
be read (the offending line is printed), 3 the --timeout passed before a
verdict (no violation found so far).
"""
from __future__ import annotations

import argparse
import json
import sys

from . import FORMATS, MODELS, HistoryError, check_text
from .explain import render_text

EXIT = {"linearizable": 0, "not_linearizable": 1, "unknown": 3}


def build_parser() -> argparse.ArgumentParser:
    """The command-line options."""
    p = argparse.ArgumentParser(
        prog="python -m checker",
        description="Check a history for linearizability, key by key.",
        epilog="Exit status: 0 linearizable, 1 not linearizable, 2 unreadable input, "
               "3 timeout before a verdict.")
    p.add_argument("file", help="history file, or - for standard input")
    p.add_argument("--model", choices=sorted(MODELS),
                   help="register (default for Jepsen EDN and logs), kv, "
                        "store (default for JSON)")
    p.add_argument("--format", choices=FORMATS, help="input format (default: detected)")
    p.add_argument("--independent", action="store_true",
                   help="values are jepsen.independent [key value] tuples")
    p.add_argument("--json", action="store_true", help="print the verdict as JSON")
    p.add_argument("--timeout", type=float, metavar="SECONDS",
                   help="give up after this long with an 'unknown' verdict (exit 3)")
    return p


def main(argv: list[str] | None = None) -> int:
    """Run the checker on one file; return the exit status."""
    args = build_parser().parse_args(argv)
    try:
        if args.file == "-":
            text = sys.stdin.read()
        else:
            with open(args.file, encoding="utf-8") as fh:
                text = fh.read()
        verdict = check_text(text, args.model, args.format, args.independent, args.timeout)
    except (OSError, UnicodeDecodeError, HistoryError, ValueError) as err:
        if args.json:
            print(json.dumps({"result": "error", "linearizable": None, "error": str(err),
                              "line": getattr(err, "line", None)}, indent=2))
        else:
            print(f"cannot read {args.file}: {err}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(verdict.to_dict(), indent=2, default=repr))
    else:
        print(render_text(verdict))
    return EXIT[verdict.result]


if __name__ == "__main__":
    sys.exit(main())
