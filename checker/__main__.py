"""python -m checker FILE: is this history linearizable?

Exit status: 0 every key is linearizable, 1 a key is not, 2 the input cannot
be read (the offending line is printed), 3 a budget (--timeout or --memory)
ran out before a verdict (no violation found so far).
"""
from __future__ import annotations

import argparse
import json
import sys

from . import DEFAULT, DEFAULT_MEMORY_MB, FORMATS, MODELS, HistoryError, check_text
from .explain import render_text
from .html import render_html

EXIT = {"linearizable": 0, "not_linearizable": 1, "unknown": 3}


def build_parser() -> argparse.ArgumentParser:
    """The command-line options."""
    p = argparse.ArgumentParser(
        prog="python -m checker",
        description="Check a history for linearizability, key by key.",
        epilog="Exit status: 0 linearizable, 1 not linearizable, 2 unreadable input, "
               "3 a budget ran out before a verdict. Models: " + "; ".join(
                   f"{name}: {m.doc}" for name, m in MODELS.items()))
    p.add_argument("file", help="history file, or - for standard input")
    p.add_argument("--model", choices=sorted(MODELS),
                   help="default: the JSON document's own, else store for JSON and register "
                        "for Jepsen EDN and logs, else the model whose operations the history uses")
    p.add_argument("--initial", metavar="JSON",
                   help="the state every key starts in, as JSON (e.g. 0, '\"\"', '[]'); "
                        "default: the document's \"initial\", else the model's own")
    p.add_argument("--format", choices=FORMATS, help="input format (default: detected)")
    p.add_argument("--independent", action="store_true",
                   help="values are jepsen.independent [key value] tuples")
    p.add_argument("--json", action="store_true", help="print the verdict as JSON")
    p.add_argument("--timeout", type=float, metavar="SECONDS",
                   help="give up after this long with an 'unknown' verdict (exit 3)")
    p.add_argument("--memory", type=float, metavar="MB", default=DEFAULT_MEMORY_MB,
                   help=f"what one key's search may hold before that key is unknown "
                        f"(default {DEFAULT_MEMORY_MB})")
    p.add_argument("--all", action="store_true",
                   help="check every key even after a violation (default: stop at the first)")
    p.add_argument("--html", metavar="OUT",
                   help="also write the picture of the verdict to this HTML file")
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
        initial = DEFAULT if args.initial is None else _json_arg(args.initial)
        verdict = check_text(text, args.model, args.format, args.independent, args.timeout,
                             args.memory, initial, not args.all)
        if args.html:
            with open(args.html, "w", encoding="utf-8") as fh:
                fh.write(render_html(verdict, f"Linearizability of {args.file}"))
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


def _json_arg(text: str):
    """--initial's JSON value; ValueError with examples when it is not JSON."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        raise ValueError(f"--initial must be JSON (e.g. 0, null, '\"\"', '[1, 2]'), "
                         f"not {text!r}") from None


if __name__ == "__main__":
    sys.exit(main())
