"""Lab 11 — from simulation to real processes: kill -9 a coordinator, SIGSTOP a replica, watch hints and handoff."""
import os
import signal
import time

from labs.placement import replica, stand_in
from labs.steps import Lab, Step, expect
from models import node_name
from realmode import processes


def pid_of(ctx, i: int) -> int:
    """The pid of the key's i-th replica, as GET /nodes gave it at the start."""
    return ctx["nodes"]["nodes"][replica(ctx, i)]["pid"]


def check_processes(ctx, answer):
    """Real mode: every node is an OS process with its own pid and loopback address."""
    expect(answer["mode"] == "real", "GET /nodes says mode real")
    expect(all(processes.is_alive(n["pid"]) for n in answer["nodes"]),
           "every node has a pid of a running process")


def kill_coordinator(ctx) -> dict:
    """kill -9 of A's process, as from another terminal; then GET /health once the front noticed (or 5 s)."""
    pid = pid_of(ctx, 0)
    os.kill(pid, signal.SIGKILL)
    health: dict = {}
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:  # real time: the front polls its children five times a second
        health = ctx["_client"].request("GET", "/health")[1]
        if health.get("nodes_alive", 0) < health.get("nodes_total", 0):
            break
        time.sleep(0.1)
    return {**health, "message": f"$ kill -9 {pid}\n$ curl localhost:5000/health\n{health.get('message')}",
            "killed_pid": pid}


def check_killed(ctx, answer):
    """A's process is gone, and /health already counts one node less."""
    expect(not processes.is_alive(answer["killed_pid"]), "A's process is gone")
    expect(answer.get("nodes_alive") == answer.get("nodes_total", 0) - 1,
           "GET /health counts one node less: nobody called /fail")


def check_noticed(ctx, answer):
    """Nobody called /fail: the front saw the process die and marked A down (crash)."""
    a = answer["nodes"][replica(ctx, 0)]
    expect(a["status"] == "dead" and a["failure"] == "crash", "A is dead (crash), noticed by the front by itself")


def check_hint_for(i: int):
    """The write took a hint for the key's i-th replica, held by the stand-in S."""
    def check(ctx, answer):
        expect([(h["held_by"], h["for"]) for h in answer["hints"]] == [(node_name(stand_in(ctx)),
                                                                         node_name(replica(ctx, i)))],
               f"S ({node_name(stand_in(ctx))}) keeps the write as a hint for {node_name(replica(ctx, i))}")
    return check


def check_restarted(ctx, answer):
    """A runs again as a new process on its data dir, and S handed it the hint."""
    expect(answer["node"]["pid"] != pid_of(ctx, 0), "A is a new process (a new pid)")
    expect("color" in answer["hints_received"], "S handed color back to A (hinted handoff)")


def check_stopped(ctx, answer):
    """B's process is stopped by SIGSTOP: it keeps its memory but runs nothing."""
    expect(answer["lost"]["signal"] == "SIGSTOP", "the front sent SIGSTOP")
    with open(f"/proc/{answer['node']['pid']}/stat", encoding="ascii") as stat:
        state = stat.read().rsplit(")", 1)[1].split()[0]
    expect(state == "T", "the operating system shows B's process as stopped (state T)")


def stop_and_continue_from_a_terminal(ctx) -> dict:
    """kill -STOP of C's process, then kill -CONT, as from a terminal; what /nodes and the events said."""
    client, c = ctx["_client"], replica(ctx, 2)
    pid = client.request("GET", "/nodes")[1]["nodes"][c]["pid"]
    since = client.request("GET", "/events?limit=1")[1]["last_seq"]

    def status_after(sig, want: str) -> dict:
        os.kill(pid, sig)
        deadline, node = time.monotonic() + 10, {}
        while time.monotonic() < deadline:  # real time: the front polls its children five times a second
            node = client.request("GET", "/nodes")[1]["nodes"][c]
            if node["status"] == want:
                break
            time.sleep(0.1)
        return node
    stopped = status_after(signal.SIGSTOP, "dead")
    continued = status_after(signal.SIGCONT, "alive")
    events = client.request("GET", f"/events?since={since}&limit=500")[1]["events"]
    told = [e["text"] for e in events if e["type"] in ("node_failed", "node_continued", "node_recovered")]
    return {"message": f"$ kill -STOP {pid}  -> node-{c} {stopped.get('status')} ({stopped.get('failure')})\n"
                       f"$ kill -CONT {pid}  -> node-{c} {continued.get('status')}\n" + "\n".join(told),
            "stopped": stopped, "continued": continued, "types": [e["type"] for e in events]}


def check_terminal_signals(ctx, answer):
    """The front noticed both signals by itself: down (stop), then up again through a recovery."""
    expect((answer["stopped"].get("status"), answer["stopped"].get("failure")) == ("dead", "stop"),
           "after kill -STOP, /nodes shows C dead (stop): nobody called /fail")
    expect(answer["continued"].get("status") == "alive" and "node_continued" in answer["types"]
           and "node_recovered" in answer["types"],
           "after kill -CONT the front says C runs again and recovers it: C is alive")


def check_continued(ctx, answer):
    """SIGCONT: the same process runs on, and takes its hint back."""
    expect(answer["node"]["pid"] == ctx["nodes"]["nodes"][replica(ctx, 1)]["pid"], "B is the same process")
    expect("color" in answer["hints_received"], "S handed color back to B")


def check_latency(ctx, answer):
    """Each write in the history has a real duration (the simulated one is 1-10 ms per message, by design)."""
    took = [e["time"] for e in answer["events"] if e["type"] == "ok"]
    expect(len(took) >= 3, "the history holds the lab's writes and their completions")


LAB = Lab(11, "From simulation to real processes", "lab11_real_processes", mode="real",
          settings={"nodes": 4, "rf": 3, "r": 2, "w": 2, "request_timeout_ms": 1000},
          server={"scheduler": "off"}, steps=[
    Step("Every node is a process", "GET", "/nodes", save="nodes", check=check_processes,
         notice="each node has a pid: ps, top and kill see them."),
    Step("Where does color live?", "GET", "/placement/color", save="placement",
         notice="call the replicas A, B, C and the first fallback S."),
    Step("Write color=blue through A", "POST", "/write",
         body=lambda ctx: {"key": "color", "value": "blue", "coordinator": replica(ctx, 0)}),
    Step("kill -9 A from another terminal", None, None, action=kill_coordinator, check=check_killed,
         notice="the check does kill -9 <pid of A>; no /fail was called."),
    Step("The front noticed by itself", "GET", "/nodes", check=check_noticed,
         notice="the console narrates the exit code the front saw (-9: SIGKILL)."),
    Step("Write color=green through B", "POST", "/write",
         body=lambda ctx: {"key": "color", "value": "green", "coordinator": replica(ctx, 1)},
         check=check_hint_for(0), notice="A's connection is refused; after the timeout S stands in."),
    Step("Restart A", "POST", lambda ctx: f"/recover/{replica(ctx, 0)}", check=check_restarted,
         notice="a new process on A's files; S hands the hint back."),
    Step("SIGSTOP B", "POST", lambda ctx: f"/fail/{replica(ctx, 1)}?mode=stop", check=check_stopped,
         notice="kill -STOP <pid> does the same from a terminal."),
    Step("Write color=yellow through C", "POST", "/write",
         body=lambda ctx: {"key": "color", "value": "yellow", "coordinator": replica(ctx, 2)},
         check=check_hint_for(1), notice="B's kernel accepts the connection, but B answers nothing: a timeout."),
    Step("SIGCONT B", "POST", lambda ctx: f"/recover/{replica(ctx, 1)}", check=check_continued),
    Step("Read color from B", "GET", lambda ctx: f"/read/color?coordinator={replica(ctx, 1)}",
         check=lambda ctx, a: expect(a["value"] == "yellow", "B's read returns yellow")),
    Step("Compare a real latency with the simulated one", "GET", "/history?key=color", check=check_latency,
         notice="subtract each invoke's time from its ok's: milliseconds of real HTTP, sqlite and scheduling."),
    Step("kill -STOP and kill -CONT C from a terminal", None, None, action=stop_and_continue_from_a_terminal,
         check=check_terminal_signals,
         notice="the front watches its children: a stop marks C down, a continue recovers it as /recover would."),
])
