"""Teacher's mode: a lab's expected observations and model answers, a student's report, its grade.

`answers N` runs the lab's check on a fresh in-process cluster and prints, per
step, every observation that held, then the README's questions with the model
answers of labs/<folder>/answers.md. `report N --url` runs the lab against a
student's own server and records what it showed at each step into a JSON file;
`grade FILE` replays the lab's checks over the recorded answers (never trusting
the verdicts written in the file).
"""
from __future__ import annotations

import datetime
import os
import re
from typing import List, Optional, Tuple

from . import runner, steps
from .replay import read_json
from .steps import Lab, ObservationFailed

REPORT_FORMAT = "replicalab_lab_report"
REPORT_VERSION = 1


class ReportError(ValueError):
    """A report file that cannot be graded; the message says why."""


def numbered_items(text: str) -> List[str]:
    """The items of a numbered Markdown list, each joined onto one line."""
    items: List[str] = []
    for line in text.splitlines():
        start = re.match(r"^\d+\. (.*)$", line)
        if start:
            items.append(start.group(1).strip())
        elif items and line.startswith("   ") and line.strip():
            items[-1] += " " + line.strip()
    return items


def _read(lab: Lab, name: str) -> str:
    with open(os.path.join(runner.LAB_DIR, lab.folder, name), encoding="utf-8") as handle:
        return handle.read()


def readme_questions(lab: Lab) -> List[str]:
    """The questions of the lab's README, in order."""
    return numbered_items(_read(lab, "README.md").split("## Questions", 1)[1])


def model_answers(lab: Lab) -> List[str]:
    """The model answers of labs/<folder>/answers.md, in the questions' order."""
    return numbered_items(_read(lab, "answers.md"))


def expected_observations(lab: Lab) -> List[List[str]]:
    """For each step, the observations its check asserts, as they held on a fresh cluster."""
    client = runner.lab_client(lab)
    ctx: dict = {}
    per_step = []
    try:
        for step in lab.steps:
            steps.observed = []
            try:
                runner.run_step(client, step, ctx)
                per_step.append(steps.observed)
            finally:
                steps.observed = None
    finally:
        getattr(client, "close", lambda: None)()
    return per_step


def answers_text(lab: Lab) -> str:
    """What an instructor prepares a class with: expected observations, then model answers."""
    lines = [f"=== Lab {lab.number}: {lab.title} — what each step shows, and model answers ===",
             f"(server: {runner.server_command(lab)}; README: labs/{lab.folder}/README.md)", ""]
    for number, (step, seen) in enumerate(zip(lab.steps, expected_observations(lab)), 1):
        lines.append(f"Step {number}: {step.title}")
        lines += [f"  expect: {observation}" for observation in seen]
        if step.notice:
            lines.append(f"  notice: {step.notice}")
    lines += ["", "Questions and model answers:"]
    for number, (question, answer) in enumerate(zip(readme_questions(lab), model_answers(lab)), 1):
        lines += [f"Q{number}. {question}", f"A{number}. {answer}", ""]
    return "\n".join(lines)


def record(lab: Lab, client, student: Optional[str] = None) -> dict:
    """Run every step against the student's server and record what it answered (a report)."""
    status, config = client.request("GET", "/config")
    server = (config or {}).get("config") if status == 200 else None
    ctx: dict = {}
    recorded = []
    for number, step in enumerate(lab.steps, 1):
        entry: dict = {"step": number, "title": step.title}
        try:
            outcome = runner.perform(client, step, ctx)
        except (ObservationFailed, KeyError, IndexError, TypeError) as error:
            # A step that depends on an earlier one that went wrong cannot even be sent.
            entry["error"] = f"not run: {error_text(error)}"
            recorded.append(entry)
            continue
        entry.update({key: outcome[key] for key in ("requests", "statuses", "answers", "background")
                      if key in outcome})
        try:
            runner.verify(step, ctx, outcome)
            entry["verdict"] = "ok"
        except (ObservationFailed, KeyError, IndexError, TypeError) as error:
            entry["verdict"] = f"failed: {error_text(error)}"
        recorded.append(entry)
    return {"format": REPORT_FORMAT, "version": REPORT_VERSION, "lab": lab.number, "title": lab.title,
            "student": student, "url": client.url,
            "recorded_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "server_config": server,
            "missing_flags": runner.missing_flags(lab, server) if server else None,
            "steps": recorded}


def error_text(error: Exception) -> str:
    """A failure as a sentence: the observation, or what was missing from an answer."""
    if isinstance(error, ObservationFailed):
        return str(error).rstrip(". ")
    return f"an earlier answer lacked what this step needs ({type(error).__name__}: {error})"


def load_report(path: str) -> dict:
    """Read a report file, or raise ReportError with a sentence."""
    data = read_json(path, ReportError)
    if not isinstance(data, dict) or data.get("format") != REPORT_FORMAT:
        raise ReportError(f"{path} is not a lab report (make one with `python -m labs report N --url URL`)")
    if not isinstance(data.get("steps"), list) or not isinstance(data.get("lab"), int):
        raise ReportError(f"{path} has no lab number or no steps")
    return data


def grade(data: dict) -> Tuple[Lab, List[Tuple[int, str, Optional[str]]]]:
    """Check a report's recorded answers with the lab's checks: (lab, [(step, title, failure or None)])."""
    lab = runner.find(data["lab"])
    if len(data["steps"]) != len(lab.steps):
        raise ReportError(f"the report has {len(data['steps'])} steps, lab {lab.number} has {len(lab.steps)}: "
                          "it was recorded by another version of the lab")
    ctx: dict = {}
    results: List[Tuple[int, str, Optional[str]]] = []
    for number, (step, entry) in enumerate(zip(lab.steps, data["steps"]), 1):
        failure: Optional[str] = None
        if not isinstance(entry, dict):
            failure = "the report's entry for this step is not an object"
        elif "error" in entry:
            failure = str(entry["error"])
        else:
            outcome = {"requests": entry.get("requests") or [], "statuses": entry.get("statuses") or [],
                       "answers": entry.get("answers") or [], "background": bool(entry.get("background"))}
            try:
                if not outcome["background"] and not outcome["answers"]:
                    raise ObservationFailed("the report has no answer for this step")
                runner.verify(step, ctx, outcome)
            except (ObservationFailed, KeyError, IndexError, TypeError, AttributeError) as error:
                failure = error_text(error)
        results.append((number, step.title, failure))
    return lab, results


def grade_text(data: dict) -> Tuple[bool, str]:
    """(all steps hold, the grade as an instructor reads it)."""
    lab, results = grade(data)
    lines = [f"Lab {lab.number} ({lab.title}), recorded {data.get('recorded_at', '?')} from "
             f"{data.get('url', '?')}" + (f" by {data['student']}" if data.get("student") else "")]
    if data.get("missing_flags"):
        lines.append(f"note: the server lacked {' '.join(data['missing_flags'])}, so some steps may differ "
                     "from the README for that reason")
    for number, title, failure in results:
        lines.append(f"step {number} {'ok' if failure is None else 'FAILED'}: {title}"
                     + (f" ({failure})" if failure else ""))
    passed = sum(1 for *_, failure in results if failure is None)
    lines.append(f"{passed} of {len(results)} steps show what the lab expects")
    return passed == len(results), "\n".join(lines)
