"""Step mode across real node processes: pause, list, deliver, duplicate, drop, step, resume; lab 5 on real processes.

A 3-node real cluster (RF=3, W=2) on loopback: each sender holds what it sends
while paused, and the front moves the held messages through the nodes
(realmode/step_hold.py, realmode/front_steps.py). The simulated mode's answer
is the reference for the shape of GET /network/messages (fields, not values).
"""
import io
import threading
import time
import unittest

from labs import runner
from labs.clients import HttpClient
from tests.real_cluster import RealCluster


def start_write(client, key: str):
    """POST /write on its own thread; returns (thread, box filled with (status, answer))."""
    box: list = []
    thread = threading.Thread(target=lambda: box.append(client.request("POST", "/write", {"key": key,
                                                                                          "value": "blue"})))
    thread.start()
    return thread, box


def wait_held(client, count: int, timeout_s: float = 20.0) -> dict:
    """GET /network/messages until `count` messages are held; the view."""
    deadline = time.monotonic() + timeout_s
    while True:
        view = client.request("GET", "/network/messages")[1]
        if len(view["messages"]) >= count or time.monotonic() > deadline:
            return view
        time.sleep(0.02)  # polling the HTTP client's view, not waiting for the cluster's time


def paused_write_view(client, key: str) -> dict:
    """Pause, start a write, list its two held puts, resume, wait for the answer; the paused view."""
    assert client.request("POST", "/network/pause")[0] == 200
    thread, box = start_write(client, key)
    view = wait_held(client, 2)
    client.request("POST", "/network/resume")
    thread.join(30)
    assert box and box[0][0] == 200, box
    return view


def shape(value):
    """Field names and value types, recursively (lists by their first item)."""
    if isinstance(value, dict):
        return {k: shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [shape(value[0])] if value else []
    return type(value).__name__


class RealStepModeTest(unittest.TestCase):
    """One real 3-node cluster; each test pauses, moves one write's messages and resumes."""

    cluster: RealCluster
    client: HttpClient

    @classmethod
    def setUpClass(cls):
        cls.cluster = RealCluster(nodes=3, rf=3, r=2, w=2)
        cls.client = HttpClient(cls.cluster.url)
        cls.addClassCleanup(cls.stop_cluster)

    @classmethod
    def stop_cluster(cls):
        survivors = cls.cluster.stop()
        assert not survivors, f"node processes outlived the front: {survivors}"

    def tearDown(self):
        if self.client.request("GET", "/network/messages")[1]["paused"]:
            self.client.request("POST", "/network/resume")

    def request(self, method: str, path: str, body=None) -> dict:
        """One request to the front, asserted 200; its answer."""
        status, answer = self.client.request(method, path, body)
        self.assertEqual(status, 200, answer)
        return answer

    def test_held_messages_are_listed_in_the_simulated_shape(self):
        """Paused, a write's two puts are listed with the same fields and types as in simulated mode."""
        real = paused_write_view(self.client, "shape")
        simulated = paused_write_view(runner.InProcessClient({"nodes": 3, "rf": 3, "r": 2, "w": 2}), "shape")
        self.assertEqual([m["kind"] for m in real["messages"]], ["put", "put"])
        self.assertEqual(real["waiting_requests"], 1)
        self.assertEqual(shape(real), shape(simulated))

    def test_deliver_duplicate_drop_step_and_resume_move_a_writes_messages(self):
        """Each hand move does to real processes what it does in simulation, and its story and events say so."""
        self.request("POST", "/network/pause")
        thread, box = start_write(self.client, "moved")
        first, second = wait_held(self.client, 2)["messages"]
        self.assertEqual({first["id"] % 3, second["id"] % 3}, {first["id"] % 3})  # one sender holds both
        copy_id = self.request("POST", f"/network/duplicate/{first['id']}")["copy_id"]
        delivered = self.request("POST", f"/network/deliver/{first['id']}")
        self.assertTrue(any("stored moved" in line for line in delivered["story"]), delivered["story"])
        again = self.request("POST", f"/network/deliver/{copy_id}")
        self.assertTrue(any("already had" in line for line in again["story"]), again["story"])
        dropped = self.request("POST", f"/network/drop/{second['id']}")
        self.assertTrue(any(f"message {second['id']}" in line and "dropped by hand" in line
                            for line in dropped["story"]), dropped["story"])
        acks = dropped["messages"]
        self.assertEqual(sorted(m["summary"] for m in acks), ["ack moved", "ack moved (already had)"])
        self.assertEqual(box, [])  # the write still waits: only the coordinator's own copy counts
        stepped = self.request("POST", "/network/step")
        self.assertEqual(stepped["delivered"], acks[0]["id"])
        self.assertEqual(stepped["waiting_requests"], 0)
        thread.join(30)
        self.assertEqual(box[0][0], 200, box)
        self.assertEqual(box[0][1]["quorum"], {"w": 2, "acks": 2, "met": True})
        resumed = self.request("POST", "/network/resume")
        self.assertEqual((resumed["paused"], resumed["messages"]), (False, []))
        events = self.request("GET", f"/events?since={delivered['events']['first'] - 10}&limit=500")["events"]
        by_id = {(e["type"], e["details"].get("msg_id")) for e in events}
        for expected in [("message_duplicated", copy_id), ("message_delivered", first["id"]),
                         ("message_delivered", copy_id), ("message_dropped", second["id"]),
                         ("message_delivered", acks[0]["id"]), ("message_delivered", acks[1]["id"])]:
            self.assertIn(expected, by_id)

    def test_a_held_message_is_refused_by_id_once_moved(self):
        """Delivering a message twice, or an id nobody holds, is a 404 with the simulated mode's sentence."""
        self.request("POST", "/network/pause")
        thread, _ = start_write(self.client, "twice")
        first = wait_held(self.client, 2)["messages"][0]
        self.request("POST", f"/network/deliver/{first['id']}")
        for msg_id in (first["id"], 999_999):
            status, answer = self.client.request("POST", f"/network/deliver/{msg_id}")
            self.assertEqual(status, 404, answer)
            self.assertEqual(answer["message"], f"No message {msg_id} is in flight; GET /network/messages lists them.")
        self.request("POST", "/network/resume")
        thread.join(30)

    def test_a_sender_killed_while_paused_loses_what_it_held_and_says_so(self):
        """Crashing the holder of two held puts narrates each as dropped with why; it restarts paused, then resumes."""
        self.request("POST", "/network/pause")
        thread, box = start_write(self.client, "killed")
        held = wait_held(self.client, 2)["messages"]
        holder = held[0]["id"] % 3
        failed = self.request("POST", f"/fail/{holder}?mode=crash")
        self.assertIn("got SIGKILL: its memory (running operations, queued messages) is gone", failed["message"])
        events = self.request("GET", f"/events?since={failed['events']['first'] - 1}&limit=100")["events"]
        lost = {e["details"]["msg_id"]: e["text"] for e in events if e["type"] == "message_dropped"}
        self.assertEqual(set(lost), {m["id"] for m in held})
        self.assertTrue(all("lost with the process's memory" in text for text in lost.values()), lost)
        self.assertEqual(sum("lost with the process's memory" in line for line in failed["story"]), 2, failed)
        thread.join(30)
        self.assertIn(box[0][0], (503, 504), box)  # its coordinator died mid-request: not acknowledged
        self.request("POST", f"/recover/{holder}")
        self.assertEqual(self.request("POST", "/network/resume")["messages"], [])

    def test_a_stopped_holder_is_named_where_its_messages_would_be_listed(self):
        """Paused, a coordinator SIGSTOPped with two held puts: the list names it instead of showing nothing."""
        self.request("POST", "/network/pause")
        thread, box = start_write(self.client, "stopped")
        holder = wait_held(self.client, 2)["messages"][0]["id"] % 3
        stopped = self.request("POST", f"/fail/{holder}?mode=stop")
        self.assertIn("got SIGSTOP: it keeps its memory and disk but answers nothing", stopped["message"])
        view = self.request("GET", "/network/messages")
        self.assertEqual(view["messages"], [])
        self.assertEqual(len(view["not_listed"]), 1, view)
        self.assertIn(f"node-{holder} is stopped", view["message"])
        self.assertIn(f"POST /recover/{holder}", view["message"])
        recovered = self.request("POST", f"/recover/{holder}")
        self.assertIn("the network is paused, so its hint handoff and sync requests are held", recovered["message"])
        back = self.request("GET", "/network/messages")
        self.assertEqual([m["kind"] for m in back["messages"]].count("put"), 2, back)  # and its catch-up's
        self.assertEqual(back["not_listed"], [])
        self.request("POST", "/network/resume")
        thread.join(30)
        self.assertEqual(box[0][0], 200, box)

    def test_a_cas_whose_proposer_is_killed_after_its_accepts_stays_linearizable(self):
        """Accepted by a majority, proposer killed: recorded unknown, the next CAS completes it, /check agrees."""
        key = "orphan"
        self.request("POST", "/cas", {"key": key, "expected": None, "value": 0})
        first = self.request("GET", f"/read/{key}?consistency=linearizable")["version"]["text"]
        self.request("POST", "/network/pause")
        box: list = []
        thread = threading.Thread(target=lambda: box.append(self.client.request(
            "POST", "/cas", {"key": key, "expected": first, "value": 1, "coordinator": 0})))
        thread.start()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:  # deliver prepare, promises and accepts; hold the acceptors' answers
            held = wait_held(self.client, 1)["messages"]
            if sum(m["kind"] == "paxos_accepted" for m in held) >= 2:
                break
            for message in held:
                if message["kind"] != "paxos_accepted":
                    self.client.request("POST", f"/network/deliver/{message['id']}")
        self.assertGreaterEqual(sum(m["kind"] == "paxos_accepted" for m in held), 2, held)
        self.request("POST", "/fail/0?mode=crash")
        thread.join(30)
        self.assertIn(box[0][0], (503, 504), box)  # its coordinator died: nobody knows whether it applied
        self.request("POST", "/network/resume")
        self.request("POST", "/recover/0")
        status, later = self.client.request("POST", "/cas", {"key": key, "expected": first, "value": 2,
                                                            "coordinator": 1})
        self.assertEqual(status, 409, later)  # it completed the orphan first, then compared with it
        self.assertIn(later["repaired"][0]["found_on"], ("node-1", "node-2"), later)
        self.assertEqual(self.request("GET", f"/read/{key}?consistency=linearizable")["value"], 1)
        verdict = self.request("GET", f"/check?key={key}&model=store")
        self.assertIs(verdict["linearizable"], True, verdict["message"])

    def test_lab_5_runs_on_real_processes(self):
        """`python -m labs check 5 --real`: every step of lab 5 shows on node processes what its README says."""
        out = io.StringIO()
        self.assertTrue(runner.check(runner.find(5), out, real=True), out.getvalue())


if __name__ == "__main__":
    unittest.main()
