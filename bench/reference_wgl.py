"""A straightforward Wing & Gong search with Lowe's cache: the yardstick for checker/wgl.py.

Written plainly from the papers, with none of the checker's pruning: a list
of call/return entries in real-time order, a stack of lifted calls, and a set
of (linearized bitset, state) pairs already explored. Operations whose
outcome is unknown (info) return at +infinity, so they may be placed
anywhere after their invocation, or never. Same models and same paired
operations as the checker, so both answer the same question.
"""
from __future__ import annotations

import math
import time

from checker.history import Op
from checker.models import Model

__all__ = ["reference_check"]


def reference_check(model: Model, ops: list[Op], deadline: float | None = None,
                    max_cache: int = 3_000_000) -> tuple[bool | None, int]:
    """(linearizable?, search steps) for one key's operations; None when it gave up.

    It gives up at `deadline` (time.monotonic()) or when its cache reaches
    `max_cache` entries, so a benchmark on a hard history still ends.
    """
    if not ops:
        return True, 0
    prepared = [model.prepare(op) for op in ops]
    # entries: (time, 0 for a call / 1 for a return, op index)
    timeline = sorted([(op.call, 0, i) for i, op in enumerate(ops)]
                      + [(op.ret, 1, i) for i, op in enumerate(ops)],
                      key=lambda e: (e[0] if not math.isinf(e[0]) else math.inf, e[1], e[2]))
    n = len(timeline)
    nxt = list(range(1, n + 1))       # doubly linked list over timeline positions; n = end
    prv = list(range(-1, n - 1))      # -1 = head
    head_next = 0
    where = {}                        # (kind, op index) -> position
    for pos, (_, kind, i) in enumerate(timeline):
        where[(kind, i)] = pos

    def unlink(pos):
        nonlocal head_next
        p, q = prv[pos], nxt[pos]
        if p < 0:
            head_next = q
        else:
            nxt[p] = q
        if q < n:
            prv[q] = p

    def relink(pos):
        nonlocal head_next
        p, q = prv[pos], nxt[pos]
        if p < 0:
            head_next = pos
        else:
            nxt[p] = pos
        if q < n:
            prv[q] = pos

    must = sum(1 for op in ops if not math.isinf(op.ret))  # ok ops: all must be placed
    state = model.init()
    done = 0
    placed_ok = 0
    seen = {(0, state)}
    stack = []
    pos = head_next
    steps = 0
    while placed_ok < must:
        steps += 1
        if steps % 1024 == 0 and ((deadline is not None and time.monotonic() > deadline)
                                  or len(seen) > max_cache):
            return None, steps
        if pos >= n:
            return False, steps  # cannot happen: a return entry is met first
        _, kind, i = timeline[pos]
        if kind == 0:
            op_input, output = prepared[i]
            ok, new_state = model.step(state, op_input, output)
            if ok:
                key = (done | (1 << i), new_state)
                if key not in seen:
                    seen.add(key)
                    stack.append((i, state))
                    state, done = new_state, done | (1 << i)
                    placed_ok += not math.isinf(ops[i].ret)
                    unlink(where[(1, i)])
                    unlink(pos)
                    pos = head_next
                    continue
            pos = nxt[pos]
            continue
        if not stack:
            return False, steps
        i, state = stack.pop()
        done &= ~(1 << i)
        placed_ok -= not math.isinf(ops[i].ret)
        call = where[(0, i)]
        relink(where[(1, i)])
        relink(call)
        pos = nxt[call]
    return True, steps
