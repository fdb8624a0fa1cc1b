"""Sensor routes: post readings (one or a batch), statistics per sensor."""
from __future__ import annotations

import json

from flask import Blueprint

from cluster.errors import BadRequest
from wording import plural

from .app_input import applications, check_id, check_number, require
from .common import example, json_body, reject_unknown_fields, success, with_story

bp = Blueprint("sensors", __name__)

READING_EXAMPLE = '{"sensor": "floor-1", "value": 12.5}'
BATCH_EXAMPLE = '{"readings": [{"sensor": "floor-1", "value": 12.5, "at": 1000}]}'
MAX_BATCH = 1000
MAX_AT_MS = 2 ** 53  # as far as a JavaScript client can count, and far past any clock


def check_reading(data, example_body: str) -> dict:
    """One reading: sensor id, numeric value, optional whole non-negative `at` (ms)."""
    if not isinstance(data, dict):
        raise BadRequest(f"A reading is a JSON object, for example {READING_EXAMPLE}.")
    reject_unknown_fields(data, ("sensor", "value", "at"), example_body)
    require(data, ("sensor", "value"), example_body)
    reading = {"sensor": check_id(data["sensor"], "reading", example_body, field="sensor"),
               "value": check_number(data["value"], "value")}
    if data.get("at") is not None:
        at = data["at"]
        if isinstance(at, bool) or not isinstance(at, int) or not 0 <= at <= MAX_AT_MS:
            raise BadRequest(f"\"at\" must be a whole number of milliseconds from 0 to {MAX_AT_MS} "
                             f"(got {json.dumps(at)}).", field="at")
        reading["at"] = at
    return reading


@bp.post("/sensors/readings")
@example(body=READING_EXAMPLE + ' (optional "at" in ms), or ' + BATCH_EXAMPLE)
def post_readings():
    """Store readings in the replicated store; 503 (retry) when a sensor's quorum is lost."""
    data = json_body(READING_EXAMPLE)
    if "readings" in data:
        reject_unknown_fields(data, ("readings",), BATCH_EXAMPLE)
        items = data["readings"]
        if not isinstance(items, list) or not 1 <= len(items) <= MAX_BATCH:
            raise BadRequest(f"\"readings\" must be a list of 1 to {MAX_BATCH} readings, for example "
                             f"{BATCH_EXAMPLE}.", field="readings")
        readings = [check_reading(item, BATCH_EXAMPLE) for item in items]
    else:
        readings = [check_reading(data, READING_EXAMPLE)]
    result, story = with_story(applications().sensors.record, readings)
    added = sum(s["added"] for s in result["stored"].values())
    ignored = sum(s["duplicates_ignored"] for s in result["stored"].values())
    message = (f"Stored {plural(added, 'new reading')} for {plural(len(result['stored']), 'sensor')}; each sensor's "
               "window was chosen by a majority of its key's replicas." if added else
               "Stored nothing new: every reading was already there.")
    if ignored:
        message += (f" {plural(ignored, 'reading')} ignored as duplicates (a sensor's reading is identified by its "
                    "time, so a retry never counts twice).")
    return success(message, 201 if added else 200, **result, **story)


@bp.get("/sensors")
def sensors():
    """Every sensor: count, min, max, mean, standard deviation, last reading, anomalies."""
    listing, story = with_story(applications().sensors.all_stats)
    return success(f"{plural(len(listing), 'sensor')}.", sensors=listing, **story)


@bp.get("/sensors/<sensor_id>")
@example(path="/sensors/floor-1")
def sensor(sensor_id):
    """One sensor's statistics over its rolling window, and the anomalies flagged."""
    stats, story = with_story(applications().sensors.stats, sensor_id)
    return success(f"{sensor_id}: {plural(stats['count'], 'reading')} in the window, "
                   f"{plural(len(stats['anomalies']), 'anomaly')}.", **stats, **story)
