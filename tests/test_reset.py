"""POST /reset: an empty, healthy cluster with the same settings, without a restart (issue 10)."""
import shutil
import tempfile
import threading
import unittest

from db import DataDirBusy
from replication import ReplicationManager
from tests.helpers import make_app, write


class ResetTest(unittest.TestCase):
    """What --fresh does, over HTTP."""

    def setUp(self):
        self.app, self.client = make_app(client_timeout_ms=10_000)

    def test_reset_empties_the_store_and_clears_every_fault(self):
        """After writes, a down node, a partition and a skew, /reset leaves no key, fault or event behind."""
        write(self.client, "color", "blue")
        self.client.post("/fail/2?mode=crash")
        self.client.post("/partition", json={"groups": [[0, 1]]})
        self.client.post("/nodes/4/clock", json={"skew_ms": -5000})
        response = self.client.post("/reset")
        self.assertEqual(response.status_code, 200, response.data)
        self.assertEqual(self.client.get("/keys").get_json()["keys"], [])
        faults = self.client.get("/faults").get_json()
        self.assertEqual((faults["down"], faults["partition"], faults["clock_skew"]), ([], None, []))
        self.assertEqual(self.client.get("/health").get_json()["health"], "ok")
        self.assertEqual(self.client.get("/scenario").get_json()["requests"], [])
        self.assertEqual([e["type"] for e in self.client.get("/events").get_json()["events"]], ["cluster_started"])

    def test_reset_keeps_the_settings(self):
        """The new cluster has the old one's settings (here R=1, W=1, 7 nodes)."""
        app, client = make_app(nodes=7, r=1, w=1)
        client.post("/reset")
        config = client.get("/config").get_json()["config"]
        self.assertEqual((config["nodes"], config["r"], config["w"]), (7, 1, 1))
        self.assertIsNot(app.extensions["replicalab_apps"].dispatch, None)

    def test_applications_start_over_too(self):
        """Drones registered before the reset are gone after it."""
        self.client.post("/dispatch/drones", json={"id": "d1", "x": 0, "y": 0})
        self.client.post("/reset")
        self.assertEqual(self.client.get("/dispatch/drones").get_json()["drones"], [])

    def test_a_request_waiting_in_step_mode_is_answered(self):
        """A write parked on a paused network gets its answer from the old cluster instead of hanging."""
        cluster = self.app.extensions["replicalab"]
        self.client.post("/network/pause")
        answer: dict = {}
        thread = threading.Thread(target=lambda: answer.update(
            status=write(self.app.test_client(), "color", "blue").status_code))
        thread.start()
        with cluster.lock:  # event-driven, bounded wait until the request is parked
            self.assertTrue(cluster.changed.wait_for(lambda: cluster.parked >= 1, timeout=10))
        self.client.post("/reset")
        thread.join(10)
        self.assertEqual(answer.get("status"), 200)
        self.assertFalse(self.client.get("/network/messages").get_json()["paused"])

    def test_reset_needs_the_admin_token(self):
        """With an admin token configured, /reset without it is a JSON 401 and changes nothing."""
        app, client = make_app(admin_token="secret")
        write(client, "color", "blue")
        response = client.post("/reset")
        self.assertEqual(response.status_code, 401)
        self.assertEqual(response.get_json()["status"], "error")
        self.assertEqual(len(client.get("/keys").get_json()["keys"]), 1)
        ok = client.post("/reset", headers={"Authorization": "Bearer secret"})
        self.assertEqual(ok.status_code, 200)

    def test_reset_ends_open_event_streams(self):
        """A stream following the old log ends with the cluster_reset event."""
        response = self.client.get("/events/stream?since=0")
        frames = iter(response.response)  # read lazily, like a client
        self.assertIn(b"cluster_started", next(frames))
        self.client.post("/reset")
        rest = b"".join(frames).decode()  # ends: the stream stops after cluster_reset
        self.assertIn("event: cluster_reset", rest)
        response.close()


class ResetOnDiskTest(unittest.TestCase):
    """On sqlite storage, reset deletes the nodes' files and keeps the directory locked."""

    def setUp(self):
        self.data_dir = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, self.data_dir, True)
        self.app, self.client = make_app(storage="sqlite", data_dir=self.data_dir)
        self.addCleanup(lambda: self.app.extensions["replicalab"].close())

    def test_reset_forgets_records_and_paxos_state(self):
        """Records and Paxos promises are gone: a CAS on an absent key applies again."""
        write(self.client, "color", "blue")
        self.assertEqual(self.client.post("/cas", json={"key": "d", "expected": None, "value": 1}).status_code, 200)
        self.client.post("/reset")
        self.assertEqual(self.client.get("/keys").get_json()["keys"], [])
        self.assertEqual(self.client.post("/cas", json={"key": "d", "expected": None, "value": 2}).status_code, 200)

    def test_the_new_cluster_holds_the_data_directory(self):
        """After a reset, a second server on the same directory is still refused."""
        self.client.post("/reset")
        config = self.app.extensions["replicalab"].config.replace(fresh=False)
        with self.assertRaises(DataDirBusy):
            ReplicationManager(config)


if __name__ == "__main__":
    unittest.main()
