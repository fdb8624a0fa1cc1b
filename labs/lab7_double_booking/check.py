"""Lab 7 — double booking: read-then-write across a partition books one drone twice; CAS does not."""
from labs.placement import replica
from labs.steps import Lab, Step, expect


def sides(ctx, saved: str):
    """The partition: the first two replicas of the drone's key, against everyone else."""
    owners = [replica({"placement": ctx[saved]}, i) for i in range(2)]
    return owners, [n for n in range(5) if n not in owners]


def groups(saved: str):
    """The body of POST /partition for the drone whose placement was saved as `saved`."""
    return lambda ctx: {"groups": list(sides(ctx, saved))}


def assign(saved: str, claim: str, delivery: str, side: int):
    """The body of a dispatcher connected to a node of one side (0: majority, 1: minority)."""
    return lambda ctx: {"claim": claim, "delivery": delivery, "coordinator": sides(ctx, saved)[side][0]}


def check_both_booked(drone: str):
    """Each side's dispatcher was told it got the drone."""
    def check(ctx, answer):
        """The dispatcher's answer names the drone as assigned."""
        expect([a["drone"] for a in answer["assigned"]] == [drone],
               f"this dispatcher was told it assigned {drone}")
    return check


def check_double_booked(ctx, answer):
    """Step 8: the audit proves the double booking."""
    expect(not answer["ok"], "the audit is not ok")
    expect({"drone": "d1", "deliveries": ["p1", "p2"]} in answer["double_booked_drones"],
           "d1 is held by both p1 and p2")


def check_cas_won(ctx, answer):
    """Step 12: the majority side's CAS claim succeeds."""
    expect(len(answer["assigned"]) == 1 and answer["assigned"][0]["drone"] == "d2"
           and answer["assigned"][0]["claim"] == "cas",
           "the majority side claimed d2 with CAS")


def check_cas_refused(ctx, answer):
    """Step 13: the minority side's CAS claim is refused: no majority of d2's replicas."""
    expect(answer["error"] == "no_quorum", "the minority side gets 503 no_quorum")
    expect(answer["failed"][0]["drone"] == "d2", "its claim on d2 failed")
    expect(any("Paxos" in line or "prepare" in line for line in answer["story"]),
           "the story shows the prepare that could not gather a majority")


def check_d2_single(ctx, answer):
    """Step 15: d2 is held by one delivery only."""
    expect(all(d["drone"] != "d2" for d in answer["double_booked_drones"]), "d2 is not double-booked")
    expect(all(d["drone"] == "d1" for d in answer["double_booked_drones"]), "only d1 (part 1) still is")


def check_plain_write_beats_cas(ctx, answer):
    """Step 18: the CAS from the version read before the plain write is refused."""
    expect(answer["applied"] is False, "the CAS is not applied")
    expect(answer["current"]["value"]["status"] == "maintenance",
           "the current value is the plain write's, which bypassed Paxos and won under LWW")


LAB = Lab(7, "Double booking", "lab7_double_booking",
          server={"scheduler": "off"}, steps=[
    Step("Register drone d1 at (0, 0)", "POST", "/dispatch/drones", body={"id": "d1", "x": 0, "y": 0},
         status=201, notice="the drone is stored with CAS (expected null: it must not exist yet)."),
    Step("Create deliveries p1 and p2 near d1", "POST", "/dispatch/deliveries", status=201,
         each=[{"id": "p1", "pickup": [3, 4], "dropoff": [10, 0]},
               {"id": "p2", "pickup": [-3, 4], "dropoff": [-10, 0]}],
         body=lambda ctx, item: item),
    Step("Where does drone:d1 live?", "GET", "/placement/drone:d1", save="d1_placement",
         notice="the drone's record has three replicas; the partition puts two of them on one side."),
    Step("Partition: two of d1's replicas on one side", "POST", "/partition", body=groups("d1_placement"),
         notice="each side keeps working: reads and plain writes use stand-ins (a sloppy quorum)."),
    Step("Dispatcher A (majority side) assigns p1, read-then-write", "POST", "/dispatch/assign",
         body=assign("d1_placement", "read-write", "p1", 0), check=check_both_booked("d1"),
         notice="it read d1 idle and wrote d1 busy: nothing checked that d1 was still idle."),
    Step("Dispatcher B (minority side) assigns p2, read-then-write", "POST", "/dispatch/assign",
         body=assign("d1_placement", "read-write", "p2", 1), check=check_both_booked("d1"),
         notice="it cannot see A's write, so it read d1 idle too, and its write succeeded through stand-ins."),
    Step("Heal the partition", "POST", "/heal"),
    Step("Audit", "GET", "/dispatch/audit", check=check_double_booked,
         notice="last-writer-wins kept one of the two drone records, but both deliveries say d1: double booked."),
    Step("Register drone d2 at (100, 100)", "POST", "/dispatch/drones", body={"id": "d2", "x": 100, "y": 100},
         status=201),
    Step("Create deliveries p3 and p4 near d2", "POST", "/dispatch/deliveries", status=201,
         each=[{"id": "p3", "pickup": [103, 104], "dropoff": [110, 100]},
               {"id": "p4", "pickup": [97, 104], "dropoff": [90, 100]}],
         body=lambda ctx, item: item),
    Step("Where does drone:d2 live?", "GET", "/placement/drone:d2", save="d2_placement"),
    Step("Partition again: two of d2's replicas on one side", "POST", "/partition",
         body=groups("d2_placement")),
    Step("Dispatcher A (majority side) claims with CAS", "POST", "/dispatch/assign",
         body=assign("d2_placement", "cas", "p3", 0), check=check_cas_won,
         notice="the claim is a Paxos round over d2's replicas: prepare, promise, accept, commit, each "
                "answered by a majority (2 of 3)."),
    Step("Dispatcher B (minority side) claims with CAS", "POST", "/dispatch/assign",
         body=assign("d2_placement", "cas", "p4", 1), status=503, check=check_cas_refused,
         notice="one replica cannot make a majority, and Paxos takes no stand-ins: 503, nothing chosen."),
    Step("Heal the partition again", "POST", "/heal"),
    Step("Audit again", "GET", "/dispatch/audit", check=check_d2_single,
         notice="d2 serves p3 only; p4 still waits: no drone is idle now, and once one is, the next assign "
                "claims it with CAS, from any side that reaches a majority of its replicas."),
    Step("Read d2 as a dispatcher would", "GET", "/read/drone:d2", save="d2_read"),
    Step("A plain write bypasses Paxos, then a CAS from the old read", "POST", "/write",
         body=lambda ctx: {"key": "drone:d2", "value": {**ctx["d2_read"]["value"], "status": "maintenance"}}),
    Step("CAS from the version read before the plain write", "POST", "/cas", status=409,
         body=lambda ctx: {"key": "drone:d2", "expected": ctx["d2_read"]["version"]["text"],
                           "value": {**ctx["d2_read"]["value"], "status": "idle"}},
         check=check_plain_write_beats_cas,
         notice="CAS compares versions, and the plain write made a newer one: LWW let it win over the "
                "CAS value. Mixing plain writes and CAS on one key gives up the guarantee."),
])
