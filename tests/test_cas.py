"""Compare-and-set by Paxos: conflicts, majorities, repair, durable ballots, linearizability."""
import json
import random
import tempfile
import threading
import unittest

from cluster.messages import Prepare
from cluster.paxos_acceptor import AcceptorState, answer_prepare
from config import simulation_config
from models import Ballot, Record, Version, node_id_of
from replication import ReplicationManager
from tests.helpers import make_app, write


def post(client, path, body=None):
    """POST a JSON body the way curl -d does; returns (status, answer)."""
    response = client.post(path, data=json.dumps(body) if body is not None else None)
    return response.status_code, response.get_json()


def cas(client, key, expected, value, **extra):
    """POST /cas; returns (status, answer)."""
    return post(client, "/cas", {"key": key, "expected": expected, "value": value, **extra})


def replicas(client, key):
    """The key's preference list as node ids."""
    return [node_id_of(n) for n in client.get(f"/placement/{key}").get_json()["preference_list"]]


class CasBasicsTest(unittest.TestCase):
    """One client: the compare, the answer's fields, the errors."""

    def setUp(self):
        """A fresh deterministic cluster per test."""
        self.app, self.client = make_app()

    def test_create_then_update_with_the_version_read(self):
        """null creates an absent key; the returned version is what the next CAS must expect."""
        status, first = cas(self.client, "drone:d1", None, "idle")
        self.assertEqual((status, first["applied"]), (200, True))
        self.assertEqual([r["phase"] for r in first["rounds"]], ["prepare", "accept", "commit"])
        self.assertGreaterEqual(len(first["rounds"][0]["ok"]), 2)
        self.assertTrue(any("promises ballot" in line for line in first["story"]))
        status, second = cas(self.client, "drone:d1", first["version"]["text"], "busy")
        self.assertEqual(status, 200)
        self.assertGreater(second["version"]["timestamp"], first["version"]["timestamp"])
        self.assertEqual(self.client.get("/read/drone:d1").get_json()["value"], "busy")

    def test_stale_expected_version_is_a_409_with_the_current_value(self):
        """A CAS from an old version is refused and told the current version and value."""
        _, first = cas(self.client, "k", None, 1)
        _, second = cas(self.client, "k", first["version"]["text"], 2)
        status, stale = cas(self.client, "k", first["version"]["text"], 3)
        self.assertEqual((status, stale["error"], stale["applied"]), (409, "conflict", False))
        self.assertEqual(stale["current"]["version"], second["version"])
        self.assertEqual(stale["current"]["value"], 2)
        self.assertEqual(cas(self.client, "k", None, 4)[0], 409)

    def test_bad_bodies_are_400(self):
        """Missing fields, a malformed expected version and unknown fields are refused with a sentence."""
        for body in ({"key": "k", "value": 1}, {"key": "k", "expected": None},
                     {"key": "k", "expected": 5, "value": 1}, {"key": "k", "expected": "v1", "value": 1},
                     {"key": "", "expected": None, "value": 1},
                     {"key": "k", "expected": None, "value": 1, "vaule": 2}):
            with self.subTest(body=body):
                status, answer = post(self.client, "/cas", body)
                self.assertEqual((status, answer["status"]), (400, "error"))
                self.assertTrue(answer["message"])

    def test_minority_side_of_a_partition_gets_503_majority_side_applies(self):
        """Paxos needs a majority of the key's replicas: the side with one replica cannot CAS."""
        _, first = cas(self.client, "drone:d1", None, "idle")
        owners = replicas(self.client, "drone:d1")
        majority_side, minority_side = owners[:2], [n for n in range(5) if n not in owners[:2]]
        post(self.client, "/partition", {"groups": [majority_side, minority_side]})
        expected = first["version"]["text"]
        status, lost = cas(self.client, "drone:d1", expected, "B", coordinator=minority_side[0])
        self.assertEqual((status, lost["error"], lost["outcome"]), (503, "no_quorum", "no_quorum"))
        self.assertEqual(lost["rounds"][0]["silent"], [f"node-{n}" for n in sorted(owners[:2])])
        status, won = cas(self.client, "drone:d1", expected, "A", coordinator=majority_side[0])
        self.assertEqual((status, won["applied"]), (200, True))

    def test_an_accepted_but_uncommitted_proposal_is_completed_first(self):
        """A proposal accepted by a majority but never committed is chosen: the next CAS repairs it."""
        cluster = self.app.extensions["replicalab"]
        owners = replicas(self.client, "k")
        ballot = Ballot(7, owners[2])
        orphan = Record("k", "orphan", Version(5, owners[2]))
        for n in owners[:2]:
            cluster.nodes[n].paxos.put("k", AcceptorState(ballot, ballot, orphan))
        status, answer = cas(self.client, "k", None, "mine")
        self.assertEqual(status, 409, "the orphan was chosen first, so the key is no longer absent")
        self.assertEqual(answer["repaired"][0]["version"], str(orphan.version))
        self.assertEqual(answer["current"]["value"], "orphan")
        self.assertTrue(any("completed before anything new" in line for line in answer["story"]))
        self.assertEqual(self.client.get("/read/k").get_json()["value"], "orphan")

    def test_an_acceptor_refuses_a_ballot_lower_than_its_promise(self):
        """After promising ballot 5, a prepare at ballot 4 is refused and told about 5."""
        cluster = self.app.extensions["replicalab"]
        node = cluster.nodes[0]
        self.assertTrue(answer_prepare(node, Prepare(1, 0, "node-1:1", "k", Ballot(5, 1))).ok)
        refusal = answer_prepare(node, Prepare(2, 0, "node-2:1", "k", Ballot(4, 2)))
        self.assertFalse(refusal.ok)
        self.assertEqual(refusal.promised, Ballot(5, 1))


class PlainWritesAndCasTest(unittest.TestCase):
    """A plain /write bypasses Paxos: last-writer-wins decides against a CAS value."""

    def test_a_newer_plain_write_wins_and_a_skewed_one_loses(self):
        """A plain write stamped later replaces the CAS value; one stamped in the past silently loses."""
        app, client = make_app()
        _, applied = cas(client, "k", None, "cas-value")
        owner = replicas(client, "k")[0]
        post(client, f"/nodes/{owner}/clock", {"skew_ms": -60000})
        self.assertEqual(write(client, "k", "skewed", coordinator=owner).status_code, 200)
        self.assertEqual(client.get("/read/k").get_json()["value"], "cas-value")
        client.delete("/faults")
        self.assertEqual(write(client, "k", "plain").status_code, 200)
        self.assertEqual(client.get("/read/k").get_json()["value"], "plain")
        status, answer = cas(client, "k", applied["version"]["text"], "too late")
        self.assertEqual(status, 409, "the CAS sees the plain write's newer version")


class DurableBallotsTest(unittest.TestCase):
    """Promises and proposals are on disk: a restarted cluster keeps going higher."""

    def test_promises_survive_a_restart(self):
        """After a restart on sqlite, each acceptor still holds its promise and the next ballot is higher."""
        with tempfile.TemporaryDirectory() as data_dir:
            config = simulation_config(storage="sqlite", data_dir=data_dir)
            cluster = ReplicationManager(config)
            first = cluster.cas("k", None, 1)
            round_, node = first.rounds[-1]["ballot"].strip("()").split(", ")  # "(round, node-N)"
            ballot = Ballot.from_dict({"round": round_, "node": node})
            cluster.close()
            again = ReplicationManager(config)
            try:
                for n in again.ring.preference_list("k"):
                    self.assertGreaterEqual(again.nodes[n].paxos.get("k").promised, ballot)
                second = again.cas("k", str(first.record.version), 2)
                self.assertGreater(second.rounds[0]["ballot"], first.rounds[0]["ballot"])
            finally:
                again.close()


class CasLinearizabilityTest(unittest.TestCase):
    """Many clients race CAS under drops, duplicates and a partition; one chain of versions results."""

    THREADS, ATTEMPTS = 8, 20

    def test_no_two_successful_cas_from_the_same_expected_version(self):
        """Applied CAS results form one chain of versions; no expected version is consumed twice."""
        app, client = make_app(seed=3)
        _, first = cas(client, "counter", None, 0)
        post(client, "/faults/network", {"drop_rate": 0.1, "duplicate_rate": 0.1, "delay_ms": [0, 30]})
        outcomes, lock, start = [], threading.Lock(), threading.Barrier(self.THREADS + 1)

        def worker(t):
            """A client reading the counter and CASing from the version it read, through any coordinator."""
            mine = app.test_client()
            start.wait()
            for i in range(self.ATTEMPTS):
                seen = mine.get("/read/counter?r=1")
                expected = seen.get_json().get("version", {}).get("text") if seen.status_code == 200 else None
                status, answer = cas(mine, "counter", expected, [t, i], coordinator=(t + i) % 5)
                with lock:
                    outcomes.append((status, answer))

        def chaos():
            """Partition and heal the cluster while the workers run."""
            mine = app.test_client()
            start.wait()
            for _ in range(6):
                post(mine, "/partition", {"groups": [[0, 1], [2, 3, 4]]})
                post(mine, "/heal")

        threads = [threading.Thread(target=worker, args=(t,)) for t in range(self.THREADS)]
        threads.append(threading.Thread(target=chaos))
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        client.delete("/faults")
        status, final = cas(client, "counter", "0@node-0", "probe")  # a Paxos read: completes any leftover
        self.assertEqual(status, 409)

        applied = [a for s, a in outcomes if s == 200]
        maybe = [a for s, a in outcomes if s == 503 and a.get("outcome") == "unknown"]
        self.assertEqual({s for s, _ in outcomes} - {200, 409, 503}, set())
        self.assertGreater(len(applied), self.THREADS)
        expected_used = [a["expected"] for a in applied]
        self.assertEqual(len(expected_used), len(set(expected_used)), "two CAS applied from one version")
        links = {a["version"]["text"]: a["expected"] for a in applied}
        links.update({a["proposed_version"]["text"]: a["expected"] for a in maybe})
        chain, version = [], final["current"]["version"]["text"]
        while version != first["version"]["text"]:
            self.assertIn(version, links, f"{version} is not the result of any CAS")
            chain.append(version)
            version = links[version]
        self.assertEqual({a["version"]["text"] for a in applied} - set(chain), set(),
                         "an applied CAS is missing from the chain of versions")


class CasStepRaceTest(unittest.TestCase):
    """Three proposers race in step mode while messages are delivered in random order, dropped or doubled."""

    SEEDS = 12

    def race(self, seed):
        """One race from the same expected version; returns (results, first version, final version)."""
        app, client = make_app(seed=seed, client_timeout_ms=20000)
        cluster = app.extensions["replicalab"]
        _, first = cas(client, "k", None, 0)
        post(client, "/network/pause")
        rng, results, threads = random.Random(seed), [], []
        for i, coordinator in enumerate(rng.sample(range(5), 3)):
            def send(i=i, coordinator=coordinator):
                """One proposer: CAS from the first version through its own coordinator."""
                results.append(cas(app.test_client(), "k", first["version"]["text"], i, coordinator=coordinator))
            with cluster.lock:  # start it, and go on once it waits for its quorum (or answered)
                parks, answered = cluster.parks, len(results)
                threads.append(threading.Thread(target=send))
                threads[-1].start()
                cluster.changed.wait_for(lambda p=parks, n=answered: cluster.parks > p or len(results) > n,
                                         timeout=10)
        for _ in range(400):
            held = client.get("/network/messages").get_json()["messages"]
            if not held:
                if not any(t.is_alive() for t in threads):
                    break
                post(client, "/tick", {"ms": 50})  # timers: silent replicas, new rounds
                continue
            chosen, roll = rng.choice(held)["id"], rng.random()
            action = "drop" if roll < 0.1 else "duplicate" if roll < 0.2 else "deliver"
            post(client, f"/network/{action}/{chosen}")
        post(client, "/network/resume")
        for thread in threads:
            thread.join(30)
        _, probe = cas(client, "k", "0@node-0", "probe")  # a Paxos read of what was chosen
        return results, first["version"]["text"], probe["current"]["version"]["text"]

    def test_at_most_one_of_racing_proposers_applies(self):
        """From one expected version at most one CAS applies, and the chosen value is the one it reported."""
        applied_races = 0
        for seed in range(self.SEEDS):
            with self.subTest(seed=seed):
                results, start, final = self.race(seed)
                self.assertEqual(len(results), 3)
                applied = [a for status, a in results if status == 200]
                self.assertLessEqual(len(applied), 1, [a.get("outcome") for _, a in results])
                if applied:
                    applied_races += 1
                    self.assertEqual(final, applied[0]["version"]["text"])
                else:
                    maybe = {a["proposed_version"]["text"] for _, a in results if a.get("outcome") == "unknown"}
                    self.assertIn(final, maybe | {start})
        self.assertGreater(applied_races, self.SEEDS // 2)


if __name__ == "__main__":
    unittest.main()


class CasVisibleToReadsTest(unittest.TestCase):
    """A CAS says applied only when a quorum read right after it must see the value."""

    def test_commit_that_reaches_a_minority_answers_unknown(self):
        """Chosen, but the commit reached only the coordinator: outcome unknown, and a later CAS completes it."""
        from cluster.paxos import PaxosOp
        from tests.helpers import make_cluster
        cluster = make_cluster()
        key = "drone:d9"
        first = cluster.ring.preference_list(key)[0]
        op = PaxosOp(cluster.nodes[first].next_op_id(), cluster.nodes[first], key, None, "mine", cluster.ring)
        with cluster.lock:
            op.start()
            while op.phase != "commit" and cluster.network.step():
                pass
            self.assertEqual(op.phase, "commit")
            cluster.faults.partition([[first]])  # the commits in flight are dropped on delivery
        self.assertEqual(op.result.outcome, "unknown")
        self.assertEqual(op.result.fields()["compared_with"], None)
        cluster.faults.heal()
        later = cluster.cas(key, op.result.record.version.to_dict()["text"], "next")
        self.assertEqual(later.outcome, "applied", "the next CAS completed ours, then compared with it")
        self.assertEqual(cluster.read(key, r=2).record.value, "next")
