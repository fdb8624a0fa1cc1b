"""What the grader checks in a run's history, in words a student understands, and the shrinker.

- lin-kv: the history is linearizable (the checker's `store` model: a read sees
  the last write or cas before it, whatever order the concurrent ones take).
- eventual-kv: after the faults heal, no acknowledged write is lost (a key's
  final value is never a write that finished before another acknowledged write
  of that key began) and every node returns the same value for each key.
- both: the cluster answers: some operation is acknowledged during the run, and
  every node answers a read of every key once the faults are healed.

A failing property comes with its evidence: the smallest history found by
dropping operations while the property still fails (`shrink`), within a time budget.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Tuple

from checker import check_history
from wording import plural

LINEARIZABLE = "linearizable"
NO_LOST_WRITE = "no acknowledged write lost"
CONVERGED = "replicas converged"
ANSWERS = "the cluster answers"
CHECK_TIMEOUT_S = 20.0


@dataclass
class Finding:
    """One property of one run: held or not, a sentence, and the evidence (history events) if not."""

    property: str
    ok: bool
    message: str
    key: Optional[str] = None
    evidence: List[dict] = field(default_factory=list)
    shrunk_from: int = 0  # operations in the history before shrinking

    def to_dict(self) -> dict:
        """JSON form for the report."""
        return {"property": self.property, "ok": self.ok, "message": self.message, "key": self.key,
                "smallest_failing_history": self.evidence, "shrunk_from_ops": self.shrunk_from}


def linearizable(events: List[dict], timeout_s: float = CHECK_TIMEOUT_S) -> Finding:
    """lin-kv: is there one order of the operations, each inside its interval, that a single copy explains?"""
    verdict = check_history(events, "store", timeout=timeout_s)
    if verdict.linearizable:
        return Finding(LINEARIZABLE, True, f"The history of {plural(verdict.ops_checked, 'operation')} is "
                                           "linearizable.")
    if verdict.linearizable is None:
        return Finding(LINEARIZABLE, True, f"The checker ran out of its {timeout_s:g} s budget on "
                                           f"{plural(len(verdict.unknown_keys), 'key')}: not proven either way "
                                           "(no violation found).")
    violation = verdict.violations[0]
    return Finding(LINEARIZABLE, False, "Not linearizable: no single order of the operations explains what the "
                                        f"clients saw on key {violation.key!r}. {violation.message}",
                   key=str(violation.key), evidence=[e for e in events if e["key"] == violation.key])


def still_not_linearizable(events: List[dict]) -> bool:
    """The shrinker's test for lin-kv: the checker still finds a violation (a short budget: small histories).

    A candidate must keep the write of every value its reads saw and its cas
    operations compared with: a read of a value nobody wrote is a violation too,
    but it teaches nothing.
    """
    return self_contained(events) and check_history(events, "store", timeout=2.0).linearizable is False


def self_contained(events: List[dict]) -> bool:
    """Every value an ok read returned, or an ok cas compared with, was written (by a write or a cas) here."""
    written = set()
    for e in events:
        if e["type"] == "invoke" and e["f"] == "write":
            written.add(repr(e["value"]))
        elif e["type"] == "invoke" and e["f"] == "cas" and isinstance(e["value"], list):
            written.add(repr(e["value"][-1]))
    seen = [e["value"] for e in events if e["type"] == "ok" and e["f"] == "read"]
    seen += [e["value"][0] for e in events if e["type"] == "ok" and e["f"] == "cas" and isinstance(e["value"], list)]
    return all(repr(value) in written for value in seen if value is not None)


def lost_writes(events: List[dict], final: Dict[str, Dict[str, Any]]) -> List[Tuple[str, str]]:
    """(key, sentence) for each acknowledged write the final values lost (eventual-kv), empty if none."""
    ops = operations(events)
    lost = []
    for key, by_node in final.items():
        writes = [op for op in ops if op["f"] == "write" and op["key"] == key and not op.get("final")]
        acked = [op for op in writes if op["type"] == "ok"]
        for node, value in sorted(by_node.items()):
            if value is None:
                if acked:
                    lost.append((key, f"{node} returns nothing for {key!r}, but the write of "
                                      f"{acked[-1]['value']!r} was acknowledged"))
                continue
            source = next((op for op in writes if op["value"] == value), None)
            if source is None:
                lost.append((key, f"{node} returns {value!r} for {key!r}, a value no client wrote"))
                continue
            if source["type"] != "ok":
                continue  # it may have taken effect at any time: nothing it can be said to overwrite
            later = [op for op in acked if op["invoke_time"] > source["time"]]
            if later:
                lost.append((key, f"{node} returns {value!r} for {key!r}, but the write of {later[-1]['value']!r} "
                                  "began after that write was acknowledged and was acknowledged too: it is lost"))
    return lost


def operations(events: List[dict]) -> List[dict]:
    """Each completed operation once: its completion event with the invocation's time and value added."""
    invokes = {e["index"]: e for e in events if e["type"] == "invoke"}
    ops = []
    for e in events:
        if e["type"] != "invoke" and e["index"] in invokes:
            inv = invokes[e["index"]]
            ops.append({**e, "value": inv["value"] if e["f"] != "read" else e["value"], "invoke_time": inv["time"],
                        "final": str(e["process"]).startswith("final")})
    return ops


def no_lost_write(events: List[dict], final: Dict[str, Dict[str, Any]]) -> Finding:
    """eventual-kv: every acknowledged write survives the faults (the final values overwrite none)."""
    lost = lost_writes(events, final)
    if not lost:
        return Finding(NO_LOST_WRITE, True, "No acknowledged write was lost: every final value is the last "
                                            "write of its key that could be.")
    key, first = lost[0]
    return Finding(NO_LOST_WRITE, False, f"An acknowledged write was lost after the faults healed: {first}"
                   + (f" (and {plural(len(lost) - 1, 'more case')})." if len(lost) > 1 else "."),
                   key=key, evidence=[e for e in events if e["key"] == key])


def converged(final: Dict[str, Dict[str, Any]]) -> Finding:
    """eventual-kv: after the heal every node returns the same value for each key."""
    for key, by_node in final.items():
        values = {repr(v) for v in by_node.values()}
        if len(values) > 1:
            shown = ", ".join(f"{node}: {value!r}" for node, value in sorted(by_node.items()))
            return Finding(CONVERGED, False, f"The replicas did not converge after the faults healed: key "
                                             f"{key!r} reads differently on different nodes ({shown}).", key=key)
    return Finding(CONVERGED, True, "Every node returns the same value for every key after the heal.")


def answers(events: List[dict], final: Dict[str, Dict[str, Any]], nodes: int) -> Finding:
    """Both workloads: something was acknowledged, and after the heal every node answers a read of every key."""
    ops = operations(events)
    if not any(op["type"] == "ok" and not op["final"] for op in ops):
        said = list(dict.fromkeys(str(op.get("said") or op.get("error") or f"HTTP {op.get('http')}")
                                  for op in ops if op["type"] != "ok"))[:2]
        return Finding(ANSWERS, False, f"No operation was acknowledged in the whole run ({plural(len(ops), 'request')}"
                                       f" sent). What came back: {' / '.join(said) or 'nothing'}. Does the node "
                                       "answer read, write and cas (try `python -m byon.smoke CMD`)?")
    silent = sorted({f"node-{n}" for n in range(nodes) for by in final.values() if f"node-{n}" not in by})
    if silent:
        return Finding(ANSWERS, False, f"After the faults healed and the cluster settled, {', '.join(silent)} did "
                                       f"not answer a read of every key: a node must serve again once its "
                                       "network is back.")
    return Finding(ANSWERS, True, "Operations were acknowledged, and every node answered after the heal.")


def shrink(events: List[dict], still_fails: Callable[[List[dict]], bool], budget_s: float = 10.0) -> List[dict]:
    """The smallest history found by dropping operations (delta debugging) while `still_fails` holds.

    Drops halves, then quarters, ... then single operations (an operation is its
    invocation and completion, which share an `index`); stops when no single
    operation can go or the budget is spent, and returns the best found so far.
    """
    deadline = time.monotonic() + budget_s
    order = list(dict.fromkeys(e["index"] for e in events))
    keep = list(order)
    chunk = max(1, len(keep) // 2)
    while chunk >= 1 and time.monotonic() < deadline:
        dropped_any, start = False, 0
        while start < len(keep) and time.monotonic() < deadline:
            trial = keep[:start] + keep[start + chunk:]
            if trial and still_fails(_only(events, trial)):
                keep, dropped_any = trial, True
            else:
                start += chunk
        if not dropped_any:
            if chunk == 1:
                break
            chunk //= 2
    return _only(events, keep)


def _only(events: List[dict], indexes: List[int]) -> List[dict]:
    wanted = set(indexes)
    return [e for e in events if e["index"] in wanted]
