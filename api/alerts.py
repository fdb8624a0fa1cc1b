"""Alert routes: rules, fired alerts, and the notifier with its circuit breaker."""
from __future__ import annotations

from typing import Any, Dict

from flask import Blueprint

from apps.alerts import CONDITIONS, describe_rule
from cluster.errors import BadRequest
from wording import plural

from .app_input import applications, check_id, check_number, require
from .common import admin_only, example, json_fields, success, with_story

bp = Blueprint("alerts", __name__)

RULE_EXAMPLE = '{"sensor": "floor-1", "above": 30}'
NOTIFIER_EXAMPLE = '{"fail_rate": 1.0, "delay_ms": 500, "dedupe": true}'


def alerts():
    """The Alerts application of the current app."""
    return applications().alerts


@bp.post("/alerts/rules")
@example(body=RULE_EXAMPLE + ', or "below": 10, or "anomaly": true')
def add_rule():
    """Add an alert rule on one sensor: above, below, or anomaly."""
    data = json_fields(("sensor",) + CONDITIONS, RULE_EXAMPLE)
    require(data, ("sensor",), RULE_EXAMPLE)
    given = [c for c in CONDITIONS if c in data]
    if len(given) != 1:
        raise BadRequest(f"A rule has exactly one condition: \"above\", \"below\" or \"anomaly\" (got "
                         f"{len(given)}), for example {RULE_EXAMPLE}.", field="condition")
    rule: Dict[str, Any] = {"sensor": check_id(data["sensor"], "rule", RULE_EXAMPLE, field="sensor")}
    if given[0] == "anomaly":
        if data["anomaly"] is not True:
            raise BadRequest("\"anomaly\" must be true (it flags readings over the threshold or the z-score "
                             "limit).", field="anomaly")
        rule["anomaly"] = True
    else:
        rule[given[0]] = check_number(data[given[0]], given[0])
    stored, story = with_story(alerts().add_rule, rule)
    return success(f"Rule {stored['id']}: alert when {describe_rule(stored)}.", 201, rule=stored, **story)


@bp.get("/alerts/rules")
def rules():
    """Every alert rule."""
    listing, story = with_story(alerts().rules)
    return success(f"{plural(len(listing), 'rule')}.", rules=listing, **story)


@bp.delete("/alerts/rules/<rule_id>")
@example(path="/alerts/rules/r1")
def delete_rule(rule_id):
    """Delete an alert rule (404 if unknown)."""
    removed, story = with_story(alerts().delete_rule, rule_id)
    return success(f"Rule {rule_id} ({describe_rule(removed)}) deleted.", rule=removed, **story)


@bp.get("/alerts")
def fired():
    """Fired alerts (one per crossing) with their outbox status and delivery attempts."""
    listing, story = with_story(alerts().fired)
    pending = sum(1 for a in listing if a["outbox"] and a["outbox"]["status"] == "pending")
    return success(f"{plural(len(listing), 'alert')} fired, {pending} waiting in the outbox.", alerts=listing, **story)


@bp.get("/alerts/notifier")
def notifier():
    """The notifier's injected faults and counters, and the circuit breaker's state."""
    return success("Notifier and circuit breaker.", **alerts().notifier_view())


@bp.post("/alerts/notifier")
@admin_only
@example(body=NOTIFIER_EXAMPLE)
def configure_notifier():
    """Inject notifier failures: fail_rate 0..1, delay_ms (slower than its timeout counts as failed), dedupe."""
    data = json_fields(("fail_rate", "delay_ms", "dedupe"), NOTIFIER_EXAMPLE)
    fail_rate = data.get("fail_rate", 0.0)
    if isinstance(fail_rate, bool) or not isinstance(fail_rate, (int, float)) or not 0 <= fail_rate <= 1:
        raise BadRequest(f"\"fail_rate\" must be a number from 0 to 1 (got {fail_rate!r}).", field="fail_rate")
    delay = data.get("delay_ms", 0)
    if isinstance(delay, bool) or not isinstance(delay, int) or not 0 <= delay <= 600_000:
        raise BadRequest(f"\"delay_ms\" must be a whole number from 0 to 600000 (got {delay!r}).", field="delay_ms")
    dedupe = data.get("dedupe", True)
    if not isinstance(dedupe, bool):
        raise BadRequest(f"\"dedupe\" must be true or false (got {dedupe!r}).", field="dedupe")
    app_alerts = alerts()

    def configure():
        """Change the notifier under the cluster lock (the outbox job may be sending)."""
        app_alerts.notifier.configure(float(fail_rate), delay, dedupe)
        app_alerts.store.narrate("notifier", f"notifier now fails {fail_rate:.0%} of calls, answers after "
                                 f"{delay} ms (the outbox gives up waiting after "
                                 f"{app_alerts.notifier.timeout_ms} ms) and {'drops' if dedupe else 'delivers'} "
                                 "repeated alert ids")
        return app_alerts.notifier_view()

    view, story = with_story(configure)
    return success(f"Notifier: fail_rate {fail_rate}, delay {delay} ms, dedupe {'on' if dedupe else 'off'}.",
                   **view, **story)
