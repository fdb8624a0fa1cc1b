"""A node process that runs a student's program: `python run.py node ... --node-cmd "python3 my_node.py"`.

The same node process as real mode's (realmode/node_process.py) with the
student's program where the ReplicaNode would be: the program is started by a
StdioBridge (stdio_bridge.py) with `init` (its id "n<N>" and every node's), and
its data directory in REPLICALAB_DATA_DIR. Every message it prints for another
node becomes a `Passthrough` (cluster/passthrough.py: the body verbatim) sent by
HttpTransport.send, so the fault table, step mode and the event log treat it as
ReplicaLab's own messages; a message arriving for it is written to its stdin.
Client requests from the front (`POST /node/kv`, a lin-kv body) are written to
its stdin as from client "c1" and its reply is handed back, or nothing when it
did not answer in time. Whatever the program does wrong (a bad line, an exit,
silence at init) is told to the front as a `program_problem` event; this
process never ends because of it.
"""
from __future__ import annotations

import itertools
import json
import logging
import os
import shutil
import threading
import time
from typing import Any, Callable, Dict, List, Optional, Tuple

from flask import Flask, jsonify, request

from cluster import codec
from cluster.codec import body_object
from cluster.errors import BadRequest, Conflict
from cluster.passthrough import Passthrough
from config import Config
from models import node_name
from realmode.event_relay import EventRelay, event_clock
from realmode.fault_table import FaultTable, LiveFaults
from realmode.http_transport import HttpSettings, HttpTransport
from realmode.incarnation import next_incarnation
from realmode.step_hold import MessageIds, StepHold

from .envelope import Envelope, shown
from .program_status import DATA_NOTE
from .stdio_bridge import NodeStartError, Problem, StdioBridge

logger = logging.getLogger("replicalab")

CLIENT = "c1"  # the id the front's requests come from (Maelstrom's clients are c1, c2, ...)
PROGRAM_DIR = "program"  # under the node's data dir: the student's REPLICALAB_DATA_DIR
MAX_REPLY_WAIT_S = 600.0  # a program slowed by --time-scale takes its time; never longer than this
MAX_PAUSED_WAIT_S = 3600.0  # a request waiting through step mode: the front asks for client_timeout_ms
PAUSE_POLL_S = 0.2  # how soon a waiting request notices that the network was paused or resumed
KEPT_PROBLEMS = 20
MAX_EVENT_REPLY_CHARS = 4096  # a program's reply kept whole in its client_answered event up to this size
REPORTED_IN_FULL, REPORT_EVERY = 20, 100  # program problems of one kind: the first 20, then one in 100


def student_name(node_id: int) -> str:
    """The id a student's program knows node `node_id` by: "n0", "n1", ... (Maelstrom's style)."""
    return f"n{node_id}"


def student_node(name: str, nodes: int) -> Optional[int]:
    """The node id of a student id "n<N>" (None if it names no node of the cluster)."""
    digits = name[1:] if name.startswith("n") else ""
    if not digits.isdigit() or len(digits) > 6 or str(int(digits)) != digits or int(digits) >= nodes:
        return None
    return int(digits)


def program_dirs(data_dir: str) -> str:
    """Where every node's program keeps its data, as one absolute pattern: '/abs/data/node-N/program'."""
    return os.path.join(os.path.abspath(data_dir), "node-N", PROGRAM_DIR)


def program_dir(node_data_dir: str) -> str:
    """The student's data directory inside a node's data directory (a wipe deletes it)."""
    return os.path.join(node_data_dir, PROGRAM_DIR)


def wipe_program_dir(node_data_dir: str) -> bool:
    """Delete the student's data directory (a wipe); True if there was one."""
    path = program_dir(node_data_dir)
    existed = os.path.isdir(path)
    shutil.rmtree(path, ignore_errors=True)
    return existed


class StudentProcess:
    """One node process whose node is a student's program behind a StdioBridge."""

    def __init__(self, config: Config, node_id: int, peers: Dict[int, str], front_url: Optional[str],
                 token: Optional[str], command: str, cwd: Optional[str] = None):
        self.config, self.node_id, self.command = config, node_id, command
        self.name = student_name(node_id)
        self.lock = threading.RLock()
        self.faults = LiveFaults(FaultTable(config.nodes))
        self.relay = (EventRelay(node_id, front_url, event_clock(self), token)
                      if front_url else None)
        self.emit = self.relay.emit if self.relay is not None else _log_event
        self.transport = HttpTransport(node_id, peers, codec.encode, codec.decode, self.lock, self.faults,
                                       emit=self.emit, settings=HttpSettings(token=token))
        self.transport.epoch_ms = int(time.time() * 1000)
        self.transport.register(node_id, self._deliver)
        # Cluster-wide message ids, numbered as ReplicaLab's own nodes number theirs (step_hold.py):
        # the events, the diagram and step mode find a message's sender by its id.
        lives = next_incarnation(config.data_dir, "program.incarnation")
        self.ids = MessageIds(node_id, config.nodes, first=lives * 1_000_000 + 1)
        self._client_ids = itertools.count(1)
        self._replies: Dict[int, dict] = {}
        self._waiting: set = set()
        self._answered = threading.Condition()
        self.problems: List[dict] = []
        self.start_problem: Optional[Problem] = None
        self.exit_problem: Optional[Problem] = None  # it ran, then exited
        self._problem_counts: Dict[str, int] = {}
        self.bridge = StdioBridge(self.name, [student_name(i) for i in range(config.nodes)], command,
                                  self._from_program, on_log=self._log, on_problem=self._problem,
                                  data_dir=program_dir(config.data_dir), cwd=cwd)
        # Step mode holds student messages at this sender as it holds ReplicaLab's (the transport's hook).
        self.hold = StepHold(self.transport, self.faults, self.emit, self.ids)

    # --- life cycle ---------------------------------------------------------------

    def start(self) -> None:
        """Start the program and wait for its init_ok; a failure is reported, never raised."""
        try:
            self.bridge.start()
        except NodeStartError as error:
            self.start_problem = error.problem
            if error.problem.kind == "not_started":  # the bridge reports the other kinds itself
                self._problem(error.problem)
            return
        self.emit("program_started", f"{node_name(self.node_id)} runs {self.command!r} as {self.name} "
                  f"(pid {self.bridge.pid}); it answered init", [self.node_id], pid=self.bridge.pid,
                  command=self.command)

    def close(self) -> None:
        """Stop the program by its PID, then the transport and the relay."""
        self.bridge.stop(grace_s=0.5)
        self.transport.close()
        if self.relay is not None:
            self.relay.close()

    def waiting_count(self) -> int:
        """Client requests waiting for the program's answer (GET /network/messages' waiting_requests)."""
        with self._answered:
            return len(self._waiting)

    def status(self) -> dict:
        """The program as GET /peer/health and the views show it."""
        running = self.bridge.running() and self.start_problem is None
        process = self.bridge.process
        return {"command": self.command, "student_id": self.name, "pid": self.bridge.pid, "running": running,
                "started": self.start_problem is None,
                "exit_code": process.poll() if process is not None else None,
                "problem": next((p.text() for p in (self.start_problem, self.exit_problem) if p), None),
                "problems": self.problems[-5:], "stats": vars(self.bridge.stats),
                # The path the program gets in REPLICALAB_DATA_DIR (absolute), not the node's relative one.
                "data_dir": os.path.abspath(program_dir(self.config.data_dir)),
                "last_log": list(self.bridge.last_log)[-5:]}

    # --- messages -------------------------------------------------------------------

    def _deliver(self, msg: Passthrough) -> None:
        """A peer's message arrived (on the transport's thread): write it to the program's stdin."""
        envelope = {"src": student_name(msg.src), "dest": student_name(msg.dst), "body": msg.body}
        if not self.bridge.send(envelope):
            why = "the program is not running" if not self.bridge.running() else "its stdin queue is full"
            self.emit("message_dropped", f"dropped message {node_name(msg.src)}#{msg.wire_id} -> "
                      f"{node_name(msg.dst)}: {msg.summary()} ({why})", (msg.src, msg.dst), msg.key,
                      msg_id=msg.wire_id, kind=msg.kind, op_id=msg.op_id, reason=why)

    def _from_program(self, envelope: Envelope) -> None:
        """A message the program printed: a reply to the front's client, or a message for a node."""
        if envelope.dest == CLIENT:
            reply_to = envelope.body.get("in_reply_to")
            with self._answered:
                if isinstance(reply_to, int) and reply_to in self._waiting:
                    self._replies[reply_to] = envelope.body
                    self._answered.notify_all()
                    return
            self._problem(Problem(self.name, "unexpected_reply", f"it answered {CLIENT} with in_reply_to "
                                  f"{reply_to}, which no waiting request has (a second answer, or one too late)",
                                  shown(envelope.to_line())))
            return
        dest = student_node(envelope.dest, self.config.nodes)
        if dest is None:
            self._problem(Problem(self.name, "unknown_dest", f'"dest" {envelope.dest!r} is neither a node '
                                  f"(n0 .. n{self.config.nodes - 1}) nor the client {CLIENT}",
                                  shown(envelope.to_line())))
            return
        with self.lock:
            self.transport.send(Passthrough(self.node_id, dest, envelope.body, self.ids.next()))

    def request(self, body: dict, timeout_s: float, paused_wait_s: float = 0.0) -> Tuple[Optional[dict], float]:
        """Send one client request body to the program and wait for its reply; (reply or None, seconds paused).

        The wait is `timeout_s` of running network, and besides up to `paused_wait_s`
        while the network is paused (step mode parks a request as the simulation does).
        Narrated as client_request and client_answered (a *_ok reply) or client_failed (an
        error or silence), with an op id, so the diagram marks the request and its answer.
        """
        msg_id = next(self._client_ids)
        op_id, what = f"{self.name}:{CLIENT}:{msg_id}", f"{body.get('type')} {str(body.get('key'))[:60]!r}"
        key = body.get("key") if isinstance(body.get("key"), str) else None
        self.emit("client_request", f"client {CLIENT} -> {self.name}: {what}", [self.node_id], key,
                  op_id=op_id, f=body.get("type"))
        with self._answered:
            self._waiting.add(msg_id)
        reply, paused_s = None, 0.0
        try:
            if self.bridge.send({"src": CLIENT, "dest": self.name, "body": dict(body, msg_id=msg_id)}):
                reply, paused_s = wait_through_pause(self._answered, self._replies, msg_id,
                                                     lambda: self.faults.table.paused, timeout_s, paused_wait_s)
        finally:
            with self._answered:
                self._waiting.discard(msg_id)
                self._replies.pop(msg_id, None)
        kind = reply.get("type") if reply else None
        said = shown(f"{kind}" + (f" {reply.get('code')}" if kind == "error" else "")) if reply else \
            (f"no reply in the {paused_s:.0f} s it waited on a paused network" if paused_s >= paused_wait_s > 0 else
             f"no reply within {timeout_s:g} s")
        ok = isinstance(kind, str) and kind.endswith("_ok")
        # The event log keeps 100,000 events: a reply of a megabyte is kept as its first characters.
        text = json.dumps(reply) if reply is not None else ""
        kept = reply if len(text) <= MAX_EVENT_REPLY_CHARS else {"cut": shown(text)}
        self.emit("client_answered" if ok else "client_failed", f"{self.name} -> client {CLIENT}: {what}: {said}",
                  [self.node_id], key, op_id=op_id, f=body.get("type"), reply=kept)
        return reply, paused_s

    # --- what the student sees ------------------------------------------------------

    def _problem(self, problem: Problem) -> None:
        """Tell the front (console, /events, dashboard) what the program did wrong.

        Past REPORTED_IN_FULL problems of one kind, only every REPORT_EVERY-th is told (with
        the count), so a program that prints a log line per message cannot flood the log.
        """
        if problem.kind == "exited":
            self.exit_problem = problem
        count = self._problem_counts[problem.kind] = self._problem_counts.get(problem.kind, 0) + 1
        if count > REPORTED_IN_FULL and count % REPORT_EVERY:
            return
        if count > REPORTED_IN_FULL:
            problem = Problem(problem.node, problem.kind, f"{problem.why} ({count} such problems so far; "
                              f"one in {REPORT_EVERY} is shown)", problem.line)
        self.problems = (self.problems + [problem.to_dict()])[-KEPT_PROBLEMS:]
        self.emit("program_problem", f"{node_name(self.node_id)}: {problem.text()}", [self.node_id],
                  node=node_name(self.node_id), student_id=self.name, problem=problem.kind, why=problem.why,
                  line=problem.line)

    def _log(self, node: str, text: str) -> None:
        """A line of the program's stderr: into this process's log (node.log in its data dir)."""
        logger.info("%s stderr: %s", node, text)


def wait_through_pause(answered: threading.Condition, replies: Dict[int, dict], msg_id: int,
                       paused: Callable[[], bool], running_s: float, paused_s: float) -> Tuple[Optional[dict], float]:
    """Wait for `replies[msg_id]`; (the reply or None, seconds waited on a paused network).

    Time on a running network counts against `running_s`. While `paused()` holds, time
    counts against `paused_s` instead (the front's client_timeout_ms), so a student stepping
    messages by hand does not see the request give up under their fingers, as simulated
    step mode parks a request. With `paused_s` 0 (sent before the pause) all time counts.
    """
    waited_paused, running_left, last = 0.0, running_s, time.monotonic()
    with answered:
        while msg_id not in replies:
            parked = paused_s > 0 and paused()
            left = paused_s - waited_paused if parked else running_left
            if left <= 0:
                break
            answered.wait(min(left, PAUSE_POLL_S))
            now = time.monotonic()
            if parked:
                waited_paused += now - last
            else:
                running_left -= now - last
            last = now
        return replies.pop(msg_id, None), waited_paused


def _log_event(type_: str, text: str, nodes=(), key=None, **details: Any) -> None:
    """The event sink of a node started without --front: its events go to its log."""
    logger.info("%s", text)


def add_student_routes(app: Flask, process: StudentProcess) -> None:
    """The front's control routes for a student node: /node/kv, and the NodeHandle calls that apply."""

    def body() -> dict:
        return body_object(request.get_data(cache=False))

    @app.post("/node/kv")
    def kv():
        """One lin-kv request: body {request: {type, key, ...}, timeout_ms, paused_wait_ms}; the reply or null.

        `paused_wait_ms` (default 0): how long the request may also wait while the network is paused.
        """
        data = body()
        lin_kv = data.get("request")
        timeout_ms, paused_wait_ms = data.get("timeout_ms", 5000), data.get("paused_wait_ms", 0)
        if not isinstance(lin_kv, dict) or lin_kv.get("type") not in ("read", "write", "cas"):
            raise BadRequest("The body needs \"request\", a lin-kv read, write or cas body.")
        if isinstance(timeout_ms, bool) or not isinstance(timeout_ms, int) or timeout_ms <= 0:
            raise BadRequest("\"timeout_ms\" must be a positive whole number.", field="timeout_ms")
        if isinstance(paused_wait_ms, bool) or not isinstance(paused_wait_ms, int) or paused_wait_ms < 0:
            raise BadRequest("\"paused_wait_ms\" must be a whole number, 0 or more.", field="paused_wait_ms")
        started = time.monotonic()
        status = process.status()
        reply, paused_s = process.request(lin_kv, min(timeout_ms / 1000, MAX_REPLY_WAIT_S),
                                          min(paused_wait_ms / 1000, MAX_PAUSED_WAIT_S)) \
            if status["running"] else (None, 0.0)
        answer: Dict[str, Any] = {"status": "ok", "reply": reply, "node": process.name,
                                  "waited_ms": int((time.monotonic() - started) * 1000),
                                  "paused_ms": int(paused_s * 1000),
                                  "not_running": None if status["running"] else (
                                      status["problem"] or "the program is not running")}
        if process.relay is not None:
            answer["events"] = process.relay.drain()
        return jsonify(answer)

    def summary() -> dict:
        return {"node_id": process.node_id, "name": node_name(process.node_id), "keys": 0, "tombstones": 0,
                "hints": 0, "clock_skew_ms": 0, "uncommitted_writes": 0, "program": process.status()}

    @app.get("/node/state")
    def state():
        """What the views show of a student node: its program (its data is its own, unseen)."""
        return jsonify(summary=summary(), owed=[], hints=0, live=0, skew_ms=0)

    @app.get("/node/detail")
    def detail():
        """No records to list: a student's program keeps its data its own way."""
        where = process.status()["data_dir"]
        return jsonify(node=summary(), records=[], hints_held=[], source="program",
                       note=f"{process.name} is a student's program. " + DATA_NOTE.format(where=where))

    @app.get("/node/keys")
    def keys():
        """No key index: a student's program keeps its data its own way."""
        return jsonify(keys=[])

    @app.post("/node/flush")
    def flush():
        """Nothing to commit: the program saves its own state."""
        return jsonify(committed=0)

    @app.post("/node/sync")
    def sync():
        """A recovering student node catches up by its own protocol: nothing to run here."""
        return jsonify(summary={"pulled_keys": [], "pushed_to_peers": {}, "peers_answered": [],
                                "peers_silent": [], "note": "a student's node catches up by its own protocol"})

    @app.post("/node/handoff")
    def handoff():
        """No hints in a student's node."""
        return jsonify(owner=body().get("owner"), delivered=[])

    @app.post("/node/skew")
    @app.post("/node/anti-entropy")
    def not_for_students():
        """Clock skew and anti-entropy act on ReplicaLab's own node, not on a student's program."""
        raise Conflict(f"{process.name} is a student's program: clock skew and anti-entropy act on "
                       "ReplicaLab's own nodes only.", node=node_name(process.node_id))
