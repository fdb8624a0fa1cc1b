"""StoreClient: the applications' one way to the replicated store.

Dispatch, sensors and alerts keep all their state in the store and reach it
only through this interface — read, write, delete, cas, keys by prefix — so
every fault injected into the cluster (a partition, a dead replica, a dropped
message) shows up in them exactly as it would for any client.
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any, Iterator, List, Optional, Tuple

from cluster.errors import KeyNotFound

# Records a background job handles per hold of the cluster lock (a quorum read and perhaps a
# CAS each, about a millisecond on 50 nodes): a request waits behind one slice, not a whole job.
SLICE_RECORDS = 8


@dataclass
class Entry:
    """A value read from the store and the version to expect in a later CAS."""

    key: str
    value: Any
    version: str


class StoreClient:
    """A client of the store, optionally connected to one coordinator node."""

    def __init__(self, manager, coordinator: Optional[int] = None):
        self.manager = manager
        self.coordinator = coordinator

    @property
    def lock(self):
        """The cluster lock: an application step holds it so its reads and writes are not interleaved."""
        return self.manager.lock

    @property
    def now(self) -> int:
        """The cluster clock in ms (epoch ms on the wall clock); applications never read real time."""
        return self.manager.clock.now()

    def using(self, coordinator: Optional[int]) -> StoreClient:
        """The same client connected to another coordinator (None: the store picks)."""
        return self if coordinator == self.coordinator else StoreClient(self.manager, coordinator)

    def read(self, key: str, fields: Tuple[str, ...] = ()) -> Optional[Entry]:
        """Quorum read; None when the key is absent or deleted (NoQuorum propagates: 503).

        With `fields`, a value that is not an object holding them (written by
        hand with /write, say) also reads as None: an application skips it
        rather than failing on it.
        """
        try:
            result = self.manager.read(key, coordinator=self.coordinator)
        except KeyNotFound:
            return None
        value = result.record.value
        if fields and not (isinstance(value, dict) and all(f in value for f in fields)):
            return None
        return Entry(key, value, str(result.record.version))

    def write(self, key: str, value: Any) -> str:
        """Quorum write (last-writer-wins); returns the new version text."""
        return str(self.manager.write(key, value, coordinator=self.coordinator).record.version)

    def delete(self, key: str) -> None:
        """Delete with a tombstone; an absent key is fine."""
        with contextlib.suppress(KeyNotFound):
            self.manager.delete(key, coordinator=self.coordinator)

    def cas(self, key: str, expected: Optional[str], value: Any) -> str:
        """Compare-and-set by Paxos; returns the new version text (Conflict: 409, NoQuorum: 503)."""
        result = self.manager.cas(key, expected, value, coordinator=self.coordinator)
        return str(result.record.version)

    def narrate(self, what: str, text: str, key: Optional[str] = None) -> None:
        """Tell the console and the event log what the application did (event type app_<what>)."""
        self.manager.events.emit(f"app_{what}", text, (), key)

    def keys(self, prefix: str) -> List[str]:
        """Every live key starting with `prefix`, sorted (a listing of the nodes' key indexes, not
        a quorum read): it costs the keys that match, not the keys the store holds."""
        return self.manager.live_keys(prefix)

    def in_slices(self, keys: List[str], size: int = SLICE_RECORDS) -> Iterator[List[str]]:
        """Yield `keys` in slices of `size`, holding the cluster lock while the caller handles each
        slice (and not between two), so requests run between the slices of a background job."""
        for start in range(0, len(keys), size):
            with self.lock:
                yield keys[start:start + size]

    def read_prefix(self, prefix: str, fields: Tuple[str, ...] = ()) -> List[Entry]:
        """Quorum-read every key starting with `prefix` (keys no reachable replica holds, or whose
        value lacks `fields`, are left out)."""
        entries = (self.read(key, fields) for key in self.keys(prefix))
        return [entry for entry in entries if entry is not None]
