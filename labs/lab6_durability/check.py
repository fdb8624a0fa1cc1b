"""Lab 6 — durability and crash kinds: find the acknowledged write that disappears."""
from labs.placement import replica, replicas
from labs.steps import Lab, Step, expect


def records(answer):
    """The keys held by the node shown."""
    return [r["key"] for r in answer["records"]]


def check_pending(ctx, answer):
    """Each replica holds the write uncommitted."""
    pending = {n["node_id"]: n["uncommitted_writes"] for n in answer["nodes"]}
    expect(all(pending[r] == 1 for r in replicas(ctx)),
           "each replica acknowledged color but has not committed it to disk yet")


def check_stop(ctx, answer):
    """stop loses nothing."""
    expect("uncommitted_writes_lost" not in answer["lost"], "a stop loses nothing")


def check_crash(ctx, answer):
    """crash loses the acknowledged, uncommitted write."""
    lost = [item["key"] for item in answer["lost"]["uncommitted_writes_lost"]]
    expect(lost == ["color"], "the crash lost color: acknowledged, never committed")


def check_recovered_from_peers(ctx, answer):
    """Its peers still had it."""
    expect("color" in answer["pulled_keys"], "recovery pulled color back from the other replicas")


def check_gone(ctx, answer):
    """Nobody has it any more."""
    expect(answer["error"] == "key_not_found", "color is gone: an acknowledged write disappeared")


def check_flush(ctx, answer):
    """The group commit wrote the pending writes."""
    expect(sum(answer["result"]["committed"].values()) == 3, "a group commit on each of the 3 replicas")


def check_crash_after_flush(ctx, answer):
    """Nothing pending: nothing lost."""
    expect(answer["lost"]["uncommitted_writes_lost"] == [], "after the commit, a crash loses nothing")


def check_wipe(ctx, answer):
    """A wipe loses the disk too."""
    expect(answer["lost"]["keys_lost"] >= 1, "the wipe lost every key on the node, committed or not")


def check_cas_durable(ctx, answer):
    """A CAS answers only once it is on disk, even in batch mode."""
    expect("not_yet_durable" not in answer and "Durable" in answer["message"],
           "the CAS answer says it is durable: each replica committed it before acknowledging")


def check_crash_keeps_cas(ctx, answer):
    """The crashes find nothing uncommitted: the CAS was committed on every replica."""
    answers = answer if isinstance(answer, list) else [answer]  # one answer per replica crashed
    expect(all(a["lost"]["uncommitted_writes_lost"] == [] for a in answers),
           "the crashes lost nothing: the CAS was on disk")


LAB = Lab(6, "Durability and crash kinds", "lab6_durability",
          settings={"durability": "batch", "batch_size": 100}, server={"scheduler": "off"}, steps=[
    Step("Check the durability mode", "GET", "/config",
         check=lambda ctx, a: expect(a["config"]["durability"] == "batch", "durability is batch"),
         notice="batch: a node acknowledges a write, then commits writes to disk in groups."),
    Step("Where does color live?", "GET", "/placement/color", save="placement"),
    Step("Write color=blue", "POST", "/write", body={"key": "color", "value": "blue"},
         check=lambda ctx, a: expect(a["quorum"]["met"], "acknowledged by all three replicas")),
    Step("Look at the replicas", "GET", "/nodes", check=check_pending,
         notice="uncommitted_writes: 1 on each replica. The write is acknowledged, yet only in memory."),
    Step("Stop the first replica", "POST", lambda ctx: f"/fail/{replica(ctx, 0)}?mode=stop", check=check_stop),
    Step("Recover it", "POST", lambda ctx: f"/recover/{replica(ctx, 0)}"),
    Step("Crash it", "POST", lambda ctx: f"/fail/{replica(ctx, 0)}?mode=crash", check=check_crash,
         notice="lost.uncommitted_writes_lost: memory is gone, and the write never reached the disk."),
    Step("Look inside the crashed node", "GET", lambda ctx: f"/nodes/{replica(ctx, 0)}",
         check=lambda ctx, a: expect("color" not in records(a), "its disk does not have color")),
    Step("Recover it", "POST", lambda ctx: f"/recover/{replica(ctx, 0)}", check=check_recovered_from_peers,
         notice="replication saved it: the other replicas still had color in memory."),
    Step("Crash all three replicas", "POST", lambda ctx, n: f"/fail/{n}?mode=crash", each=replicas),
    Step("Recover all three", "POST", lambda ctx, n: f"/recover/{n}", each=replicas),
    Step("Read color", "GET", "/read/color", status=404, check=check_gone,
         notice="the client was told the write succeeded, and it is gone."),
    Step("Write color=green", "POST", "/write", body={"key": "color", "value": "green"}),
    Step("Group commit now", "POST", "/scheduler/run/flush", check=check_flush,
         notice="with the scheduler on this runs every 2 s; with --durability sync every write commits "
                "before it is acknowledged."),
    Step("Crash the first replica again", "POST", lambda ctx: f"/fail/{replica(ctx, 0)}?mode=crash",
         check=check_crash_after_flush),
    Step("Recover it", "POST", lambda ctx: f"/recover/{replica(ctx, 0)}"),
    Step("Wipe the second replica", "POST", lambda ctx: f"/fail/{replica(ctx, 1)}?mode=wipe",
         check=check_wipe, notice="wipe: memory and disk both gone, like a replaced machine."),
    Step("Recover it: rebuilt from its peers", "POST", lambda ctx: f"/recover/{replica(ctx, 1)}",
         check=check_recovered_from_peers),
    Step("Read color before a CAS", "GET", "/read/color", save="before_cas"),
    Step("CAS color=red", "POST", "/cas", check=check_cas_durable,
         body=lambda ctx: {"key": "color", "expected": ctx["before_cas"]["version"]["text"], "value": "red"},
         notice="a CAS commits each replica's pending group before it acknowledges: no not_yet_durable."),
    Step("Crash all three replicas again", "POST", lambda ctx, n: f"/fail/{n}?mode=crash", each=replicas,
         check=check_crash_keeps_cas),
    Step("Recover all three again", "POST", lambda ctx, n: f"/recover/{n}", each=replicas),
    Step("Read color after the crashes", "GET", "/read/color",
         check=lambda ctx, a: expect(a["value"] == "red", "color is red: the CAS survived every replica's crash"),
         notice="unlike the plain write of step 3, the CAS outlived the crash of every replica."),
])
