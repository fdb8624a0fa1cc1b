"""The chaos report: one dict (for --json and the tests) and its text rendering."""
from __future__ import annotations

from collections import Counter
from dataclasses import asdict
from typing import Any, Dict

from wording import agrees, plural

from . import analysis
from .run import ChaosRun, ChaosSettings

EXAMPLES = 5  # anomalies listed by example; all are counted


def build_report(settings: ChaosSettings) -> Dict[str, Any]:
    """Run the chaos in process and analyse it."""
    run = ChaosRun(settings)
    timing = run.run()
    state = analysis.convergence(run.cluster, run.keys)
    return analyse(settings, run.history.complete_events(), run.meta, run.nemesis.injected, state,
                   run.cluster.clock.now(), timing["elapsed_s"])


def analyse(settings, events, meta, injected, state, simulated_ms, elapsed_s) -> Dict[str, Any]:
    """The report of a finished run: outcomes, faults, anomalies by mechanism, verdicts, convergence."""
    ops = analysis.operations(events, meta)
    client_ops = [op for op in ops if not op.get("final")]
    state = dict(state)
    final = state.pop("final")
    lost = analysis.lost_writes(client_ops, final)
    stale = analysis.stale_reads(ops)
    verdicts = analysis.verdicts(events, ops, settings.check_timeout_s)
    mechanisms = Counter(a["mechanism"] for a in lost + stale)
    mechanisms.update(v["mechanism"] for v in verdicts["violations"] if v["mechanism"])
    return {"settings": {k: v for k, v in asdict(settings).items() if k != "check_timeout_s"},
            "ops": len(client_ops), "outcomes": analysis.outcomes(client_ops),
            "faults": dict(sorted(injected.items())), "faults_total": sum(injected.values()),
            "lost_acked_writes": len(lost), "lost_writes": lost[:EXAMPLES],
            "stale_reads": len(stale), "stale_read_examples": stale[:EXAMPLES],
            "anomalies_by_mechanism": dict(sorted(mechanisms.items())),
            "violations": len(verdicts["violations"]), "linearizability": verdicts,
            "converged": state["converged"], "convergence": state,
            "simulated_ms": simulated_ms, "elapsed_s": round(elapsed_s, 2)}


def render(report: Dict[str, Any]) -> str:
    """The report as text for a terminal."""
    s = report["settings"]
    lines = [f"chaos: {report['ops']} ops, {s['clients']} clients, seed {s['seed']}, consistency "
             f"{s['consistency']}, durability {s['durability']}, {s['keys']} keys",
             f"  took {report['elapsed_s']} s of real time"
             + (f", {report['simulated_ms']} ms simulated" if report["simulated_ms"] is not None else ""),
             "operations by outcome (ok = happened, fail = did not, info = unknown):"]
    for f, counts in report["outcomes"].items():
        lines.append(f"  {f:<7} " + "  ".join(f"{k} {v}" for k, v in counts.items()))
    lines.append(f"faults injected: {report['faults_total']}  "
                 + ", ".join(f"{k} {v}" for k, v in report["faults"].items()))
    lines.append(f"acknowledged writes lost: {report['lost_acked_writes']}")
    lines += [lost_write_line(w) for w in report["lost_writes"]]
    lines.append(f"stale reads: {report['stale_reads']}")
    lines += [stale_read_line(r) for r in report["stale_read_examples"]]
    if report["anomalies_by_mechanism"]:
        lines.append("anomalies by mechanism: " + ", ".join(f"{k} {v}" for k, v in
                                                            report["anomalies_by_mechanism"].items()))
    lin = report["linearizability"]
    lines.append(f"linearizability ({plural(lin['ops_checked'], 'op')} on {plural(lin['keys_checked'], 'key')} "
                 f"checked in {lin['elapsed_ms'] / 1000:.2f} s): {lin['result']}")
    for key, verdict in sorted(lin["per_key"].items()):
        lines.append(f"  key {key}: {verdict}")
    for v in lin["violations"][:EXAMPLES]:
        why = f" [{v['mechanism']}]" if v["mechanism"] else ""
        lines.append(f"  first violation on {v['key']}{why}: {v['message']}")
    conv = report["convergence"]
    lines.append(f"converged after healing: {'yes' if report['converged'] else 'no'}"
                 + (f" ({plural(len(conv.get('diverged_keys', [])), 'key')} "
                    f"{agrees(len(conv.get('diverged_keys', [])), 'differs', 'differ')}, "
                    f"{plural(conv.get('hints_left') or 0, 'hint')} left)"
                    if report["converged"] is False else ""))
    return "\n".join(lines)


def _mutation(key: str, f, value) -> str:
    """An acknowledged operation as a sentence's subject: "the delete of k" or "k='v'"."""
    return f"the delete of {key}" if f == "delete" else f"{key}={value!r}"


def _state(value) -> str:
    """A key's observed value as words: "as 'v'", or "absent" (a delete or nothing yet)."""
    return "absent" if value is None else f"as {value!r}"


def lost_write_line(w: dict) -> str:
    """One lost acknowledged write (or delete) as the report prints it."""
    return (f"  {_mutation(w['key'], w.get('f'), w['value'])} acknowledged at {w['acknowledged_at']} ms, "
            f"but the key ends {_state(w['final_value'])}: {w['mechanism']}")


def stale_read_line(r: dict) -> str:
    """One stale read as the report prints it."""
    return (f"  client {r['read_by']} read {r['key']} {_state(r['returned'])} at {r['at']} ms after "
            f"{_mutation(r['key'], r.get('after'), r['should_see_at_least'])} was acknowledged: "
            f"{r['mechanism']}")
