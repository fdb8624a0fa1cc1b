"""Knossos's other models: mutex, set and FIFO queue, added the way any model is added.

Each is a pure `step(state, (f, argument), output) -> (ok, new_state)` with a
frozen state, a JSON initial value and a `load` that turns such a value into a
state (or refuses it with a sentence), then `register(Model(...))`.
"""
from __future__ import annotations

from typing import Any, Hashable

from .history import UNKNOWN
from .models import Model, freeze, register

__all__ = ["MUTEX", "SET", "FIFO_QUEUE"]


def _mutex_step(locked: Any, op_input: tuple, output: Any) -> tuple:
    """acquire needs it free and takes it; release needs it held and frees it (no owners, as Knossos)."""
    if op_input[0] == "acquire":
        return not locked, True
    return locked, False


def _load_mutex(value: Any) -> Hashable:
    """false/null: free; true: held."""
    if value is None or isinstance(value, bool):
        return bool(value)
    raise ValueError("the mutex model's initial state is true (held) or false (free)")


def _set_step(members: Any, op_input: tuple, output: Any) -> tuple:
    """add puts an element in; read returns every element added so far."""
    f, arg = op_input
    if f == "add":
        return True, members | {arg}
    if output is UNKNOWN:
        return True, members
    # JSON sends a list (frozen to a tuple), EDN a set: compare them as sets
    return isinstance(output, (tuple, frozenset)) and frozenset(output) == members, members


def _load_set(value: Any) -> Hashable:
    """A list (or set) of elements."""
    if isinstance(value, (list, tuple, set, frozenset)):
        return frozenset(freeze(v) for v in value)
    raise ValueError("the set model's initial state is a list of elements, e.g. [] or [1, 2]")


def _queue_step(queue: Any, op_input: tuple, output: Any) -> tuple:
    """enqueue appends; dequeue takes the head (null when empty, as Knossos's peek of nothing)."""
    f, arg = op_input
    if f == "enqueue":
        return True, queue + (arg,)
    head = queue[0] if queue else None
    if output is UNKNOWN:  # an info dequeue may have taken the head
        return True, queue[1:]
    return output == head, queue[1:]


def _load_queue(value: Any) -> Hashable:
    """A list, head first."""
    if isinstance(value, (list, tuple)):
        return tuple(freeze(v) for v in value)
    raise ValueError("the fifo-queue model's initial state is a list, head first, e.g. []")


MUTEX = register(Model("mutex", frozenset({"acquire", "release"}), _mutex_step,
                       "a lock: acquire (fails if held), release (fails if free); starts free",
                       initial=False, load=_load_mutex))
SET = register(Model("set", frozenset({"add", "read"}), _set_step,
                     "a set: add x, read -> every element added; starts empty",
                     initial=[], load=_load_set))
FIFO_QUEUE = register(Model("fifo-queue", frozenset({"enqueue", "dequeue"}), _queue_step,
                            "a FIFO queue: enqueue x, dequeue -> the head (null when empty); "
                            "starts empty", initial=[], load=_load_queue))
