"""The nemesis: faults injected at random moments of a chaos run, from its own seeded generator.

Every fault kind the cluster has except `wipe` (which destroys acknowledged
data by design): stop and crash a node, recover it, partition and heal,
drop, delay and duplicate messages network-wide, skew a clock. The nemesis
acts through the manager's own controls, exactly as the HTTP endpoints do.
"""
from __future__ import annotations

import random
from collections import Counter
from typing import List

KINDS = ("stop", "crash", "recover", "partition", "heal", "drop", "delay", "duplicate", "skew", "clear")


class Nemesis:
    """Picks and applies one fault at a time; counts what it injected."""

    def __init__(self, cluster, seed: int, kinds=KINDS):
        self.cluster = cluster
        self.rng = random.Random(f"nemesis-{seed}")
        self.kinds = tuple(kinds)
        self.injected: Counter = Counter()
        self.log: List[dict] = []

    def _applicable(self) -> List[str]:
        """The kinds that change something now (no heal without a partition, ...)."""
        nodes = len(self.cluster.nodes)
        down = self.cluster.network.down
        net = self.cluster.network.faults
        skewed = any(n.skew_ms for n in self.cluster.nodes)
        can = {"stop": len(down) < nodes // 2, "crash": len(down) < nodes // 2, "recover": bool(down),
               "partition": net.partition is None, "heal": net.partition is not None,
               "drop": True, "delay": True, "duplicate": True, "skew": True,
               "clear": skewed or net.network.active()}
        return [k for k in self.kinds if can.get(k)]

    def act(self) -> None:
        """Apply one randomly chosen fault (or its repair) now."""
        choices = self._applicable()
        if not choices:
            return
        kind = self.rng.choice(choices)
        nodes = len(self.cluster.nodes)
        down = sorted(self.cluster.network.down)
        faults = self.cluster.faults
        if kind in ("stop", "crash"):
            self.cluster.fail(self.rng.choice([n for n in range(nodes) if n not in down]), kind)
        elif kind == "recover":
            self.cluster.recover(self.rng.choice(down))
        elif kind == "partition":
            order = list(range(nodes))
            self.rng.shuffle(order)
            cut = self.rng.randint(1, nodes - 1)
            faults.partition([sorted(order[:cut]), sorted(order[cut:])])
        elif kind == "heal":
            faults.heal()
        elif kind in ("drop", "delay", "duplicate"):
            settings = {"drop": {"drop_rate": round(self.rng.uniform(0.05, 0.3), 2)},
                        "delay": {"delay_ms": [0, self.rng.choice([20, 80, 200])]},
                        "duplicate": {"duplicate_rate": round(self.rng.uniform(0.05, 0.3), 2)}}[kind]
            faults.set_network(settings)
        elif kind == "skew":
            faults.set_skew(self.rng.randrange(nodes), self.rng.choice([-1, 1]) * self.rng.choice([50, 500, 5000]))
        elif kind == "clear":
            faults.clear_faults()
        self.injected[kind] += 1
        self.log.append({"time": self.cluster.clock.now(), "fault": kind})

    def heal_everything(self) -> None:
        """End of the run: no partition, no network fault, no skew, every node recovered."""
        self.cluster.faults.clear_faults()
        for node in sorted(self.cluster.network.down):
            self.cluster.recover(node)
        nodes = len(self.cluster.nodes)
        for _ in range(nodes - 1):  # N-1 rounds cover every pair of nodes
            self.cluster.jobs.anti_entropy_round(self.cluster.clock.now())
        self.cluster.jobs.retry_hints(self.cluster.clock.now())
        self.cluster.settle()
