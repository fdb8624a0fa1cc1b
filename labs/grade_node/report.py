"""The grader's report for a course: a summary for the student, JUnit XML, Gradescope JSON, failing runs.

Files written to the output directory:
- `summary.txt`: what was run, each seed's verdict, and for a failing run the
  property it broke in words, the command that replays it, its faults and the
  smallest failing history found;
- `junit.xml`: one test case per seed (a `<failure>` names the property, an
  `<error>` says the run could not be carried out), for CI systems;
- `results.json`: Gradescope's autograder format (`tests[]` with name, score,
  max_score, output, status; the total `score`);
- `seed-N.json` for each failing run: its seed, nemesis schedule, replay
  command, findings and smallest failing history.
"""
from __future__ import annotations

import json
import os
import xml.etree.ElementTree as ET
from typing import Any, Dict, List

from chaos.nemesis import describe
from wording import plural

from .run import GradeSettings, RunResult

SHOWN_OPS = 40


def summary(settings: GradeSettings, results: List[RunResult]) -> str:
    """The text a student reads: each seed's verdict, and for a failure what broke and how to replay it."""
    passed = sum(r.passed for r in results)
    who = "ReplicaLab's own nodes" if settings.own_nodes else settings.node_cmd
    lines = [f"grade-node: {who}",
             f"workload {settings.workload}, {settings.nodes} nodes, {plural(len(results), 'run')} of "
             f"{settings.time_s:g} s, faults: {', '.join(settings.faults)}", ""]
    for r in results:
        lines.append(f"seed {r.seed}: {'PASS' if r.passed else 'FAIL'}  ({run_line(r)})")
        lines += [f"  {line}" for line in run_details(settings, r)]
    lines += ["", f"Score: {passed}/{len(results)} runs passed."]
    return "\n".join(lines) + "\n"


def run_line(r: RunResult) -> str:
    """Counts of one run: operations by outcome and faults applied."""
    c = r.counts
    return (f"{plural(sum(c.values()), 'operation')}: {c.get('ok', 0)} ok, {c.get('fail', 0)} fail, "
            f"{c.get('info', 0)} info; {plural(len(r.applied), 'fault')} in {r.seconds:.0f} s")


def run_details(settings: GradeSettings, r: RunResult) -> List[str]:
    """What a failing run shows: each broken property, the replay command, faults, smallest history."""
    lines = [f"note: {p}" for p in r.problems[:5]]
    if r.passed:
        return lines
    for finding in r.failed():
        lines.append(f"FAILED: {finding.property}: {finding.message}")
    lines.append(f"replay: {settings.replay_command(r.seed)}")
    if r.error:
        lines += ["the cluster's console said:"] + [f"  {line}" for line in r.log_tail]
        return lines
    applied = r.applied or r.schedule
    lines.append(f"faults ({len(applied)}): " + "; ".join(describe(s)[3:] for s in applied[:12])
                 + (" ..." if len(applied) > 12 else ""))
    for finding in r.failed():
        if finding.evidence:
            ops = len({e["index"] for e in finding.evidence})
            lines.append(f"smallest failing history found: {plural(ops, 'operation')} "
                         f"(from {finding.shrunk_from}) on key {finding.key!r}:")
            lines += [f"  {event_line(e)}" for e in finding.evidence[:2 * SHOWN_OPS]]
    return lines


def event_line(e: Dict[str, Any]) -> str:
    """One history event as a line: time, client, type, operation, key, value, node."""
    via = f" via node-{e['node']}" if "node" in e else ""
    extra = f" (error {e['code']})" if e.get("code") is not None else ""
    return (f"{e['time']:>10.1f} ms  {str(e['process']):<8} {e['type']:<6} {e['f']} {e['key']!r} "
            f"{json.dumps(e['value'])}{via}{extra}")


def junit_xml(settings: GradeSettings, results: List[RunResult]) -> str:
    """JUnit XML: one test case per seed; a failure names the broken property, an error a run not carried out."""
    suite = ET.Element("testsuite", name=f"grade-node {settings.workload}", tests=str(len(results)),
                       failures=str(sum(not r.passed and not r.error for r in results)),
                       errors=str(sum(r.error for r in results)),
                       time=f"{sum(r.seconds for r in results):.3f}")
    for r in results:
        case = ET.SubElement(suite, "testcase", classname=f"grade-node.{settings.workload}",
                             name=f"seed {r.seed}", time=f"{r.seconds:.3f}")
        if not r.passed:
            broken = r.failed()[0]
            element = ET.SubElement(case, "error" if r.error else "failure",
                                    message=f"{broken.property}: {broken.message}"[:500],
                                    type=broken.property)
            element.text = "\n".join(run_details(settings, r))
        ET.SubElement(case, "system-out").text = run_line(r)
    root = ET.Element("testsuites", name="grade-node")
    root.append(suite)
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def gradescope(settings: GradeSettings, results: List[RunResult]) -> Dict[str, Any]:
    """Gradescope's results.json: a test per seed worth one point, and the total."""
    tests = []
    for r in results:
        output = "\n".join([run_line(r)] + run_details(settings, r))
        tests.append({"name": f"{settings.workload}, seed {r.seed}", "score": 1 if r.passed else 0,
                      "max_score": 1, "status": "passed" if r.passed else "failed", "output": output})
    return {"score": sum(t["score"] for t in tests), "max_score": len(tests),
            "output": summary(settings, results), "tests": tests}


def failing_run(settings: GradeSettings, r: RunResult) -> Dict[str, Any]:
    """A failing run's file: seed, schedule, replay command, findings with the smallest failing history."""
    return {"seed": r.seed, "replay": settings.replay_command(r.seed), "workload": settings.workload,
            "node_cmd": settings.node_cmd, "nodes": settings.nodes, "time_s": settings.time_s,
            "schedule": r.schedule, "applied": r.applied, "schedule_text": [describe(s) for s in r.schedule],
            "findings": [f.to_dict() for f in r.findings], "counts": r.counts, "problems": r.problems,
            "cluster_log_tail": r.log_tail}


def write(settings: GradeSettings, results: List[RunResult], out_dir: str) -> List[str]:
    """Write summary.txt, junit.xml, results.json and seed-N.json per failing run; returns the paths."""
    os.makedirs(out_dir, exist_ok=True)
    files = {"summary.txt": summary(settings, results), "junit.xml": junit_xml(settings, results),
             "results.json": json.dumps(gradescope(settings, results), indent=1, ensure_ascii=False)}
    for r in results:
        if not r.passed:
            files[f"seed-{r.seed}.json"] = json.dumps(failing_run(settings, r), indent=1, ensure_ascii=False)
    paths = []
    for name, text in files.items():
        path = os.path.join(out_dir, name)
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(text)
        paths.append(path)
    return paths
