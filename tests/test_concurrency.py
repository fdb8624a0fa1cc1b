"""Many threads at once leave every node consistent with what was acknowledged."""
import threading
import unittest

from models import node_id_of
from tests.helpers import make_app, write

THREADS = 8
WRITES_PER_THREAD = 25


class ConcurrencyTest(unittest.TestCase):
    """Flask serves requests on several threads; the cluster must stay consistent."""

    def test_concurrent_writes_and_reads(self):
        """Every acknowledged last write is the newest version on every replica of its key."""
        app, _ = make_app()
        cluster = app.extensions["replicalab"]
        acked = {}  # key -> version text of the last acknowledged write, per thread-owned key
        shared_acks = []  # (version, value) acknowledged for the key every thread writes
        errors = []
        lock = threading.Lock()
        start = threading.Barrier(THREADS)

        def worker(t):
            client = app.test_client()
            start.wait()
            for i in range(WRITES_PER_THREAD):
                answer = write(client, f"t{t}-k{i % 5}", {"t": t, "i": i})
                shared = write(client, "shared", {"t": t, "i": i})
                read = client.get(f"/read/t{t}-k{i % 5}")
                if answer.status_code != 200 or shared.status_code != 200 or read.status_code != 200:
                    errors.append((answer.status_code, shared.status_code, read.status_code))
                    continue
                if read.get_json()["value"] != {"t": t, "i": i}:
                    errors.append(("read-your-write", t, i, read.get_json()["value"]))
                with lock:
                    acked[f"t{t}-k{i % 5}"] = (answer.get_json()["version"]["text"], {"t": t, "i": i})
                    shared_acks.append((shared.get_json()["version"], {"t": t, "i": i}))

        threads = [threading.Thread(target=worker, args=(t,)) for t in range(THREADS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

        self.assertEqual(errors, [])
        self.assertEqual(len(acked), THREADS * 5)
        for key, (version, value) in acked.items():
            for n in cluster.ring.preference_list(key):
                record = cluster.nodes[n].store.get(key)
                self.assertEqual((str(record.version), record.value), (version, value), (key, n))
        # The shared key ends with the acknowledged write that has the highest version.
        newest = max(shared_acks, key=lambda a: (a[0]["timestamp"], a[0]["node"]))
        for n in cluster.ring.preference_list("shared"):
            self.assertEqual(cluster.nodes[n].store.get("shared").value, newest[1])
        # Events were appended in order with no gaps or duplicates.
        seqs = [e.seq for e in cluster.events.page(0, 10**7)]
        self.assertEqual(seqs, list(range(1, len(seqs) + 1)))

    def test_concurrent_failures_and_writes(self):
        """Writes racing with fail/recover never report success for a value no replica has."""
        app, _ = make_app()

        def chaos(client):
            for i in range(20):
                client.post(f"/fail/{i % 5}")
                client.post(f"/recover/{i % 5}")

        results = race(app, writers=4, writes=30, chaos=chaos)
        self.assertEqual(len(results), 120)
        for key, status, body in results:
            self.assertIn(status, (200, 503))
            assert_acks_hold(self, app.extensions["replicalab"], key, body)


class FaultRaceTest(unittest.TestCase):
    """Writes racing with partitions, network faults and step mode stay honest and finish."""

    def test_writes_during_fault_injection_and_pauses(self):
        """Every 200 answer's version is held by an acked node or its owner; nothing hangs."""
        app, _ = make_app(client_timeout_ms=200)
        cluster = app.extensions["replicalab"]

        def chaos(client):
            for i in range(10):
                client.post("/partition", data=f'{{"groups": [[{i % 5}, {(i + 1) % 5}]]}}')
                client.post("/faults/network", data='{"drop_rate": 0.2, "duplicate_rate": 0.2}')
                client.post("/network/pause")
                client.post("/network/step")
                client.post("/network/resume")
                client.post("/heal")
                client.delete("/faults")

        results = race(app, writers=3, writes=25, chaos=chaos)
        if cluster.network.paused:
            cluster.steps.resume()
        self.assertEqual(len(results), 75)
        for key, status, body in results:
            self.assertIn(status, (200, 503, 504), body)
            if status == 200:
                assert_acks_hold(self, cluster, key, body)


def race(app, writers: int, writes: int, chaos):
    """Run `writers` threads of `writes` writes each against `chaos(client)`; returns results."""
    results = []

    def writer(t):
        client = app.test_client()
        for i in range(writes):
            answer = write(client, f"w{t}-{i}", i)
            results.append((f"w{t}-{i}", answer.status_code, answer.get_json()))

    threads = [threading.Thread(target=writer, args=(t,)) for t in range(writers)]
    threads.append(threading.Thread(target=chaos, args=(app.test_client(),)))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not any(thread.is_alive() for thread in threads), "a request never finished"
    return results


def assert_acks_hold(test, cluster, key, body):
    """Each ack's node holds the acked version, or, for a stand-in, its hint went home.

    A replica keeps what it acked; a stand-in keeps it as a hint until the owner has
    it (hinted handoff), so one of the two must hold the version.
    """
    for ack in body.get("acks", []):
        holders = [cluster.nodes[node_id_of(ack["node"])]]
        if ack["stands_in_for"]:
            holders.append(cluster.nodes[node_id_of(ack["stands_in_for"])])
        found = [h.newest_local(key) for h in holders]
        test.assertTrue(any(r and r.version.to_dict() == body["version"] for r in found), (key, ack))


if __name__ == "__main__":
    unittest.main()
