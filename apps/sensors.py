"""Sensors: building energy readings in the store, with rolling statistics and anomalies.

Each sensor is one key, `sensor:<id>`: {"sensor", "readings": [{"at", "value"}], "total"}
holding the newest `window` readings. A reading is appended with CAS (read,
append, compare-and-set; retried on a conflict), so two writers never lose each
other's readings, and a reading is acknowledged only once a majority of the
key's replicas chose it: with the quorum lost the client gets 503 and is told
to retry. Readings are identified by (sensor, at): a retried reading is never
counted twice.
"""
from __future__ import annotations

import math
import random
from typing import Any, Dict, List, Optional

from cluster.errors import Conflict, NoQuorum, NotFound

from .client import StoreClient

PREFIX = "sensor:"
FIELDS = ("sensor", "readings", "total")
CAS_RETRIES = 5
BUILDING_HOURS_PER_RUN = 0.25  # each simulation run is a quarter of an hour of building time


def window_stats(readings: List[dict], threshold: float, z_limit: float) -> dict:
    """count, min, max, mean, standard deviation, last, and the anomalies among `readings`."""
    values = [r["value"] for r in readings]
    if not values:
        return {"count": 0, "min": None, "max": None, "mean": None, "std": None, "last": None, "anomalies": []}
    mean = sum(values) / len(values)
    std = math.sqrt(sum((v - mean) ** 2 for v in values) / len(values))
    return {"count": len(values), "min": min(values), "max": max(values), "mean": round(mean, 3),
            "std": round(std, 3), "last": readings[-1],
            "anomalies": [a for a in (anomaly(r, mean, std, threshold, z_limit) for r in readings) if a]}


def anomaly(reading: dict, mean: float, std: float, threshold: float, z_limit: float) -> Optional[dict]:
    """Why `reading` is an anomaly (above the static threshold, or |z| over the limit), or None."""
    reasons = []
    if reading["value"] > threshold:
        reasons.append(f"above threshold {threshold}")
    z = (reading["value"] - mean) / std if std > 0 else 0.0
    if abs(z) >= z_limit:
        reasons.append(f"z-score {z:.2f}")
    return {**reading, "z": round(z, 2), "reasons": reasons} if reasons else None


class Sensors:
    """Readings per sensor, their statistics, and a simulated building."""

    def __init__(self, store: StoreClient, window: int = 60, threshold: float = 40, z_limit: float = 3,
                 floors: int = 3, seed: int = 0):
        self.store = store
        self.window = window
        self.threshold = threshold
        self.z_limit = z_limit
        self.floors = floors
        self.rng = random.Random(seed)  # the simulated building's own generator, never the network's
        self.runs = 0

    def record(self, readings: List[dict]) -> dict:
        """Store readings ({"sensor", "value", "at"?}); raises NoQuorum naming what was and was not stored."""
        with self.store.lock:
            by_sensor: Dict[str, List[dict]] = {}
            for reading in readings:
                at = reading.get("at")
                by_sensor.setdefault(reading["sensor"], []).append(
                    {"at": self.store.now if at is None else at, "value": reading["value"]})
            stored: Dict[str, dict] = {}
            for done, (sensor, new) in enumerate(by_sensor.items()):
                try:
                    stored[sensor] = self._append(sensor, new)
                except NoQuorum as error:
                    left = list(by_sensor)[done:]
                    raise NoQuorum(
                        f"Readings for {', '.join(left)} were not stored: the store cannot reach a majority of "
                        f"the replicas of {PREFIX}{sensor}. Retry the same request later; readings are "
                        "identified by sensor and time, so a retry never counts one twice.",
                        retry=True, stored=stored, not_stored=left, cause=error.message) from None
            return {"stored": stored, "readings": len(readings)}

    def _append(self, sensor: str, new: List[dict]) -> dict:
        """Read, append (skipping readings already there), CAS; retried when another writer got in first."""
        for _ in range(CAS_RETRIES):
            entry = self.store.read(PREFIX + sensor, FIELDS)
            current: Dict[str, Any] = entry.value if entry else {"sensor": sensor, "readings": [], "total": 0}
            # A reading is identified by its sensor and time: a retry (or a second reading stamped
            # the same millisecond) is a duplicate, whatever its value.
            seen = {r["at"] for r in current["readings"]}
            fresh = []
            for reading in new:
                if reading["at"] not in seen:
                    seen.add(reading["at"])
                    fresh.append(reading)
            if not fresh and entry is not None:  # nothing new: no Paxos round, no new version
                return {"added": 0, "duplicates_ignored": len(new), "version": entry.version,
                        "total": current["total"]}
            readings = sorted(current["readings"] + fresh, key=lambda r: r["at"])[-self.window:]
            value = {"sensor": sensor, "readings": readings, "total": current["total"] + len(fresh)}
            try:
                version = self.store.cas(PREFIX + sensor, entry.version if entry else None, value)
            except Conflict:
                continue  # someone appended meanwhile: read again and append to theirs
            return {"added": len(fresh), "duplicates_ignored": len(new) - len(fresh), "version": version,
                    "total": value["total"]}
        raise Conflict(f"Could not append to {PREFIX}{sensor}: {CAS_RETRIES} writers got in first. Retry.",
                       sensor=sensor)

    def readings(self, sensor: str) -> Optional[dict]:
        """The stored value of one sensor (its window of readings), or None."""
        entry = self.store.read(PREFIX + sensor, FIELDS)
        return entry.value if entry else None

    def stats(self, sensor: str) -> dict:
        """One sensor's statistics over its window (404 if it never reported)."""
        with self.store.lock:
            value = self.readings(sensor)
            if value is None:
                raise NotFound(f"Sensor {sensor!r} has no readings; GET /sensors lists the sensors.", sensor=sensor)
            return self._describe(value)

    def all_stats(self) -> List[dict]:
        """Every sensor's statistics."""
        with self.store.lock:
            return [self._describe(e.value) for e in self.store.read_prefix(PREFIX, FIELDS)]

    def _describe(self, value: dict) -> dict:
        return {"sensor": value["sensor"], "total_readings": value["total"], "window": self.window,
                "threshold": self.threshold, "z_limit": self.z_limit,
                **window_stats(value["readings"], self.threshold, self.z_limit)}

    def simulate(self, now: int) -> dict:
        """One reading per floor: a daily curve, noise, and now and then a spike (seeded)."""
        with self.store.lock:
            self.runs += 1
            hour = (self.runs * BUILDING_HOURS_PER_RUN) % 24
            readings = []
            for floor in range(1, self.floors + 1):
                base = 18 + 3 * floor + 8 * math.sin(2 * math.pi * (hour - 8) / 24)
                spike = 25 if self.rng.random() < 0.05 else 0
                readings.append({"sensor": f"floor-{floor}", "value": round(base + self.rng.gauss(0, 1) + spike, 2),
                                 "at": now})
            try:
                result = self.record(readings)
            except NoQuorum as error:
                return {"now": now, "building_hour": hour, "stored": error.data.get("stored", {}),
                        "refused": error.data.get("not_stored", [])}
            return {"now": now, "building_hour": hour, "stored": result["stored"], "refused": []}
