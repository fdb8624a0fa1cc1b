"""Grading a lab report: what the student did, replayed, checked step by step.

A report holds the student's own run — the scenario their server recorded
(every state-changing request, in order) — and their answers to the README's
questions. Grading replays that run on a fresh in-process cluster with the same
seed and settings, and walks the lab's steps over it: a step the student did
(its request is in their record) is checked on the answer the replay gives; a
step they did not do fails, whatever the lab would have shown; a view (a GET the
server does not record, such as GET /nodes/4 or DELETE /history) is sent to the
replay at that point and counted apart, since nothing shows whether the student
sent it.
Nothing in the report is trusted but the student's requests.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import List, Optional, Tuple

from app import create_app
from config import simulation_config

from . import runner
from .replay import _submit, replay_config
from .steps import Lab, ObservationFailed, Step

DONE, VIEW, NOT_DONE = "done", "view", "not done"


@dataclass
class StepGrade:
    """One step's grade: done / view / not done, and the failure if it did not show what the lab expects."""

    number: int
    title: str
    kind: str
    failure: Optional[str] = None

    @property
    def ok(self) -> bool:
        """True when the step was done (or is a view) and showed what the lab expects."""
        return self.kind != NOT_DONE and self.failure is None


class Replay:
    """The student's recorded requests, replayed on demand on a fresh cluster, in their order."""

    def __init__(self, scenario: dict):
        self.app = create_app(replay_config(scenario))
        self.client = runner.InProcessClient(app=self.app)
        self.requests = list(scenario.get("requests") or [])
        self.cursor = 0  # the student's requests before it are replayed

    def find(self, wanted: List[tuple]) -> Optional[List[int]]:
        """Where the student sent each wanted (method, path, body), in order from the cursor; None if one is missing."""
        found, start = [], self.cursor
        for method, path, body in wanted:
            index = next((i for i in range(start, len(self.requests)) if same(self.requests[i], method, path, body)),
                         None)
            if index is None:
                return None
            found.append(index)
            start = index + 1
        return found

    def replay_until(self, found: List[int]) -> None:
        """Replay the student's other requests up to the last found one (which the step itself sends)."""
        manager = self.app.extensions["replicalab"]
        statuses: List[int] = []
        for index in range(self.cursor, found[-1] + 1):
            if index in found:
                continue
            entry = self.requests[index]
            if "job" in entry:
                self.app.extensions["replicalab_scheduler"].run(entry["job"])
            else:
                _submit(self.app, manager, entry, statuses)
        self.cursor = found[-1] + 1


def same(entry: dict, method: str, path: str, body) -> bool:
    """Does a recorded request match the lab's (method, path, body)? Bodies compare as JSON values."""
    return (entry.get("method") == method and entry.get("path") == path
            and json.dumps(entry.get("body"), sort_keys=True) == json.dumps(body, sort_keys=True))


def is_recorded(probe, step: Step, wanted: List[tuple]) -> bool:
    """Would the server record this step's request(s)? Asked of a scratch cluster, never the replay.

    Views (GET /nodes/4) and requests that leave the cluster as it is (DELETE /history)
    are not in a scenario; everything that changes the cluster is.
    """
    if step.background:
        return True
    manager = probe.extensions["replicalab"]
    before = len(manager.scenario.requests)
    for method, path, body in wanted:
        probe.test_client().open(path, method=method, data=json.dumps(body) if body is not None else None)
        if manager.network.paused:  # a paused scratch cluster would make the next probe wait
            manager.steps.resume()
    return len(manager.scenario.requests) > before


def grade_run(lab: Lab, scenario: dict) -> List[StepGrade]:
    """Walk the lab's steps over the student's replayed run."""
    replay = Replay(scenario)
    probe = create_app(simulation_config(**lab.settings))
    ctx: dict = {}
    grades = []
    for number, step in enumerate(lab.steps, 1):
        grades.append(grade_step(number, step, ctx, replay, probe))
    return grades


def grade_step(number: int, step: Step, ctx: dict, replay: Replay, probe) -> StepGrade:
    """One step: find it in the student's record, replay up to it, check what it showed."""
    grade = StepGrade(number, step.title, DONE)
    try:
        if step.join:  # no request of its own: the answer of a background step the student sent
            if step.join not in ctx.get("_background", {}):
                grade.kind, grade.failure = NOT_DONE, f"the {step.join} request was never sent"
                return grade
            runner.verify(step, ctx, runner.perform(replay.client, step, ctx))
            return grade
        wanted = [step.resolve(ctx, item) for item in step.items(ctx)]
        if not is_recorded(probe, step, wanted):
            grade.kind = VIEW
            runner.verify(step, ctx, runner.perform(replay.client, step, ctx))
            return grade
        found = replay.find(wanted)
        if found is None:
            missing = " and ".join(f"{method} {path}" for method, path, _ in wanted)
            grade.kind, grade.failure = NOT_DONE, f"the server's record has no {missing}"
            return grade
        replay.replay_until(found)
        runner.verify(step, ctx, runner.perform(replay.client, step, ctx))
    except (ObservationFailed, LookupError, TypeError, AttributeError, ValueError, StopIteration) as error:
        grade.failure = failure_text(error)
    return grade


def failure_text(error: Exception) -> str:
    """A failure as a sentence: the observation, or what an earlier step should have provided."""
    if isinstance(error, ObservationFailed):
        return str(error).rstrip(". ")
    return f"it depends on an earlier step that was not done or went otherwise ({type(error).__name__}: {error})"


def summary(grades: List[StepGrade]) -> Tuple[int, int, int]:
    """(steps done that showed what the lab expects, steps that are not views, views that held)."""
    done = sum(1 for g in grades if g.kind == DONE and g.ok)
    counted = sum(1 for g in grades if g.kind != VIEW)
    views = sum(1 for g in grades if g.kind == VIEW and g.ok)
    return done, counted, views
