"""The nemesis: faults injected at random moments of a chaos run, from its own seeded generator.

Every fault kind the cluster has except `wipe` (which destroys acknowledged
data by design): stop and crash a node, recover it, partition and heal,
drop, delay and duplicate messages network-wide, skew a clock. The nemesis
acts through the manager's own controls, exactly as the HTTP endpoints do.
"""
from __future__ import annotations

import random
from collections import Counter
from typing import Any, List, Tuple

KINDS = ("stop", "crash", "recover", "partition", "heal", "drop", "delay", "duplicate", "skew", "clear")


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
