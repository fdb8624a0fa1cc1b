"""What a chaos run proves: outcomes, lost acknowledged writes, stale reads, verdicts, convergence.

Each anomaly is named by the mechanism behind it, from what the run recorded
about the operations involved (versions, stand-in acks):

* **sloppy quorum**: the newer write was acknowledged by stand-ins, outside the
  replicas a later read asked;
* **LWW with skew**: an earlier write carries a later timestamp (a clock ran
  ahead, or the newer write's clock behind), so last-writer-wins keeps the old one;
* **stale replica read**: the read's quorum held only replicas that missed the
  newer write (a partition, dropped messages, a node that was down).
"""
from __future__ import annotations

import math
from collections import Counter
from typing import Any, Dict, List, Optional

from checker import check_history

SLOPPY, SKEW, STALE = "sloppy quorum", "LWW with skew", "stale replica read"
MUTATIONS = ("write", "delete")


def operations(events: List[dict], meta: Dict[int, dict]) -> List[dict]:
    """Pair invoke and completion events by index into operations with their run metadata."""
    invokes: Dict[int, dict] = {}
    ops = []
    for e in events:
        if e["type"] == "invoke":
            invokes[e["index"]] = e
            continue
        inv = invokes.pop(e["index"])
        ops.append({"index": e["index"], "process": e["process"], "f": e["f"], "key": e["key"],
                    "value": inv["value"], "output": e["value"], "type": e["type"],
                    "inv": inv["time"], "ret": math.inf if e["type"] == "info" else e["time"],
                    **meta.get(e["index"], {})})
    return ops


def outcomes(ops: List[dict]) -> Dict[str, Dict[str, int]]:
    """Counts of ok / fail / info per operation kind."""
    table: Dict[str, Counter] = {}
    for op in ops:
        table.setdefault(op["f"], Counter())[op["type"]] += 1
    return {f: dict(sorted(c.items())) for f, c in sorted(table.items())}


def _written(op: dict) -> Any:
    return None if op["f"] == "delete" else op["value"]


def _mechanism(older: dict, newer: dict) -> str:
    """Why `older`'s value was seen (or kept) although `newer` came after it in real time."""
    if newer.get("stand_ins"):
        return SLOPPY
    ov, nv = older.get("version"), newer.get("version")
    if ov and nv and ov > nv:
        return SKEW
    return STALE


def lost_writes(ops: List[dict], final: Dict[str, Any]) -> List[dict]:
    """Acknowledged writes never readable at the end although nothing could have overwritten them."""
    lost = []
    by_value = {op["value"]: op for op in ops if op["f"] == "write"}
    for key in sorted(final):
        muts = [op for op in ops if op["key"] == key and op["f"] in MUTATIONS and op["type"] != "fail"]
        top = sorted(muts, key=lambda op: op["ret"], reverse=True)[:2]
        for w in muts:
            if w["type"] != "ok":
                continue
            rival = next((m for m in top if m is not w), None)
            if rival is not None and rival["ret"] > w["inv"]:
                continue  # something may have been applied after it
            if final[key] != _written(w):
                winner = by_value.get(final[key])
                lost.append({"key": key, "f": w["f"], "value": _written(w), "acknowledged_at": w["ret"],
                             "final_value": final[key],
                             "mechanism": _mechanism(winner, w) if winner else STALE})
    return lost


def stale_reads(ops: List[dict]) -> List[dict]:
    """Reads that returned a value some acknowledged later write had already replaced."""
    found = []
    writer = {op["value"]: op for op in ops if op["f"] == "write"}
    for key in sorted({op["key"] for op in ops}):
        acked = sorted((op for op in ops if op["key"] == key and op["f"] in MUTATIONS and op["type"] == "ok"),
                       key=lambda op: op["ret"])
        reads = sorted((op for op in ops if op["key"] == key and op["f"] == "read" and op["type"] == "ok"),
                       key=lambda op: op["inv"])
        i, latest = 0, None  # latest: the acked mutation invoked last among those done before the read
        for r in reads:
            while i < len(acked) and acked[i]["ret"] < r["inv"]:
                if latest is None or acked[i]["inv"] > latest["inv"]:
                    latest = acked[i]
                i += 1
            if latest is None or _written(latest) == r["output"]:
                continue
            if r["output"] is None:  # absent: a delete (or nothing yet) may explain it
                deletes = [m for m in ops if m["key"] == key and m["f"] == "delete" and m["type"] != "fail"]
                if any(m["ret"] >= latest["inv"] and m["inv"] <= r["ret"] for m in deletes):
                    continue
                source = None
            else:
                source = writer.get(r["output"])
                if source is not None and source["ret"] >= latest["inv"]:
                    continue  # the value read may have been applied after `latest`
            found.append({"key": key, "read_by": r["process"], "at": r["inv"], "returned": r["output"],
                          "should_see_at_least": _written(latest), "after": latest["f"],
                          "mechanism": _mechanism(source, latest) if source else STALE})
    return found


def verdicts(events: List[dict], ops: List[dict], timeout: float) -> Dict[str, Any]:
    """The checker's verdict per key, the first violation explained and its mechanism named."""
    verdict = check_history(events, "store", timeout)
    data = verdict.to_dict()
    lookup = {(op["process"], op["inv"]): op for op in ops}
    explained = []
    for v in data["violations"]:
        blocking = v["unplaceable"][0]
        op = lookup.get((blocking["process"], blocking["invoke_time"]))
        mechanism = None
        if op is not None and op["f"] == "read":
            source = next((o for o in ops if o["f"] == "write" and o["value"] == op["output"]), None)
            prefix = v["linearizable_prefix"]
            newer = lookup.get((prefix[-1]["process"], prefix[-1]["invoke_time"])) if prefix else None
            mechanism = _mechanism(source, newer) if source and newer else STALE
        explained.append({"key": v["key"], "message": v["message"], "mechanism": mechanism})
    per_key = {str(k): "not linearizable" for k in (v["key"] for v in data["violations"])}
    per_key.update({str(k): "unknown (timeout)" for k in data["unknown_keys"]})
    return {"result": data["result"], "keys_checked": data["keys_checked"], "ops_checked": data["ops_checked"],
            "violations": explained, "per_key": per_key, "elapsed_ms": data["elapsed_ms"]}


def convergence(cluster, keys: List[str]) -> Dict[str, Any]:
    """Whether every replica of every key holds the same version, and no hint is left."""
    diverged = []
    final: Dict[str, Optional[Any]] = {}
    for key in keys:
        records = [cluster.nodes[n].store.get(key) for n in cluster.ring.preference_list(key)]
        versions = {None if r is None else str(r.version) for r in records}
        if len(versions) > 1:
            diverged.append({"key": key, "versions": sorted(versions, key=str)})
        best = max((r for r in records if r is not None), key=lambda r: r.version, default=None)
        final[key] = None if best is None or best.deleted else best.value
    hints = sum(len(n.hints) for n in cluster.nodes)
    return {"converged": not diverged and hints == 0, "diverged_keys": diverged, "hints_left": hints,
            "final": final}
