"""Alerts: rules over sensor readings, fired once per crossing, sent through an outbox.

State in the store:
- `alert:rule:<id>`: {"id", "sensor", "above" | "below" | "anomaly"}; ids come from `alert:rule-seq`
- `alert:state:<rule>`: {"last_at", "active"}: the newest reading evaluated, and whether the condition held
- `alert:fired:<alert id>`: the alert (id = "<rule>-<reading time>", so re-evaluating a reading
  names the same alert and cannot fire it twice)
- `alert:outbox:<alert id>`: {"status": pending | delivered, "attempts", "last_error"}

The rules job fires an alert when a rule's condition becomes true (one per
crossing, not one per reading) and puts it in the outbox, both with CAS on
absent keys. The outbox job sends pending alerts to the notifier through the
circuit breaker and retries them until one call is acknowledged. The notifier
delivers each alert id at most once; retried until acknowledged, the effect is
exactly once.
"""
from __future__ import annotations

import contextlib
from typing import List, Optional

from cluster.errors import Conflict, NoQuorum, NotFound
from wording import agrees, plural

from .breaker import CircuitBreaker
from .client import StoreClient
from .notifier import Notifier
from .sensors import Sensors, anomaly, window_stats

RULE, SEQ, STATE, FIRED, OUTBOX = "alert:rule:", "alert:rule-seq", "alert:state:", "alert:fired:", "alert:outbox:"
CONDITIONS = ("above", "below", "anomaly")
RULE_FIELDS, STATE_FIELDS = ("id", "sensor"), ("last_at", "active")
FIRED_FIELDS, OUTBOX_FIELDS = ("id", "text"), ("id", "status", "attempts")


def describe_rule(rule: dict) -> str:
    """'floor-1 above 30' / 'floor-1 anomaly'."""
    if "anomaly" in rule:
        return f"{rule['sensor']} anomaly"
    name = "above" if "above" in rule else "below"
    return f"{rule['sensor']} {name} {rule[name]}"


class Alerts:
    """Alert rules, fired alerts, the outbox, the breaker and the notifier."""

    def __init__(self, store: StoreClient, sensors: Sensors, breaker: CircuitBreaker, notifier: Notifier):
        self.store = store
        self.sensors = sensors
        self.breaker = breaker
        self.notifier = notifier

    # --- rules --------------------------------------------------------------------

    def add_rule(self, rule: dict) -> dict:
        """Store a rule under the next id r1, r2, ... (the counter is claimed with CAS)."""
        with self.store.lock:
            for _ in range(5):
                seq = self.store.read(SEQ)
                number = (seq.value if seq and isinstance(seq.value, int) else 0) + 1
                try:
                    self.store.cas(SEQ, seq.version if seq else None, number)
                    break
                except Conflict:
                    continue
            else:
                raise Conflict("Another client kept taking the next rule id; retry.")
            stored = {"id": f"r{number}", **rule}
            self.store.write(RULE + stored["id"], stored)
            return stored

    def rules(self) -> List[dict]:
        """Every rule."""
        with self.store.lock:
            return [e.value for e in self.store.read_prefix(RULE, RULE_FIELDS)]

    def delete_rule(self, rule_id: str) -> dict:
        """Delete a rule (404 if there is none)."""
        with self.store.lock:
            found = self.store.read(RULE + rule_id, RULE_FIELDS)
            if found is None:
                raise NotFound(f"There is no alert rule {rule_id!r}; GET /alerts/rules lists them.",
                               rule_id=rule_id)
            self.store.delete(RULE + rule_id)
            return found.value

    # --- evaluation (the rules job) --------------------------------------------------

    def evaluate(self, now: int) -> dict:
        """Evaluate every rule on the readings it has not seen; fire on each crossing.

        The rules are found through the key index and evaluated SLICE_RECORDS per lock hold.
        """
        fired, errors, slices = [], [], 0
        for keys in self.store.in_slices(self.store.keys(RULE)):
            slices += 1
            for key in keys:
                found = self.store.read(key, RULE_FIELDS)
                if found is None:
                    continue
                rule = found.value
                try:
                    fired.extend(self._evaluate(rule, now))
                except (NoQuorum, Conflict) as error:
                    errors.append({"rule": rule["id"], "error": error.code, "why": error.message})
        return {"now": now, "fired": fired, "errors": errors, "slices": slices}

    def _evaluate(self, rule: dict, now: int) -> List[str]:
        value = self.sensors.readings(rule["sensor"])
        if value is None:
            return []
        state = self.store.read(STATE + rule["id"], STATE_FIELDS)
        last_at, active = (state.value["last_at"], state.value["active"]) if state else (None, False)
        stats = window_stats(value["readings"], self.sensors.threshold, self.sensors.z_limit)
        fired = []
        for reading in value["readings"]:
            if last_at is not None and reading["at"] <= last_at:
                continue
            holds = self._holds(rule, reading, stats)
            if holds and not active:
                fired.append(self._fire(rule, reading, now))
            active, last_at = holds, reading["at"]
        if last_at is not None:
            # CAS on the state: two evaluators racing cannot both move past the same readings.
            self.store.cas(STATE + rule["id"], state.version if state else None, {"last_at": last_at, "active": active})
        return fired

    def _holds(self, rule: dict, reading: dict, stats: dict) -> bool:
        if "above" in rule:
            return reading["value"] > rule["above"]
        if "below" in rule:
            return reading["value"] < rule["below"]
        return anomaly(reading, stats["mean"], stats["std"], self.sensors.threshold, self.sensors.z_limit) is not None

    def _fire(self, rule: dict, reading: dict, now: int) -> str:
        alert_id = f"{rule['id']}-{reading['at']}"
        alert = {"id": alert_id, "rule": rule["id"], "sensor": rule["sensor"], "value": reading["value"],
                 "reading_at": reading["at"], "fired_at": now,
                 "text": f"{describe_rule(rule)}: {reading['value']} at {reading['at']}"}
        # Each put is a CAS on an absent key: re-evaluating the same crossing finds it there (409) and
        # moves on, so an evaluation retried after a failure halfway fires the alert once.
        created = False
        for key, value in ((FIRED + alert_id, alert),
                           (OUTBOX + alert_id, {"id": alert_id, "status": "pending", "attempts": 0,
                                                "last_error": None})):
            with contextlib.suppress(Conflict):
                self.store.cas(key, None, value)
                created = True
        if created:
            self.store.narrate("alert_fired", f"alert {alert_id} fired ({alert['text']}); it waits in the "
                               "outbox for the notifier", FIRED + alert_id)
        return alert_id

    # --- the outbox (the delivery job) ---------------------------------------------------

    def deliver(self, now: int) -> dict:
        """Send every pending alert through the breaker; retry failed ones on the next run.

        The outbox is found through the key index and handled SLICE_RECORDS entries per lock hold.
        """
        sent: List[dict] = []
        failed: List[dict] = []
        held: List[str] = []
        slices = 0
        for keys in self.store.in_slices(self.store.keys(OUTBOX)):
            slices += 1
            for key in keys:
                entry = self.store.read(key, OUTBOX_FIELDS)
                if entry is None or entry.value["status"] != "pending":
                    continue
                item = entry.value
                seen = self.breaker.moves
                allowed = self.breaker.allow(now)
                self._narrate_breaker(seen)
                if not allowed:
                    held.append(item["id"])
                    continue
                alert = self.store.read(FIRED + item["id"], FIRED_FIELDS)
                ok, what = self.notifier.send(alert.value if alert else {"id": item["id"], "text": ""}, now)
                seen = self.breaker.moves
                (self.breaker.success if ok else self.breaker.failure)(now)
                self.store.narrate("notifier_call", f"outbox: alert {item['id']} attempt {item['attempts'] + 1}: "
                                   f"{what}" + ("" if ok else "; it stays in the outbox for a retry"),
                                   OUTBOX + item["id"])
                self._narrate_breaker(seen)
                update = {**item, "attempts": item["attempts"] + 1, "last_error": None if ok else what,
                          "status": "delivered" if ok else "pending"}
                self.store.write(OUTBOX + item["id"], update)
                (sent if ok else failed).append({"id": item["id"], "attempt": update["attempts"], "result": what})
        if held:
            self.store.narrate("breaker_held", f"outbox: the circuit breaker is {self.breaker.state}, so "
                               f"{plural(len(held), 'alert')} {agrees(len(held), 'waits', 'wait')} "
                               f"without calling the notifier: {', '.join(held)}")
        return {"now": now, "sent": sent, "failed": failed, "held_by_breaker": held,
                "breaker": self.breaker.state, "slices": slices}

    def _narrate_breaker(self, seen: int) -> None:
        """One console line per breaker transition since the `seen`-th."""
        new = self.breaker.moves - seen
        for move in (self.breaker.transitions[-new:] if new else []):
            self.store.narrate("breaker", f"circuit breaker {move['from']} -> {move['to']}: {move['why']}")

    def fired(self) -> List[dict]:
        """Every fired alert with its outbox status and attempts."""
        with self.store.lock:
            outbox = {e.value["id"]: e.value for e in self.store.read_prefix(OUTBOX, OUTBOX_FIELDS)}
            return [{**e.value, "outbox": outbox.get(e.value["id"])}
                    for e in self.store.read_prefix(FIRED, FIRED_FIELDS)]

    def notifier_view(self, now: Optional[int] = None) -> dict:
        """The notifier's settings and counters, and the breaker's state."""
        with self.store.lock:  # the outbox job changes both while it sends
            now = self.store.now if now is None else now
            return {"notifier": self.notifier.view(), "breaker": self.breaker.view(now)}
