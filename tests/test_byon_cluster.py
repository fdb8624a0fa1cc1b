"""`python run.py cluster --node-cmd`: student programs as the nodes, with ReplicaLab's faults, history and views.

Real processes on loopback (each cluster is a front, its node processes and
their programs, stopped by PID): lab 12's Python model answer as a 5-node
cluster, the JavaScript example node, and a mixed cluster with broken programs.
"""
import os
import shutil
import signal
import sys
import threading
import time
import unittest

import requests

from realmode import processes
from tests.browser import BROWSER_MISSING, WAIT_MS, BrowserCase, expect
from tests.helpers import ROOT
from tests.real_cluster import RealCluster

LAB12 = os.path.join(ROOT, "labs", "lab12_build_your_own_replica")
MODEL_3 = f"{sys.executable} {os.path.join(LAB12, 'python', 'model_3_majority_leader.py')}"
JS_MODEL = f"node {os.path.join(LAB12, 'js', 'model_1_single_copy.js')}"
GARBAGE = f"{sys.executable} {os.path.join(ROOT, 'tests', 'fixtures', 'garbage_then_model.py')}"
SILENT = f"{sys.executable} -c 'import time; time.sleep(120)'"
EXITS = f"{sys.executable} -c 'import sys; print(\"cannot start\", file=sys.stderr); sys.exit(3)'"

cluster: RealCluster  # the Python model cluster, shared by this module's classes


def setUpModule():
    global cluster
    # Node 4 prints one line of garbage at each start, then runs the same model.
    cluster = RealCluster(nodes=5, args=["--node-cmd", MODEL_3, "--node-cmd", f"4={GARBAGE}"])


def tearDownModule():
    cluster.stop()


def wait_for(condition, limit_s: float = 15.0):
    """Poll `condition` until it returns something true (real processes take real time); that value."""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    return condition()


def events(c: RealCluster, type_: str) -> list:
    """The front's retained events of one type."""
    found, since = [], 0
    while True:
        page = c.get(f"/events?since={since}&limit=1000").json()
        found += [e for e in page["events"] if e["type"] == type_]
        if not page["more"]:
            return found
        since = page["next_since"]


def program(c: RealCluster, node: int) -> dict:
    """The program of one node as /nodes shows it (pid, running, problem, data dir)."""
    return c.get("/nodes").json()["nodes"][node]["program"]


def state(pid: int) -> str:
    """The process state letter (T: stopped), or "gone"."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "gone"


def write_until_ok(c: RealCluster, body: dict, limit_s: float = 15.0):
    """POST /write until it answers 200 (a leader change takes real time); the last answer."""
    return wait_for(lambda: (lambda a: a if a.status_code == 200 else None)(c.post("/write", body)), limit_s)


class ModelClusterTest(unittest.TestCase):
    """Lab 12's Python model answer run as every node of a 5-node cluster."""

    def test_write_read_cas_are_lin_kv_requests_recorded_in_the_history(self):
        """/write, /read and /cas answer with the node's reply (cas 22 -> 409, missing key 20 -> 404), and /check
        finds the recorded history linearizable."""
        c = cluster
        requests.delete(c.url + "/history", timeout=10)
        write = c.post("/write", {"key": "x", "value": 1, "coordinator": 2}).json()
        self.assertEqual((write["status"], write["node"], write["outcome"]), ("success", "n2", "ok"))
        read = c.get("/read/x?coordinator=n3").json()  # a program's own name for a node works too
        self.assertEqual((read["value"], read["node"]), (1, "n3"))
        absent = c.get("/read/x?coordinator=n9")  # a program's name of no node: which names exist
        self.assertEqual((absent.status_code, absent.json()["error"]), (404, "node_not_found"))
        self.assertIn("n0 to n4", absent.json()["message"])
        self.assertEqual(c.post("/cas", {"key": "x", "from": 1, "to": 2}).status_code, 200)
        refused = c.post("/cas", {"key": "x", "from": 1, "to": 3})
        self.assertEqual((refused.status_code, refused.json()["node_code"]), (409, 22))
        missing = c.get("/read/never-written")
        self.assertEqual((missing.status_code, missing.json()["outcome"]), (404, "ok"))
        history = c.get("/history").json()["events"]
        self.assertEqual([(e["f"], e["type"]) for e in history if e["type"] != "invoke"],
                         [("write", "ok"), ("read", "ok"), ("cas", "ok"), ("cas", "fail"), ("read", "ok")])
        self.assertTrue(c.get("/check").json()["linearizable"])

    def test_the_tour_gets_answer_json_and_never_a_server_error(self):
        """Every GET of the README tour answers JSON, never a 500; /nodes/N and /keys say what ReplicaLab knows of a
        program (its pid, that its data is its own), and the apps refuse student nodes with a 409."""
        c = cluster
        for path in ("/", "/health", "/config", "/nodes", "/nodes/2", "/keys", "/faults", "/events?limit=5",
                     "/history", "/check", "/network/messages", "/placement/color", "/read/color", "/scenario",
                     "/scheduler/jobs", "/dispatch/drones", "/dispatch/deliveries/p1", "/sensors/floor-1", "/alerts"):
            answer = c.get(path)  # a 503 or 504 is a node's answer (no leader yet); a 500 is ReplicaLab's bug
            self.assertNotEqual(answer.status_code, 500, f"{path}: {answer.text[:300]}")
            self.assertNotEqual(answer.json().get("error"), "internal_error", path)
        node = c.get("/nodes/2").json()
        self.assertEqual((node["node"]["status"], node["source"]), ("alive", "program"))
        self.assertIn(f"its program runs ({MODEL_3!r}, pid {program(c, 2)['pid']})", node["message"])
        self.assertIn(program(c, 2)["data_dir"], node["note"])
        self.assertTrue(os.path.isabs(program(c, 2)["data_dir"]), "the path the program gets, absolute")
        self.assertIn("REPLICALAB_DATA_DIR", c.get("/keys").json()["message"])
        self.assertIn(program(c, 2)["data_dir"].replace("node-2", "node-N"), c.get("/keys").json()["message"],
                      "/keys names the same absolute place as /nodes/N")
        refused = c.post("/dispatch/drones", {"id": "d1", "x": 0, "y": 0})
        self.assertEqual((refused.status_code, refused.json()["error"]), (409, "conflict"))
        self.assertIn("lin-kv", refused.json()["message"])

    def test_a_killed_program_is_its_nodes_crash_until_recover(self):
        """kill -9 of a program (not its node process) marks its node down (crash) with the signal in words;
        /health counts it down, a request to it says POST /recover/N, and /recover starts a new program."""
        c = cluster
        pid = program(c, 2)["pid"]
        os.kill(pid, signal.SIGKILL)
        entry = c.wait_down(2)
        self.assertEqual((entry["failure"], entry["program"]["running"]), ("crash", False))
        try:
            health = c.get("/health").json()
            self.assertEqual((health["nodes_alive"], health["health"]), (4, "degraded"))
            told = [e["text"] for e in events(c, "node_failed") if f"(pid {pid})" in e["text"]]
            self.assertTrue(told and "was killed by signal 9 (SIGKILL)" in told[0], told)
            refused = c.post("/write", {"key": "k", "value": 1, "coordinator": 2})
            self.assertEqual((refused.status_code, refused.json()["outcome"]), (503, "fail"))
            self.assertIn("POST /recover/2", refused.json()["message"])
        finally:
            self.assertEqual(c.post("/recover/2").status_code, 200)
        after = program(c, 2)
        self.assertTrue(after["running"])
        self.assertNotEqual(after["pid"], pid)

    def test_delete_is_refused_with_a_sentence(self):
        """lin-kv has no delete: /delete answers 405 saying so, and nothing is recorded."""
        recorded = cluster.get("/history").json()["recorded_ops"]
        refused = requests.delete(cluster.url + "/delete/d", timeout=10)
        self.assertEqual(refused.status_code, 405)
        self.assertIn("no delete", refused.json()["message"])
        self.assertEqual(cluster.get("/history").json()["recorded_ops"], recorded)

    def test_student_messages_cross_the_fault_table_and_the_event_log(self):
        """The programs' own messages are narrated with their body type; a partition drops them, naming it."""
        c = cluster
        sent = events(c, "message_sent")
        kinds = {e["details"]["kind"] for e in sent}
        self.assertIn("replicate", kinds, "the model's messages appear with their own type")
        self.assertEqual(len({e["details"]["msg_id"] for e in sent}), len(sent), "one id per message")
        c.post("/partition", {"groups": [[0], [1, 2, 3, 4]]})
        try:
            dropped = wait_for(lambda: [e for e in events(c, "message_dropped")
                                        if "partition" in e["details"].get("reason", "")])
            self.assertTrue(dropped, "no student message was dropped by the partition")
            self.assertNotEqual(c.post("/write", {"key": "p", "value": 1, "coordinator": 0}).status_code, 200,
                                "the node cut off from the majority must not acknowledge a write")
        finally:
            c.post("/heal")
        self.assertEqual(write_until_ok(c, {"key": "p", "value": 2}).status_code, 200)

    def test_clearing_the_faults_of_student_programs_answers_200(self):
        """DELETE /faults clears a link fault on a cluster of programs, which have no clock skew to reset."""
        c = cluster
        self.assertEqual(c.post("/links/0/1", {"drop_rate": 0.5}).status_code, 200)
        cleared = requests.delete(c.url + "/faults", timeout=10)
        self.assertEqual(cleared.status_code, 200, cleared.text)
        self.assertEqual(c.get("/faults").json()["links"], [])

    def test_step_mode_holds_the_programs_messages(self):
        """Paused, a write's student messages wait at their sender, listed with the ids the events use;
        delivered by hand and resumed, the write is answered."""
        c = cluster
        write_until_ok(c, {"key": "s", "value": 0})  # a leader is in place before the network stops
        c.post("/network/pause")
        answers: dict = {}
        writer = threading.Thread(target=lambda: answers.update(
            write=c.post("/write", {"key": "s", "value": 1, "coordinator": 1})))
        try:
            writer.start()
            held = wait_for(lambda: c.get("/network/messages").json()["messages"])
            self.assertTrue(held, "no student message was held while paused")
            first = held[0]
            # The node's events reach the front on their own (its relay sends every 50 ms).
            sent = wait_for(lambda: [e["details"]["kind"] for e in events(c, "message_sent")
                                     if e["details"]["msg_id"] == first["id"]])
            self.assertEqual(sent, [first["kind"]], "the held id is the id the events gave it")
            self.assertEqual(c.post(f"/network/deliver/{first['id']}", {}).status_code, 200)
            delivered = [e for e in events(c, "message_delivered") if e["details"]["msg_id"] == first["id"]]
            self.assertTrue(delivered, "delivering by hand reached the receiving program's node")
        finally:
            c.post("/network/resume")
            writer.join(30)
        self.assertEqual(answers["write"].status_code, 200, answers["write"].text)

    def test_stop_pauses_the_program_and_recover_continues_it(self):
        """/fail?mode=stop SIGSTOPs the node's program as well as its node process; /recover continues both."""
        c = cluster
        pid = program(c, 3)["pid"]
        self.assertEqual(c.post("/fail/3?mode=stop").status_code, 200)
        try:
            self.assertEqual(state(pid), "T")
            self.assertIn("its program is frozen (SIGSTOP) until POST /recover/3", c.get("/nodes/3").json()["message"])
        finally:
            recovered = c.post("/recover/3")
        self.assertEqual(recovered.status_code, 200)
        self.assertIn("catches up by its own protocol", recovered.json()["message"])
        self.assertTrue(wait_for(lambda: state(pid) in ("S", "R")))

    def test_kill_9_restarts_the_program_on_its_data_dir(self):
        """A crash kills the program; /recover starts a new one with the same REPLICALAB_DATA_DIR, which kept
        the acknowledged write."""
        c = cluster
        self.assertEqual(write_until_ok(c, {"key": "durable", "value": "kept"}).status_code, 200)
        before = program(c, 1)
        self.assertEqual(c.post("/fail/1?mode=crash").status_code, 200)
        self.assertTrue(wait_for(lambda: state(before["pid"]) in ("gone", "Z")))
        self.assertEqual(c.post("/recover/1").status_code, 200)
        after = program(c, 1)
        self.assertNotEqual(after["pid"], before["pid"])
        self.assertEqual(after["data_dir"], before["data_dir"])
        self.assertTrue(os.listdir(after["data_dir"]), "the program's saved state is still there")
        read = wait_for(lambda: (lambda a: a if a.status_code == 200 else None)(
            c.get("/read/durable?coordinator=1")))
        self.assertEqual(read.json()["value"], "kept")

    def test_wipe_deletes_the_program_data_dir(self):
        """/fail?mode=wipe kills the program and deletes its data directory; /recover starts it empty."""
        c = cluster
        data_dir = program(c, 4)["data_dir"]
        self.assertTrue(os.path.isdir(data_dir))
        lost = c.post("/fail/4?mode=wipe").json()["lost"]
        self.assertEqual(lost["program_data_dir"], "deleted")
        self.assertFalse(os.path.exists(data_dir))
        self.assertEqual(c.post("/recover/4").status_code, 200)
        self.assertTrue(program(c, 4)["running"])


@unittest.skipIf(shutil.which("node") is None, "Node.js is not installed: apt-get install nodejs")
class JavaScriptClusterTest(unittest.TestCase):
    """Lab 12's JavaScript example node (stage 1) as a 5-node cluster."""

    def test_write_read_cas_on_the_javascript_node(self):
        """A cluster of `node model_1_single_copy.js` answers write, read and cas through any node."""
        c = RealCluster(nodes=5, args=["--node-cmd", JS_MODEL])
        try:
            self.assertEqual(c.post("/write", {"key": "j", "value": [1], "coordinator": 3}).status_code, 200)
            self.assertEqual(c.get("/read/j?coordinator=4").json()["value"], [1])
            self.assertEqual(c.post("/cas", {"key": "j", "from": [1], "to": 2, "coordinator": 1}).status_code, 200)
            self.assertEqual(c.get("/read/j").json()["value"], 2)
            self.assertTrue(c.get("/check").json()["linearizable"])
        finally:
            self.assertEqual(c.stop(), [])


@unittest.skipIf(BROWSER_MISSING, BROWSER_MISSING)
class StudentDashboardBrowserTest(BrowserCase):
    """The dashboard on a cluster of student programs, in headless Chromium."""

    def dashboard(self, c: RealCluster):
        self.context = self.browser.new_context(viewport={"width": 1280, "height": 1000})
        page = self.context.new_page()
        page.goto(c.url + "/dashboard")
        expect(page.locator("body")).to_have_attribute("data-ready", "true", timeout=WAIT_MS)
        return page

    def test_the_space_time_diagram_draws_the_programs_messages(self):
        """Delivered arrows appear for the programs' own messages (kind = their body type), as /events has them."""
        page = self.dashboard(cluster)
        cluster.post("/write", {"key": "drawn", "value": 1})
        arrow = page.locator('#spacetime .arrow.msg-kind-replicate[data-status="delivered"]').first
        expect(arrow).to_be_attached(timeout=WAIT_MS)
        msg_id = arrow.get_attribute("data-msg-id")
        sent = [e for e in events(cluster, "message_sent") if str(e["details"]["msg_id"]) == msg_id]
        self.assertEqual([e["details"]["kind"] for e in sent], ["replicate"])
        self.shoot(page, "dashboard-student-nodes.png")

    def test_a_program_problem_is_a_visible_notice(self):
        """A restarted program that prints garbage shows a notice naming the node and the line."""
        self.assertEqual(cluster.post("/fail/4?mode=crash").status_code, 200)
        page = self.dashboard(cluster)
        self.assertEqual(cluster.post("/recover/4").status_code, 200)
        notice = page.locator("#notices .notice-error", has_text="hello from a debug print")
        expect(notice).to_contain_text("node-4", timeout=WAIT_MS)


class BrokenProgramsTest(unittest.TestCase):
    """A mixed cluster: nodes 0-1 lab 12's model, 2 prints garbage first, 3 never answers init, 4 exits at once."""

    c: RealCluster

    @classmethod
    def setUpClass(cls):
        cls.c = RealCluster(nodes=5, args=["--node-cmd", f"2={GARBAGE}", "--node-cmd", f"3={SILENT}",
                                           "--node-cmd", f"4={EXITS}"])

    @classmethod
    def tearDownClass(cls):
        cls.c.stop()

    def problem(self, node: int) -> dict:
        found = wait_for(lambda: [e for e in events(self.c, "program_problem") if e["nodes"] == [f"node-{node}"]])
        self.assertTrue(found, f"no program_problem event for node {node}")
        return found[0]

    def test_garbage_on_stdout_is_reported_and_the_node_goes_on(self):
        """A non-JSON line is told with its node, the line and why, and that node still answers requests."""
        event = self.problem(2)
        self.assertEqual(event["details"]["problem"], "malformed_line")
        self.assertIn("hello from a debug print", event["details"]["line"])
        self.assertIn("not JSON", event["details"]["why"])
        self.assertEqual(write_until_ok(self.c, {"key": "g", "value": 1, "coordinator": 2}).status_code, 200)

    def test_a_program_that_exits_at_once_is_reported_and_refuses_requests(self):
        """An exit before init is told with its code and stderr; a request to that node is a 503 definite fail."""
        event = self.problem(4)
        self.assertIn("exited with code 3", event["text"])
        self.assertIn("cannot start", event["text"])
        answer = self.c.post("/write", {"key": "e", "value": 1, "coordinator": 4})
        self.assertEqual(answer.status_code, 503)
        self.assertIn("not running", answer.json()["message"])
        self.assertIn("POST /recover/4", answer.json()["message"])
        self.assertEqual(answer.json()["outcome"], "fail")

    def test_a_program_that_never_started_is_a_down_node_from_the_start(self):
        """Nodes whose program exited at once or never answered init are down (crash) in /nodes, /health and
        the banner (which no longer speaks of quorums and sqlite); /recover says the program exits again."""
        nodes = self.c.get("/nodes").json()["nodes"]
        self.assertEqual([(n["status"], n["failure"]) for n in nodes[3:]], [("dead", "crash")] * 2)
        health = self.c.get("/health").json()
        self.assertEqual(health["nodes_alive"], 3)
        with open(os.path.join(self.c.data_dir, "front.log"), encoding="utf-8") as log:
            banner = log.read().split("Listening on")[0]
        self.assertIn("node-4 is down: node-4's program n4 did not start as a node", banner)
        self.assertIn("REPLICALAB_DATA_DIR", banner)
        self.assertNotIn("RF=", banner)
        again = self.c.post("/recover/4")
        self.assertEqual((again.status_code, again.json()["error"]), (503, "program_not_running"))
        self.assertIn("exited with code 3", again.json()["message"])
        self.assertEqual(self.c.get("/nodes").json()["nodes"][4]["status"], "dead")

    def test_killing_a_node_process_shows_its_program_gone(self):
        """kill -9 of a node process of a mixed cluster: /nodes shows its program not running; /recover restarts."""
        before = self.c.get("/nodes").json()["nodes"][0]
        os.kill(before["pid"], signal.SIGKILL)
        entry = self.c.wait_down(0)
        try:
            self.assertEqual((entry["failure"], entry["program"]["running"]), ("crash", False))
        finally:
            self.assertEqual(self.c.post("/recover/0").status_code, 200)
        self.assertTrue(wait_for(lambda: program(self.c, 0)["running"]))

    def test_a_silent_program_is_reported(self):
        """A program that never answers init is stopped and told so; the cluster serves with the others."""
        self.assertIn("never answered init", self.problem(3)["text"])
        self.assertFalse(program(self.c, 3)["running"])

    def test_mixed_cluster_runs_the_model_answer_on_the_other_nodes(self):
        """Nodes not named by --node-cmd N=CMD run lab 12's stage 3 model answer."""
        self.assertIn("model_3_majority_leader.py", program(self.c, 0)["command"])
        self.assertIn("garbage_then_model.py", program(self.c, 2)["command"])

    def test_z_killing_the_front_leaves_no_orphan(self):
        """kill -9 of the front ends every node process and every program (runs last: it ends the cluster)."""
        nodes = self.c.get("/nodes").json()["nodes"]
        pids = [n["pid"] for n in nodes] + [n["program"]["pid"] for n in nodes if n["program"]["running"]]
        self.assertEqual(len(pids), 8)
        os.kill(self.c.front.pid, signal.SIGKILL)
        self.assertTrue(wait_for(lambda: not any(processes.is_alive(pid) for pid in pids), 10),
                        [pid for pid in pids if processes.is_alive(pid)])


if __name__ == "__main__":
    unittest.main()
