"""A circuit breaker: stop calling a failing service, try again after a cooldown.

closed --N consecutive failures--> open --cooldown--> half-open
half-open --one trial succeeds--> closed;  --it fails--> open again.
Time is the cluster clock, passed in by the caller, so a test or a student
moves it with POST /tick instead of waiting.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import List, Optional

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half-open"
KEEP_TRANSITIONS = 50  # a server runs for hours; the latest transitions tell the story


@dataclass
class CircuitBreaker:
    """State and counters of one breaker."""

    failure_threshold: int = 3
    cooldown_ms: int = 5000
    state: str = CLOSED
    consecutive_failures: int = 0
    opened_at: Optional[int] = None
    trial_running: bool = False
    calls: int = 0
    successes: int = 0
    failures: int = 0
    rejected: int = 0
    transitions: List[dict] = field(default_factory=list)  # the latest KEEP_TRANSITIONS
    moves: int = 0  # transitions ever made (the list keeps only the latest)

    def allow(self, now: int) -> bool:
        """May a call go out now? An open breaker turns half-open once the cooldown is over."""
        if self.state == OPEN and self.opened_at is not None and now - self.opened_at >= self.cooldown_ms:
            self._move(HALF_OPEN, now, f"cooldown of {self.cooldown_ms} ms is over: one trial call")
        if self.state == OPEN or (self.state == HALF_OPEN and self.trial_running):
            self.rejected += 1
            return False
        self.trial_running = self.state == HALF_OPEN
        self.calls += 1
        return True

    def success(self, now: int) -> None:
        """The call worked: a half-open breaker closes; failures are forgotten."""
        self.successes += 1
        self.consecutive_failures = 0
        self.trial_running = False
        if self.state != CLOSED:
            self._move(CLOSED, now, "the trial call succeeded")

    def failure(self, now: int) -> None:
        """The call failed: after `failure_threshold` in a row, or a failed trial, the breaker opens."""
        self.failures += 1
        self.consecutive_failures += 1
        self.trial_running = False
        if self.state == HALF_OPEN:
            self._move(OPEN, now, "the trial call failed")
        elif self.state == CLOSED and self.consecutive_failures >= self.failure_threshold:
            self._move(OPEN, now, f"{self.consecutive_failures} consecutive failures")

    def _move(self, state: str, now: int, why: str) -> None:
        self.transitions.append({"at": now, "from": self.state, "to": state, "why": why})
        del self.transitions[:-KEEP_TRANSITIONS]
        self.moves += 1
        self.state = state
        if state == OPEN:
            self.opened_at = now

    def view(self, now: int) -> dict:
        """State, counters and transitions, with the time left before a half-open trial."""
        data = asdict(self)
        # The time until an open breaker lets one trial call through (turns half-open), not until it opens.
        data["half_open_in_ms"] = (max(0, self.cooldown_ms - (now - self.opened_at))
                               if self.state == OPEN and self.opened_at is not None else None)
        return data
