"""Causal contexts: version vectors with a dot cloud, as pure functions (siblings mode).

A dot (node, counter) names one write: the counter-th write of a key that
`node` coordinated. A causal context is the set of dots a replica (or a client)
has seen, kept compactly as a version vector {node: n} (every dot of that node
up to n) plus a "cloud" of the dots seen beyond a gap. The cloud keeps the
context exact: a client that read node-1's third write but not its second has
not seen the second, and a plain vector {node-1: 3} would claim it had.
Contexts are immutable and normalised (cloud dots right after the vector's
entry are folded into it), so equal sets of dots are equal values.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Iterable, Tuple

from models import node_name

Dot = Tuple[int, int]  # (node id, counter), counters start at 1
MAX_COUNTER = 2 ** 53  # beyond what JSON numbers keep exactly


@dataclass(frozen=True)
class Context:
    """A set of dots: vector entries (node, n) mean dots 1..n of node; cloud dots are the rest."""

    vector: Tuple[Tuple[int, int], ...] = ()
    cloud: Tuple[Dot, ...] = ()


EMPTY = Context()


def make(vector: Dict[int, int], dots: Iterable[Dot] = ()) -> Context:
    """The normalised context of a vector plus extra dots (a dot the vector covers is dropped)."""
    vv = {n: c for n, c in vector.items() if c > 0}
    loose = sorted(set(dots))
    for node, counter in loose:  # sorted, so a run (n, k+1), (n, k+2) folds in one pass
        if counter == vv.get(node, 0) + 1:
            vv[node] = counter
    cloud = tuple(d for d in loose if d[1] > vv.get(d[0], 0))
    return Context(tuple(sorted(vv.items())), cloud)


def contains(ctx: Context, dot: Dot) -> bool:
    """True when the context has seen this dot."""
    return dot[1] <= dict(ctx.vector).get(dot[0], 0) or dot in ctx.cloud


def join(a: Context, b: Context) -> Context:
    """Everything either context has seen (the least upper bound)."""
    vv = dict(a.vector)
    for node, counter in b.vector:
        vv[node] = max(vv.get(node, 0), counter)
    return make(vv, a.cloud + b.cloud)


def add(ctx: Context, dot: Dot) -> Context:
    """The context with one more dot seen."""
    return make(dict(ctx.vector), ctx.cloud + (dot,))


def descends(a: Context, b: Context) -> bool:
    """True when `a` has seen every dot `b` has seen (a >= b)."""
    mine = dict(a.vector)
    return (all(mine.get(n, 0) >= c for n, c in b.vector)
            and all(contains(a, d) for d in b.cloud))


def concurrent(a: Context, b: Context) -> bool:
    """True when neither context has seen everything the other has."""
    return not descends(a, b) and not descends(b, a)


def max_counter(ctx: Context, node: int) -> int:
    """The highest counter of `node` the context has seen (0 if none)."""
    return max([dict(ctx.vector).get(node, 0), *(c for n, c in ctx.cloud if n == node)])


def readable(ctx: Context) -> str:
    """The context as a student reads it: '{node-1: 3, node-4: 1}' (the highest dot per node)."""
    nodes = sorted({n for n, _ in ctx.vector} | {n for n, _ in ctx.cloud})
    gaps = " with gaps" if ctx.cloud else ""
    return "{" + ", ".join(f"{node_name(n)}: {max_counter(ctx, n)}" for n in nodes) + "}" + gaps


def dot_text(dot: Dot) -> str:
    """A dot as a one-entry vector: '{node-1: 2}'."""
    return "{" + f"{node_name(dot[0])}: {dot[1]}" + "}"


def to_json(ctx: Context) -> dict:
    """The JSON form kept on disk and inside the opaque client context."""
    return {"vv": {str(n): c for n, c in ctx.vector}, "cloud": [list(d) for d in ctx.cloud]}


def from_json(data) -> Context:
    """Rebuild a context from `to_json` output; ValueError (with a sentence) if malformed."""
    if not isinstance(data, dict) or set(data) - {"vv", "cloud"}:
        raise ValueError("a context is an object with \"vv\" and \"cloud\"")
    vv, cloud = data.get("vv", {}), data.get("cloud", [])
    if not isinstance(vv, dict) or not isinstance(cloud, list):
        raise ValueError("\"vv\" must be an object and \"cloud\" a list")
    vector = {_node(n): _counter(c) for n, c in vv.items()}
    dots = []
    for dot in cloud:
        if not isinstance(dot, list) or len(dot) != 2:
            raise ValueError("every cloud dot must be a [node, counter] pair")
        dots.append((_node(dot[0]), _counter(dot[1])))
    return make(vector, dots)


def _node(value) -> int:
    text = str(value)
    if isinstance(value, bool) or not text.isascii() or not text.isdigit() or len(text) > 6:
        raise ValueError(f"{value!r} is not a node id")
    return int(text)


def _counter(value) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_COUNTER:
        raise ValueError(f"{value!r} is not a counter (a whole number from 1)")
    return value
