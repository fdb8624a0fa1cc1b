"""Teacher's mode: a lab's expected observations and model answers, a student's report, its grade.

`answers N` runs the lab's check on a fresh in-process cluster and prints, per
step, every observation that held, then the README's questions with the model
answers of labs/<folder>/answers.md. `report N --url` records what the student
did — their server's scenario, every state-changing request they sent — and
their answers to the questions, into a JSON file; it sends no lab request
itself. `grade FILE` replays the student's requests and checks each step on
that replay (labs/grading.py): a step the student did not do fails.
"""
from __future__ import annotations

import datetime
import os
import re
from typing import List, Optional, Tuple

from config import ConfigError
from wording import agrees, plural

from . import grading, runner, steps
from .replay import read_json
from .steps import Lab

REPORT_FORMAT = "replicalab_lab_report"
REPORT_VERSION = 2  # 1 ran the lab itself: refused


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
            lines.append(f"  notice: {step.notice_at(runner.DISPLAY_URL)}")
    lines += ["", "Questions and model answers:"]
    for number, (question, answer) in enumerate(zip(readme_questions(lab), model_answers(lab)), 1):
        lines += [f"Q{number}. {question}", f"A{number}. {answer}", ""]
    return "\n".join(lines)


def record(lab: Lab, client, student: Optional[str] = None, answers: Optional[List[str]] = None) -> dict:
    """What the student did and answered: their server's scenario (never a run of ours) and their answers."""
    status, config = client.request("GET", "/config")
    server = (config or {}).get("config") if status == 200 else None
    status, scenario = client.request("GET", "/scenario")
    if status != 200 or not isinstance(scenario, dict) or "requests" not in scenario:
        raise ReportError(f"{client.url} did not answer GET /scenario (HTTP {status}); the report needs the "
                          "server's record of the student's requests")
    questions = readme_questions(lab)
    given = list(answers or [])
    return {"format": REPORT_FORMAT, "version": REPORT_VERSION, "lab": lab.number, "title": lab.title,
            "student": student, "url": client.url,
            "recorded_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "server_config": server,
            "missing_flags": runner.missing_flags(lab, server) if server else None,
            "scenario": scenario,
            "questions": [{"question": question, "answer": (given[i].strip() or None) if i < len(given) else None}
                          for i, question in enumerate(questions)]}


def load_report(path: str) -> dict:
    """Read a report file, or raise ReportError with a sentence that says what is wrong with it."""
    data = read_json(path, ReportError, " (was it cut short while copying?)")
    if not isinstance(data, dict) or data.get("format") != REPORT_FORMAT:
        raise ReportError(f"{path} is not a lab report (make one with `python -m labs report N --url URL`)")
    if data.get("version") != REPORT_VERSION:
        raise ReportError(f"{path} was made by an older `labs report`, which ran the lab itself instead of "
                          "recording what the student did: record it again from the student's server")
    if not isinstance(data.get("lab"), int):
        raise ReportError(f"{path} has no lab number")
    scenario = data.get("scenario")
    if not isinstance(scenario, dict) or not isinstance(scenario.get("requests"), list) \
            or not isinstance(scenario.get("settings"), dict):
        raise ReportError(f"{path} is incomplete: its scenario (the student's requests and the server's "
                          "settings) is missing or cut short")
    if not isinstance(data.get("questions"), list):
        raise ReportError(f"{path} is incomplete: it has no questions list")
    return data


def grade(data: dict) -> Tuple[Lab, List[grading.StepGrade]]:
    """Replay the student's run and check each step of the lab on it (labs/grading.py)."""
    lab = runner.find(data["lab"])
    try:
        return lab, grading.grade_run(lab, data["scenario"])
    except ConfigError as error:
        raise ReportError(f"the report's server settings cannot be replayed: {error}") from None


def grade_text(data: dict) -> Tuple[bool, str]:
    """(every step done and as expected, the grade as an instructor reads it, answers beside model answers)."""
    lab, grades = grade(data)
    scenario = data["scenario"]
    lines = [f"Lab {lab.number} ({lab.title}), recorded {data.get('recorded_at', '?')} from "
             f"{data.get('url', '?')}" + (f" by {data['student']}" if data.get("student") else ""),
             f"the student's server recorded {plural(len(scenario['requests']), 'request')}; "
             "each step is checked on a replay of them"]
    if data.get("missing_flags"):
        lines.append(f"note: the server lacked {' '.join(data['missing_flags'])}, so some steps may differ "
                     "from the README for that reason")
    if not scenario.get("started_empty", True):
        lines.append("note: the server did not start empty (no --fresh); its earlier data is not in the replay")
    if scenario.get("requests_complete") is False:
        lines.append("note: the server's record was full, so only the student's first requests are replayed")
    for g in grades:
        verdict = {grading.VIEW: "ok (not recorded by the server: sent to the replay)",
                   grading.NOT_DONE: "NOT DONE"}.get(
            g.kind, "ok") if g.failure is None or g.kind == grading.NOT_DONE else "FAILED"
        lines.append(f"step {g.number} {verdict}: {g.title}" + (f" ({g.failure})" if g.failure else ""))
    done, counted, views = grading.summary(grades)
    lines.append(f"{done} of {counted} steps done by the student show what the lab expects"
                 + (f"; {plural(views, 'other step')} (views and requests the server does not record) "
                    f"{agrees(views, 'holds', 'hold')} on the replay" if views else ""))
    lines += answers_lines(lab, data["questions"])
    return all(g.ok for g in grades), "\n".join(lines)


def answers_lines(lab: Lab, questions: List[dict]) -> List[str]:
    """The student's answers beside the model answers, and how many are missing."""
    models = model_answers(lab)
    answered = [q for q in questions if isinstance(q, dict) and q.get("answer")]
    lines = ["", f"Answers: {len(answered)} of {plural(len(questions), 'question')} answered"]
    for number, item in enumerate(questions, 1):
        item = item if isinstance(item, dict) else {}
        lines += [f"Q{number}. {item.get('question', '?')}", f"  student: {item.get('answer') or '(no answer)'}"]
        if number <= len(models):
            lines.append(f"  model:   {models[number - 1]}")
    return lines


def read_answers(path: str, lab: Lab) -> List[str]:
    """The student's answers from a file: a numbered Markdown list in the questions' order."""
    try:
        with open(path, encoding="utf-8") as handle:
            items = numbered_items(handle.read())
    except OSError as error:
        raise ReportError(f"cannot read {path}: {error.strerror or error}") from None
    if not items:
        raise ReportError(f"{path} has no numbered answers (write them as 1. ..., 2. ..., one per question)")
    return items


def ask_answers(lab: Lab, ask=input) -> List[str]:
    """Ask the student each of the README's questions; an empty line leaves one unanswered."""
    return [ask(f"Q{number}. {question}\nYour answer: ") for number, question in
            enumerate(readme_questions(lab), 1)]
