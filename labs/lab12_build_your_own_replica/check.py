"""Lab 12 — build your own replica: the starter speaks the protocol, and each stage gets its own grade-node run.

Steps 1-3 run the starter node through the stdio bridge (byon.smoke, a kill -9
and a restart on its data, a line of garbage on stdout). Steps 4-7 grade the
model answers with `python -m labs grade-node` on a real cluster of them (short
runs: one seed, 3 nodes, a few seconds; the README gives the full 5-seed
commands an instructor runs before class). Step 8 pauses a cluster of the
stage 3 model slowed with --time-scale 100 and moves its messages by hand
(step mode, as in lab 5), as the README's step 8 says. Step 9 kills a
starter's program under its node and recovers it.
"""
import io
import os
import shlex
import signal
import sys
import tempfile
import threading
import time

from byon.smoke import run as smoke
from byon.stdio_bridge import StdioBridge
from labs.grade_node import report
from labs.grade_node.run import GradeSettings, grade_run
from labs.real_client import RealModeClient
from labs.steps import Lab, Step, expect

HERE = os.path.dirname(os.path.abspath(__file__))
PYTHON = os.path.join(HERE, "python")


def node_cmd(name: str, *args: str) -> str:
    """The command that runs python/NAME with this interpreter (students type python3)."""
    return " ".join(shlex.quote(part) for part in (sys.executable, os.path.join(PYTHON, name), *args))


def smoke_starter(ctx):
    """byon.smoke on the starter: every reply as the protocol asks."""
    out = io.StringIO()
    code = smoke(node_cmd("starter.py"), out=out)
    return {"message": out.getvalue(), "exit": code}


def check_smoke(ctx, answer):
    """The starter answers init, a missing read (20), write, read, a failing cas (22), a cas."""
    expect(answer["exit"] == 0 and "6 of 6 replies as the protocol asks" in answer["message"],
           "byon.smoke says 6 of 6 replies as the protocol asks")


def survive_kill(ctx):
    """Write x through the starter, kill -9 it, start it again on the same data directory, read x."""
    replies: dict = {}

    def bridge(data_dir):
        return StdioBridge("n1", ["n1"], node_cmd("starter.py"), lambda e: replies.update(
            {e.body.get("in_reply_to"): e.body}), on_log=lambda n, t: None, data_dir=data_dir)

    def ask(node, msg_id, body):
        node.send({"src": "c1", "dest": "n1", "body": {"msg_id": msg_id, **body}})
        for _ in range(200):  # real time: the program answers on its own
            if msg_id in replies:
                return replies[msg_id]
            time.sleep(0.01)
        return None

    with tempfile.TemporaryDirectory() as data_dir:
        first = bridge(data_dir)
        first.start()
        wrote = ask(first, 1, {"type": "write", "key": "x", "value": 7})
        pid = first.pid
        os.kill(pid, signal.SIGKILL)  # kill -9, as from a terminal: no goodbye
        first.stop()
        second = bridge(data_dir)
        second.start()
        try:
            read = ask(second, 2, {"type": "read", "key": "x"})
        finally:
            second.stop()
        files = os.listdir(data_dir)
    return {"message": f"wrote x=7: {wrote}; kill -9 pid {pid}; restarted as pid {second.pid}; read x: {read}; "
                       f"data directory: {files}", "wrote": wrote, "read": read, "files": files}


def check_survived(ctx, answer):
    """The write was acknowledged, and the restarted node reads it back from its file."""
    expect((answer["wrote"] or {}).get("type") == "write_ok", "the write is acknowledged with write_ok")
    expect((answer["read"] or {}).get("value") == 7, "after kill -9 and a restart, read x returns 7")
    expect("n1.json" in answer["files"], "the value lives in $REPLICALAB_DATA_DIR/n1.json")


def smoke_garbage(ctx):
    """The starter with a line of garbage on its stdout first: byon.smoke names the line and goes on."""
    out = io.StringIO()
    smoke(" ".join(shlex.quote(p) for p in ("sh", "-c", f"echo hello; exec {node_cmd('starter.py')}")), out=out)
    return {"message": out.getvalue()}


def check_garbage(ctx, answer):
    """The bad line is reported with why and where logs belong, and every reply still comes."""
    text = answer["message"]
    expect("printed a line that is not a valid message" in text and "The line: hello" in text,
           "the problem names the node, says why the line is refused and shows it")
    expect("6 of 6 replies as the protocol asks" in text, "the node keeps answering: 6 of 6 replies")


def grading(program: str, *args: str, faults=(), time_s: float = 3, keys: int = 3, clients: int = 5,
            until_failure: int = 1, every_s: float = 1.0):
    """A step action: grade-node on lab 12's PROGRAM with these faults (3 nodes, a short run).

    One seed; or, with `until_failure` N, seeds 1..N until one run fails: a real
    network is not deterministic, and a short run on a busy machine may send too few
    operations to meet the bug (the step shows a failure, not a rate).
    """
    def action(ctx):
        settings = GradeSettings(node_cmd(program, *args), "lin-kv", seeds=1, time_s=time_s, nodes=3,
                                 faults=tuple(faults), settle_s=1.5, keys=keys, clients=clients,
                                 fault_every_s=every_s)
        results: list = []
        with tempfile.TemporaryDirectory() as out:
            for seed in range(1, until_failure + 1):
                results.append(grade_run(settings, seed, out))
                if not results[-1].passed:
                    break
        text = report.summary(settings, results)
        return {"message": text, "passed": all(r.passed for r in results),
                "broken": [f.property for r in results for f in r.failed()],
                "replay": settings.replay_command(results[-1].seed)}
    return action


def check_passes(ctx, answer):
    """grade-node passes: linearizable, and every node answers after the heal."""
    expect(answer["passed"], f"grade-node passes (it said: {answer['broken'] or 'pass'})")


def check_split_brain(ctx, answer):
    """Under a partition, stage 2 has two primaries: the checker finds the history not linearizable."""
    expect(not answer["passed"] and "linearizable" in answer["broken"],
           "grade-node fails, naming the property: linearizable")
    expect("--seed " in answer["replay"] and "FAILED: linearizable" in answer["message"],
           "the report gives the command that replays the run by its seed")


STEP_TIME_SCALE = 100  # README step 8: the programs' clocks run 100 times slower while the student steps
STEP_PAUSED_WAIT_MS = 300_000  # and a request sent while paused waits up to 5 minutes
UNSLOWED_FORWARD_S = 2.5  # the model's FORWARD_MS: an unslowed n1 gives up on n0 after this (error 0)


def held_messages(cluster) -> list:
    """GET /network/messages' list."""
    return cluster.request("GET", "/network/messages")[1].get("messages", [])


def step_by_hand(ctx):
    """README step 8 as written: a slowed 3-node stage 3 cluster; pause, write on n1, deliver n1's forward, resume."""
    cluster = RealModeClient({"nodes": 3, "time_scale": STEP_TIME_SCALE, "client_timeout_ms": STEP_PAUSED_WAIT_MS},
                             args=["--node-cmd", node_cmd("model_3_majority_leader.py")])
    try:
        for _ in range(150):  # real time: the programs answer init and n0 leads view 0 on its own
            if cluster.request("POST", "/write", {"key": "x", "value": 0})[0] == 200:
                break
            time.sleep(0.1)
        cluster.request("POST", "/network/pause")
        box: dict = {}
        sent_at = time.monotonic()
        writer = threading.Thread(target=lambda: box.update(write=cluster.request(
            "POST", "/write", {"key": "x", "value": 1, "coordinator": 1})), daemon=True)
        writer.start()
        held, forward = [], None
        for _ in range(100):
            held = held_messages(cluster)
            forward = next((m for m in held if m["kind"] == "write" and m["from"] == "node-1"), None)
            if forward:
                break
            time.sleep(0.05)
        time.sleep(max(0.0, UNSLOWED_FORWARD_S + 0.5 - (time.monotonic() - sent_at)))
        waited_s, still_waiting = time.monotonic() - sent_at, writer.is_alive()
        delivered = cluster.request("POST", f"/network/deliver/{forward['id']}")[1] if forward else {}
        after = held_messages(cluster)
        resumed = cluster.request("POST", "/network/resume")[1]
        writer.join(30)
        read = cluster.request("GET", "/read/x")
    finally:
        cluster.close()
    return {"message": f"held while paused: {[(m['id'], m['from'], m['to'], m['summary']) for m in held]}; "
                       f"{waited_s:.1f} s after it was sent the write "
                       f"{'still waits' if still_waiting else 'had answered'}; "
                       f"delivered: {delivered.get('story')}; then held: {[m['summary'] for m in after]}; "
                       f"resumed: {resumed.get('message')}; the write answered {box.get('write', (None,))[0]}; "
                       f"read x: {read[1].get('value')}",
            "held": held, "forward": forward, "still_waiting": still_waiting, "delivered": delivered,
            "after": after, "write": box.get("write"), "read": read}


def kill_the_program(ctx):
    """A 3-node cluster of the starter: kill -9 node 1's program, see the node down, write to it, recover it."""
    cluster = RealModeClient({"nodes": 3}, args=["--node-cmd", node_cmd("starter.py")])
    try:
        pid = cluster.request("GET", "/nodes")[1]["nodes"][1]["program"]["pid"]
        os.kill(pid, signal.SIGKILL)  # from a terminal: kill -9 <program.pid>
        node: dict = {}
        for _ in range(100):  # the front looks every fifth of a second
            node = cluster.request("GET", "/nodes")[1]["nodes"][1]
            if node["status"] == "dead":
                break
            time.sleep(0.05)
        health = cluster.request("GET", "/health")[1]
        write = cluster.request("POST", "/write", {"key": "x", "value": 1, "coordinator": 1})
        recovered = cluster.request("POST", "/recover/1")
        after = cluster.request("GET", "/nodes")[1]["nodes"][1]["program"]
    finally:
        cluster.close()
    return {"message": f"kill -9 program pid {pid}: node-1 {node.get('status')} ({node.get('failure')}); "
                       f"{health.get('message')} write to node 1: {write[0]} {write[1].get('message')}; "
                       f"recover: {recovered[0]}; its program now pid {after.get('pid')}, "
                       f"running {after.get('running')}",
            "pid": pid, "node": node, "health": health, "write": write, "recovered": recovered, "after": after}


def check_killed_program(ctx, answer):
    """The program's death is its node's crash, counted by /health; a write says how back; /recover restarts it."""
    expect((answer["node"].get("status"), answer["node"].get("failure")) == ("dead", "crash"),
           "the node whose program was killed is down (crash) in /nodes")
    expect(answer["health"].get("nodes_alive") == 2, "/health counts 2 of 3 nodes alive")
    expect(answer["write"][0] == 503 and "POST /recover/1" in answer["write"][1].get("message", ""),
           "a write to that node answers 503 and says POST /recover/1 restarts it")
    after = answer["after"]
    expect(answer["recovered"][0] == 200 and after.get("running") and after.get("pid") != answer["pid"],
           "POST /recover/1 starts a new program")


def check_by_hand(ctx, answer):
    """The forwarded write waits at n1 with a readable summary; it waits past the model's own timeout; delivered,
    it makes n0 send the change; after resume the write answers."""
    forward = answer["forward"] or {}
    expect(forward.get("key") == "x" and forward.get("summary", "").startswith("write x value=1"),
           "paused, n1's forward to n0 waits in GET /network/messages as `write x value=1 ...` with key x")
    expect(len(answer["held"]) <= 10 and all("change=null" in m["summary"] for m in answer["held"]
                                             if m["kind"] == "replicate"),
           "the slowed clock sends few heartbeats while you step, each listed as `replicate view=0 change=null`")
    expect(answer["still_waiting"], f"the write still waits {UNSLOWED_FORWARD_S + 0.5:g} s after it was sent "
                                    "(the model's own timeout is 2.5 s on its slowed clock)")
    story = answer["delivered"].get("story", [])
    expect(any(line.startswith("sent message node-0") and "change={key=x value=1" in line for line in story),
           "the delivery's story tells what n0 did with it: it sent the change to a backup")
    expect(any("delivered message" in line for line in story) and
           any(m["from"] == "node-0" and m["key"] == "x" and "change={key=x value=1" in m["summary"]
               for m in answer["after"]),
           "delivering the forward makes n0 send `replicate view=0 change={key=x value=1 ...}`, held in turn")
    expect(answer["write"] and answer["write"][0] == 200 and answer["read"][1].get("value") == 1,
           "after /network/resume the waiting write answers 200 and x reads 1")


LAB = Lab(12, "Build your own replica", "lab12_build_your_own_replica", steps=[
    Step("Talk to the starter by hand", None, None, action=smoke_starter, check=check_smoke,
         notice="each reply is checked against docs/node-protocol.md: init_ok, error 20, write_ok, error 22."),
    Step("Survive kill -9", None, None, action=survive_kill, check=check_survived,
         notice="Storage.save writes a temporary file, fsyncs and renames it: a kill never leaves half a file."),
    Step("Print garbage on purpose", None, None, action=smoke_garbage, check=check_garbage,
         notice="logs belong on stderr; stdout carries only messages."),
    Step("Stage 1, single copy", None, None, action=grading("model_1_single_copy.py", faults=("crash", "recover")),
         check=check_passes, notice="the holder's kill -9 makes every request time out until it is back: "
                                    "safe, but one copy is one point of failure."),
    Step("Stage 2, primary-backup", None, None,
         action=grading("model_2_primary_backup.py", faults=("crash", "recover")), check=check_passes,
         notice="kills only: a crashed primary is replaced by a backup that has every acknowledged change."),
    Step("What breaks under a partition", None, None,
         action=grading("model_2_primary_backup.py", faults=("partition",), time_s=8, keys=1, clients=8,
                        until_failure=3, every_s=0.5),
         check=check_split_brain, notice="both sides elect a primary: split brain. The report names the read "
                                         "that saw the other side's world."),
    Step("Stage 3, majority leader", None, None, action=grading("model_3_majority_leader.py",
                                                                faults=("crash", "recover", "stop", "partition",
                                                                        "heal", "drop", "clear")),
         check=check_passes, notice="any two majorities meet: partitions, kills and pauses cannot lose a write."),
    Step("Step your node's messages by hand", None, None, action=step_by_hand, check=check_by_hand,
         notice="--time-scale 100 slows your programs' clocks, so their timers wait while you step; POST "
                "/network/pause holds every message at its sender: deliver, drop or duplicate one by its id."),
    Step("Kill your program, not its node", None, None, action=kill_the_program, check=check_killed_program,
         notice="a node is its program: when the program dies the node is down until POST /recover/N."),
])
