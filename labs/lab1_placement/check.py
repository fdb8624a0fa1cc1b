"""Lab 1 — placement and replication: where keys live, why, and how RF changes it."""
from labs.steps import Lab, Step, expect
from models import node_id_of

SENSOR_KEYS = [f"energy:p{floor}:{hour:02d}:00" for floor in (1, 2, 3) for hour in (8, 12, 18, 22)]


def prefs(ctx):
    """The preference list saved from step 1."""
    return ctx["placement"]["preference_list"]


def check_placement(ctx, answer):
    """Step 1: RF distinct nodes, met in clockwise order."""
    expect(len(answer["preference_list"]) == 3, "the preference list has RF=3 nodes")
    expect(len(set(answer["preference_list"])) == 3, "the three nodes are distinct")
    expect([p["steps_clockwise"] for p in answer["points"]] == sorted(p["steps_clockwise"] for p in answer["points"]),
           "the nodes are met in clockwise order from the key's position")


def check_write(ctx, answer):
    """Step 2: the primary coordinates and every replica acks."""
    expect(answer["coordinator"] == prefs(ctx)[0], "the coordinator is the first node of the preference list")
    expect(sorted(a["node"] for a in answer["acks"]) == sorted(prefs(ctx)),
           "the acks come from exactly the preference-list nodes")
    expect(answer["quorum"] == {"w": 2, "acks": 3, "met": True}, "3 acks arrived where W=2 were needed")


def check_nodes(ctx, answer):
    """Step 3: only the replicas hold the key."""
    holding = sorted(n["name"] for n in answer["nodes"] if n["keys"] == 1)
    expect(holding == sorted(prefs(ctx)), "exactly the three replicas hold one key")


def check_node_detail(ctx, answer):
    """Step 4: the primary holds the value at the reported version."""
    record = answer["records"][0]
    expect(record["key"] == "color" and record["value"] == "blue", "the primary holds color=blue")
    expect(record["version"] == ctx["write"]["version"], "with the version the write reported")


def check_keys(ctx, answer):
    """Step 6: every key on 3 nodes, keys spread over all nodes."""
    listed = {k["key"]: k["held_by"] for k in answer["keys"]}
    expect(all(len(listed[k]) == 3 for k in SENSOR_KEYS), "every sensor key is held by 3 nodes")
    holders = {n for k in SENSOR_KEYS for n in listed[k]}
    expect(len(holders) == 5, "between them, the keys are spread over all 5 nodes")
    expect(len({tuple(listed[k]) for k in SENSOR_KEYS}) > 3, "different keys land on different nodes")


def check_what_if(ctx, answer):
    """Step 8: a larger RF extends the same clockwise walk."""
    expect(answer["preference_list"][:3] == prefs(ctx), "with RF=5 the first three nodes are the same")
    expect(len(answer["preference_list"]) == 5, "RF=5 adds the remaining nodes clockwise")


def check_read(ctx, answer):
    """Step 9: the read returns blue from all replicas."""
    expect(answer["value"] == "blue", "the read returns blue")
    expect(len(answer["replicas_read"]) == 3 and answer["quorum"]["r"] == 2,
           "all three replicas answered although R=2 were needed")


def check_primaries(ctx, answers):
    """Step 7: keys have different primaries, each coordinating its key."""
    primaries = {a["preference_list"][0] for a in answers}
    expect(len(primaries) >= 3, "the sensor keys have several different primaries")
    expect(all(a["coordinator"] == a["preference_list"][0] for a in answers),
           "with every node up, each key's coordinator is its primary")


LAB = Lab(1, "Placement and replication", "lab1_placement", steps=[
    Step("Where will 'color' live?", "GET", "/placement/color", save="placement", check=check_placement,
         explain="Before writing anything, ask the ring where the key 'color' belongs. The key is "
                 "hashed to a point on a circle; each node owns many points (virtual nodes).",
         notice="preference_list: the first 3 distinct nodes met clockwise from the key's "
                "position. 'points' shows which ring point of each node was met, and after how many "
                "steps."),
    Step("Write color=blue", "POST", "/write", body={"key": "color", "value": "blue"}, save="write",
         check=check_write,
         explain="Store a value. The first live node of the preference list coordinates the write.",
         notice="coordinator, acks (one per replica) and quorum: W=2 acks were needed, 3 arrived. "
                "The story lists each replica storing the value at the same version."),
    Step("Which nodes hold a key now?", "GET", "/nodes", check=check_nodes,
         notice="keys=1 on exactly the three nodes of the preference list; the other two hold nothing."),
    Step("Look inside the primary", "GET", lambda ctx: f"/nodes/{node_id_of(prefs(ctx)[0])}",
         check=check_node_detail,
         notice="the record's version is '<timestamp>@<coordinator>': last-writer-wins compares "
                "these, timestamp first, node id to break ties."),
    Step("Write twelve sensor readings", "POST", "/write",
         each=SENSOR_KEYS, body=lambda ctx, key: {"key": key, "value": {"kwh": len(key)}},
         explain="Write a dozen keys such as energy:p1:08:00 (colons and slashes are fine in keys)."),
    Step("Where did they go?", "GET", "/keys", check=check_keys,
         notice="each key is on 3 nodes, but not the same 3: the hash spreads the keys so every "
                "node carries about 3/5 of them."),
    Step("Find each key's primary", "GET", lambda ctx, key: f"/placement/{key}", each=SENSOR_KEYS,
         check=check_primaries,
         notice="each key has its own primary (the first node of its preference list), which "
                "coordinates its reads and writes while it is up: the load spreads too."),
    Step("What if RF were 5?", "GET", "/placement/color?rf=5", check=check_what_if,
         explain="Replication factor is a cluster setting (python run.py --rf N). ?rf= asks the ring "
                 "what the preference list would be.",
         notice="raising RF keeps the same first nodes and adds the next ones clockwise: the "
                "preference list is a prefix of one walk around the ring."),
    Step("Read color back", "GET", "/read/color", check=check_read,
         notice="replicas_read lists each replica's version; with all versions equal nothing "
                "needed repair (repaired: [])."),
])
