"""The leader as the nemesis sees it from outside: the node that sent the most node-to-node messages lately.

The grader's nemesis knows nothing of a student's protocol, but leaders talk the
most: they send heartbeats, copies of each change and the answers to forwarded
requests. So the node with the most `message_sent` events between nodes in the
last second of the cluster's event log is taken for the leader (Jepsen's nemesis
targets "primaries" in the same spirit). A plan marks the steps of an episode
that hits the leader with its number and a stand-in node drawn by the seed
(chaos/nemesis.py); `LeaderTargets` swaps the stand-in and the leader found when
the episode begins in each of its steps, and records whom it found.
"""
from __future__ import annotations

from typing import Any, Callable, Dict, Iterable, List, Optional, Set

WINDOW_MS = 1000  # "lately": messages sent in the last second of the event log


def node_number(name: Any) -> Optional[int]:
    """3 for "node-3" (or 3), None for a client ("c1") or anything else."""
    if isinstance(name, int) and not isinstance(name, bool):
        return name
    if isinstance(name, str) and name.startswith("node-") and name[5:].isdigit():
        return int(name[5:])
    return None


def sender_counts(events: Iterable[dict], window_ms: int = WINDOW_MS) -> Dict[int, int]:
    """Node-to-node messages sent per node in the last `window_ms` of the events' own time."""
    sent = [e for e in events if e.get("type") == "message_sent" and len(e.get("nodes") or ()) == 2]
    if not sent:
        return {}
    newest = max(e.get("time_ms", 0) for e in sent)
    counts: Dict[int, int] = {}
    for event in sent:
        src, dst = (node_number(n) for n in event["nodes"])
        if src is not None and dst is not None and event.get("time_ms", 0) >= newest - window_ms:
            counts[src] = counts.get(src, 0) + 1
    return counts


def busiest(counts: Dict[int, int], down: Iterable[int] = ()) -> Optional[int]:
    """The node with the most messages, not down (the lowest id on a tie); None if none sent any."""
    skip = set(down)
    candidates = [(-count, node) for node, count in counts.items() if count > 0 and node not in skip]
    return min(candidates)[1] if candidates else None


def swap_nodes(arg: Any, swap: Dict[int, int]) -> Any:
    """`arg` with every node id exchanged through `swap` (node ids are the ints of a step's argument)."""
    if isinstance(arg, bool) or not swap:
        return arg
    if isinstance(arg, int):
        return swap.get(arg, arg)
    if isinstance(arg, list):
        return sorted(swap_nodes(a, swap) for a in arg) if all(isinstance(a, int) for a in arg) \
            else [swap_nodes(a, swap) for a in arg]
    if isinstance(arg, dict):
        return {k: swap_nodes(v, swap) if k in ("from", "to") else v for k, v in arg.items()}
    return arg


class LeaderTargets:
    """Turns planned steps into the steps to apply: the leader in place of the stand-in of its episode.

    `find(down)` returns the leader now (None if no node is found), given the nodes this
    nemesis has taken down and not yet recovered.
    """

    def __init__(self, find: Callable[[Set[int]], Optional[int]]):
        self.find = find
        self.down: Set[int] = set()
        self.episode: Optional[int] = None
        self.leader: Optional[int] = None
        self.swap: Dict[int, int] = {}

    def resolve(self, step: Dict[str, Any]) -> Dict[str, Any]:
        """The step to apply: for a leader episode, its nodes swapped and `leader` recorded; others unchanged."""
        entry = dict(step)
        if "stand_in" in step:
            if step.get("episode") != self.episode:  # the episode's first step: find the leader now
                self.episode, stand_in = step.get("episode"), step["stand_in"]
                self.leader = self.find(set(self.down))
                self.swap = {} if self.leader in (None, stand_in) else \
                    {stand_in: self.leader, self.leader: stand_in}
            entry["arg"] = swap_nodes(step["arg"], self.swap)
            entry["leader"] = self.leader
        self.track(entry)
        return entry

    def track(self, entry: Dict[str, Any]) -> None:
        """Remember which nodes this nemesis took down (the leader is found among the others)."""
        if entry["kind"] in ("crash", "stop"):
            self.down.add(entry["arg"])
        elif entry["kind"] == "recover":
            self.down.discard(entry["arg"])


def find_in_events(recent_events: Callable[[], List[dict]]) -> Callable[[Set[int]], Optional[int]]:
    """A `find` for LeaderTargets that reads the cluster's latest events (an empty list if it cannot)."""
    def find(down: Set[int]) -> Optional[int]:
        return busiest(sender_counts(recent_events()), down)
    return find
