"""Per-node durable storage: a backend, a bounded LRU cache, durability modes.

Two backends honour one contract (tests/test_db.py runs it on both):
MemoryStorage for unit tests, SqliteStorage (sqlitedict, JSON encoding, never
pickle) for the app. NodeStore puts an LRU cache (bounded in items and bytes)
in front and decides when writes reach the disk: `sync` commits before the
write is acknowledged, `batch` commits in groups, so an acknowledged write can
sit uncommitted for a while.
"""
from __future__ import annotations

import fcntl
import itertools
import json
import os
import re
from collections import OrderedDict
from typing import Callable, Dict, Iterator, List, Optional, Sequence, Set, Tuple

from sortedcontainers import SortedList
from sqlitedict import SqliteDict

from models import DUMPS, Record, Version


class MemoryStorage:
    """Dict-backed storage: the same contract as SqliteStorage, nothing on disk."""

    def __init__(self):
        self._data: Dict[str, str] = {}  # JSON text, as on disk

    def get(self, key: str) -> Optional[dict]:
        """Return the stored JSON object for `key`, or None."""
        value = self._data.get(key)
        return json.loads(value) if value is not None else None

    def put_many(self, items: Dict[str, dict]) -> None:
        """Store several JSON objects at once (one commit for the backends that commit)."""
        for key, value in items.items():
            self._data[key] = DUMPS(value)  # JSON round trip, as on disk (json.dumps, encoder built once)

    def delete(self, key: str) -> None:
        """Remove `key` if present."""
        self._data.pop(key, None)

    def items(self) -> Iterator[Tuple[str, dict]]:
        """Yield every (key, object) pair."""
        for key in list(self._data):
            yield key, json.loads(self._data[key])

    def __len__(self) -> int:
        return len(self._data)

    def clear(self) -> None:
        """Remove everything (a wiped disk)."""
        self._data.clear()

    def close(self) -> None:
        """Nothing to release."""


class SqliteStorage(MemoryStorage):
    """sqlitedict-backed storage; every put_many is one committed transaction."""

    def __init__(self, path: str, table: str = "records"):
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        self.path = path
        self._db = SqliteDict(path, tablename=table, autocommit=False, journal_mode="WAL",
                              encode=DUMPS, decode=json.loads, outer_stack=False)

    def get(self, key: str) -> Optional[dict]:
        """Return the stored JSON object for `key`, or None."""
        return self._db.get(key)

    def put_many(self, items: Dict[str, dict]) -> None:
        """Write and commit several objects in one transaction."""
        if items:
            self._db.update(items)
            self._db.commit(blocking=True)

    def delete(self, key: str) -> None:
        """Remove `key` and commit."""
        if key in self._db:
            del self._db[key]
            self._db.commit(blocking=True)

    def items(self) -> Iterator[Tuple[str, dict]]:
        """Yield every (key, object) pair from disk."""
        yield from self._db.items()

    def __len__(self) -> int:
        return len(self._db)

    def clear(self) -> None:
        """Remove everything and commit (a wiped disk)."""
        self._db.clear()
        self._db.commit(blocking=True)

    def close(self) -> None:
        """Commit and close the sqlite connection (and its worker thread)."""
        self._db.close()


class LRUCache:
    """Least-recently-used cache bounded both in item count and in total bytes."""

    def __init__(self, max_items: int, max_bytes: int):
        self.max_items = max_items
        self.max_bytes = max_bytes
        self._items: OrderedDict[str, Tuple[Record, int]] = OrderedDict()
        self.bytes = 0
        self.hits = self.misses = self.evictions = 0

    def get(self, key: str) -> Optional[Record]:
        """Return the cached record and mark it recently used, or None (a miss)."""
        entry = self._items.get(key)
        if entry is None:
            self.misses += 1
            return None
        self.hits += 1
        self._items.move_to_end(key)
        return entry[0]

    def put(self, record: Record) -> None:
        """Cache `record`, evicting the least recently used entries beyond the limits."""
        self.discard(record.key)
        size = record.size_bytes()
        if size > self.max_bytes:
            return  # one record larger than the whole cache is read from disk instead
        self._items[record.key] = (record, size)
        self.bytes += size
        while len(self._items) > self.max_items or self.bytes > self.max_bytes:
            _, (_, evicted_size) = self._items.popitem(last=False)
            self.bytes -= evicted_size
            self.evictions += 1

    def discard(self, key: str) -> None:
        """Forget `key` if cached."""
        entry = self._items.pop(key, None)
        if entry is not None:
            self.bytes -= entry[1]

    def clear(self) -> None:
        """Forget everything (a crash loses the cache)."""
        self._items.clear()
        self.bytes = 0

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: str) -> bool:
        return key in self._items

    def stats(self) -> dict:
        """Return counters and limits for /nodes/<id>."""
        return {"items": len(self._items), "bytes": self.bytes, "max_items": self.max_items,
                "max_bytes": self.max_bytes, "hits": self.hits, "misses": self.misses,
                "evictions": self.evictions}


class NodeStore:
    """One node's records: an in-memory version index, an LRU cache, a durable backend.

    The index (key -> version, tombstone flag) lets a node list and compare its
    keys without reading values from disk; it is rebuilt from the backend on start.
    `sorted_keys` holds the same keys in order, so listing the keys under a prefix
    costs O(log n + matching keys), not a scan (`keys_with_prefix`).
    """

    def __init__(self, backend, cache: LRUCache, durability: str = "sync", batch_size: int = 16,
                 placement: Optional[Callable[[str], Sequence[int]]] = None):
        self.backend = backend
        self.cache = cache
        self.durability = durability
        self.batch_size = batch_size
        self.pending: Dict[str, Record] = {}  # acknowledged, not yet committed (batch mode)
        self.commits = 0
        self.index: Dict[str, Tuple[Version, bool]] = {}
        self.sorted_keys: SortedList = SortedList()
        self.prefix_examined = 0  # keys a prefix listing looked at, ever (tests count it)
        # The keys grouped by the nodes that replicate them (the ring's preference list), so
        # anti-entropy and sync find the keys two nodes share without scanning the store.
        self.placement = placement
        self.by_replicas: Dict[Tuple[int, ...], Set[str]] = {}
        self._load_index()

    def _load_index(self) -> None:
        self.index = {}
        for key, data in self.backend.items():
            record = Record.from_dict(data)
            self.index[key] = (record.version, record.deleted)
        self.sorted_keys = SortedList(self.index)
        self.by_replicas = {}
        for key in self.index:
            self._place(key)

    def _place(self, key: str) -> None:
        if self.placement is not None:
            self.by_replicas.setdefault(tuple(self.placement(key)), set()).add(key)

    def crash(self) -> Dict[str, Record]:
        """Lose memory: the cache and every uncommitted write; returns the writes lost."""
        lost = dict(self.pending)
        self.pending.clear()
        self.cache.clear()
        self._load_index()
        return lost

    def wipe(self) -> int:
        """Lose memory and disk; returns how many keys were held."""
        held = len(self.index)
        self.pending.clear()
        self.cache.clear()
        self.backend.clear()
        self.index = {}
        self.sorted_keys = SortedList()
        self.by_replicas = {}
        return held

    def get(self, key: str) -> Optional[Record]:
        """Return the record for `key` (tombstones included), or None."""
        if key not in self.index:
            return None
        if key in self.pending:
            return self.pending[key]
        record = self.cache.get(key)
        if record is None:
            data = self.backend.get(key)
            if data is None:
                return None
            record = Record.from_dict(data)
            self.cache.put(record)
        return record

    def version(self, key: str) -> Optional[Version]:
        """Return the version held for `key` without reading its value."""
        entry = self.index.get(key)
        return entry[0] if entry else None

    def put(self, record: Record) -> None:
        """Store `record`; in sync mode it is on disk when this returns."""
        if record.key not in self.index:
            self.sorted_keys.add(record.key)
            self._place(record.key)
        self.index[record.key] = (record.version, record.deleted)
        self.cache.put(record)
        if self.durability == "sync":
            self.backend.put_many({record.key: record.to_dict()})
            self.commits += 1
        else:
            self.pending[record.key] = record
            if len(self.pending) >= self.batch_size:
                self.flush()

    def forget(self, key: str) -> None:
        """Drop `key` from memory and disk as if it had never arrived (tests make a replica miss a key)."""
        if self.index.pop(key, None) is None:
            return
        self.sorted_keys.remove(key)
        if self.placement is not None:
            self.by_replicas[tuple(self.placement(key))].discard(key)
        self.pending.pop(key, None)
        self.cache.discard(key)
        self.backend.delete(key)

    def flush(self) -> int:
        """Commit every pending write in one group; returns how many were committed."""
        if not self.pending:
            return 0
        count = len(self.pending)
        self.backend.put_many({key: rec.to_dict() for key, rec in self.pending.items()})
        self.pending.clear()
        self.commits += 1
        return count

    def keys(self):
        """Return every key held, tombstones included, sorted."""
        return list(self.sorted_keys)

    def first_keys(self, limit: int) -> List[str]:
        """The first `limit` keys held, in order (a bounded list to name, e.g. what a wipe loses)."""
        return list(itertools.islice(self.sorted_keys, limit))

    def keys_with_prefix(self, prefix: str) -> Iterator[Tuple[str, Version, bool]]:
        """Yield (key, version, tombstone) for every key starting with `prefix`, in order.

        A bisection into the sorted keys, then only the matching ones: O(log n + matching).
        """
        for key in self.sorted_keys.irange(minimum=prefix):
            if not key.startswith(prefix):
                return
            self.prefix_examined += 1
            version, deleted = self.index[key]
            yield key, version, deleted

    def keys_replicated_by(self, *node_ids: int) -> List[str]:
        """The keys held here whose replicas include every one of `node_ids`, sorted.

        Costs the replica sets this node holds keys of, plus the keys that match.
        """
        if self.placement is None:
            raise ValueError("this store was opened without a placement; it cannot group keys by replica")
        wanted = set(node_ids)
        found: List[str] = []
        for replicas, keys in self.by_replicas.items():
            if wanted.issubset(replicas):
                found.extend(keys)
        return sorted(found)

    def live_count(self) -> int:
        """Number of keys held that are not tombstones."""
        return sum(1 for _, deleted in self.index.values() if not deleted)

    def tombstone_count(self) -> int:
        """Number of tombstones held."""
        return sum(1 for _, deleted in self.index.values() if deleted)

    def close(self) -> None:
        """Commit what is pending and close the backend."""
        self.flush()
        self.backend.close()


def open_backend(storage: str, data_dir: str, name: str):
    """Return the backend for one node's table `name` ('memory' or 'sqlite' storage)."""
    if storage == "memory":
        return MemoryStorage()
    return SqliteStorage(os.path.join(data_dir, f"{name}.sqlite"))


# Exactly the files the cluster creates: node-N.records.sqlite, node-N.hints.sqlite,
# node-N.paxos.sqlite and the journal files sqlite keeps beside them. --fresh deletes these and nothing else.
NODE_FILE = re.compile(r"node-\d+\.(records|hints|paxos)\.sqlite(-journal|-wal|-shm)?")
LOCK_FILE = "replicalab.lock"


def remove_node_files(data_dir: str) -> int:
    """Delete the nodes' sqlite files in `data_dir` (for --fresh); returns files removed."""
    removed = 0
    if not os.path.isdir(data_dir):
        return 0
    for entry in os.listdir(data_dir):
        if NODE_FILE.fullmatch(entry):
            os.remove(os.path.join(data_dir, entry))
            removed += 1
    return removed


def has_node_files(data_dir: str) -> bool:
    """True if `data_dir` holds a node's files from an earlier run (a restart, not a first start)."""
    return os.path.isdir(data_dir) and any(NODE_FILE.fullmatch(entry) for entry in os.listdir(data_dir))


class DataDirBusy(RuntimeError):
    """Another running server holds the data directory; the message says which."""


class DataDirLock:
    """An exclusive lock on a data directory, held while a server uses it.

    The lock is an OS file lock (flock) on `replicalab.lock`, so it disappears
    with the process, even after kill -9: no stale lock to clean up. The file
    also records the holder's PID so the refusal can name it.
    """

    def __init__(self, data_dir: str):
        self.path = os.path.join(data_dir, LOCK_FILE)
        os.makedirs(data_dir, exist_ok=True)
        self._file = open(self.path, "a+", encoding="utf-8")  # noqa: SIM115 -- held for the server's life
        try:
            fcntl.flock(self._file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            self._file.seek(0)
            holder = self._file.read().strip() or "unknown"
            self._file.close()
            raise DataDirBusy(f"{data_dir} is in use by another ReplicaLab server (pid {holder}); stop "
                              "that one first, or give this one its own --data-dir.") from None
        self._file.seek(0)
        self._file.truncate()
        self._file.write(str(os.getpid()))
        self._file.flush()

    def release(self) -> None:
        """Let another server use the directory."""
        if not self._file.closed:
            fcntl.flock(self._file, fcntl.LOCK_UN)
            self._file.close()
