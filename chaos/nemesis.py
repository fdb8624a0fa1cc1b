"""The nemesis: faults injected during a chaos run or a grade, from its own seeded generator.

`Nemesis` (chaos runs) applies one random fault at a time; `plan` (the grader) lays
out fault episodes up front from the seed alone (see `Episodes`). Every fault kind
the cluster has except `wipe` (which destroys acknowledged data by design): stop and
crash a node, recover it, partition and heal, drop, delay and duplicate messages
network-wide, skew a clock. The nemesis acts through the manager's own controls,
exactly as the HTTP endpoints do.
"""
from __future__ import annotations

import random
import threading
import time
from collections import Counter
from typing import Any, Callable, Dict, List, Optional, Set, Tuple

KINDS = ("stop", "crash", "recover", "partition", "heal", "drop", "delay", "duplicate", "skew", "clear")
# What a grader's nemesis does to a student's nodes: a clock skew means nothing to a node
# that keeps its own clock, so it is left out.
GRADER_KINDS = ("stop", "crash", "recover", "partition", "heal", "drop", "delay", "duplicate", "clear")


class LocalControls:
    """The fault controls of an in-process cluster (the manager's own methods)."""

    def __init__(self, cluster):
        self.cluster = cluster

    def state(self) -> Tuple[int, List[int], bool, bool]:
        """(node count, down nodes, partitioned?, any network fault or skew?)."""
        net = self.cluster.network.faults
        faulty = net.network.active() or any(n.skew_ms for n in self.cluster.nodes)
        return len(self.cluster.nodes), sorted(self.cluster.network.down), net.partition is not None, faulty

    def apply(self, kind: str, arg: Any) -> None:
        """Inject one fault (or repair) of `kind` with its argument."""
        c, faults = self.cluster, self.cluster.faults
        {"stop": lambda: c.fail(arg, "stop"), "crash": lambda: c.fail(arg, "crash"),
         "recover": lambda: c.recover(arg), "partition": lambda: faults.partition(arg),
         "heal": faults.heal, "network": lambda: faults.set_network(arg),
         "links": lambda: [faults.set_link(arg["from"], to, link_fault(arg)) for to in arg["to"]],
         "skew": lambda: faults.set_skew(*arg), "clear": faults.clear_faults}[kind]()

    def heal_everything(self) -> None:
        """No partition, network fault or skew; every node recovered; anti-entropy between every pair."""
        c = self.cluster
        c.faults.clear_faults()
        for node in sorted(c.network.down):
            c.recover(node)
        for _ in range(len(c.nodes) - 1):  # N-1 rounds cover every pair of nodes
            c.jobs.anti_entropy_round(c.clock.now())
        c.jobs.retry_hints(c.clock.now())
        c.settle()


def link_fault(arg: Dict[str, Any]) -> Dict[str, Any]:
    """The body of one link's fault from a "links" step's argument (its from and to left out)."""
    return {k: v for k, v in arg.items() if k not in ("from", "to")}


class Nemesis:
    """Picks and applies one fault at a time through `controls`; counts what it injected."""

    def __init__(self, controls, seed: int, kinds=KINDS):
        self.controls = controls
        self.rng = random.Random(f"nemesis-{seed}")
        self.kinds = tuple(kinds)
        self.injected: Counter = Counter()

    def act(self) -> None:
        """Apply one randomly chosen fault (or its repair) that changes something now."""
        nodes, down, partitioned, faulty = self.controls.state()
        can = {"stop": len(down) < nodes // 2, "crash": len(down) < nodes // 2, "recover": bool(down),
               "partition": not partitioned, "heal": partitioned,
               "drop": True, "delay": True, "duplicate": True, "skew": True, "clear": faulty}
        choices = [k for k in self.kinds if can.get(k)]
        if not choices:
            return
        kind = self.rng.choice(choices)
        up = [n for n in range(nodes) if n not in down]
        arg: Any = None
        if kind in ("stop", "crash"):
            arg = self.rng.choice(up)
        elif kind == "recover":
            arg = self.rng.choice(down)
        elif kind == "partition":
            order = list(range(nodes))
            self.rng.shuffle(order)
            cut = self.rng.randint(1, nodes - 1)
            arg = [sorted(order[:cut]), sorted(order[cut:])]
        elif kind in ("drop", "delay", "duplicate"):
            arg = {"drop": {"drop_rate": round(self.rng.uniform(0.05, 0.3), 2)},
                   "delay": {"delay_ms": [0, self.rng.choice([20, 80, 200])]},
                   "duplicate": {"duplicate_rate": round(self.rng.uniform(0.05, 0.3), 2)}}[kind]
        elif kind == "skew":
            arg = (self.rng.randrange(nodes), self.rng.choice([-1, 1]) * self.rng.choice([50, 500, 5000]))
        self.controls.apply("network" if kind in ("drop", "delay", "duplicate") else kind, arg)
        self.injected[kind] += 1

    def heal_everything(self) -> None:
        """End of the run: heal, recover, anti-entropy."""
        self.controls.heal_everything()


class PlannedState:
    """Controls that only record: the state a schedule's faults leave, to plan the next one."""

    def __init__(self, nodes: int):
        self.nodes, self.partitioned, self.faulty = nodes, False, False
        self.down: Set[int] = set()
        self.steps: List[Dict[str, Any]] = []
        self.at = 0.0

    def state(self) -> Tuple[int, List[int], bool, bool]:
        """(node count, down nodes, partitioned?, any network fault?) after the faults planned so far."""
        return self.nodes, sorted(self.down), self.partitioned, self.faulty

    def apply(self, kind: str, arg: Any) -> None:
        """Plan one fault at the current time and update the state it leaves."""
        if kind in ("stop", "crash"):
            self.down.add(arg)
        elif kind == "recover":
            self.down.discard(arg)
        elif kind in ("partition", "heal"):
            self.partitioned = kind == "partition"
        else:
            self.faulty = kind in ("network", "links")
        self.steps.append({"at_s": round(self.at, 2), "kind": kind, "arg": arg})


# How long the grader holds a fault before repairing it, in seconds: long enough to outlast the
# failure detector of a typical node (a leader suspected after a second or two, a new one
# elected and serving), short enough that clients blocked on the faulty side (5 s timeouts)
# come back within the run.
HOLD_S = {"isolate": (4.0, 8.0), "crash": (2.5, 5.0), "pause": (2.0, 4.5), "network": (1.0, 4.0)}
MAIN_EPISODES = ("isolate", "crash", "pause")
# Partitions and crashes are drawn twice as often as pauses: they are what separates a design
# that keeps one leader from one that lets two serve, or loses what one node alone had.
WEIGHTS = {"isolate": 2, "crash": 2, "pause": 1}
# How often an episode runs under lost, late or doubled messages: most kills do (see before_a_kill).
OVERLAY = {"isolate": 0.5, "crash": 0.75, "pause": 0.5}
NETWORK_KINDS = ("drop", "delay", "duplicate")
# How often an episode hits the node that acts as the leader when it begins (found at run time from
# the messages each node sent: chaos/leader.py), rather than nodes drawn by the seed: a kill, a cut or
# a pause of a backup rarely shows what a leader's failure shows.
LEADER_SHARE = {"isolate": 2 / 3, "crash": 2 / 3, "pause": 0.5}
# A leader cut off is held this much longer: it may first work through the requests it had queued
# (each waiting for acknowledgements that cannot come) before it shows what it answers alone.
LEADER_ISOLATE_EXTRA_S = 2.0
# A leader's kill under its own late or lost messages: how long they are late or lost before the kill
# (long enough for a leader that waits a second for acknowledgements that do not come to answer some).
LEADER_KILL_AFTER_S = (2.0, 4.0)


class Episodes:
    """The grader's faults as episodes: a fault, held for a drawn time, then its repair.

    - isolate: a partition cutting a minority (just under half the nodes; a third of the
      time one node) off the majority, held long enough for the majority side to elect a
      new leader, while clients keep using both sides;
    - crash: kill -9 a minority at once (a third of the time one node), held down past an
      election, then restart;
    - pause: SIGSTOP one node past an election, then SIGCONT (it wakes up believing what
      it believed before);
    - half the time (three kills in four; a leader kill has its own), lost, late or doubled messages from just
      before the fault until its repair (before a kill: late, or lightly lost): a kill
      then lands while changes still wait to be replicated, and a node cut off or
      restarted comes back having missed some (alone when no other fault is allowed).
    The node or minority hit contains node 0 half the time: many designs start their
    leader (or their single copy) there. An episode whose repair kind is not allowed
    leaves its fault on (the grader's final heal repairs it).

    Some episodes (LEADER_SHARE: two partitions and kills in three, half the pauses) hit the
    leader instead: the node that sent the most node-to-node messages in the second before the
    episode begins (leaders send heartbeats and copies; chaos/leader.py). The plan names a
    stand-in node drawn by the seed, and marks each step of the episode with its number and
    the stand-in; at run time the leader and the stand-in swap places in the episode's steps
    (the stand-in stays when no leader is found).
    A leader's kill comes under its own late and lost messages (`leader_kill`).
    """

    def __init__(self, planned: PlannedState, rng: random.Random, kinds):
        self.planned, self.rng, self.kinds = planned, rng, set(kinds)
        self.clear_at_repair = False
        self.number = 0  # episodes planned so far
        self.stand_in: Optional[int] = None  # the episode hits the leader: the node planned in its place

    def choices(self) -> List[str]:
        """The main episodes the allowed kinds and the current state permit."""
        nodes, down, partitioned, _ = self.planned.state()
        room = (nodes - 1) // 2 - len(down)  # a majority stays up
        can = {"isolate": nodes > 1 and not partitioned and "partition" in self.kinds,
               "crash": room > 0 and "crash" in self.kinds, "pause": room > 0 and "stop" in self.kinds}
        return [name for name in MAIN_EPISODES if can[name]]

    def run_one(self) -> None:
        """Plan one episode from the current time; the planned time moves past its repair."""
        options, lossy = self.choices(), sorted(self.kinds & set(NETWORK_KINDS))
        if not options and not lossy:
            return
        episode = self.rng.choices(options, [WEIGHTS[o] for o in options])[0] if options else "network"
        hold = self.rng.uniform(*HOLD_S[episode])
        self.number += 1
        self.stand_in = self.leader_stand_in(episode)
        if episode == "crash" and self.stand_in is not None:
            return self.leader_kill(hold, lossy)
        if episode == "isolate" and self.stand_in is not None:
            hold += LEADER_ISOLATE_EXTRA_S
        overlay = bool(lossy) and (episode == "network" or self.rng.random() < OVERLAY[episode])
        self.clear_at_repair = overlay
        if overlay:
            if episode == "crash":
                self.before_a_kill(lossy)
                self.planned.at += self.rng.uniform(0.2, 0.6)
            else:
                self.network_fault(self.rng.choice(lossy))
                self.planned.at += self.rng.uniform(0.3, 1.0)
        if episode != "network":
            getattr(self, episode)(hold)
        else:
            self.repair_after(hold)

    def repair_after(self, hold: float) -> None:
        """Move on `hold` seconds, and clear the episode's message faults before its own repair."""
        self.planned.at += hold
        if self.clear_at_repair:
            self.step("clear")
            self.clear_at_repair = False

    def step(self, kind: str, arg: Any = None) -> None:
        """Plan `kind` at the current planned time, if the kinds allow it (marked if the episode hits the leader)."""
        if kind in self.kinds or kind == "links":
            self.planned.apply(kind, arg)
            if self.stand_in is not None:
                self.planned.steps[-1].update(episode=self.number, stand_in=self.stand_in)

    def leader_stand_in(self, episode: str) -> Optional[int]:
        """The node planned in the leader's place if this episode hits the leader, else None.

        Only when nothing is down and the episode's repair is allowed: the plan's state then
        holds whichever node the leader turns out to be.
        """
        repair = {"isolate": "heal", "crash": "recover", "pause": "recover"}.get(episode)
        if repair not in self.kinds or self.planned.down or self.rng.random() >= LEADER_SHARE[episode]:
            return None
        return self.rng.choice(self.up())

    def leader_kill(self, hold: float, lossy: List[str]) -> None:
        """The leader's messages to every other node late and lost for a second or two, then kill -9 the leader.

        Its late messages wait in its own process, so the kill loses them with whatever the
        leader acknowledged before they left; its lost ones, with what it acknowledged without
        resending. Restarted after `hold` seconds, once the links are repaired.
        """
        leader = self.stand_in
        fault: Dict[str, Any] = {}
        if "clear" in self.kinds:  # else nothing would repair the links before the leader restarts
            if "delay" in lossy:
                fault["delay_ms"] = [150, self.rng.choice([300, 600])]
            if "drop" in lossy:
                fault["drop_rate"] = round(self.rng.uniform(0.4, 0.6), 2)
        self.clear_at_repair = bool(fault)
        if fault:
            others = [n for n in range(self.planned.nodes) if n != leader]
            self.step("links", {"from": leader, "to": others, **fault})
            self.planned.at += self.rng.uniform(*LEADER_KILL_AFTER_S)
        self.step("crash", leader)
        self.repair_after(hold)
        self.step("recover", leader)

    def targets(self, size: int, among: List[int]) -> List[int]:
        """`size` nodes of `among`, with the leader's stand-in if any, else node 0 (if among them) half the time."""
        if self.stand_in is not None:
            first = [self.stand_in]
        else:
            first = [0] if 0 in among and self.rng.random() < 0.5 else []
        rest = [n for n in among if n not in first]
        self.rng.shuffle(rest)
        return sorted(first + rest[:size - len(first)])

    def up(self) -> List[int]:
        """The nodes not crashed or paused at the planned time."""
        _, down, _, _ = self.planned.state()
        return [n for n in range(self.planned.nodes) if n not in down]

    def isolate(self, hold: float) -> None:
        """A minority cut off from the majority for `hold` seconds."""
        nodes = self.planned.nodes
        size = max(1, (nodes - 1) // 2) if self.rng.random() < 2 / 3 else 1
        minority = self.targets(size, list(range(nodes)))
        self.step("partition", [minority, sorted(set(range(nodes)) - set(minority))])
        self.repair_after(hold)
        self.step("heal")

    def crash(self, hold: float) -> None:
        """kill -9 a minority (a third of the time one node), held down for `hold` seconds, then restart them."""
        _, down, _, _ = self.planned.state()
        room = (self.planned.nodes - 1) // 2 - len(down)
        victims = self.targets(room if self.rng.random() < 2 / 3 else 1, self.up())
        for victim in victims:
            self.step("crash", victim)
        self.repair_after(hold)
        for victim in victims:
            self.step("recover", victim)

    def pause(self, hold: float) -> None:
        """SIGSTOP one node for `hold` seconds, then SIGCONT."""
        victim = self.targets(1, self.up())[0]
        self.step("stop", victim)
        self.repair_after(hold)
        self.step("recover", victim)

    def before_a_kill(self, lossy: List[str]) -> None:
        """Late or lost messages just before a kill, so changes still wait to be replicated when it lands.

        Late (up to 80 or 200 ms) when allowed, half the time; else a light loss: a heavy one
        would leave the clients waiting on lost requests instead of writing as the kill lands.
        """
        if "delay" in lossy and ("drop" not in lossy or self.rng.random() < 0.5):
            self.planned.apply("network", {"delay_ms": [0, self.rng.choice([80, 200])]})
        elif "drop" in lossy:
            self.planned.apply("network", {"drop_rate": round(self.rng.uniform(0.1, 0.25), 2)})
        else:
            self.network_fault(self.rng.choice(lossy))

    def network_fault(self, kind: str) -> None:
        """Start lost, late or doubled messages (the episode's end clears them)."""
        arg = {"drop": {"drop_rate": round(self.rng.uniform(0.1, 0.35), 2)},
               "delay": {"delay_ms": [0, self.rng.choice([20, 80, 200])]},
               "duplicate": {"duplicate_rate": round(self.rng.uniform(0.05, 0.3), 2)}}[kind]
        self.planned.apply("network", arg)


def plan(seed: int, nodes: int, duration_s: float, kinds=GRADER_KINDS, every_s: float = 1.0) -> List[Dict[str, Any]]:
    """The nemesis schedule of a run, decided up front from the seed alone: [{at_s, kind, arg}, ...].

    The same seed, node count, duration and kinds give the same schedule, so a
    failing run's seed replays its faults (not its timing: a real network is not
    deterministic). Episodes (see Episodes) start `every_s` seconds on average
    after the previous one was repaired; steps that would fall after the end are
    left out, so the last fault may still be on when the clients stop (the
    grader then heals and reads every key through every node).
    """
    planned = PlannedState(nodes)
    episodes = Episodes(planned, random.Random(f"schedule-{seed}"), kinds)
    while True:
        planned.at += episodes.rng.uniform(0.5, 1.5) * every_s
        if planned.at >= duration_s:
            return [step for step in planned.steps if step["at_s"] < duration_s]
        episodes.run_one()


def describe(step: Dict[str, Any]) -> str:
    """One planned fault in words: 'at 2.3 s: partition {0, 2} | {1}'."""
    kind, arg = step["kind"], step["arg"]
    what = {"stop": lambda: f"pause node-{arg} (SIGSTOP)", "crash": lambda: f"kill -9 node-{arg}",
            "recover": lambda: f"recover node-{arg} (SIGCONT, or restart on its data)",
            "partition": lambda: "partition " + " | ".join(
                "{" + ", ".join(f"node-{n}" for n in group) + "}" for group in arg),
            "heal": lambda: "heal the partition",
            "network": lambda: "network: " + ", ".join(f"{k} {v}" for k, v in arg.items()),
            "links": lambda: f"messages from node-{arg['from']}: " + ", ".join(
                f"{k} {v}" for k, v in arg.items() if k not in ("from", "to")),
            "skew": lambda: f"skew node-{arg[0]}'s clock by {arg[1]} ms",
            "clear": lambda: "clear every network fault"}.get(kind, lambda: f"{kind} {arg}")()
    if "stand_in" in step and kind in ("stop", "crash", "recover", "partition", "links"):
        if "leader" not in step:  # planned: the node is decided when the episode begins
            what += f" [the leader then, in node-{step['stand_in']}'s place]"
        else:  # applied
            what += f" [node-{step['leader']} led]" if step["leader"] is not None else " [no leader found]"
    return f"at {step['at_s']:.1f} s: {what}"


def play(schedule: List[Dict[str, Any]], apply: Callable[[str, Any], None], stop: threading.Event,
         started: float, resolve: Optional[Callable[[Dict[str, Any]], Dict[str, Any]]] = None) -> List[Dict[str, Any]]:
    """Apply each planned fault at its time after `started` (time.monotonic()) until `stop` is set.

    `resolve` turns a planned step into the one to apply (chaos/leader.py: the leader in
    its stand-in's place). Returns the steps applied, each with what the controls said if
    one failed (a fault that cannot be applied is noted and the schedule goes on).
    """
    done = []
    for step in schedule:
        if stop.wait(max(0.0, started + step["at_s"] - time.monotonic())):
            break
        entry = dict(step)
        try:
            if resolve is not None:
                entry = resolve(step)
            apply(entry["kind"], entry["arg"])
        except Exception as error:  # noqa: BLE001 -- one failed fault must not end the run
            entry["error"] = f"{type(error).__name__}: {error}"[:300]
        done.append(entry)
    return done
