"""python -m byon.smoke "CMD": does one node of yours speak the protocol? (No network, no faults.)

Starts CMD as a one-node cluster through the stdio bridge, sends init and a
short lin-kv script (a read of a missing key, a write, a read, a cas that must
fail, one that must succeed), and prints each request, the reply, and whether
it is what docs/node-protocol.md asks for; then every problem the bridge saw
(bad lines on stdout) and the node's stderr. Exit status 0 when all matched.
It is not the grader: a single node cannot show replication.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import threading
from typing import Dict, List, Optional, Tuple

from .envelope import Envelope
from .lin_kv import KvOperation, interpret, no_reply
from .stdio_bridge import NodeStartError, Problem, StdioBridge

# (operation, the outcome it must have: history type and error code or value)
SCRIPT: List[Tuple[KvOperation, str, Optional[int], object]] = [
    (KvOperation("read", "smoke"), "ok", 20, None),
    (KvOperation("write", "smoke", 1), "ok", None, None),
    (KvOperation("read", "smoke"), "ok", None, 1),
    (KvOperation("cas", "smoke", 3, expected=2), "fail", 22, None),
    (KvOperation("cas", "smoke", 2, expected=1), "ok", None, None),
    (KvOperation("read", "smoke"), "ok", None, 2),
]


class Replies:
    """Replies to the smoke client, by in_reply_to."""

    def __init__(self):
        self.bodies: Dict[int, dict] = {}
        self.changed = threading.Condition()

    def on_message(self, envelope: Envelope) -> None:
        """A message from the node (anything not for the client is ignored: there is no network)."""
        with self.changed:
            self.bodies[envelope.body.get("in_reply_to", -1)] = envelope.body
            self.changed.notify_all()

    def wait(self, msg_id: int, timeout_s: float) -> Optional[dict]:
        """The reply to `msg_id`, or None after `timeout_s`."""
        with self.changed:
            self.changed.wait_for(lambda: msg_id in self.bodies, timeout_s)
            return self.bodies.get(msg_id)


def expected_text(f: str, kind: str, code: Optional[int], value) -> str:
    """What the protocol asks for, in words."""
    if code is not None:
        return f"error {code}"
    return f"{f}_ok" + (f" with value {value!r}" if f == "read" else "")


def run(command: str, timeout_s: float = 2.0, out=sys.stdout) -> int:
    """Run the script against `command`; print the exchange; 0 if every reply matched."""
    replies, problems, logs = Replies(), [], []

    def on_problem(problem: Problem) -> None:
        problems.append(problem)

    with tempfile.TemporaryDirectory() as data_dir:
        bridge = StdioBridge("n1", ["n1"], command, replies.on_message, on_log=lambda n, t: logs.append(t),
                             on_problem=on_problem, data_dir=data_dir)
        try:
            bridge.start()
        except NodeStartError as error:
            print(f"FAILED to start: {error}", file=out)
            for problem in problems:  # what it printed before it failed (a debug line on stdout?)
                if problem != error.problem:
                    print(f"problem: {problem.text()}", file=out)
            return 1
        print(f"started {command!r} as n1 (pid {bridge.pid}); init answered with init_ok", file=out)
        matched = 0
        try:
            for msg_id, (op, kind, code, value) in enumerate(SCRIPT, start=100):
                body = op.request_body(msg_id)
                bridge.send({"src": "c1", "dest": "n1", "body": body})
                reply = replies.wait(msg_id, timeout_s)
                result = no_reply(op, "n1", int(timeout_s * 1000)) if reply is None else interpret(op, reply, "n1")
                got_code = result.error.code if result.error else None
                ok = result.type == kind and got_code == code and (value is None or result.value == value)
                matched += ok
                print(f"{'ok  ' if ok else 'FAIL'} {body} -> {reply if reply is not None else 'no reply'}"
                      + ("" if ok else f"\n     expected {expected_text(op.f, kind, code, value)}: {result.message}"),
                      file=out)
        finally:
            bridge.stop()
    for problem in problems:
        print(f"problem: {problem.text()}", file=out)
    if logs:
        print(f"stderr ({len(logs)} lines, last ones):", *logs[-5:], sep="\n  ", file=out)
    print(f"{matched} of {len(SCRIPT)} replies as the protocol asks; {len(problems)} problem(s).", file=out)
    return 0 if matched == len(SCRIPT) and not problems else 1


def main(argv=None) -> int:
    """Parse the command line and run the smoke script."""
    parser = argparse.ArgumentParser(prog="python -m byon.smoke", description=__doc__.splitlines()[0])
    parser.add_argument("command", help='the node program, e.g. "python3 my_node.py" or "node mine.js"')
    parser.add_argument("--timeout", type=float, default=2.0, help="seconds to wait for each reply")
    args = parser.parse_args(argv)
    return run(args.command, args.timeout)


if __name__ == "__main__":
    sys.exit(main())
