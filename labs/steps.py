"""What a lab is made of: steps (one HTTP request each) and their observations.

A step's path and body may be functions of the lab's context (the answers saved
by earlier steps), so a lab works whatever the ring places where. A step's
`check` asserts what the student is told to notice; `python -m labs check`
runs every check on a fresh in-process cluster.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, List, Optional, Union


class ObservationFailed(AssertionError):
    """A lab step did not show what its README promises."""


# While a list is set here, every observation that holds is appended to it (labs/teacher.py
# collects them to print a lab's expected observations).
observed: Optional[List[str]] = None


def expect(condition: bool, observation: str) -> None:
    """Assert one observation of a lab step, worded as the student would check it."""
    if not condition:
        raise ObservationFailed(observation)
    if observed is not None:
        observed.append(observation)


@dataclass
class Step:
    """One request of a lab, what it teaches, and the observation it must show."""

    title: str
    method: Optional[str]  # None (and no path) for a `join` step, which sends no request
    # A path or body function takes the context, and the item too when `each` repeats the step.
    path: Union[None, str, Callable[..., str]]
    body: Union[None, dict, Callable[..., Any]] = None
    explain: str = ""
    notice: str = ""
    status: int = 200
    save: Optional[str] = None
    check: Optional[Callable[[dict, dict], None]] = None
    each: Union[None, list, Callable[[dict], list]] = None  # repeat the request per item
    background: bool = False  # send it and move on while it waits (step mode); answer saved later
    join: Optional[str] = None  # no request: wait for the background step saved under this name
    headers: Optional[dict] = None  # e.g. {"X-Client-Id": "A"}: the client the history records
    # No request: the step runs a program instead (lab 12: a node through byon.smoke, a grade-node run)
    # and its answer is what `action(ctx)` returns (a dict with a "message").
    action: Optional[Callable[[dict], dict]] = None

    def notice_at(self, url: str) -> str:
        """The notice with `{url}` replaced by the URL of the server the run talks to."""
        return self.notice.replace("{url}", url)

    def items(self, ctx: dict) -> list:
        """The items this step repeats over ([None] for a single request)."""
        if self.each is None:
            return [None]
        return self.each(ctx) if callable(self.each) else list(self.each)

    def resolve(self, ctx: dict, item) -> tuple:
        """(method, path, body) for one request of this step."""
        def value(thing):
            """Call `thing` with the context (and item) if it is a function."""
            if not callable(thing):
                return thing
            return thing(ctx, item) if self.each is not None else thing(ctx)
        return self.method, value(self.path), value(self.body)


@dataclass
class Lab:
    """A numbered lab: its folder, title, settings for the check, and steps."""

    number: int
    title: str
    folder: str
    steps: List[Step]
    settings: dict = field(default_factory=dict)
    # What a live server needs beyond `settings` (checks always run with the scheduler off).
    server: dict = field(default_factory=dict)
    mode: str = "simulated"  # "real": the check runs on `python run.py cluster` (labs/real_client.py)
    runs_real: bool = False  # a simulated lab whose steps also hold on real processes (check N --real)

    def server_settings(self) -> dict:
        """The settings the README's `python run.py ...` line gives the server (besides --fresh)."""
        return {**self.settings, **self.server}
