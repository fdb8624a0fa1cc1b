"""Background jobs hold the cluster lock one slice at a time, so requests run between slices."""
import threading
import unittest

from apps.client import SLICE_RECORDS
from apps.registry import build
from bench.measure import meter_lock
from config import simulation_config
from replication import ReplicationManager
from scheduler import Scheduler


class SlicedJobsTest(unittest.TestCase):
    """Each job takes the lock per slice; a caller that holds it already runs the job whole."""

    def test_an_anti_entropy_round_takes_the_lock_once_per_exchange(self):
        """A round on 5 nodes takes the lock for its start, each of the 5 exchanges and its report."""
        manager = ReplicationManager(simulation_config(nodes=5))
        manager.write("k", 1)
        lock = meter_lock(manager)
        result = manager.jobs.anti_entropy_round(0)
        self.assertEqual(result["slices"], 5)
        self.assertEqual(lock.holds, 1 + 5 + 1)
        [event] = [e for e in manager.events.page(0, 100) if e.type == "anti_entropy_round"]
        self.assertIn("5 slices of one node pair each", event.text)

    def test_a_round_run_under_the_lock_is_one_hold(self):
        """POST /scheduler/run holds the lock around the job: the round is then one hold, as before."""
        manager = ReplicationManager(simulation_config(nodes=5))
        lock = meter_lock(manager)
        with lock:
            manager.jobs.anti_entropy_round(0)
        self.assertEqual(lock.holds, 1)

    def test_dispatch_move_moves_drones_a_slice_at_a_time(self):
        """With 20 busy drones, the move job handles SLICE_RECORDS drones per lock hold."""
        manager = ReplicationManager(simulation_config(nodes=5))
        apps = build(manager)
        drones = 20
        for i in range(drones):
            apps.dispatch.add_drone(f"d{i:02d}", 0, i)
            apps.dispatch.create_delivery({"id": f"p{i:02d}", "pickup": [100, i], "dropoff": [0, 0]})
        apps.dispatch.assign()
        lock = meter_lock(manager)
        result = apps.dispatch.move(manager.clock.now())
        slices = -(-drones // SLICE_RECORDS)
        self.assertEqual((len(result["moved"]), result["slices"]), (drones, slices))
        self.assertEqual(lock.holds, 1 + slices)  # the listing, then each slice

    def test_a_scheduled_job_on_the_wall_clock_is_sliced_and_on_the_virtual_clock_whole(self):
        """The scheduler releases the lock between slices on the wall clock; the virtual clock keeps replays exact."""
        holds = {}
        for clock in ("wall", "virtual"):
            manager = ReplicationManager(simulation_config(nodes=4, clock=clock))
            lock = meter_lock(manager)
            worker = threading.Thread(target=Scheduler(manager, build(manager))._scheduled, args=["anti_entropy"])
            worker.start()
            worker.join(timeout=30)
            holds[clock] = lock.holds
            self.assertEqual(manager.scenario.requests[-1:], [{"job": "anti_entropy"}])
        self.assertEqual(holds, {"wall": 1 + 1 + 4 + 1, "virtual": 1})


if __name__ == "__main__":
    unittest.main()
