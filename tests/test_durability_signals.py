"""The README's durability table, cell by cell, on real `python run.py` and gunicorn processes.

For each server kind, durability mode and signal, one test acknowledges a
CAS, a write and a delete, sends the signal, restarts the server on the same
data directory and reads what survived. The scheduler is off so that no group
commit runs behind the test's back: in batch mode the write and the delete
are exactly "acknowledged since the last group commit".
"""
import os
import shutil
import signal
import tempfile
import threading
import time
import unittest
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace

from api.server_errors import JSONErrorThreadWorker
from tests.processes import ServerProcess, alive

SURVIVES = {"write": "v1", "delete": None, "cas": "claimed"}  # what a read finds when each op survived
LOST = {"write": None, "delete": "old"}  # batch + kill -9: the key reads as before the operation


class DurabilityTableTest(unittest.TestCase):
    """Each cell of the README's table: server kind x durability mode x signal."""

    kind = "run"

    def setUp(self):
        """An empty data directory, removed after the test."""
        self.data_dir = tempfile.mkdtemp(prefix="replicalab-durability-")
        self.addCleanup(shutil.rmtree, self.data_dir, True)

    def start(self, durability: str, fresh: bool) -> ServerProcess:
        """A server on the test's data directory, stopped by PID at cleanup even if the test fails."""
        server = ServerProcess(self.kind, {
            "REPLICALAB_DATA_DIR": self.data_dir, "REPLICALAB_DURABILITY": durability,
            "REPLICALAB_BATCH_SIZE": "100", "REPLICALAB_SCHEDULER": "off",
            "REPLICALAB_FRESH": "1" if fresh else "0"})
        self.addCleanup(server.log.close)
        self.addCleanup(server.kill)
        return server

    def acknowledge(self, server: ServerProcess, durability: str) -> None:
        """A CAS, then (after a group commit of d=old) a write of w and a delete of d, all acknowledged."""
        cas = server.post("/cas", {"key": "c", "expected": None, "value": "claimed"})
        self.assertEqual(cas.status_code, 200, cas.text)
        self.assertNotIn("not_yet_durable", cas.json())
        self.assertEqual(server.post("/write", {"key": "d", "value": "old"}).status_code, 200)
        self.assertEqual(server.post("/scheduler/run/flush").status_code, 200)
        write = server.post("/write", {"key": "w", "value": "v1"})
        self.assertEqual(write.status_code, 200, write.text)
        delete = server.delete("/delete/d")
        self.assertEqual(delete.status_code, 200, delete.text)
        if durability == "batch":
            self.assertTrue(write.json()["not_yet_durable"])
            self.assertIn("not yet durable", write.json()["message"])
            self.assertTrue(delete.json()["not_yet_durable"])
            self.assertIn("Durable", cas.json()["message"])

    def survivors(self, server: ServerProcess) -> dict:
        """What a read of each operation's key finds: its value, or None when absent."""
        found = {}
        for op, key in (("write", "w"), ("delete", "d"), ("cas", "c")):
            answer = server.get(f"/read/{key}?r=3")
            self.assertIn(answer.status_code, (200, 404), answer.text)
            found[op] = answer.json()["value"] if answer.status_code == 200 else None
        return found

    def check(self, durability: str, signum: int) -> None:
        """Acknowledge, signal, restart, read: compare with the table's cell."""
        server = self.start(durability, fresh=True)
        worker = server.cluster_pid()
        self.acknowledge(server, durability)
        code = server.stop(signum)
        if signum == signal.SIGKILL:
            self.assertEqual(code, -signal.SIGKILL)
        else:
            self.assertEqual(code, 0, server.output()[-2000:])
        deadline = time.monotonic() + 10
        while alive(worker) and time.monotonic() < deadline:  # gunicorn's worker leaves with its master
            time.sleep(0.05)
        self.assertFalse(alive(worker), "the process holding the cluster outlived the server")
        found = self.survivors(self.start(durability, fresh=False))
        expected = dict(SURVIVES)
        if durability == "batch" and signum == signal.SIGKILL:
            expected.update(LOST)
        for op in ("write", "delete", "cas"):
            with self.subTest(op=op):
                self.assertEqual(found[op], expected[op])

    def test_sync_sigint(self):
        """sync, Ctrl+C: the acknowledged write, delete and CAS all survive."""
        self.check("sync", signal.SIGINT)

    def test_sync_sigterm(self):
        """sync, SIGTERM: the acknowledged write, delete and CAS all survive."""
        self.check("sync", signal.SIGTERM)

    def test_sync_sigkill(self):
        """sync, kill -9: the acknowledged write, delete and CAS all survive (committed before the ack)."""
        self.check("sync", signal.SIGKILL)

    def test_batch_sigint(self):
        """batch, Ctrl+C: the shutdown commits the pending group, so all three survive."""
        self.check("batch", signal.SIGINT)

    def test_batch_sigterm(self):
        """batch, SIGTERM: the shutdown commits the pending group, so all three survive."""
        self.check("batch", signal.SIGTERM)

    def test_batch_sigkill(self):
        """batch, kill -9: the write and delete since the last group commit are lost, the CAS survives."""
        self.check("batch", signal.SIGKILL)


class GunicornDurabilityTableTest(DurabilityTableTest):
    """The same cells under gunicorn -c gunicorn.conf.py (signals go to the master; kill -9 to both)."""

    kind = "gunicorn"

    def test_a_respawned_worker_keeps_the_data_of_a_fresh_server(self):
        """REPLICALAB_FRESH=1 empties the data once: a worker respawned after kill -9 keeps every key."""
        server = self.start("sync", fresh=True)
        for i in range(20):
            self.assertEqual(server.post("/write", {"key": f"k{i}", "value": i}).status_code, 200)
        worker = server.cluster_pid()
        os.kill(worker, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:  # waiting for gunicorn to respawn its worker
            if server.cluster_pid() != worker and alive(server.cluster_pid()):
                break
            time.sleep(0.1)
        server.wait_until_up()
        self.assertNotEqual(server.cluster_pid(), worker)
        keys = server.get("/keys").json()
        self.assertEqual(keys["count"], 20, keys)


class WorkerSignalTest(unittest.TestCase):
    """Our gunicorn worker's SIGINT handler takes no lock the interrupted main thread may hold."""

    def run_handler(self, handler_name: str, held_lock) -> tuple:
        """Call a handler on another thread while `held_lock` is held; returns (finished, raised, alive)."""
        worker = JSONErrorThreadWorker.__new__(JSONErrorThreadWorker)  # no fork, no sockets
        worker.alive = True
        worker.cfg = SimpleNamespace(worker_int=lambda w: None)
        worker.tpool = ThreadPoolExecutor(1)
        self.addCleanup(worker.tpool.shutdown, False)
        raised = []

        def call():
            try:
                getattr(worker, handler_name)(signal.SIGINT, None)
            except SystemExit as exit_:
                raised.append(exit_.code)

        lock = held_lock(worker)
        with lock:  # as when the signal lands inside tpool.submit() on the main thread
            thread = threading.Thread(target=call, daemon=True)
            thread.start()
            thread.join(5)
            finished = not thread.is_alive()
        thread.join(5)
        return finished, raised, worker.alive

    def test_sigint_exits_while_the_pool_lock_is_held(self):
        """SIGINT/SIGQUIT during tpool.submit() exits at once instead of waiting on the pool's lock."""
        finished, raised, alive = self.run_handler("handle_quit", lambda w: w.tpool._shutdown_lock)
        self.assertTrue(finished, "handle_quit blocked on the thread pool's lock")
        self.assertEqual((raised, alive), ([0], False))


if __name__ == "__main__":
    unittest.main()
