"""One graded run per seed: start a cluster, clients and a nemesis, heal, settle, read back, check, stop.

Every run starts its own `python run.py cluster` on a free loopback port
(labs/real_client.py: started and stopped by PID, its node processes die with
it) and ends it in a `finally`, whatever happened. Nothing waits without a
bound: each request has a timeout, the cluster must answer /health within
`start_timeout_s`, the read-back stops at the run's deadline, and the checker
and the shrinker have budgets.
"""
from __future__ import annotations

import os
import shlex
import tempfile
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Tuple

from chaos.leader import LeaderTargets, find_in_events
from chaos.nemesis import GRADER_KINDS, plan, play
from chaos.remote import ControlError, HttpControls
from config import Config
from labs.real_client import RealModeClient
from realmode import processes

from . import properties
from .workload import REQUEST_TIMEOUT_S, Clients, Protocol

WORKLOADS = ("lin-kv", "eventual-kv")
OWN_NODES = "replicalab"  # grade ReplicaLab's own nodes (a baseline) instead of a program
LOG_TAIL_LINES = 15
START_TRIES = 3


@dataclass
class GradeSettings:
    """What `python -m labs grade-node` was asked to do."""

    node_cmd: str  # the student's program, or OWN_NODES
    workload: str = "lin-kv"
    seeds: int = 5
    time_s: float = 30.0
    nodes: int = 5
    seed: Optional[int] = None  # replay this one seed's run
    faults: Tuple[str, ...] = GRADER_KINDS
    clients: int = 10
    keys: int = 3
    fault_every_s: float = 1.0
    settle_s: float = 3.0
    request_timeout_s: float = REQUEST_TIMEOUT_S
    start_timeout_s: float = 60.0
    shrink_s: float = 10.0
    node_overrides: Dict[int, str] = field(default_factory=dict)  # node id -> its own command (mixed cluster)

    def seed_list(self) -> List[int]:
        """The seeds to run: the one to replay, or 1..seeds."""
        return [self.seed] if self.seed is not None else list(range(1, self.seeds + 1))

    @property
    def own_nodes(self) -> bool:
        """True when grading ReplicaLab's own nodes rather than a student's program."""
        return self.node_cmd == OWN_NODES

    def cluster_args(self) -> List[str]:
        """The flags of `run.py cluster` for this grading."""
        args = ["--nodes", str(self.nodes)]
        if self.nodes < Config.rf:  # the default replication factor needs 3 nodes: fewer keep a copy on each
            quorum = str(self.nodes // 2 + 1)
            args += ["--rf", str(self.nodes), "--r", quorum, "--w", quorum]
        if self.own_nodes:
            return args
        args += ["--node-cmd", self.node_cmd]
        for node, command in sorted(self.node_overrides.items()):
            args += ["--node-cmd", f"{node}={command}"]
        return args

    def cluster_settings(self) -> Dict[str, Any]:
        """REPLICALAB_* settings of the cluster: ReplicaLab's own nodes run linearizable for lin-kv."""
        own = {"consistency": "linearizable" if self.workload == "lin-kv" else "eventual",
               "request_timeout_ms": 300}
        return own if self.own_nodes else {}

    def replay_command(self, seed: int) -> str:
        """The command that runs this seed's schedule again."""
        faults = "" if tuple(self.faults) == GRADER_KINDS else f" --faults {','.join(self.faults) or 'none'}"
        defaults = GradeSettings(self.node_cmd)
        more = "".join(f" --{flag} {getattr(self, name):g}" for flag, name in (
            ("clients", "clients"), ("keys", "keys"), ("fault-every", "fault_every_s"))
            if getattr(self, name) != getattr(defaults, name))
        return (f"python -m labs grade-node {shlex.quote(self.node_cmd)} --workload {self.workload} "
                f"--nodes {self.nodes} --time {self.time_s:g}{faults}{more} --seed {seed}")


@dataclass
class RunResult:
    """One seed's run: what was done, what was seen, and each property's finding."""

    seed: int
    findings: List[properties.Finding] = field(default_factory=list)
    schedule: List[Dict[str, Any]] = field(default_factory=list)
    applied: List[Dict[str, Any]] = field(default_factory=list)
    counts: Dict[str, int] = field(default_factory=dict)
    problems: List[str] = field(default_factory=list)
    log_tail: List[str] = field(default_factory=list)
    seconds: float = 0.0
    node_pids: List[int] = field(default_factory=list)  # the node processes at the end (gone after the run)
    error: bool = False  # the run could not be carried out (the cluster did not start): JUnit's <error>

    @property
    def passed(self) -> bool:
        """Every property held."""
        return bool(self.findings) and all(f.ok for f in self.findings)

    def failed(self) -> List[properties.Finding]:
        """The properties that did not hold."""
        return [f for f in self.findings if not f.ok]


def grade_run(settings: GradeSettings, seed: int, out_dir: Optional[str] = None) -> RunResult:
    """Run and check one seed; the cluster is stopped (by PID) before this returns."""
    began = time.monotonic()
    result = RunResult(seed, schedule=plan(seed, settings.nodes, settings.time_s, settings.faults,
                                           settings.fault_every_s))
    log_dir = out_dir or tempfile.mkdtemp(prefix="replicalab-grade-")
    os.makedirs(log_dir, exist_ok=True)
    log_path = os.path.join(log_dir, f"seed-{seed}-cluster.log")
    cluster: Optional[RealModeClient] = None
    failure: Optional[Exception] = None
    for attempt in range(1, START_TRIES + 1):
        try:
            cluster = RealModeClient(settings.cluster_settings(), settings.cluster_args(), log_path=log_path,
                                     timeout_s=settings.start_timeout_s, narrate=True, cwd=os.getcwd())
            break
        except processes.ChildFailed as error:
            # A program that fails its init does not stop the front, so this is the machine (a port
            # taken between choosing and binding it, say): try again before blaming the node.
            failure = error
            result.problems.append(f"the cluster did not start (try {attempt} of {START_TRIES}): {error}")
    if cluster is None:
        result.error = True
        result.log_tail = tail(log_path)
        result.findings = [properties.Finding(properties.ANSWERS, False, f"The cluster did not start: {failure}. "
                                              + started_hint(result.log_tail))]
        result.seconds = time.monotonic() - began
        return result
    clients = Clients(cluster.url, settings.nodes, [f"k{i}" for i in range(settings.keys)], seed,
                      Protocol(not settings.own_nodes), settings.request_timeout_s)
    if settings.workload == "eventual-kv":
        clients.operations = ("read", "write")
    try:
        if not settings.own_nodes and nodes_alive(cluster.url) == 0:
            # No program answered init (each one's node is down from the start): playing the
            # faults for the whole run would only delay the verdict, and its reasons.
            result.problems.append("no program started (every node is down from the start), so the run "
                                   "stopped at once instead of playing its faults")
            final: Dict[str, Dict[str, Any]] = {}
        else:
            final = drive(settings, cluster.url, clients, result)
    finally:
        result.node_pids = node_pids(cluster.url)
        cluster.close()
        result.problems += [f"node process pid {pid} outlived the cluster and was killed" for pid in result.node_pids
                            if processes.is_alive(pid) and processes.kill(pid)]
    result.log_tail = tail(log_path)
    result.problems = node_problems(log_path) + clients.problems + result.problems
    evaluate(settings, clients.events(), final, result)
    result.seconds = time.monotonic() - began
    return result


def drive(settings: GradeSettings, url: str, clients: Clients, result: RunResult) -> Dict[str, Dict[str, Any]]:
    """Clients and the nemesis for `time_s`, then heal, settle and read every key through every node."""
    deadline = time.monotonic() + settings.time_s + settings.settle_s + 30 + 3 * settings.request_timeout_s
    controls = HttpControls(url, timeout_s=settings.request_timeout_s + 5)
    stop = threading.Event()
    started = time.monotonic()
    clients.focus(result.schedule, started)
    threads = clients.run(settings.clients, stop)
    leader = LeaderTargets(find_in_events(controls.recent_events))
    nemesis = threading.Thread(target=lambda: result.applied.extend(play(result.schedule, controls.apply, stop,
                                                                         started, leader.resolve)),
                               daemon=True, name="grader-nemesis")
    nemesis.start()
    stop.wait(settings.time_s)
    stop.set()
    for thread in threads + [nemesis]:
        thread.join(timeout=max(0.0, deadline - time.monotonic()))
    try:
        if settings.own_nodes:
            controls.heal_everything()  # anti-entropy and hint handoff are ReplicaLab's own repair
        else:
            controls.heal_faults()
    except ControlError as error:
        result.problems.append(f"healing the faults failed: {error}")
    time.sleep(min(settings.settle_s, max(0.0, deadline - time.monotonic())))
    return clients.read_back(deadline)


def evaluate(settings: GradeSettings, events: List[dict], final: Dict[str, Dict[str, Any]],
             result: RunResult) -> None:
    """The workload's properties, each failing one shrunk to its smallest failing history."""
    ops = properties.operations(events)
    result.counts = {kind: sum(op["type"] == kind for op in ops) for kind in ("ok", "fail", "info")}
    answers = properties.answers(events, final, settings.nodes)
    test: Callable[[List[dict]], bool]
    if settings.workload == "lin-kv":
        findings = [properties.linearizable(events)]
        test = properties.still_not_linearizable
    else:
        findings = [properties.no_lost_write(events, final), properties.converged(final)]
        test = lambda evs: bool(properties.lost_writes(evs, final))  # noqa: E731 -- the shrinker's test
    for finding in findings:
        if not finding.ok and finding.evidence:
            finding.shrunk_from = len({e["index"] for e in finding.evidence})
            if finding.property != properties.CONVERGED:
                finding.evidence = properties.shrink(finding.evidence, test, settings.shrink_s)
    result.findings = [answers] + findings


def node_pids(url: str) -> List[int]:
    """The node processes' pids and their programs' from GET /nodes (empty if the front does not answer)."""
    try:
        nodes = HttpControls(url, 5)._call("GET", "/nodes")["nodes"]
    except (ControlError, KeyError, TypeError):
        return []
    pids = [n.get("pid") for n in nodes] + [(n.get("program") or {}).get("pid") for n in nodes]
    return [pid for pid in pids if isinstance(pid, int)]


def nodes_alive(url: str) -> Optional[int]:
    """How many nodes GET /health counts alive (None if the front does not say)."""
    try:
        alive = HttpControls(url, 5)._call("GET", "/health").get("nodes_alive")
    except ControlError:
        return None
    return alive if isinstance(alive, int) else None


PROBLEM_SIGNS = ("not a valid message", "never answered init", "before answering init", "exited with code")


def node_problems(path: str, limit: int = 3) -> List[str]:
    """The first distinct problems the cluster's console reported about the nodes (bad lines, exits)."""
    found: Dict[str, str] = {}  # one per kind of problem (the sentence before the quoted line), first seen
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            for line in handle:
                # A reply after the front gave up waiting is normal under faults, not the node's fault.
                if any(sign in line for sign in PROBLEM_SIGNS) and "no waiting request" not in line:
                    text = line.split("] ", 1)[-1].strip()[:300]
                    found.setdefault(text.split(" The line:")[0], text)  # keep the quoted line: it is the clue
                    if len(found) >= limit:
                        break
    except OSError:
        pass
    return [f"the cluster said: {text}" for text in found.values()]


def tail(path: str, lines: int = LOG_TAIL_LINES) -> List[str]:
    """The last lines of the cluster's console log (what the student would have seen)."""
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return [line.rstrip("\n")[:300] for line in handle.readlines()[-lines:]]
    except OSError:
        return []


def started_hint(log: List[str]) -> str:
    """A pointer to what the cluster printed before it gave up."""
    if not log:
        return "It printed nothing."
    return "Its last words: " + " / ".join(line.strip() for line in log[-3:] if line.strip())


def grade(settings: GradeSettings, out_dir: Optional[str] = None, progress=None) -> List[RunResult]:
    """Every seed's run, one after the other (`progress(result)` after each)."""
    results = []
    for seed in settings.seed_list():
        result = grade_run(settings, seed, out_dir)
        results.append(result)
        if progress:
            progress(result)
    return results
