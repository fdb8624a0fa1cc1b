"""Lab 2 — failures and quorums: one node down, too many down, and catching up."""
from labs.placement import replica
from labs.placement import stand_in as stand_in_id
from labs.steps import Lab, Step, expect
from models import node_id_of, node_name


def victim(ctx):
    """The replica we fail first (its name): the second of the preference list."""
    return node_name(replica(ctx, 1))


def stand_in(ctx):
    """The first node after the preference list (its name): it stands in for the victim."""
    return node_name(stand_in_id(ctx))


def survivor(ctx):
    """The one node left up in the second half of the lab (its name)."""
    return node_name(replica(ctx, 2))


def others_to_fail(ctx):
    """Every node except the first victim and the survivor."""
    return [n for n in range(5) if n not in (node_id_of(victim(ctx)), node_id_of(survivor(ctx)))]


def check_hinted_write(ctx, answer):
    """Step 4: the write succeeds through a stand-in holding a hint."""
    expect(answer["quorum"]["met"], "the write succeeds with one replica down")
    expect(answer["hints"] == [{"held_by": stand_in(ctx), "for": victim(ctx)}],
           "the next node clockwise keeps the write with a hint for the down replica")
    expect(any("gave up waiting" in line for line in answer["story"]),
           "the story shows the coordinator timing out on the down replica first")


def check_hint_held(ctx, answer):
    """Step 5: the stand-in holds the hint apart from its records."""
    hints = answer["hints_held"]
    expect(len(hints) == 1 and hints[0]["key"] == "color" and hints[0]["for"] == victim(ctx),
           "the stand-in holds exactly one hint: color, for the down replica")
    expect(all(r["key"] != "color" for r in answer["records"]),
           "the hint is kept apart from the stand-in's own records")


def check_read_one_down(ctx, answer):
    """Step 6: the two live replicas meet R=2; no stand-in is needed for a read."""
    expect(answer["value"] == "green", "the read returns green with one replica down")
    expect(len(answer["replicas_read"]) == 2 and not any(a["stands_in_for"] for a in answer["replicas_read"]),
           "the two live replicas answered, which meets R=2, so no stand-in was asked")
    expect(answer["silent"] == [victim(ctx)], "the down replica is listed as silent")


def check_health(ctx, answer):
    """Step 8: one node alive, too few for W."""
    expect(answer["nodes_alive"] == 1 and not answer["writes_possible"],
           "one node is alive, too few for W=2")
    expect(answer["health"] == "down", "health says down: requests at the default quorums will fail")


def check_partial_write(ctx, answer):
    """Step 9: 503, yet stored on the survivor."""
    expect(answer["error"] == "no_quorum", "the write is refused with 503 no_quorum")
    expect(answer["stored_on"] == [survivor(ctx)], "yet the value was stored on the surviving node")
    expect("not confirmed" in answer["message"], "the message says the write is not confirmed")


def check_r1_sees_partial_write(ctx, answer):
    """Step 11: R=1 sees the unconfirmed write."""
    expect(answer["value"] == "red", "with R=1 the 'failed' write is visible: red")


def check_recover(ctx, answer):
    """Step 13: the victim catches up, hint included."""
    expect("color" in answer["caught_up_keys"], "the recovered node caught up on color")
    expect(answer["hints_received"] == ["color"], "the stand-in handed its hint for color back")
    expect("red" not in str(answer["hints_handed_off"]), "nothing was handed off by the node itself")
    expect(any("already had a newer color" in line and "drops its hint" in line for line in answer["story"]),
           "the story says the node kept its newer red over the hint's older green")


def check_final(ctx, answer):
    """Step 14: all replicas agree on the unconfirmed write."""
    expect(answer["value"] == "red", "every replica now agrees on red, the write that got a 503")
    expect(len(answer["replicas_read"]) == 3, "all three replicas answered")
    expect(len({str(a["version"]) for a in answer["replicas_read"]}) == 1, "with the same version")


LAB = Lab(2, "Failures and quorums", "lab2_failures", steps=[
    Step("Write color=blue with every node up", "POST", "/write",
         body={"key": "color", "value": "blue"}),
    Step("Where does color live?", "GET", "/placement/color", save="placement",
         notice="preference_list: the three replicas. fallback_order: who stands in, in order, "
                "when a replica does not answer."),
    Step("Fail the second replica", "POST", lambda ctx: f"/fail/{node_id_of(victim(ctx))}",
         check=lambda ctx, a: expect(a["message"].startswith(f"{victim(ctx)} is down (stop): it keeps its memory"),
                                     "the answer says the node is down, in which mode, and what it kept"),
         notice="the node keeps its memory and disk; the network now drops every message to it."),
    Step("Write color=green with one replica down", "POST", "/write",
         body={"key": "color", "value": "green"}, check=check_hinted_write,
         notice="hints: the first node of the fallback order stored the value 'as a hint' for the "
                "down replica. Its ack counts toward W (a sloppy quorum)."),
    Step("Look at the stand-in", "GET", lambda ctx: f"/nodes/{node_id_of(stand_in(ctx))}",
         check=check_hint_held,
         notice="hints_held: the write waits there until its owner comes back."),
    Step("Read color", "GET", "/read/color", check=check_read_one_down,
         notice="R=2 is met by the two live replicas, so the coordinator asks no stand-in (stand-ins "
                "only fill a quorum); the down replica is in silent. One failure changes nothing for "
                "clients."),
    Step("Fail three more nodes", "POST", lambda ctx, n: f"/fail/{n}", each=others_to_fail,
         explain="Now take down every node except one replica."),
    Step("Health check", "GET", "/health", check=check_health),
    Step("Try to write color=red", "POST", "/write", body={"key": "color", "value": "red"},
         status=503, check=check_partial_write,
         notice="503: only 1 of the 2 acks needed. But read stored_on: the value IS on the "
                "surviving node. A 503 means 'not confirmed', not 'rolled back'."),
    Step("Read with the default R=2", "GET", "/read/color", status=503,
         check=lambda ctx, a: expect(a["quorum"] == {"r": 2, "answers": 1, "met": False},
                                     "one answer where R=2 are needed")),
    Step("Read with R=1", "GET", "/read/color?r=1", check=check_r1_sees_partial_write,
         notice="the write that 'failed' is what a reader sees. Clients that retried, or gave up, "
                "must cope with both outcomes."),
    Step("Recover the other nodes", "POST", lambda ctx, n: f"/recover/{n}", each=others_to_fail,
         explain="Bring back every node except the replica we failed first."),
    Step("Recover the first failed replica", "POST", lambda ctx: f"/recover/{node_id_of(victim(ctx))}",
         check=check_recover,
         notice="caught_up_keys: it got green from the stand-in's hint and red from its peers' "
                "sync; last-writer-wins kept red, the newer version."),
    Step("Read color from all three replicas", "GET", "/read/color?r=3", check=check_final,
         notice="the write that got a 503 has become the value everywhere."),
])
