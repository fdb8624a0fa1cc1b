"""Dispatch: drones, deliveries, and a claim that must not book one drone twice.

State in the store (through StoreClient only):
- `drone:<id>`: {"id", "x", "y", "status": idle|busy, "delivery", "target"}
- `delivery:<id>`: {"id", "pickup", "dropoff", "status": waiting|assigned|picked_up|delivered, "drone"}
- `assignment:<delivery>:<drone>:<claim version>`: one record per successful claim (the audit trail)
- `idempotency:deliveries:<key>`: the request and first answer of a delivery creation

Assignment claims a drone either with CAS (expected = the version read: a
second claim from the same read fails) or, for lab 7, with the naive
read-then-write, which two dispatchers on opposite sides of a partition can
both "win".
"""
from __future__ import annotations

import json
import math
from typing import Any, Dict, List, Optional, Tuple

from cluster.errors import Conflict, NoQuorum, NotFound, ReplicaLabError, Unprocessable

from .client import Entry, StoreClient

DRONE, DELIVERY, ASSIGNMENT, IDEMPOTENCY = "drone:", "delivery:", "assignment:", "idempotency:deliveries:"
CLAIMS = ("cas", "read-write")
# The fields each record must have; anything else under these prefixes (a hand-made /write) is skipped.
DRONE_FIELDS = ("id", "x", "y", "status", "delivery", "target")
DELIVERY_FIELDS = ("id", "pickup", "dropoff", "status", "drone")
ASSIGNMENT_FIELDS = ("delivery", "drone", "claim", "drone_version")
ACTIVE = ("assigned", "picked_up")


def distance(a, b) -> float:
    """Straight-line distance between two [x, y] points."""
    return math.hypot(a[0] - b[0], a[1] - b[1])


def step_toward(position, target, speed: float) -> Tuple[list, bool]:
    """Move `speed` units from `position` toward `target`; returns (new position, arrived)."""
    gap = distance(position, target)
    if gap <= speed:
        return [target[0], target[1]], True
    ratio = speed / gap
    return [round(position[0] + (target[0] - position[0]) * ratio, 3),
            round(position[1] + (target[1] - position[1]) * ratio, 3)], False


class Dispatch:
    """Drones and deliveries kept in the replicated store."""

    def __init__(self, store: StoreClient, claim: str = "cas", speed: int = 5):
        self.store = store
        self.claim = claim
        self.speed = speed

    # --- drones -------------------------------------------------------------------

    def add_drone(self, drone_id: str, x: float, y: float) -> dict:
        """Register an idle drone at (x, y); 409 if the id is taken."""
        with self.store.lock:
            drone = {"id": drone_id, "x": x, "y": y, "status": "idle", "delivery": None, "target": None}
            try:
                version = self.store.cas(DRONE + drone_id, None, drone)
            except Conflict:
                raise Conflict(f"Drone {drone_id!r} already exists.", drone=drone_id) from None
            return {**drone, "version": version}

    def drones(self) -> List[dict]:
        """Every drone with its version."""
        with self.store.lock:
            return [{**e.value, "version": e.version} for e in self.store.read_prefix(DRONE, DRONE_FIELDS)]

    # --- deliveries -----------------------------------------------------------------

    def create_delivery(self, request: dict, idempotency_key: Optional[str] = None) -> Tuple[dict, bool]:
        """Create a waiting delivery; with an idempotency key a repeat returns the first answer.

        Returns (answer, replayed). The same key with a different body is refused (422).
        """
        with self.store.lock:
            if idempotency_key is not None:
                seen = self.store.read(IDEMPOTENCY + idempotency_key, ("request", "answer"))
                if seen is not None:
                    if _canonical(seen.value["request"]) != _canonical(request):
                        raise Unprocessable(
                            f"Idempotency-Key {idempotency_key!r} was first used with another body "
                            f"({_canonical(seen.value['request'])}); use a new key for a new request.",
                            idempotency_key=idempotency_key, first_request=seen.value["request"])
                    return seen.value["answer"], True
            delivery = {"id": request["id"], "pickup": request["pickup"], "dropoff": request["dropoff"],
                        "status": "waiting", "drone": None}
            try:
                version = self.store.cas(DELIVERY + delivery["id"], None, delivery)
            except Conflict:
                raise Conflict(f"Delivery {delivery['id']!r} already exists.", delivery=delivery["id"]) from None
            answer = {**delivery, "version": version}
            if idempotency_key is not None:
                self.store.write(IDEMPOTENCY + idempotency_key, {"request": request, "answer": answer})
            return answer, False

    def deliveries(self) -> List[dict]:
        """Every delivery with its version."""
        with self.store.lock:
            return [{**e.value, "version": e.version} for e in self.store.read_prefix(DELIVERY, DELIVERY_FIELDS)]

    def delivery(self, delivery_id: str) -> dict:
        """One delivery, or NotFound."""
        with self.store.lock:
            entry = self._delivery(delivery_id)
            return {**entry.value, "version": entry.version}

    def _delivery(self, delivery_id: str, store: Optional[StoreClient] = None) -> Entry:
        entry = (store or self.store).read(DELIVERY + delivery_id, DELIVERY_FIELDS)
        if entry is None:
            raise NotFound(f"There is no delivery {delivery_id!r}; GET /dispatch/deliveries lists them.",
                           delivery=delivery_id)
        return entry

    # --- assignment -----------------------------------------------------------------

    def assign(self, claim: Optional[str] = None, only: Optional[str] = None,
               coordinator: Optional[int] = None) -> dict:
        """Assign idle drones to waiting deliveries, nearest drone first.

        `claim` is cas (safe) or read-write (lab 7); `only` restricts to one
        delivery; `coordinator` is the node this dispatcher is connected to.
        If nothing could be assigned because every claim failed, the last
        failure is raised (409 conflict, 503 no majority).
        """
        claim = claim or self.claim
        store = self.store.using(coordinator)
        with store.lock:
            idle = {e.value["id"]: e for e in store.read_prefix(DRONE, DRONE_FIELDS)
                    if e.value["status"] == "idle"}
            waiting = [e for e in store.read_prefix(DELIVERY, DELIVERY_FIELDS)
                       if e.value["status"] == "waiting" and only in (None, e.value["id"])]
            if only is not None and not waiting:
                self._delivery(only, store)  # 404 if it does not exist at all
            assigned: List[dict] = []
            failed: List[dict] = []
            last_error: Optional[ReplicaLabError] = None
            for delivery in waiting:
                pickup = delivery.value["pickup"]
                for drone in sorted(idle.values(), key=lambda e: (distance([e.value["x"], e.value["y"]], pickup),
                                                                  e.value["id"])):
                    try:
                        assigned.append(self._claim(store, claim, drone, delivery))
                        del idle[drone.value["id"]]
                        break
                    except (Conflict, NoQuorum) as error:
                        last_error = error
                        failed.append({"delivery": delivery.value["id"], "drone": drone.value["id"],
                                       "error": getattr(error, "code", "error"), "why": error.message})
                        del idle[drone.value["id"]]  # someone else has it, or we cannot reach it
                        if isinstance(error, NoQuorum):
                            break
            summary = {"claim": claim, "assigned": assigned, "failed": failed,
                       "waiting_left": len(waiting) - len(assigned), "idle_left": sorted(idle)}
            if not assigned and last_error is not None:
                last_error.data.update(summary)
                raise last_error
            return summary

    def _claim(self, store: StoreClient, claim: str, drone: Entry, delivery: Entry) -> dict:
        """Claim `drone` for `delivery`, then record the assignment."""
        drone_id, delivery_id = drone.value["id"], delivery.value["id"]
        busy = {**drone.value, "status": "busy", "delivery": delivery_id, "target": delivery.value["pickup"]}
        if claim == "cas":
            version = store.cas(DRONE + drone_id, drone.version, busy)
        else:  # read-then-write: nothing checks that the drone is still idle
            version = store.write(DRONE + drone_id, busy)
        store.write(DELIVERY + delivery_id, {**delivery.value, "status": "assigned", "drone": drone_id})
        store.write(f"{ASSIGNMENT}{delivery_id}:{drone_id}:{version}",
                    {"delivery": delivery_id, "drone": drone_id, "claim": claim, "drone_version": version,
                     "coordinator": store.coordinator})
        return {"delivery": delivery_id, "drone": drone_id, "claim": claim, "expected": drone.version,
                "drone_version": version,
                "distance": round(distance([drone.value["x"], drone.value["y"]], delivery.value["pickup"]), 3)}

    def complete(self, delivery_id: str) -> dict:
        """Mark a delivery delivered and free its drone (409 if it was never assigned)."""
        with self.store.lock:
            entry = self._delivery(delivery_id)
            if entry.value["status"] == "delivered":
                raise Conflict(f"Delivery {delivery_id!r} is already delivered.", delivery=delivery_id)
            if entry.value["drone"] is None:
                raise Conflict(f"Delivery {delivery_id!r} has no drone yet: POST /dispatch/assign first.",
                               delivery=delivery_id)
            return self._finish(entry, None)

    def _finish(self, entry: Entry, drone: Optional[Entry]) -> dict:
        done = {**entry.value, "status": "delivered"}
        self.store.write(DELIVERY + done["id"], done)
        drone = drone or self.store.read(DRONE + done["drone"], DRONE_FIELDS)
        freed = None
        if drone is not None and drone.value["delivery"] == done["id"]:
            freed = self.store.cas(DRONE + done["drone"], drone.version,
                                   {**drone.value, "status": "idle", "delivery": None, "target": None})
        return {**done, "drone_freed": freed is not None, "drone_version": freed}

    # --- the movement job -------------------------------------------------------------

    def move(self, now: int) -> dict:
        """Move every busy drone one step toward its target; pick up and deliver on arrival.

        The drones are found through the key index and handled SLICE_RECORDS per lock hold.
        """
        moved, arrived, errors, slices = {}, [], [], 0
        for keys in self.store.in_slices(self.store.keys(DRONE)):
            slices += 1
            for key in keys:
                drone = self.store.read(key, DRONE_FIELDS)
                if drone is None or drone.value["status"] != "busy" or not drone.value["target"]:
                    continue
                try:
                    moved[drone.value["id"]], event = self._move_one(drone)
                    if event:
                        arrived.append(event)
                except (Conflict, NoQuorum, NotFound) as error:
                    errors.append({"drone": drone.value["id"], "error": error.code, "why": error.message})
        return {"now": now, "moved": moved, "arrived": arrived, "errors": errors, "slices": slices}

    def _move_one(self, drone: Entry) -> Tuple[list, Optional[str]]:
        d = drone.value
        position, reached = step_toward([d["x"], d["y"]], d["target"], self.speed)
        updated: Dict[str, Any] = {**d, "x": position[0], "y": position[1]}
        if not reached:
            self.store.cas(DRONE + d["id"], drone.version, updated)
            return position, None
        delivery = self._delivery(d["delivery"])
        if delivery.value["status"] == "assigned":
            updated["target"] = delivery.value["dropoff"]
            self.store.cas(DRONE + d["id"], drone.version, updated)
            self.store.write(DELIVERY + delivery.value["id"], {**delivery.value, "status": "picked_up"})
            return position, f"{d['id']} picked up {delivery.value['id']}"
        version = self.store.cas(DRONE + d["id"], drone.version, updated)
        self._finish(delivery, Entry(DRONE + d["id"], updated, version))
        return position, f"{d['id']} delivered {delivery.value['id']}"

    # --- audit ------------------------------------------------------------------------

    def audit(self) -> dict:
        """Drones held by two active deliveries, and deliveries claimed more than once."""
        with self.store.lock:
            deliveries = [e.value for e in self.store.read_prefix(DELIVERY, DELIVERY_FIELDS)]
            holders: Dict[str, List[str]] = {}
            for d in deliveries:
                if d["status"] in ACTIVE and d["drone"]:
                    holders.setdefault(d["drone"], []).append(d["id"])
            claims: Dict[str, List[dict]] = {}
            for e in self.store.read_prefix(ASSIGNMENT, ASSIGNMENT_FIELDS):
                claims.setdefault(e.value["delivery"], []).append(
                    {"drone": e.value["drone"], "claim": e.value["claim"], "drone_version": e.value["drone_version"]})
            double_booked = [{"drone": drone, "deliveries": sorted(ids)}
                             for drone, ids in sorted(holders.items()) if len(ids) > 1]
            twice = [{"delivery": d, "claims": c} for d, c in sorted(claims.items()) if len(c) > 1]
            return {"ok": not double_booked and not twice, "double_booked_drones": double_booked,
                    "deliveries_assigned_twice": twice, "deliveries_checked": len(deliveries),
                    "claims_checked": sum(len(c) for c in claims.values())}


def _canonical(body: Any) -> str:
    """The request body as canonical JSON, to tell 'the same request' from another."""
    return json.dumps(body, sort_keys=True, separators=(",", ":"))
