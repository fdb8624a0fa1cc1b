"""The front of real mode: the same ReplicationManager and API, its nodes one OS process each.

`ProcessWorld` is what `ReplicationManager(config, world=ProcessWorld())` builds
instead of the simulated nodes (replication.py's SimulatedWorld): it starts one
`python run.py node` child per node on free loopback ports (processes.py: they
die with the front), gives the manager an HttpNodeHandle for each, receives
the nodes' events on a small intake server (EventSink into the one EventLog),
and supervises the children: a child that exits or is stopped from a terminal
is noticed and narrated, and marked down as the front's own /fail would.

`FrontNetwork` stands where the simulated Network stands: fault control
(cluster/fault_control.py) writes partitions, link and network faults into its
FaultSet as it always does, and `run()` — the manager's "let the network
move" — publishes a new version of the fault table to every node, whose
transports enforce it at both ends. Nothing moves messages here: in step
mode the table says `paused`, each sender holds what it sends, and the front
lists and moves the held messages through the nodes (realmode/front_steps.py).
"""
from __future__ import annotations

import functools
import logging
import os
import sys
import threading
import time
from dataclasses import fields
from typing import Any, Callable, Dict, List, Optional

from flask import Flask, jsonify, request

from byon import program_status
from byon.node_host import wipe_program_dir
from cluster.errors import ReplicaLabError, Unauthorized
from cluster.faults import FaultSet
from config import ENV_PREFIX, Config
from db import remove_node_files
from models import node_name
from realmode import processes
from realmode.event_relay import CLUSTER_START_ENV, EVENTS_PATH, EventSink
from realmode.fault_table import FaultTable
from realmode.front_steps import ProcessSteps, RealStepControl
from realmode.node_handle import HttpNodeHandle
from realmode.node_server import NodeServer

logger = logging.getLogger("replicalab")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SUPERVISE_EVERY_S = 0.2
PAUSE_WAIT_S = 3.0  # a pause must be in force at every node before the next request: wait longer for it


class FrontNetwork:
    """The front's view of the network in real mode: the fault table it publishes, the down nodes."""

    def __init__(self, nodes: int):
        self.nodes = nodes
        self.faults = FaultSet()
        self.down: set = set()
        self.paused = False
        self.in_flight = 0
        self.version = 0
        self._published: Optional[dict] = None
        self.handles: List[HttpNodeHandle] = []
        self.steps = ProcessSteps(self)
        self.student_scale = 0  # the nodes are student programs (--node-cmd): their clocks' --time-scale
        self.programs_only = False

    def table(self) -> FaultTable:
        """The faults in force as the table each node enforces.

        A node the front started is failed by a real signal, so it is not in the table's
        down set; a node running elsewhere (multi-host) can only be failed there: the
        transports drop its messages, as the simulation does.
        """
        remote = frozenset(h.node_id for h in self.handles if h.child is None and h.node_id in self.down)
        return FaultTable(self.nodes, self.faults, remote, self.version, self.paused)

    def run(self, wait_s: float = 1.0) -> None:
        """Publish the fault table if it changed since the last time (the manager calls this after a change)."""
        shape = {k: v for k, v in self.table().to_json().items() if k != "version"}
        if shape != self._published:
            self._published = shape
            self.version += 1
            self.publish([h for h in self.handles if h.failure() is None], wait_s)

    def publish(self, handles, wait_s: float = 1.0) -> None:
        """Send the current table to `handles`' processes in parallel; wait up to `wait_s` for them.

        Each on its own thread, so a stopped node delays nobody beyond `wait_s`; the wait
        lets a recovery that follows (handoff, sync) find the new table in force.
        """
        body = self.table().to_json()
        threads = [threading.Thread(target=_post_faults, args=(handle, body), daemon=True) for handle in handles]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + wait_s
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    # --- step mode (realmode/front_steps.py; StepControl calls these as it calls the simulated Network's) ---

    def pause(self) -> None:
        """Every node holds what it sends from now on: the table says paused."""
        self.paused = True
        self.run(wait_s=PAUSE_WAIT_S)

    def resume(self) -> None:
        """Deliver what the nodes hold (and what follows), then publish the table without the pause."""
        self.steps.drain()
        self.paused = False
        self.run(wait_s=PAUSE_WAIT_S)

    def held(self, detail=None) -> list:
        """Every node's held messages, oldest first (each node adds siblings mode's detail itself)."""
        return self.steps.listing()[0]

    def deliver(self, msg_id: int) -> None:
        """Deliver one held message now."""
        self.steps.deliver(msg_id)

    def drop(self, msg_id: int) -> None:
        """Lose one held message."""
        self.steps.drop(msg_id)

    def duplicate(self, msg_id: int) -> int:
        """Hold a copy of a held message; the copy's id."""
        return self.steps.duplicate(msg_id)

    def step_message(self) -> Optional[int]:
        """Deliver the oldest held message; its id, or None."""
        return self.steps.step_message()

    def tick(self, ms: int) -> int:
        """Move the node processes' frozen timers forward."""
        return self.steps.tick(ms)


def _post_faults(handle: HttpNodeHandle, body: dict) -> None:
    try:
        handle._call("POST", "/peer/faults", body, timeout=2.0)
    except Exception:  # noqa: BLE001 -- a node that misses a table gets the next one, or a fresh one on recover
        logger.debug("%s did not take fault table %s", handle.name, body.get("version"))


class ProcessWorld:
    """One OS process per node, started, supervised and stopped by the front."""

    mode = "real"

    @property
    def student(self) -> bool:
        """True when the nodes are programs speaking docs/node-protocol.md (run.py cluster --node-cmd)."""
        return bool(self.node_cmds)

    def __init__(self, host: str = "127.0.0.1", start_timeout_s: float = 20.0,
                 addresses: Optional[Dict[int, str]] = None, intake: Optional[str] = None,
                 node_cmds: Optional[Dict[int, str]] = None, node_cwd: Optional[str] = None):
        self.host = host
        self.start_timeout_s = start_timeout_s
        # Multi-host: the nodes already run elsewhere (run.py node on other machines or containers);
        # the front only joins them, and /fail marks them down in the fault table instead of a signal.
        self.addresses = addresses
        self.intake_address = intake or f"{host}:0"
        # Bring your own node (byon/node_host.py): node id -> the program its node process runs.
        self.node_cmds = node_cmds or {}
        self.node_cwd = node_cwd or os.getcwd()
        self.network_: Optional[FrontNetwork] = None
        self.handles: List[HttpNodeHandle] = []
        self.intake: Optional[NodeServer] = None
        self._stop = threading.Event()
        self._supervisor: Optional[threading.Thread] = None
        self.started_in_s = 0.0
        # The manager's recover (handoff and sync), set once it is built: the supervisor runs it for a
        # node continued from a terminal, as POST /recover would.
        self.recover_node: Optional[Callable[[int], Any]] = None
        self._continue_failed: set = set()  # pids whose automatic recovery failed: told once

    def step_control(self, core) -> RealStepControl:
        """Step mode over the node processes (front_steps.py)."""
        return RealStepControl(core)

    def network(self, clock, events, config: Config) -> FrontNetwork:
        """The front's network: the fault table and the down set."""
        self.network_ = FrontNetwork(config.nodes)
        self.network_.student_scale = config.time_scale if self.student else 0
        # Every node a program: /tick has no timer of ReplicaLab's to move (a mixed cluster has some).
        self.network_.programs_only = all(i in self.node_cmds for i in range(config.nodes))
        return self.network_

    def start(self, core) -> None:
        """Start the intake and every node process, wait until each answers, then supervise them."""
        began = time.monotonic()
        config: Config = core.config
        self.core = core
        intake_host, _, intake_port = self.intake_address.rpartition(":")
        self.sink = EventSink(core.events, config.nodes)
        self.intake = NodeServer(_intake_app(self.sink, config.admin_token), intake_host, int(intake_port)).start()
        if self.addresses is not None:
            self._join(core, config)
        else:
            self._start_children(core, config)
        assert self.network_ is not None
        self.network_.handles = self.handles
        for handle in self.handles:
            handle.sink = self.sink
        core.handles.extend(self.handles)
        core.nodes.extend(self.handles)  # the control plane only needs each node's id and name
        self.network_.run()
        self._check_programs()  # a program that exited at once is a down node before the banner says anything
        self.started_in_s = time.monotonic() - began
        self._supervisor = threading.Thread(target=self._supervise, name="realmode-supervisor", daemon=True)
        self._supervisor.start()

    def _join(self, core, config: Config) -> None:
        """Handles for nodes started elsewhere; wait until each answers."""
        assert self.addresses is not None
        for i in range(config.nodes):
            handle = HttpNodeHandle(i, self.addresses[i], None, "", core, config.admin_token,
                                    config.client_timeout_ms / 1000)
            handle.rejoined = self.republish
            self.handles.append(handle)
        for handle in self.handles:
            processes.wait_healthy(f"http://{handle.address}/peer/health", timeout_s=self.start_timeout_s,
                                   headers=handle._headers)

    def _start_children(self, core, config: Config) -> None:
        """One `run.py node` child per node on free loopback ports; wait until each answers."""
        assert self.intake is not None
        ports = [processes.free_port(self.host) for _ in range(config.nodes)]
        addresses = {i: f"{self.host}:{port}" for i, port in enumerate(ports)}
        env = {**os.environ, **child_env(config), "PYTHONPATH": ROOT}
        if core.clock.kind == "wall":  # the nodes' events count from the cluster's start, as the front's
            env[CLUSTER_START_ENV] = str(core.clock.start_ms)
        for i in range(config.nodes):
            # Absolute: the node process runs in ROOT, the front wherever it was started.
            data_dir = os.path.abspath(os.path.join(config.data_dir, node_name(i)))
            if config.fresh:
                empty_node_dir(data_dir)
            peers = ",".join(f"{p}={a}" for p, a in addresses.items() if p != i)
            argv = [sys.executable, os.path.join(ROOT, "run.py"), "node", "--id", str(i), "--listen", addresses[i],
                    "--peers", peers, "--data-dir", data_dir, "--front", f"http://{self.intake.address}"]
            if i in self.node_cmds:
                argv += ["--node-cmd", self.node_cmds[i], "--node-cwd", self.node_cwd]
            os.makedirs(data_dir, exist_ok=True)
            child = processes.start(argv, node_name(i), env=env, cwd=ROOT,
                                    log_path=os.path.join(data_dir, "node.log"))
            handle = HttpNodeHandle(i, addresses[i], child, data_dir, core, config.admin_token,
                                    config.client_timeout_ms / 1000)
            handle.rejoined = self.republish  # a node back from a failure gets the faults it missed
            self.handles.append(handle)
        try:
            for handle in self.handles:
                handle.saw_health(processes.wait_healthy(f"http://{handle.address}/peer/health", handle.child,
                                                         timeout_s=self.start_timeout_s))
        except processes.ChildFailed:
            self.close_children()
            raise

    def _check_programs(self) -> None:
        """Mark down (crash) each node whose student program is not running: it exited, was killed, never started.

        The node process lives on without its program, but a node is its program: reads and
        writes to it cannot be answered until `POST /recover/N` restarts both.
        """
        for handle in self.handles:
            why = handle.program_gone()  # asks the node how its program ended: outside the cluster lock
            if why is None:
                continue
            self._mark_down(handle, "crash", f"{program_status.closed(why)} The front marks {handle.name} down "
                            f"(crash); POST /recover/{handle.node_id} restarts it",
                            program_pid=(handle.program or {}).get("pid"),
                            exit_code=(handle.program or {}).get("exit_code"))

    def _supervise(self) -> None:
        """Notice children that exited or were stopped by someone else; publish fault changes."""
        while not self._stop.wait(SUPERVISE_EVERY_S):
            # One surprise must not end the supervision: nobody would notice a kill -9 after it.
            self._guarded(self._check_programs)
            for handle in self.handles:
                self._guarded(functools.partial(self._watch, handle))
            with self.core.lock:
                if self.network_ is not None:
                    self._guarded(self.network_.run)  # a network fault set without a settle (set_network)

    def _guarded(self, step: Callable[[], Any]) -> None:
        """Run one supervision step; log what it raised and go on."""
        try:
            step()
        except Exception:  # noqa: BLE001 -- the supervisor must outlive any one node's surprise
            logger.exception("the front's supervisor met an error and goes on watching")

    def _watch(self, handle: HttpNodeHandle) -> None:
        """Notice one child that exited, was stopped, or was continued by someone else."""
        if handle.failure() == "stop":
            self._notice_continued(handle)
        if handle.failure() is not None or handle.child is None:
            return
        code = handle.child.exit_code()
        state = None if code is not None else processes.process_state(handle.pid)
        if code is None and state != "T":
            return
        how = "stop" if code is None else "crash"
        signalled = f" (killed by signal {-code})" if code and code < 0 else ""
        what = ("was stopped (SIGSTOP) from outside the front" if how == "stop"
                else f"exited with code {code}{signalled}")
        self._mark_down(handle, how, f"{handle.name}'s process (pid {handle.pid}) {what}: the front noticed by "
                        f"itself and marks it down ({how}); POST /recover/{handle.node_id} "
                        f"{'continues' if how == 'stop' else 'restarts'} it", exit_code=code)

    def _mark_down(self, handle: HttpNodeHandle, how: str, text: str, **details) -> None:
        """Mark a node down as /fail would (unless something already did), and narrate why."""
        with self.core.lock:
            if handle.failure() is not None or self._stop.is_set():
                return
            handle.died(how)
            assert self.network_ is not None
            self.network_.down.add(handle.node_id)
            self.core.events.emit("node_failed", text, [handle.node_id], mode=how, pid=handle.pid, **details)
            self.core.settle()

    def _notice_continued(self, handle: HttpNodeHandle) -> None:
        """A stopped node whose process runs again (kill -CONT from a terminal) is recovered, as /recover would."""
        if handle.child is None or handle.child.exit_code() is not None or self.recover_node is None:
            return
        if not processes.running(handle.pid) or handle.pid in self._continue_failed:
            return
        with self.core.lock:
            # Again under the lock: /fail?mode=stop marks the node before its SIGSTOP lands, and
            # holds the lock until it has; read outside, the state could be from before the stop.
            if handle.failure() != "stop" or self._stop.is_set() or not processes.running(handle.pid):
                return
            self.core.events.emit("node_continued", f"{handle.name}'s process (pid {handle.pid}) runs again "
                                  "(SIGCONT from outside the front): the front noticed by itself and recovers it, "
                                  "as POST /recover would", [handle.node_id], pid=handle.pid)
            try:
                self.recover_node(handle.node_id)
            except ReplicaLabError as error:
                self._continue_failed.add(handle.pid)  # said once; /recover can still try
                self.core.events.emit("node_continue_failed", f"{handle.name} runs again but could not be "
                                      f"recovered: {error.message} POST /recover/{handle.node_id} tries again.",
                                      [handle.node_id], pid=handle.pid)

    def republish(self, handle: HttpNodeHandle) -> None:
        """Send the current fault table to one node (it came back and missed versions)."""
        assert self.network_ is not None
        self.network_.publish([handle])

    def close_children(self) -> None:
        """Stop every child by PID, all at once (SIGTERM, SIGKILL after a grace)."""
        children = [h.child for h in self.handles if h.child is not None and h.child.exit_code() is None]
        if children:
            print(f"replicalab: stopping {len(children)} node processes...", file=sys.stderr, flush=True)
        processes.stop_all(children)

    def close(self) -> None:
        """Stop supervising and the intake, and every child still running."""
        self._stop.set()
        if self._supervisor is not None:
            self._supervisor.join(2.0)
        self.close_children()
        if self.intake is not None:
            self.intake.shutdown()


def empty_node_dir(data_dir: str) -> None:
    """--fresh: delete a node's files, and its student program's data directory (the program's own files)."""
    remove_node_files(data_dir)
    wipe_program_dir(data_dir)


def child_env(config: Config) -> Dict[str, str]:
    """The cluster's settings as REPLICALAB_* variables for a node process (`run.py node` reads them)."""
    env = {}
    for f in fields(Config):
        value = getattr(config, f.name)
        if value is None:
            continue
        env[ENV_PREFIX + f.name.upper()] = ("1" if value else "0") if isinstance(value, bool) else str(value)
    env[ENV_PREFIX + "FRESH"] = "0"  # the front already emptied the node's files; a restart keeps them
    env[ENV_PREFIX + "SCHEDULER"] = "off"  # background jobs are the front's
    return env


def _intake_app(sink: EventSink, token: Optional[str]) -> Flask:
    """The front's event intake: POST /peer/events from the node processes (their EventRelay)."""
    app = Flask("replicalab-intake")

    @app.post(EVENTS_PATH)
    def accept():
        """Append one batch of a node's events to the front's log."""
        if token and request.headers.get("Authorization") != f"Bearer {token}":
            raise Unauthorized("The event intake needs the admin token.")
        if not token and request.remote_addr not in ("127.0.0.1", "::1"):
            raise Unauthorized("Beyond loopback the front needs --admin-token, and nodes --token.")
        return jsonify(status="ok", accepted=sink.accept(request.get_json(force=True, silent=True)))

    @app.errorhandler(Exception)
    def error(err):
        """Every refusal as JSON."""
        status = getattr(err, "status", 500)
        return jsonify(status="error", error=getattr(err, "code", "internal_error"), message=str(err)), status

    return app

