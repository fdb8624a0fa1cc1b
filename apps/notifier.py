"""A simulated notifier (think: an SMS gateway) whose failures are injectable.

It is outside the store, as a real one would be. Each call may fail
(`fail_rate`, drawn from its own seeded generator) or be slow (`delay_ms` of
cluster time): a call slower than the sender's timeout counts as failed for
the sender, although the notification did go out — the classic source of
duplicates on retry. With `dedupe` on, it remembers alert ids and delivers
each id at most once; with it off, every call that gets through is delivered.
"""
from __future__ import annotations

import bisect
import random
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import List, Tuple

DEDUPE_WINDOW = 10_000  # alert ids remembered for at-most-once delivery
KEEP_DELIVERED = 500  # deliveries listed by GET /alerts/notifier


@dataclass
class Notifier:
    """The notifier's settings and what it has received and delivered."""

    fail_rate: float = 0.0
    delay_ms: int = 0
    dedupe: bool = True
    timeout_ms: int = 1000
    seed: int = 0
    calls: int = 0
    failed_calls: int = 0
    duplicates_suppressed: int = 0
    delivered: List[dict] = field(default_factory=list)  # the latest KEEP_DELIVERED deliveries, by time `at`
    # alert id -> deliveries, for the latest DEDUPE_WINDOW ids: like a real notification service,
    # it remembers ids for a while, not for ever (a class server runs for hours).
    _counts: OrderedDict[str, int] = field(default_factory=OrderedDict)

    def __post_init__(self):
        self.rng = random.Random(self.seed)

    def send(self, alert: dict, now: int) -> Tuple[bool, str]:
        """Deliver one alert; returns (acknowledged in time, what happened)."""
        self.calls += 1
        if self.fail_rate and self.rng.random() < self.fail_rate:
            self.failed_calls += 1
            return False, "the notifier failed (HTTP 500); nothing was sent"
        if self.dedupe and alert["id"] in self._counts:
            self.duplicates_suppressed += 1
            what = f"already delivered {alert['id']}: duplicate suppressed"
        else:
            self._counts[alert["id"]] = self._counts.pop(alert["id"], 0) + 1
            if len(self._counts) > DEDUPE_WINDOW:
                self._counts.popitem(last=False)
            # A slow call lands delay_ms after it was made, possibly after a later (faster) retry
            # landed: keep the list in delivery order, and say when each call was made.
            bisect.insort(self.delivered, {"id": alert["id"], "called_at": now, "at": now + self.delay_ms,
                                           "text": alert["text"]}, key=lambda item: item["at"])
            del self.delivered[:-KEEP_DELIVERED]
            what = f"delivered {alert['id']}"
        if self.delay_ms > self.timeout_ms:
            return False, f"no answer within {self.timeout_ms} ms (it took {self.delay_ms} ms), yet it {what}"
        return True, what

    def configure(self, fail_rate: float, delay_ms: int, dedupe: bool) -> None:
        """Change the injected faults."""
        self.fail_rate, self.delay_ms, self.dedupe = fail_rate, delay_ms, dedupe

    def view(self) -> dict:
        """Settings and counters; how many times each alert id was delivered."""
        shown = {item["id"] for item in self.delivered}
        counts = {alert_id: n for alert_id, n in self._counts.items() if alert_id in shown}
        return {"fail_rate": self.fail_rate, "delay_ms": self.delay_ms, "dedupe": self.dedupe,
                "timeout_ms": self.timeout_ms, "calls": self.calls, "failed_calls": self.failed_calls,
                "duplicates_suppressed": self.duplicates_suppressed, "delivered": self.delivered,
                "deliveries_per_alert": counts}
