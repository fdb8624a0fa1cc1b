"""Human-readable explanations of verdicts and violations."""
from __future__ import annotations

import hashlib
import json
import math
from typing import Any, Hashable

from wording import agrees, plural

from .history import RETURNS, UNKNOWN, Op, jsonable, where
from .models import thaw

__all__ = ["action", "describe_op", "describe_violation", "render_text", "shorten", "SHOWN_CHARS"]

PREFIX_SHOWN = 10  # the end of a long prefix is what explains the failure
SHOWN_CHARS = 80   # a longer value is shown by its start, length and digest (sentences stay short)


def shorten(text: str, limit: int = SHOWN_CHARS) -> str:
    """`text`, or its start with its length and a digest: equal texts have equal digests."""
    if len(text) <= limit:
        return text
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:12]
    return f"{text[:limit // 2]}… ({len(text)} characters, sha256:{digest})"


def _show(value: Any) -> str:
    """A value as JSON, compact (the way students write them with curl), shortened when long."""
    return shorten(json.dumps(jsonable(value), default=repr))


def _state(value: Hashable) -> str:
    """A model state in words."""
    return "nothing (absent)" if value is None else _show(thaw(value))


def _when(op: Op) -> str:
    """Invocation and completion: times when the history has them, else positions (#n)."""
    if op.invoke_time is not None:
        start, end = f"t={op.invoke_time}", f"t={op.complete_time}"
    else:
        start, end = f"#{op.call}", f"#{op.ret}"
    return f"invoked {start}, completed {'never (info)' if math.isinf(op.ret) else end}"


def action(op: Op) -> str:
    """What the operation did, e.g. 'read -> 3' or 'cas 1->4 (did not apply)'."""
    if op.f in RETURNS:
        return f"{op.f} -> " + ("unknown" if op.output is UNKNOWN else _show(op.output))
    if op.f == "cas":
        expected, new = op.value
        outcome = {True: "applied", False: "did not apply"}.get(op.output, "outcome unknown")
        return f"cas {_show(expected)}->{_show(new)} ({outcome})"
    if op.value is None:  # delete, acquire, release
        return op.f + (" (outcome unknown)" if op.output is UNKNOWN else "")
    return f"{op.f} {_show(op.value)}" + (" (outcome unknown)" if op.output is UNKNOWN else "")


def describe_op(op: Op) -> str:
    """One line: process, action, key and when it ran (and where the history numbers it)."""
    key = "" if op.key is None else f" key {_show(op.key)}"
    found = where(op.line, op.index)
    return f"process {shorten(str(op.process))}: {action(op)}{key}  [{_when(op)}" \
           f"{'; ' + found if found else ''}]"


def _outcome(op: Op) -> str:
    """What the operation's answer needs, e.g. 'lets the read return "blue"'."""
    if op.f in RETURNS and op.output is not UNKNOWN:
        return f"lets the {op.f} return {_show(op.output)}"
    if op.f == "cas" and op.output in (True, False):
        return f"lets the cas {'apply' if op.output else 'see another value'}"
    return f"lets the {op.f} succeed"


def describe_violation(model: str, key: Hashable, prefix: list[Op], state: Hashable,
                       blocking: Op) -> str:
    """A sentence: where the best partial order ends, which operation cannot follow it, and why."""
    name = "the history" if key is None else f"key {_show(key)}"
    found = where(blocking.line, blocking.index)
    return (f"{name} is not linearizable under the {model} model: after the "
            f"{plural(len(prefix), 'operation')} of the longest linearizable prefix the value is "
            f"{_state(state)}, and process {shorten(str(blocking.process))}'s {action(blocking)}"
            f"{' (' + found + ')' if found else ''} cannot be placed: the {blocking.f} had to "
            f"take effect before the {blocking.f} itself completed, and no order of the operations invoked by then "
            f"{_outcome(blocking)}")


def render_text(verdict) -> str:
    """The CLI's report: the verdict line, then each violation's prefix end and culprits."""
    lines = []
    if verdict.result == "linearizable":
        lines.append(f"linearizable: {plural(verdict.keys_checked, 'key')}, "
                     f"{plural(verdict.ops_checked, 'operation')}, {verdict.model} model, {verdict.elapsed_ms:.0f} ms")
    elif verdict.result == "unknown":
        lines.append(f"unknown: a budget ran out before {plural(len(verdict.unknown_keys), 'key')} "
                     f"{agrees(len(verdict.unknown_keys), 'was', 'were')} decided ({_reasons(verdict)}); "
                     "no violation found so far")
    else:
        lines.append(f"NOT linearizable: {len(verdict.violations)} of "
                     f"{plural(verdict.keys_checked, 'key')}, {verdict.model} model, "
                     f"{verdict.elapsed_ms:.0f} ms")
    for v in verdict.violations:
        lines.append("")
        lines.append(v.message + ".")
        prefix = v.linearizable_prefix
        lines.append(f"  longest linearizable prefix ({len(prefix)} ops, in order):")
        if len(prefix) > PREFIX_SHOWN:
            lines.append(f"    ... {len(prefix) - PREFIX_SHOWN} earlier ops (see --json)")
        lines.extend("    " + describe_op(op) for op in prefix[-PREFIX_SHOWN:])
        lines.append("  cannot be placed next:")
        lines.extend("    " + describe_op(op) for op in v.unplaceable)
    if verdict.unknown_keys and verdict.violations:
        lines.append(f"\n{plural(len(verdict.unknown_keys), 'key')} left undecided ({_reasons(verdict)})")
    return "\n".join(lines)


_REASONS = {"deadline": "the --timeout passed", "memory": "the --memory budget was used up",
            "skipped": "not checked: the check stops at the first violation (--all goes on)"}


def _reasons(verdict) -> str:
    """Which budget left how many keys undecided, in words."""
    counts: dict = {}
    for reason in verdict.unknown_reasons.values():
        counts[reason] = counts.get(reason, 0) + 1
    return "; ".join(f"{plural(n, 'key')}: {_REASONS.get(r, r)}" for r, n in counts.items())
