"""Step mode's control routes on a node process: list, deliver, drop, duplicate its held messages; settle; tick.

The front (realmode/front_steps.py) calls these; they sit behind the node's
guard like every control route (node_server.py). Each answer that may have
caused events carries them (`event_batches`), so the front appends them to
its log before it answers the student, and the step's story is complete:

- `GET /node/held`: the held messages (oldest first, with when each was
  held) and how many client requests wait on this node for their quorum;
- `POST /node/held/deliver|drop|duplicate` with body {"id": ...};
- `POST /node/settle`: wait until what is due now has run (a delivery
  that just arrived, what it caused), then answer with the events;
- `POST /node/tick` {"ms": ...}: move the frozen timers (step mode) forward.
"""
from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from flask import Flask, jsonify, request

from cluster.errors import BadRequest
from cluster.step_mode import MAX_TICK_MS
from realmode.node_routes import _body

if TYPE_CHECKING:
    from realmode.node_process import NodeProcess

SETTLE_ROUNDS = 3  # a delivery may cause a call due now (the node asking itself), which may cause another
SETTLE_WAIT_S = 2.0
PROGRAM_QUIET_S, PROGRAM_QUIET_MAX_S = 0.05, 0.5  # a program's answer to a delivery: on its own time


def settle(process: NodeProcess, quiet: bool = False) -> list:
    """Let the node's timer thread run what is due now; returns the node's queued event batches.

    With `quiet`, a student's program (byon/node_host.py) is also given a moment to answer
    what it was just given: its reply is part of the step's story.
    """
    for _ in range(SETTLE_ROUNDS):
        ran = threading.Event()
        # Due now, asked last: it runs once everything due before it (the deliveries queued) has run.
        process.transport.timers.call_later(0, ran.set, under_lock=False)
        ran.wait(SETTLE_WAIT_S)
    bridge = getattr(process, "bridge", None)
    if quiet and bridge is not None:
        bridge.wait_quiet(PROGRAM_QUIET_S, PROGRAM_QUIET_MAX_S)
    batches = []
    while process.relay is not None and (batch := process.relay.drain()) is not None:
        batches.append(batch)
    return batches


def add_step_routes(app: Flask, process: NodeProcess) -> None:
    """Add /node/held..., /node/settle and /node/tick to a node process's app."""
    hold = process.hold

    def msg_id(data: dict) -> int:
        value = data["id"]
        if isinstance(value, bool) or not isinstance(value, int):
            raise BadRequest(f"\"id\" must be a message id from GET /network/messages, not {value!r}.", field="id")
        return value

    def answer(quiet: bool = False, **fields):
        return jsonify(status="ok", **fields, waiting=process.waiting_count(), event_batches=settle(process, quiet))

    @app.get("/node/held")
    def held():
        """The messages this node holds, oldest first, and the client requests waiting on it."""
        return jsonify(status="ok", paused=process.faults.table.paused, held=hold.listing(),
                       waiting=process.waiting_count())

    @app.post("/node/held/deliver")
    def deliver():
        """POST one held message to its receiver now: body {id}."""
        return answer(**hold.deliver(msg_id(_body("id"))))

    @app.post("/node/held/drop")
    def drop():
        """Lose one held message: body {id, reason?} (the front names a down receiver as the reason)."""
        data = _body("id")
        reason = data.get("reason")
        return answer(**hold.drop(msg_id(data), reason[:200] if isinstance(reason, str) else "dropped by hand"))

    @app.post("/node/held/duplicate")
    def duplicate():
        """Hold a copy of a held message under a new id: body {id}."""
        return answer(**hold.duplicate(msg_id(_body("id"))))

    @app.post("/node/settle")
    def settle_route():
        """Run what is due now (a message just delivered here), then answer with the events it caused.

        ?quiet=1 (one delivery by hand) also waits a moment for a student's program to answer.
        """
        return answer(quiet=request.args.get("quiet") == "1")

    @app.post("/node/tick")
    def tick():
        """Move the node's frozen timers forward: body {ms} (step mode's time)."""
        ms = _body("ms")["ms"]
        if isinstance(ms, bool) or not isinstance(ms, int) or not 1 <= ms <= MAX_TICK_MS:
            raise BadRequest(f"\"ms\" must be a whole number from 1 to {MAX_TICK_MS}, not {ms!r}.", field="ms")
        process.transport.timers.advance(ms)
        return answer(ms=ms)
