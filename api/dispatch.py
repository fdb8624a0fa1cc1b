"""Dispatch routes: drones, deliveries, assignment (CAS or read-then-write), audit."""
from __future__ import annotations

from flask import Blueprint, request

from apps.dispatch import CLAIMS
from cluster.errors import BadRequest
from wording import agrees, plural

from .app_input import applications, check_id, check_number, check_point, require
from .common import coordinator_param, example, json_body, json_fields, reject_unknown_fields, success, with_story

bp = Blueprint("dispatch", __name__)

DRONE_EXAMPLE = '{"id": "d1", "x": 0, "y": 0}'
DELIVERY_EXAMPLE = '{"id": "p1", "pickup": [3, 4], "dropoff": [10, 0]}'
ASSIGN_EXAMPLE = '{"claim": "cas", "delivery": "p1", "coordinator": 2}'


def dispatch():
    """The Dispatch application of the current app."""
    return applications().dispatch


@bp.post("/dispatch/drones")
@example(body=DRONE_EXAMPLE)
def add_drone():
    """Register an idle drone at a position (stored with CAS: 409 if the id exists)."""
    data = json_fields(("id", "x", "y"), DRONE_EXAMPLE)
    require(data, ("id", "x", "y"), DRONE_EXAMPLE)
    drone_id = check_id(data["id"], "drone", DRONE_EXAMPLE)
    drone, story = with_story(dispatch().add_drone, drone_id, check_number(data["x"], "x"),
                              check_number(data["y"], "y"))
    return success(f"Drone {drone_id} is idle at ({drone['x']}, {drone['y']}).", 201, drone=drone, **story)


@bp.get("/dispatch/drones")
def drones():
    """Every drone: position, status, the delivery it serves, its version."""
    listing, story = with_story(dispatch().drones)
    return success(f"{plural(len(listing), 'drone')}.", drones=listing, **story)


@bp.post("/dispatch/deliveries")
@example(body=DELIVERY_EXAMPLE + "; header Idempotency-Key: <key> makes a retry safe")
def create_delivery():
    """Create a waiting delivery; an Idempotency-Key header makes retries return the first answer."""
    data = json_fields(("id", "pickup", "dropoff"), DELIVERY_EXAMPLE)
    require(data, ("id", "pickup", "dropoff"), DELIVERY_EXAMPLE)
    body = {"id": check_id(data["id"], "delivery", DELIVERY_EXAMPLE),
            "pickup": check_point(data["pickup"], "pickup"), "dropoff": check_point(data["dropoff"], "dropoff")}
    key = request.headers.get("Idempotency-Key")
    if key is not None and not 1 <= len(key) <= 128:
        raise BadRequest("The Idempotency-Key header must be 1 to 128 characters.", field="Idempotency-Key")
    (answer, replayed), story = with_story(dispatch().create_delivery, body, key)
    if replayed:
        return success(f"Delivery {body['id']} was already created with Idempotency-Key {key!r}: this is the "
                       "first answer again, and nothing new was created.", 201, delivery=answer,
                       idempotent_replay=True, **story)
    return success(f"Delivery {body['id']} is waiting for a drone.", 201, delivery=answer,
                   idempotent_replay=False, **story)


@bp.get("/dispatch/deliveries")
def deliveries():
    """Every delivery: status, the drone assigned, its version."""
    listing, story = with_story(dispatch().deliveries)
    return success(f"{plural(len(listing), 'delivery')}.", deliveries=listing, **story)


@bp.get("/dispatch/deliveries/<delivery_id>")
@example(path="/dispatch/deliveries/p1")
def delivery(delivery_id):
    """One delivery (404 if unknown)."""
    found, story = with_story(dispatch().delivery, delivery_id)
    return success(f"Delivery {delivery_id} is {found['status']}.", delivery=found, **story)


@bp.post("/dispatch/deliveries/<delivery_id>/complete")
def complete(delivery_id):
    """Mark a delivery delivered and free its drone (409 if not assigned or already delivered)."""
    done, story = with_story(dispatch().complete, delivery_id)
    return success(f"Delivery {delivery_id} delivered; drone {done['drone']} "
                   f"{'is idle again' if done['drone_freed'] else 'was not freed (it serves another delivery)'}.",
                   delivery=done, **story)


@bp.post("/dispatch/assign")
@example(body=ASSIGN_EXAMPLE + " (all optional); ?claim=read-write works too")
def assign():
    """Assign idle drones to waiting deliveries, nearest first, claiming each drone with CAS (or read-write)."""
    data = json_body(ASSIGN_EXAMPLE) if request.get_data(cache=True).strip() else {}
    reject_unknown_fields(data, ("claim", "delivery", "coordinator"), ASSIGN_EXAMPLE)
    claim = data.get("claim", request.args.get("claim"))
    if claim is not None and claim not in CLAIMS:
        raise BadRequest(f"\"claim\" must be one of {', '.join(CLAIMS)} (got {claim!r}).", field="claim")
    only = data.get("delivery")
    if only is not None:
        check_id(only, "delivery", ASSIGN_EXAMPLE)
    result, story = with_story(dispatch().assign, claim, only, coordinator_param(data))
    if result["assigned"]:
        message = (f"Assigned {plural(len(result['assigned']), 'delivery')} with {result['claim']} claims"
                   + (f"; {plural(len(result['failed']), 'claim')} failed" if result["failed"] else "") + ".")
    elif result["waiting_left"] == 0:
        message = "Nothing to assign: no delivery is waiting."
    else:
        message = (f"Nothing assigned: {plural(result['waiting_left'], 'delivery')} "
                   f"{agrees(result['waiting_left'], 'waits', 'wait')}, but no drone is idle "
                   "(GET /dispatch/drones shows what each one is doing).")
    return success(message, **result, **story)


@bp.get("/dispatch/audit")
def audit():
    """Drones held by two deliveries and deliveries claimed twice: proof of double booking."""
    result, story = with_story(dispatch().audit)
    verdict = ("no double booking" if result["ok"] else
               f"{plural(len(result['double_booked_drones']), 'drone')} double-booked, "
               f"{plural(len(result['deliveries_assigned_twice']), 'delivery')} assigned twice")
    return success(f"Audit: {verdict}.", **result, **story)
