"""Sequential specifications: a model is an initial state plus a pure `step`.

`step(state, op_input, op_output) -> (ok, new_state)` says whether the
operation, applied to `state`, could have produced `op_output`, and the state
after it. `op_input` is `(f, argument)`; states, arguments and outputs are
frozen (hashable) so the search can cache `(linearized set, state)` pairs.
Every model describes one key: histories are split per key before the search.

An output of UNKNOWN (an `info` operation) is accepted whatever the state,
because nobody saw the result. An `info` cas whose expected value is only a
version (`{"expected_version": v}`: its coordinator died before saying what it
compared) may take effect over any value, or never.

Each model states its initial state (`initial`, a JSON value) and can start
elsewhere: `model.init(value)` turns a JSON value (from `--initial`, or the
`"initial"` field of a JSON history) into a state, refusing one the model
cannot hold. To add a model, write `step` (and `load` when the state is not
the frozen JSON value itself), then `register(Model(...))`; more_models.py
adds mutex, set and fifo-queue exactly that way.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Hashable

from .history import RETURNS, UNKNOWN, HistoryError, Op

__all__ = ["Model", "MODELS", "DEFAULT", "get_model", "register", "freeze", "thaw"]

_MAP = "\0map"    # tags keep a frozen dict or bool apart from a tuple or int
_BOOL = "\0bool"


def freeze(value) -> Hashable:
    """A hashable stand-in for a JSON/EDN value; equal values freeze equal."""
    if isinstance(value, bool):
        return (_BOOL, value)  # True == 1 in Python, but a write of true is not a write of 1
    if isinstance(value, (list, tuple)):
        return tuple(freeze(v) for v in value)
    if isinstance(value, dict):
        return (_MAP, frozenset((k, freeze(v)) for k, v in value.items()))
    if isinstance(value, (set, frozenset)):
        return frozenset(freeze(v) for v in value)
    return value


def thaw(value):
    """The JSON-safe value a frozen one stands for (for explanations)."""
    if isinstance(value, tuple):
        if len(value) == 2 and value[0] == _BOOL:
            return value[1]
        if len(value) == 2 and value[0] == _MAP:
            return {k: thaw(v) for k, v in sorted(value[1], key=lambda kv: repr(kv[0]))}
        return [thaw(v) for v in value]
    if isinstance(value, frozenset):
        return sorted((thaw(v) for v in value), key=repr)
    return value


DEFAULT = object()  # "the model's own initial state"


@dataclass(frozen=True)
class Model:
    """A named sequential specification of one key, with the state every key starts in."""

    name: str
    fs: frozenset
    step: Callable[[Hashable, tuple, Any], tuple]
    doc: str
    initial: Any = None                       # JSON value; a history or --initial may change it
    load: Callable[[Any], Hashable] = freeze  # JSON value -> state; ValueError if it cannot be one

    def init(self, initial: Any = DEFAULT) -> Hashable:
        """The starting state: the model's own, or `initial` (a JSON value) when given."""
        return self.load(self.initial if initial is DEFAULT else initial)

    def prepare(self, op: Op) -> tuple:
        """The frozen (input, output) of an operation; rejects operations the model lacks."""
        if op.f not in self.fs:
            raise HistoryError(f"the {self.name} model has no operation {op.f!r} "
                               f"(it knows {', '.join(sorted(self.fs))}; try --model)", op.line, index=op.index)
        if op.f == "cas":
            if not (isinstance(op.value, (list, tuple)) and len(op.value) == 2):
                raise HistoryError("a cas value must be [expected, new]", op.line, index=op.index)
            return (op.f, freeze(op.value)), op.output
        if op.f in RETURNS:
            return (op.f, None), freeze(op.output)
        return (op.f, freeze(op.value)), op.output


# ReplicaLab records a CAS as [{"expected_version": v}, new] until its coordinator says which
# value version v held; a real-mode coordinator killed mid-CAS never says.
_VERSION_ONLY = "expected_version"


def compared_unknown(expected) -> bool:
    """True for a cas whose compared value nobody learnt: only the version it expected is recorded."""
    return (isinstance(expected, tuple) and len(expected) == 2 and expected[0] == _MAP
            and {k for k, _ in expected[1]} == {_VERSION_ONLY})


def _register_step(state, op_input, output):
    """read/write/cas on one value; a cas with output False saw a different value."""
    f, arg = op_input
    if f == "read":
        return output == state, state
    if f == "write":
        return True, arg
    expected, new = arg
    if output is UNKNOWN and compared_unknown(expected):
        # Whichever value held that version, a later proposer may have completed the CAS over
        # it: placed, it applies; the search also tries never placing it (not applied).
        return True, new
    if output is UNKNOWN:
        return True, new if state == expected else state
    if output:
        return state == expected, new
    return state != expected, state


def _store_step(state, op_input, output):
    """The register plus delete; an absent key reads as None."""
    if op_input[0] == "delete":
        return True, None
    return _register_step(state, op_input, output)


def _appended(state, value):
    """Strings concatenate (as in Porcupine's kv model); anything else builds a list."""
    if isinstance(value, str) and (state is None or isinstance(state, str)):
        return (state or "") + value
    if state is None:
        return (value,)
    if isinstance(state, tuple):
        return state + (value,)
    return (state, value)


_AS_REGISTER = {"get": "read", "put": "write"}


def _kv_step(state, op_input, output):
    """get/put/append on one key; get and put are the register's read and write."""
    f, arg = op_input
    if f == "append":
        return True, _appended(state, arg)
    return _register_step(state, (_AS_REGISTER[f], arg), output)


MODELS: dict[str, Model] = {}


def register(model: Model) -> Model:
    """Make a model known to the CLI, the API and `get_model` by its name."""
    MODELS[model.name] = model
    return model


register(Model("register", frozenset({"read", "write", "cas"}), _register_step,
               "a register: read, write, cas [expected new]; starts at nil (Knossos's "
               "cas-register), or --initial"))
register(Model("kv", frozenset({"get", "put", "append"}), _kv_step,
               "a key-value map, per key: get, put, append; every key starts at \"\" "
               "(Porcupine's kv model and 6.5840's kv service)", initial=""))
register(Model("store", frozenset({"read", "write", "delete", "cas"}), _store_step,
               "ReplicaLab's store: read, write, delete, cas; absent/deleted reads as null"))


def get_model(name: str) -> Model:
    """The model called `name`; ValueError naming the known ones otherwise."""
    try:
        return MODELS[name]
    except KeyError:
        raise ValueError(f"unknown model {name!r}; choose one of {', '.join(MODELS)}") from None
