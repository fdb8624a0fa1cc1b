"""Client histories: every write, read, delete and cas as an invocation and a completion.

Jepsen judges a store by its history: each client operation is an `invoke`
line when the client sends it and an `ok` (it happened), `fail` (it certainly
did not happen) or `info` (nobody knows: a 503 that stored on some replicas,
a 504) line when the client learns the outcome, with the cluster clock's time.
A linearizability checker (the `checker` package) then asks whether some
sequential order explains them.

The history is bounded twice, and says how many older operations it dropped:
at most `--max-history` operations (a deque: O(1) per operation) and at most
`max_bytes` (16 MiB) of estimated size. A value whose JSON encoding is longer
than VALUE_BYTES (1 KiB) is kept as its digest and length,
`{"digest": "sha256:...", "bytes": N}`: the checker compares values only for
equality, and equal values have equal digests, so verdicts do not change,
while 10,000 writes of 512 KiB values cost kilobytes, not gigabytes. A request names
its client with `X-Client-Id`; the id is kept per thread because a parked
step-mode request releases the cluster lock while another thread records.
"""
from __future__ import annotations

import hashlib
import itertools
import json
import threading
from collections import deque
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Deque, Dict, Iterator, List, Optional

from cluster.errors import Conflict, GatewayTimeout, KeyNotFound, NodeDown, NoQuorum, ReplicaLabError
from models import json_writer

ANONYMOUS = "anonymous"
VALUE_BYTES = 1024  # a longer value is kept as its digest and length
MAX_BYTES = 16 * 1024 * 1024  # the whole history, estimated (see event_bytes)
EVENT_OVERHEAD = 400  # a dict of seven fields and its small values, roughly


_CANONICAL = json_writer(ascii=False, compact=True, sort_keys=True)  # built once: see models.json_writer
_UNICODE = json_writer(ascii=False)


def kept_value(value: Any) -> Any:
    """`value` itself when its JSON is at most VALUE_BYTES long, else its digest and length."""
    if value is None or isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, str) and len(value) <= VALUE_BYTES // 4:
        return value  # at most 4 bytes a character, escapes aside: short enough, skip the encoding
    encoded = _CANONICAL(value)
    if len(encoded) <= VALUE_BYTES:
        return value
    data = encoded.encode("utf-8", "surrogatepass")
    return {"digest": "sha256:" + hashlib.sha256(data).hexdigest(), "bytes": len(data)}


def event_bytes(event: dict) -> int:
    """A history event's estimated size: its key and kept value (at most VALUE_BYTES) plus overhead."""
    value = event["value"]
    size = len(value) if isinstance(value, str) else 0
    if isinstance(value, (list, dict)):
        size = len(_UNICODE(value))  # kept values are small
    key = event["key"]  # a string here; any JSON value in a Maelstrom node's history (lab 12)
    key_size = len(key) if isinstance(key, str) else len(_UNICODE(key))
    return EVENT_OVERHEAD + key_size + len(str(event["process"])) + size


@dataclass
class Outcome:
    """What the recorded operation returned, filled in by the code that ran it."""

    type: str = "ok"
    value: Any = None
    details: Dict[str, Any] = field(default_factory=dict)


class History:
    """The last `limit` client operations, as invocation and completion events."""

    def __init__(self, clock, limit: int, max_bytes: int = MAX_BYTES):
        self.clock = clock
        self.limit = limit
        self.max_bytes = max_bytes
        self.events: Deque[dict] = deque(maxlen=2 * limit)  # two events per operation
        self._sizes: Deque[int] = deque(maxlen=2 * limit)  # event_bytes of each event, in step
        self.bytes = 0
        self.dropped_ops = 0
        self.recorded_ops = 0
        self._op_ids: Iterator[int] = itertools.count(1)
        self._open: Dict[Any, int] = {}  # process -> op id of its operation in progress
        self._local = threading.local()
        self._last_time: float = float("-inf")

    # --- who is calling ------------------------------------------------------

    def set_client(self, client: Optional[str]) -> None:
        """Name the client of this thread's next operations (None: anonymous)."""
        self._local.client = client

    def _process(self) -> Any:
        """This thread's client id; a second concurrent operation of one client gets a suffix."""
        base = getattr(self._local, "client", None) or ANONYMOUS
        process, n = base, 1
        while process in self._open:  # a Jepsen process runs one operation at a time
            n += 1
            process = f"{base}#{n}"
        return process

    # --- recording -------------------------------------------------------------

    @contextmanager
    def record(self, f: str, key: str, value: Any = None):
        """Record one operation around the code that runs it; nested calls record nothing.

        The body fills in the yielded Outcome; a ReplicaLabError is classified by
        `error_outcome` and re-raised. A delete runs a read and a write inside:
        only the delete is the client's operation.
        """
        if getattr(self._local, "depth", 0):
            yield Outcome()
            return
        self._local.depth = 1
        invoke = self.begin(self._process(), f, key, value)
        outcome = Outcome()
        try:
            yield outcome
        except ReplicaLabError as error:
            outcome = error_outcome(f, error)
            raise
        except BaseException:
            outcome = Outcome("info", details={"error": "internal"})
            raise
        finally:
            self._local.depth = 0
            self.end(invoke, outcome)

    def begin(self, process: Any, f: str, key: str, value: Any = None) -> dict:
        """Record an invocation now; returns it, to pass to `end` (clients that overlap use this)."""
        invoke = self._append(next(self._op_ids), process, "invoke", f, key, value)
        self._open[process] = invoke["index"]
        return invoke

    def end(self, invoke: dict, outcome: Outcome) -> dict:
        """Record the completion of `invoke` now; returns it."""
        self._open.pop(invoke["process"], None)
        value = invoke["value"]
        if "compared_with" in outcome.details and isinstance(value, list):
            # a cas names the value it compared with once it knows it (see error_outcome)
            invoke["value"] = [kept_value(outcome.details.pop("compared_with")), value[1]]
        # Jepsen repeats a write's value in its completion; a read's completion carries what it saw
        f = invoke["f"]
        shown = invoke["value"] if outcome.type == "ok" and f in ("write", "cas") else outcome.value
        done = self._append(invoke["index"], invoke["process"], outcome.type, f, invoke["key"], shown)
        done.update(outcome.details)
        self.recorded_ops += 1
        return done

    def _append(self, op_id: int, process: Any, type_: str, f: str, key: str, value: Any) -> dict:
        if len(self.events) == self.events.maxlen:
            self._drop_oldest()  # the deque would push it out; count it first
        # Consecutive requests often share one millisecond of the virtual clock, and the
        # checker reads equal times as overlapping; events are recorded in their real
        # order (under the lock), so a thousandth of a ms keeps that order visible.
        now = self.clock.now()
        self._last_time = now if now > self._last_time else round(self._last_time + 0.001, 3)
        if f == "cas" and isinstance(value, list) and len(value) == 2:
            value = [kept_value(value[0]), kept_value(value[1])]  # [expected, new] stays a pair
        else:
            value = kept_value(value)
        event = {"index": op_id, "process": process, "type": type_, "f": f, "key": key,
                 "value": value, "time": self._last_time}
        size = event_bytes(event)
        self.events.append(event)
        self._sizes.append(size)
        self.bytes += size
        while self.bytes > self.max_bytes and len(self.events) > 1:
            self._drop_oldest()
        return event

    def _drop_oldest(self) -> None:
        """Forget the oldest event; the operation counts as dropped when its invocation leaves."""
        if self.events.popleft()["type"] == "invoke":
            self.dropped_ops += 1
        self.bytes -= self._sizes.popleft()

    def clear(self) -> dict:
        """Forget every recorded operation; returns how many there were."""
        count = self.recorded_ops
        self.events.clear()
        self._sizes.clear()
        self.dropped_ops = self.recorded_ops = self.bytes = 0
        return {"forgotten_ops": count}

    # --- reading ---------------------------------------------------------------

    def complete_events(self, key: Optional[str] = None) -> List[dict]:
        """The retained events whose invocation is still held (and, with `key`, of that key)."""
        first_op = next((e["index"] for e in self.events if e["type"] == "invoke"), None)
        return [e for e in self.events
                if (key is None or e["key"] == key) and first_op is not None and e["index"] >= first_op]

    def page(self, key: Optional[str], offset: int, limit: int) -> dict:
        """One page of events (oldest first) and what the history holds and dropped."""
        events = self.complete_events(key)
        shown = events[offset:offset + limit]
        return {"total_events": len(events), "offset": offset, "limit": limit,
                "events": shown, "next_offset": offset + limit if offset + limit < len(events) else None,
                "max_history": self.limit, "recorded_ops": self.recorded_ops,
                "dropped_ops": self.dropped_ops, "in_progress": len(self._open),
                "bytes": self.bytes, "max_bytes": self.max_bytes,
                "truncated": self.dropped_ops > 0}


def error_outcome(f: str, error: ReplicaLabError) -> Outcome:
    """ok, fail or info for an operation that raised `error`, from what the error knows."""
    if isinstance(error, KeyNotFound) and f == "read":
        return Outcome("ok", None)  # the read happened: the key is absent (or deleted)
    if isinstance(error, Conflict) and f == "cas":
        # The compare saw another version: it happened and changed nothing (Jepsen's :fail :cas).
        return Outcome("fail", None, {"observed": error.data.get("current")})
    if isinstance(error, GatewayTimeout):
        details = {"error": "timeout"}
        if f == "cas" and error.data.get("compared_with") is not None:
            details["compared_with"] = error.data["compared_with"]
        return Outcome("info", None, details)
    if isinstance(error, NodeDown):
        return Outcome("fail", None, {"error": "node_down"})  # its coordinator was down: nothing was sent
    if isinstance(error, NoQuorum):
        if f == "read":
            return Outcome("fail", None, {"error": "no_quorum"})
        if f == "cas":
            # unknown: our proposal may still be completed, so it may have happened, compared
            # with the value it was proposed over. Otherwise nothing of ours was accepted.
            outcome = error.data.get("outcome")
            if outcome != "unknown":  # no_quorum, or contention before any proposal of ours
                return Outcome("fail", None, {"error": outcome})
            return Outcome("info", None, {"error": outcome, "compared_with": error.data.get("compared_with")})
        result = error.result
        stored = bool(getattr(result, "acks", None))
        # A write whose record went out (a chosen version: a quorum write, or a linearizable one
        # past its query phase) may sit on a replica whose ack came too late or was lost.
        sent = bool(getattr(result, "version_chosen", False))
        # A write stored on some replicas may surface later: nobody knows whether it happened.
        return Outcome("info" if stored or sent or result is None else "fail", None, {"error": "no_quorum"})
    return Outcome("fail", None, {"error": error.code})


def edn_value(value: Any) -> str:
    """A JSON value as EDN: maps with string keys, vectors, nil, true/false, numbers, strings."""
    if value is None:
        return "nil"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return json.dumps(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, (list, tuple)):
        return "[" + " ".join(edn_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{edn_value(k)} {edn_value(v)}" for k, v in value.items()) + "}"
    return json.dumps(str(value))


def to_edn(events: List[dict]) -> str:
    """Jepsen's history format, one map per line: {:process 0, :type :invoke, :f :write, ...}."""
    lines = []
    for e in events:
        process = e["process"] if isinstance(e["process"], int) else edn_value(str(e["process"]))
        lines.append(f"{{:process {process}, :type :{e['type']}, :f :{e['f']}, "
                     f":key {edn_value(e['key'])}, :value {edn_value(e['value'])}, :time {e['time']}}}")
    return "\n".join(lines) + ("\n" if lines else "")
