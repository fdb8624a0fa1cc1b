"""Storage: one contract for both backends, the LRU cache, durability modes, restarts."""
import os
import shutil
import tempfile
import unittest

from cluster.errors import ReplicaLabError
from db import LRUCache, MemoryStorage, NodeStore, SqliteStorage, remove_node_files
from models import Record, Version
from tests.helpers import make_cluster
from tests.mixins import TestMixin


def record(key, value="v", ts=1, node=0, deleted=False):
    return Record(key, value, Version(ts, node), deleted)


class StorageContract(TestMixin):
    """Behaviour every storage backend must have (mixed into one TestCase per backend)."""

    def make(self):
        raise NotImplementedError

    def test_get_missing_is_none(self):
        """An absent key reads as None."""
        self.assertIsNone(self.make().get("nope"))

    def test_put_many_then_get(self):
        """Stored objects come back equal, keys with any characters included."""
        store = self.make()
        items = {"a": {"x": 1}, "energy:p1:12:00": [1, 2], "a/b//c": "s", "é 😀": None}
        store.put_many(items)
        for key, value in items.items():
            self.assertEqual(store.get(key), value)
        self.assertEqual(len(store), 4)
        self.assertEqual(dict(store.items()), items)

    def test_overwrite_and_delete(self):
        """A second put replaces the first; delete removes the key."""
        store = self.make()
        store.put_many({"k": 1})
        store.put_many({"k": 2})
        self.assertEqual(store.get("k"), 2)
        store.delete("k")
        self.assertIsNone(store.get("k"))
        store.delete("k")  # deleting twice is harmless

    def test_values_are_copies(self):
        """Changing a value after storing or reading it does not change what is stored."""
        store = self.make()
        value = {"list": [1]}
        store.put_many({"k": value})
        value["list"].append(2)
        got = store.get("k")
        got["list"].append(3)
        self.assertEqual(store.get("k"), {"list": [1]})


class MemoryStorageTest(StorageContract, unittest.TestCase):
    """The contract on MemoryStorage."""

    def make(self):
        return MemoryStorage()


class SqliteStorageTest(StorageContract, unittest.TestCase):
    """The contract on SqliteStorage, plus JSON on disk and reopening."""

    def setUp(self):
        self.dir = tempfile.mkdtemp()
        self.opened = []

    def tearDown(self):
        for store in self.opened:
            store.close()
        shutil.rmtree(self.dir)

    def make(self, name="node-0.records"):
        store = SqliteStorage(os.path.join(self.dir, f"{name}.sqlite"))
        self.opened.append(store)
        return store

    def test_data_survives_reopening(self):
        """What was committed is there after closing and opening the file again."""
        store = self.make()
        store.put_many({"k": {"v": 1}})
        store.close()
        self.opened.remove(store)
        self.assertEqual(self.make().get("k"), {"v": 1})

    def test_values_are_json_not_pickle(self):
        """The sqlite file holds JSON text, never a pickle."""
        import sqlite3
        store = self.make()
        store.put_many({"k": {"v": [1, "two"]}})
        conn = sqlite3.connect(store.path)
        raw = conn.execute('SELECT value FROM "records"').fetchone()[0]
        conn.close()
        self.assertEqual(raw, '{"v": [1, "two"]}')

    def test_fresh_removes_node_files(self):
        """remove_node_files deletes the nodes' files and nothing else."""
        self.make()
        keep = os.path.join(self.dir, "notes.txt")
        open(keep, "w").close()
        self.assertGreaterEqual(remove_node_files(self.dir), 1)
        self.assertEqual(os.listdir(self.dir), ["notes.txt"])


class LRUCacheTest(unittest.TestCase):
    """The cache enforces both its item limit and its byte limit."""

    def test_item_limit_evicts_least_recently_used(self):
        """Beyond max_items the least recently used record goes first."""
        cache = LRUCache(max_items=3, max_bytes=10**9)
        for key in "abc":
            cache.put(record(key))
        cache.get("a")  # a is now the most recent
        cache.put(record("d"))
        self.assertEqual(len(cache), 3)
        self.assertNotIn("b", cache)
        self.assertIn("a", cache)
        self.assertEqual(cache.evictions, 1)

    def test_byte_limit_is_enforced(self):
        """Total cached bytes never exceed max_bytes; old entries are evicted to make room."""
        size = record("k0", "x" * 100).size_bytes()
        cache = LRUCache(max_items=1000, max_bytes=size * 3)
        for i in range(10):
            cache.put(record(f"k{i}", "x" * 100))
            self.assertLessEqual(cache.bytes, cache.max_bytes)
        self.assertEqual(len(cache), 3)
        self.assertEqual(cache.bytes, sum(record(f"k{i}", "x" * 100).size_bytes() for i in (7, 8, 9)))

    def test_oversize_record_is_not_cached(self):
        """A record larger than the whole cache is not cached and evicts nothing."""
        cache = LRUCache(max_items=10, max_bytes=200)
        cache.put(record("small"))
        cache.put(record("big", "x" * 500))
        self.assertNotIn("big", cache)
        self.assertIn("small", cache)

    def test_replacing_a_key_updates_bytes(self):
        """Re-caching a key counts its bytes once."""
        cache = LRUCache(max_items=10, max_bytes=10**6)
        cache.put(record("k", "short"))
        cache.put(record("k", "a much longer value"))
        self.assertEqual(cache.bytes, record("k", "a much longer value").size_bytes())

    def test_node_store_reads_through_a_bounded_cache(self):
        """A NodeStore with a 2-item cache still returns every record, from disk when evicted."""
        store = NodeStore(MemoryStorage(), LRUCache(2, 10**6))
        for i in range(5):
            store.put(record(f"k{i}", i))
        self.assertLessEqual(len(store.cache), 2)
        self.assertEqual([store.get(f"k{i}").value for i in range(5)], list(range(5)))
        self.assertGreater(store.cache.misses, 0)


class DurabilityTest(unittest.TestCase):
    """sync commits before acknowledging; batch commits in groups."""

    def test_sync_commits_every_write(self):
        """In sync mode each put is on the backend when put returns."""
        backend = MemoryStorage()
        store = NodeStore(backend, LRUCache(10, 10**6), "sync")
        store.put(record("k"))
        stored = backend.get("k")
        assert stored is not None, "the put is not on the backend"
        self.assertEqual(stored["value"], "v")
        self.assertEqual(store.commits, 1)

    def test_batch_commits_in_groups(self):
        """In batch mode writes wait in memory until batch_size of them are committed together."""
        backend = MemoryStorage()
        store = NodeStore(backend, LRUCache(10, 10**6), "batch", batch_size=3)
        store.put(record("a"))
        store.put(record("b"))
        self.assertIsNone(backend.get("a"))
        self.assertEqual(store.get("a").value, "v")  # readable while uncommitted
        self.assertEqual(len(store.pending), 2)
        store.put(record("c"))
        self.assertEqual(len(store.pending), 0)
        self.assertEqual(store.commits, 1)
        self.assertIsNotNone(backend.get("a"))

    def test_close_flushes_pending_writes(self):
        """Closing a batch store commits what was pending."""
        backend = MemoryStorage()
        store = NodeStore(backend, LRUCache(10, 10**6), "batch", batch_size=100)
        store.put(record("a"))
        store.close()
        self.assertIsNotNone(backend.get("a"))


class RestartDurabilityTest(unittest.TestCase):
    """A cluster on sqlite storage finds its data again after a restart."""

    def setUp(self):
        self.dir = tempfile.mkdtemp()

    def tearDown(self):
        shutil.rmtree(self.dir)

    def cluster(self, **extra):
        return make_cluster(storage="sqlite", data_dir=self.dir, **extra)

    def test_records_hints_and_tombstones_survive_restart(self):
        """Values, tombstones and hints written before a restart are there after it."""
        first = self.cluster()
        first.write("color", "blue")
        first.write("gone", 1)
        first.delete("gone")
        down = first.ring.preference_list("color")[1]
        first.fail(down)
        first.write("color", "green")
        hints_before = sum(len(n.hints) for n in first.nodes)
        first.close()

        second = self.cluster()
        self.assertEqual(hints_before, 1)
        self.assertEqual(sum(len(n.hints) for n in second.nodes), 1)
        self.assertEqual(second.read("color").record.value, "green")
        with self.assertRaises(ReplicaLabError) as caught:
            second.read("gone")
        self.assertEqual(caught.exception.status, 404)
        second.close()

    def test_batch_mode_data_survives_a_clean_restart(self):
        """In batch mode a clean shutdown commits pending writes."""
        first = self.cluster(durability="batch", batch_size=1000)
        first.write("k", "v")
        self.assertTrue(any(n.store.pending for n in first.nodes))
        first.close()
        second = self.cluster(durability="batch")
        self.assertEqual(second.read("k").record.value, "v")
        second.close()

    def test_new_writes_after_restart_win_over_old_ones(self):
        """After a restart on a virtual clock (back at 0), new writes still get newer versions."""
        first = self.cluster()
        for i in range(5):
            first.write("k", i)
        first.close()
        second = self.cluster()
        second.fail(second.ring.preference_list("k")[0])  # another node coordinates now
        second.write("k", "after")
        self.assertEqual(second.read("k").record.value, "after")
        second.close()

    def test_fresh_starts_empty(self):
        """fresh=True removes the previous data."""
        first = self.cluster()
        first.write("k", "v")
        first.close()
        second = self.cluster(fresh=True)
        self.assertEqual(sum(len(n.store.index) for n in second.nodes), 0)
        second.close()


if __name__ == "__main__":
    unittest.main()
