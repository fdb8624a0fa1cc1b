"""Lab 4 — partitions: both sides accept writes, LWW keeps one; a skewed clock loses a newer write."""
from labs.placement import names, replica, stand_in
from labs.steps import Lab, Step, expect


def check_partition(ctx, answer):
    """Two sides: A with its stand-in, and everyone else."""
    expect(answer["faults"]["partition"][0] == sorted(names(replica(ctx, 0), stand_in(ctx))),
           "one side holds the primary A and the stand-in S; the other side the rest")


def check_left(ctx, answer):
    """The write on A's side succeeds with a stand-in."""
    expect(answer["quorum"]["met"], "the write on A's side succeeds (W=2)")
    expect({a["node"] for a in answer["acks"]} == names(replica(ctx, 0), stand_in(ctx)),
           "acknowledged by A and by S standing in for a replica it cannot reach")


def check_right(ctx, answer):
    """The write on the other side succeeds too."""
    expect(answer["quorum"]["met"], "the write on the other side succeeds too")
    expect(names(replica(ctx, 1), replica(ctx, 2)) <= {a["node"] for a in answer["acks"]},
           "acknowledged by the two replicas on that side")


def holds(value):
    """A check that the node shown holds `value` for color."""
    return lambda ctx, answer: expect(
        next(r["value"] for r in answer["records"] if r["key"] == "color") == value,
        f"this node holds {value}")


def check_merge(ctx, answer):
    """After healing, one of two acknowledged writes is gone."""
    expect(answer["value"] == "right", "the read returns right, the write with the later timestamp")
    expect(f"node-{replica(ctx, 0)}" in answer["repaired"], "A's acknowledged 'left' was overwritten")


def check_slow_write(ctx, answer):
    """The skewed write is acknowledged but changes nothing."""
    expect(answer["quorum"]["met"], "the write from the slow clock is acknowledged")
    expect(all(a["outcome"] == "kept_newer" for a in answer["acks"]),
           "yet every replica kept the older 'fast': outcome kept_newer")
    expect(answer["stored_on"] == [] and "stored nowhere" in answer["message"],
           "stored_on is empty and the message says the write was stored nowhere")


LAB = Lab(4, "Partitions, last-writer-wins and clock skew", "lab4_partitions",
          server={"scheduler": "off"}, steps=[
    Step("Write color=blue", "POST", "/write", body={"key": "color", "value": "blue"}),
    Step("Where does color live?", "GET", "/placement/color", save="placement",
         notice="call the replicas A, B, C and the first fallback S."),
    Step("Partition: A and S on one side", "POST", "/partition",
         body=lambda ctx: {"groups": [[replica(ctx, 0), stand_in(ctx)]]}, check=check_partition,
         notice="nodes not named form the other side together."),
    Step("A client on A's side writes color=left", "POST", "/write",
         body=lambda ctx: {"key": "color", "value": "left", "coordinator": replica(ctx, 0)},
         check=check_left,
         notice="a sloppy quorum: S stands in for the replicas A cannot reach, so W=2 is met."),
    Step("A client on the other side writes color=right", "POST", "/write",
         body=lambda ctx: {"key": "color", "value": "right", "coordinator": replica(ctx, 1)},
         check=check_right),
    Step("A holds left", "GET", lambda ctx: f"/nodes/{replica(ctx, 0)}", check=holds("left")),
    Step("B holds right", "GET", lambda ctx: f"/nodes/{replica(ctx, 1)}", check=holds("right"),
         notice="two clients were told 'success' for two different values."),
    Step("Heal the partition", "POST", "/heal"),
    Step("Read color from all replicas", "GET", "/read/color?r=3", check=check_merge,
         notice="last-writer-wins kept the later timestamp. The 'left' write was acknowledged and is "
                "now silently gone: no error, no conflict reported."),
    Step("Set B's clock 5 seconds behind", "POST", lambda ctx: f"/nodes/{replica(ctx, 1)}/clock",
         body={"skew_ms": -5000}),
    Step("A client of A writes color=fast", "POST", "/write",
         body=lambda ctx: {"key": "color", "value": "fast", "coordinator": replica(ctx, 0)}),
    Step("Later, a client of B writes color=slow", "POST", "/write",
         body=lambda ctx: {"key": "color", "value": "slow", "coordinator": replica(ctx, 1)},
         check=check_slow_write,
         notice="B stamped its write 5 s in the past, so it is 'older' than fast although it came "
                "later. Every replica acknowledged it and kept fast."),
    Step("Read color", "GET", "/read/color", check=lambda ctx, a: expect(a["value"] == "fast",
                                                                      "the read returns fast, not the later slow"),
         notice="the newer write lost to an older one because of one wrong clock."),
    Step("Clear the faults", "DELETE", "/faults"),
])
