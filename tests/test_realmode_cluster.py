"""Real mode end to end: `run.py cluster` with one OS process per node on loopback, real signals, real HTTP.

These tests assert outcomes (no acknowledged write lost, a hint then its
handoff, 503 on a minority, a linearizable history), never event-by-event
stories: real mode is not deterministic (docs/architecture.md, "Real mode").
One 4-node cluster (RF=3) serves the class; each test leaves it healthy.
"""
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
import unittest
from concurrent.futures import ThreadPoolExecutor

import requests

from app import create_app
from config import simulation_config
from realmode import processes
from tests.helpers import ROOT
from tests.real_cluster import RealCluster


def process_state(pid: int) -> str:
    """The state letter of a process in /proc (T: stopped by a signal)."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
        return stat.read().rsplit(")", 1)[1].split()[0]


class RealClusterTest(unittest.TestCase):
    """A 4-node real cluster, RF=3, R=W=2, sync durability."""

    cluster: RealCluster

    @classmethod
    def setUpClass(cls):
        # 300 real ms before a stand-in is asked: a loaded test machine can be slower than 100.
        cls.cluster = RealCluster(nodes=4, rf=3, r=2, w=2, request_timeout_ms=300)
        cls.addClassCleanup(cls.stop_cluster)

    @classmethod
    def stop_cluster(cls):
        survivors = cls.cluster.stop()
        assert not survivors, f"node processes outlived the front: {survivors}"

    def replicas(self, key: str) -> list:
        """The key's preference list as node ids."""
        return [int(n.split("-")[1]) for n in self.cluster.get(f"/placement/{key}").json()["preference_list"]]

    def recover(self, node_id: int) -> dict:
        """POST /recover/<id>; its answer (asserted 200)."""
        answer = self.cluster.post(f"/recover/{node_id}")
        self.assertEqual(answer.status_code, 200, answer.text)
        return answer.json()

    def test_nodes_and_health_say_real_mode_with_pids(self):
        """/nodes and /health say mode real, and every node has a live pid and a loopback address."""
        self.assertEqual(self.cluster.get("/health").json()["mode"], "real")
        listing = self.cluster.get("/nodes").json()
        self.assertEqual(listing["mode"], "real")
        for node in listing["nodes"]:
            self.assertTrue(processes.is_alive(node["pid"]), node)
            self.assertTrue(node["address"].startswith("127.0.0.1:"), node)

    def test_tick_answers_409_unpaused_in_real_mode_and_faults_keep_their_shape(self):
        """Unpaused, /tick answers 409 saying real time passes by itself; /faults has the simulated mode's fields."""
        answer = self.cluster.post("/tick", {"ms": 100})
        self.assertEqual(answer.status_code, 409)
        self.assertIn("time passes by itself", answer.json()["message"])
        self.assertEqual(self.cluster.get("/network/messages").json()["messages"], [])
        simulated = create_app(simulation_config()).test_client().get("/faults").get_json()
        self.assertEqual(set(self.cluster.get("/faults").json()), set(simulated))

    def test_no_acknowledged_write_is_lost_when_a_replica_is_killed_mid_run(self):
        """500 writes with kill -9 of a replica in the middle: every acknowledged one is readable after its restart."""
        victim = 1

        answers = {}

        def write(i: int):
            answer = self.cluster.post("/write", {"key": f"dur-{i}", "value": i})
            answers[i] = (time.monotonic(), answer.json())
            # The nodes that stored it as a replica (a stand-in keeps a hint instead, after a timeout).
            return i, answer.status_code == 200 and [a["node"] for a in answer.json()["acks"]
                                                     if a["applied"] and a["stands_in_for"] is None]

        with ThreadPoolExecutor(8) as pool:  # eight clients at once: a killed replica costs each write a timeout
            before = list(pool.map(write, range(250)))
            killed_pid = self.cluster.pids()[victim]
            os.kill(killed_pid, signal.SIGKILL)
            killed_at = time.monotonic()
            after = list(pool.map(write, range(250, 500)))
        acked = [i for i, stored in before + after if stored]
        acked_by_victim = [i for i, stored in before + after if stored and f"node-{victim}" in stored]
        self.assertEqual(self.cluster.wait_down(victim)["failure"], "crash")
        self.recover(victim)
        with ThreadPoolExecutor(8) as pool:
            values = dict(zip(acked, pool.map(lambda i: self.cluster.get(f"/read/dur-{i}").json().get("value"), acked)))
        lost = [i for i in acked if values[i] != i]
        self.assertGreaterEqual(len(acked), 400)  # writes coordinated by the victim before the front noticed fail
        self.assertEqual(lost, [])
        detail = self.cluster.get(f"/nodes/{victim}").json()
        held = {r["key"] for r in detail["records"]}
        missing = [i for i in acked_by_victim if f"dur-{i}" not in held]
        self.assertEqual(missing, [], f"the restarted node kept every write it acknowledged before kill -9 "
                         f"(sync durability); killed pid {killed_pid} at {killed_at}; {len(missing)} of "
                         f"{len(acked_by_victim)} missing from {len(held)} records (source: "
                         f"{detail.get('source', 'process')}, {detail.get('note')}): "
                         + "; ".join(f"{i} at {answers[i][0]}: {answers[i][1].get('acks')} "
                                     f"{answers[i][1].get('story')}" for i in missing[:2]))

    def test_a_stopped_replica_gets_a_hint_and_its_handoff_after_sigcont(self):
        """SIGSTOP of a replica: a stand-in takes a hint; after SIGCONT (recover) the hint is handed off to it."""
        key = "hinted"
        owner = self.replicas(key)[1]
        failed = self.cluster.post(f"/fail/{owner}?mode=stop").json()
        self.assertEqual(failed["lost"]["signal"], "SIGSTOP")
        self.assertEqual(process_state(failed["node"]["pid"]), "T", "the process is really stopped")
        answer = self.cluster.post("/write", {"key": key, "value": "v1"}).json()
        self.assertEqual([h["for"] for h in answer["hints"]], [f"node-{owner}"])
        recovered = self.recover(owner)
        self.assertIn(key, recovered["hints_received"])
        records = {r["key"]: r for r in self.cluster.get(f"/nodes/{owner}").json()["records"]}
        self.assertEqual(records[key]["value"], "v1")

    def test_a_process_stopped_and_continued_from_a_terminal_is_noticed_both_ways(self):
        """kill -STOP from a terminal: the front marks the node down; kill -CONT: it notices and recovers it."""
        key = "continued"
        owner = self.replicas(key)[1]
        pid = self.cluster.pids()[owner]
        os.kill(pid, signal.SIGSTOP)
        self.assertEqual(self.cluster.wait_down(owner)["failure"], "stop")
        answer = self.cluster.post("/write", {"key": key, "value": "while-stopped"}).json()
        self.assertEqual([h["for"] for h in answer["hints"]], [f"node-{owner}"])
        since = self.cluster.get("/events?limit=1").json()["last_seq"]
        os.kill(pid, signal.SIGCONT)
        deadline, types = time.monotonic() + 10, []
        while "node_recovered" not in types and time.monotonic() < deadline:
            time.sleep(0.05)  # the front's supervisor looks every fraction of a second
            types = [e["type"] for e in self.cluster.get(f"/events?since={since}&limit=500").json()["events"]]
        self.assertIn("node_continued", types)
        self.assertLess(types.index("node_continued"), types.index("node_recovered"))
        self.assertEqual(self.cluster.get("/nodes").json()["nodes"][owner]["status"], "alive")
        records = {r["key"]: r for r in self.cluster.get(f"/nodes/{owner}").json()["records"]}
        self.assertEqual(records[key]["value"], "while-stopped", "its hint was handed back, as /recover does")

    def test_a_restarted_node_times_its_events_from_the_cluster_start_not_from_zero(self):
        """After kill -9 and restart, the node's events keep counting from the cluster's start (t= never goes back)."""
        node = self.replicas("timed")[0]
        write = {"key": "timed", "value": 1, "coordinator": node}
        self.assertEqual(self.cluster.post("/write", write).status_code, 200)
        before = self.cluster.get("/events?limit=1").json()
        latest = self.cluster.get(f"/events?since={before['last_seq'] - 1}").json()["events"]
        last_ms = max(e["time_ms"] for e in latest)
        os.kill(self.cluster.pids()[node], signal.SIGKILL)
        self.cluster.wait_down(node)
        self.recover(node)
        self.assertEqual(self.cluster.post("/write", {**write, "value": 2}).status_code, 200)
        events = self.cluster.get(f"/events?since={before['last_seq']}&limit=500").json()["events"]
        started = [e for e in events if e["type"] == "write_started" and e["nodes"] == [f"node-{node}"]]
        self.assertTrue(started, [e["type"] for e in events])
        self.assertGreaterEqual(started[-1]["time_ms"], last_ms)

    def test_a_down_node_still_shows_its_data_read_from_its_files(self):
        """Crashed or SIGSTOPped, a replica's records show in /nodes/<id> and /keys (read from its files)."""
        key = "kept-on-disk"
        crashed, stopped = self.replicas(key)[:2]
        self.assertEqual(self.cluster.post("/write", {"key": key, "value": "v"}).status_code, 200)
        self.assertEqual(self.cluster.post(f"/fail/{crashed}?mode=crash").status_code, 200)
        self.assertEqual(self.cluster.post(f"/fail/{stopped}?mode=stop").status_code, 200)
        try:
            for node in (crashed, stopped):
                began = time.monotonic()
                detail = self.cluster.get(f"/nodes/{node}").json()
                self.assertLess(time.monotonic() - began, 10, "a stopped node's files never make the view hang")
                self.assertEqual(({r["key"]: r["value"] for r in detail["records"]}.get(key), detail["source"]),
                                 ("v", "files"), detail.get("note"))
                self.assertIn("read-only", detail["note"])
            held_by = {k["key"]: k["held_by"] for k in self.cluster.get("/keys").json()["keys"]}[key]
            self.assertTrue({f"node-{crashed}", f"node-{stopped}"} <= set(held_by), held_by)
        finally:
            self.recover(crashed)
            self.recover(stopped)

    def test_a_node_killed_from_a_terminal_counts_its_keys_from_its_files(self):
        """After kill -9 from outside, /nodes/<id> counts keys and tombstones from the files its records come from,
        not from its last summary (taken before its last write)."""
        key = "counted-from-files"
        node = self.replicas(key)[0]
        pid = self.cluster.pids()[node]  # GET /nodes: the front's last summary of the node, before the write
        self.assertEqual(self.cluster.post("/write", {"key": key, "value": "v", "coordinator": node}).status_code, 200)
        os.kill(pid, signal.SIGKILL)
        self.cluster.wait_down(node)
        try:
            detail = self.cluster.get(f"/nodes/{node}").json()
            self.assertIn(key, [r["key"] for r in detail["records"]])
            self.assertEqual(detail["node"]["keys"], sum(not r["deleted"] for r in detail["records"]))
            self.assertEqual(detail["node"]["tombstones"], sum(r["deleted"] for r in detail["records"]))
            self.assertIn(f"{detail['node']['keys']} key", detail["message"])
        finally:
            self.recover(node)

    def test_a_partition_enforced_by_the_transports_gives_503_on_the_minority_in_linearizable_mode(self):
        """Partitioned [[a], [others]]: a linearizable write coordinated by a answers 503, one by the majority 200."""
        key = "split"
        alone = self.replicas(key)[0]
        others = [n for n in range(4) if n != alone]
        self.assertEqual(self.cluster.post("/partition", {"groups": [[alone], others]}).status_code, 200)
        try:
            minority = self.cluster.post("/write", {"key": key, "value": 1, "coordinator": alone,
                                                    "consistency": "linearizable"})
            self.assertEqual(minority.status_code, 503, minority.text)
            majority = self.cluster.post("/write", {"key": key, "value": 2, "coordinator": others[0],
                                                    "consistency": "linearizable"})
            self.assertEqual(majority.status_code, 200, majority.text)
        finally:
            self.cluster.post("/heal")

    def test_cas_stays_linearizable_when_a_proposer_is_killed(self):
        """Concurrent read-then-CAS increments through every node, one proposer killed -9 midway: linearizable.

        The CAS of a coordinator killed mid-request is recorded with only the version it expected;
        a later proposer may complete it (test_realmode_step_mode shows that case step by step).
        """
        key = "counter"
        self.cluster.post("/cas", {"key": key, "expected": None, "value": 0})
        victim = self.replicas(key)[0]
        stop = time.monotonic() + 4

        def client(coordinator: int) -> None:
            while time.monotonic() < stop:
                # A plain quorum read answers at R replies, before its read repair: with a commit
                # still in flight, a later read may miss what an earlier one saw. Linearizable reads
                # write back to a majority first, so the whole history can be linearizable.
                read = self.cluster.get(f"/read/{key}?coordinator={coordinator}&consistency=linearizable")
                if read.status_code != 200:
                    continue
                body = read.json()
                self.cluster.post("/cas", {"key": key, "expected": body["version"]["text"],
                                           "value": body["value"] + 1, "coordinator": coordinator})

        threads = [threading.Thread(target=client, args=(n,)) for n in range(4) if n != victim]
        threads.append(threading.Thread(target=client, args=(victim,)))
        for thread in threads:
            thread.start()
        time.sleep(1.5)
        os.kill(self.cluster.pids()[victim], signal.SIGKILL)
        for thread in threads:
            thread.join()
        self.cluster.wait_down(victim)
        self.recover(victim)
        verdict = self.cluster.get(f"/check?key={key}&model=store").json()
        self.assertIs(verdict["linearizable"], True, verdict.get("message"))


class FrontKilledTest(unittest.TestCase):
    """The front killed with kill -9 takes its node processes with it."""

    def test_no_node_process_outlives_a_front_killed_with_sigkill(self):
        """kill -9 of the front: every node process it started is gone within seconds (PDEATHSIG)."""
        cluster = RealCluster(nodes=2, rf=2, r=1, w=1)
        self.addCleanup(cluster.stop)
        pids = list(cluster.pids().values())
        processes.kill(cluster.front)
        deadline = time.monotonic() + 10
        while any(processes.is_alive(p) for p in pids) and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertEqual([p for p in pids if processes.is_alive(p)], [])


class MultiHostTest(unittest.TestCase):
    """Nodes started on their own (as on other machines), joined by a front with --node-addresses and a token."""

    def test_a_front_joins_running_nodes_and_fails_one_through_the_fault_table(self):
        """The front serves writes through nodes it did not start; /fail marks one down in the fault table: a hint."""
        ports = [processes.free_port() for _ in range(4)]
        intake = f"127.0.0.1:{ports[3]}"
        data = tempfile.mkdtemp(prefix="replicalab-multi-")
        self.addCleanup(shutil.rmtree, data, True)
        env = {**os.environ, "PYTHONPATH": ROOT, "REPLICALAB_NODES": "3", "REPLICALAB_RF": "2",
               "REPLICALAB_R": "1", "REPLICALAB_W": "1", "REPLICALAB_ADMIN_TOKEN": "lab-token",
               "REPLICALAB_REQUEST_TIMEOUT_MS": "500"}
        addresses = {i: f"127.0.0.1:{ports[i]}" for i in range(3)}
        for i in range(3):
            peers = ",".join(f"{p}={a}" for p, a in addresses.items() if p != i)
            child = processes.start([sys.executable, "run.py", "node", "--id", str(i), "--listen", addresses[i],
                                     "--peers", peers, "--data-dir", os.path.join(data, str(i)),
                                     "--front", f"http://{intake}"], f"node-{i}", env=env, cwd=ROOT)
            self.addCleanup(processes.stop, child)
        front_port = processes.free_port()
        front = processes.start([sys.executable, "run.py", "cluster", "--port", str(front_port), "--intake", intake,
                                 "--node-addresses", ",".join(f"{i}={a}" for i, a in addresses.items()),
                                 "--data-dir", data], "front", env=env, cwd=ROOT)
        self.addCleanup(processes.stop, front)
        url = f"http://127.0.0.1:{front_port}"
        processes.wait_healthy(f"{url}/health", front, timeout_s=60)
        admin = {"Authorization": "Bearer lab-token"}
        owner = int(requests.get(f"{url}/placement/k", timeout=30).json()["preference_list"][1].split("-")[1])
        failed = requests.post(f"{url}/fail/{owner}", headers=admin, timeout=30)
        self.assertEqual(failed.status_code, 200)
        self.assertNotIn("signal", failed.json()["lost"], "the front started no process there: it sent none")
        self.assertIn("every message to or from it is dropped", failed.json()["message"])
        self.assertEqual(requests.get(f"{url}/faults", timeout=30).json()["down"][0]["node"], f"node-{owner}")
        answer = requests.post(f"{url}/write", json={"key": "k", "value": 1}, timeout=30).json()
        self.assertEqual([h["for"] for h in answer["hints"]], [f"node-{owner}"])
        recovered = requests.post(f"{url}/recover/{owner}", headers=admin, timeout=30).json()
        self.assertIn("k", recovered["hints_received"])
