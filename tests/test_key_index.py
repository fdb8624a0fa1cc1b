"""The sorted key index kept with each node's store: equal to a full scan, and what it costs."""
import contextlib
import shutil
import tempfile
import unittest

from apps.registry import build
from chaos.run import ChaosRun, ChaosSettings
from cluster.errors import KeyNotFound
from config import simulation_config
from db import LRUCache, MemoryStorage, NodeStore, SqliteStorage
from models import Record, Version
from replication import ReplicationManager

PREFIXES = ("", "k", "k1", "c", "c0", "drone:", "zzz")


def full_scan(store: NodeStore) -> dict:
    """key -> (version, tombstone) read from the backend and the uncommitted writes, no index."""
    held = {key: Record.from_dict(data) for key, data in store.backend.items()}
    held.update(store.pending)
    return {key: (r.version, r.deleted) for key, r in held.items()}


def examined(manager) -> int:
    """Keys the nodes' prefix listings have looked at so far."""
    return sum(node.store.prefix_examined for node in manager.nodes)


class IndexAgreesWithScanTest(unittest.TestCase):
    """After crashes, wipes, hints, repair and anti-entropy the index is what a full scan finds."""

    def assert_index_is_scan(self, manager):
        """Every node's sorted keys, versions and replica groups equal a scan of its storage."""
        for node in manager.nodes:
            scan = full_scan(node.store)
            self.assertEqual(list(node.store.sorted_keys), sorted(scan), node.name)
            self.assertEqual(node.store.index, scan, node.name)
            for prefix in PREFIXES:
                listed = [(k, v, d) for k, v, d in node.store.keys_with_prefix(prefix)]
                expected = [(k, *scan[k]) for k in sorted(scan) if k.startswith(prefix)]
                self.assertEqual(listed, expected, (node.name, prefix))
            for peer in range(len(manager.nodes)):
                shared = [k for k in sorted(scan) if {peer, node.node_id} <= set(manager.ring.preference_list(k))]
                self.assertEqual(node.store.keys_replicated_by(peer, node.node_id), shared, (node.name, peer))
        for prefix in PREFIXES:
            live = [k["key"] for k in manager.keys_view()["keys"] if k["key"].startswith(prefix)]
            self.assertEqual(manager.live_keys(prefix), live, prefix)

    def test_index_equals_a_full_scan_after_a_chaos_run_a_wipe_and_catch_up(self):
        """A batch-mode chaos run (stop, crash, partitions...), then a wipe, recovery, hint retry and anti-entropy."""
        run = ChaosRun(ChaosSettings(ops=1200, clients=6, seed=3, durability="batch"))
        run.run()
        manager = run.cluster
        self.assertTrue(any(run.nemesis.injected[kind] for kind in ("crash", "stop")))
        self.assert_index_is_scan(manager)
        manager.fail(1, "wipe")
        manager.write("k1", "while node-1 was wiped")  # a hint for the wiped node, somewhere
        self.assert_index_is_scan(manager)
        manager.recover(1)
        manager.fail(2, "crash")
        manager.recover(2, catch_up=False)
        for _ in range(len(manager.nodes) - 1):
            manager.jobs.anti_entropy_round(manager.clock.now())
        manager.jobs.retry_hints(manager.clock.now())
        for key in run.keys:  # read repair (a deleted key reads as 404; its repair happened anyway)
            with contextlib.suppress(KeyNotFound):
                manager.read(key)
        self.assert_index_is_scan(manager)

    def test_index_survives_a_restart_on_sqlite(self):
        """A store reopened on its sqlite file lists the same keys under a prefix as before."""
        folder = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, folder)
        path = f"{folder}/node-0.records.sqlite"
        store = NodeStore(SqliteStorage(path), LRUCache(10, 10_000))
        for i, key in enumerate(["drone:a", "drone:b", "delivery:1", "user:9", "drone:c"]):
            store.put(Record(key, i, Version(i + 1, 0), deleted=key == "drone:b"))
        before = list(store.keys_with_prefix("drone:"))
        store.close()
        reopened = NodeStore(SqliteStorage(path), LRUCache(10, 10_000))
        self.addCleanup(reopened.close)
        self.assertEqual(list(reopened.keys_with_prefix("drone:")), before)
        self.assertEqual([k for k, _, _ in before], ["drone:a", "drone:b", "drone:c"])


class ForgetTest(unittest.TestCase):
    """A forgotten key leaves every index and the disk, as if it never arrived."""

    def test_forget_removes_the_key_from_every_index(self):
        """After forget, the key is in no listing, no replica group, not on disk and not readable."""
        store = NodeStore(MemoryStorage(), LRUCache(10, 10_000), placement=lambda key: (0, len(key) % 3 + 1))
        for key in ("a", "bb", "ccc"):
            store.put(Record(key, key, Version(1, 0)))
        store.forget("bb")
        self.assertIsNone(store.get("bb"))
        self.assertEqual([k for k, _, _ in store.keys_with_prefix("")], ["a", "ccc"])
        self.assertEqual(store.keys_replicated_by(0), ["a", "ccc"])
        self.assertEqual(sorted(dict(store.backend.items())), ["a", "ccc"])


class JobCostTest(unittest.TestCase):
    """What an application job examines depends on its own records, not on the store's size."""

    def cluster(self, filler: int, with_apps: bool):
        """A 5-node cluster holding `filler` unrelated keys, and maybe two drones, a delivery and a rule."""
        manager = ReplicationManager(simulation_config(nodes=5))
        apps = build(manager)
        for i in range(filler):
            manager.write(f"user:{i:06d}", i)
        if with_apps:
            apps.dispatch.add_drone("d1", 0, 0)
            apps.dispatch.add_drone("d2", 50, 50)
            apps.dispatch.create_delivery({"id": "p1", "pickup": [10, 0], "dropoff": [20, 0]})
            apps.dispatch.assign()
            apps.alerts.add_rule({"sensor": "floor-1", "above": 30})
            apps.sensors.record([{"sensor": "floor-1", "value": 40, "at": 5}])
        return manager, apps

    def examined_by_jobs(self, manager, apps) -> int:
        """Keys examined by one run of every application job that finds records by prefix."""
        before = examined(manager)
        now = manager.clock.now()
        apps.dispatch.move(now)
        apps.alerts.evaluate(now)
        apps.alerts.deliver(now)
        return examined(manager) - before

    def test_jobs_examine_the_same_keys_at_50_and_at_1000_keys(self):
        """dispatch_move, alert_rules and alert_outbox examine as many keys over 1,000 keys as over 50."""
        small = self.examined_by_jobs(*self.cluster(50, True))
        large = self.examined_by_jobs(*self.cluster(1000, True))
        self.assertGreater(small, 0)
        self.assertEqual(small, large)

    def test_a_job_with_nothing_to_do_examines_no_key(self):
        """With no drone, rule or alert, the jobs look at no key at all, however many keys the store holds."""
        self.assertEqual(self.examined_by_jobs(*self.cluster(500, False)), 0)


if __name__ == "__main__":
    unittest.main()
