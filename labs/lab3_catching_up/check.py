"""Lab 3 — hinted handoff, read repair and anti-entropy: three ways a replica catches up."""
from labs.placement import replica, stand_in
from labs.steps import Lab, Step, expect


def lagging(ctx):
    """B: the replica we keep failing."""
    return replica(ctx, 1)


def value_on(ctx, answer):
    """The value of color on the node shown in `answer`."""
    return next((r["value"] for r in answer["records"] if r["key"] == "color"), None)


def check_value_on_b(expected, why):
    """A check that B holds `expected`."""
    return lambda ctx, answer: expect(value_on(ctx, answer) == expected, why)


def check_hint(ctx, answer):
    """The write left a hint for B on S."""
    expect(answer["hints"] == [{"held_by": f"node-{stand_in(ctx)}", "for": f"node-{lagging(ctx)}"}],
           "the stand-in keeps the write with a hint for B")


def check_quiet(ctx, answer):
    """A quiet recovery receives nothing."""
    expect(answer["caught_up_keys"] == [], "a quiet recovery catches up on nothing by itself")


def check_handoff(ctx, answer):
    """The retry job handed the hint to B."""
    key = f"node-{stand_in(ctx)} -> node-{lagging(ctx)}"
    expect(answer["result"]["delivered"] == {key: ["color"]}, "the hint for color went home to B")
    expect(answer["result"]["hints_left"] == 0, "no hint is left anywhere")


def check_wiped_hint(ctx, answer):
    """Wiping S lost the hint it held."""
    expect(answer["lost"]["hints_lost"] == 1, "the stand-in's wipe destroyed the hint it held")


def check_no_handoff(ctx, answer):
    """With the hint gone, hint retry has nothing to deliver."""
    expect(answer["result"]["delivered"] == {}, "hint retry delivers nothing: the hint is gone")


def check_read_repair(ctx, answer):
    """The read returns red and repairs B."""
    expect(answer["value"] == "red", "the read returns the newest value, red")
    expect(f"node-{lagging(ctx)}" in answer["repaired"], "and repairs B, which answered with green")


def check_anti_entropy(ctx, answer):
    """Anti-entropy moved exactly color to B."""
    expect(answer["keys_pushed"] == ["color"], "the primary pushed exactly one key: color")
    expect(answer["buckets_differing"] == 1, "one bucket of the Merkle tree differed")


def check_round(ctx, answer):
    """A whole round: one exchange per up node, each its own slice, narrated with the slice size."""
    result = answer["result"]
    expect(result["slices"] == len(result["exchanges"]) == 5, "every one of the 5 nodes ran one exchange, "
           "each in its own slice")
    expect(any("slices of one node pair each" in line for line in answer["story"]),
           "the story says how much work one slice (one hold of the cluster lock) does")


def look_at_b(title, value, why, notice=""):
    """A step that shows B's copy of color and checks it holds `value`."""
    return Step(title, "GET", lambda ctx: f"/nodes/{lagging(ctx)}", check=check_value_on_b(value, why),
                notice=notice)


def lose_the_hint(value):
    """Steps: fail B, write `value` (hinted to S), wipe S (the hint dies), bring both back quietly."""
    return [
        Step("Fail B again", "POST", lambda ctx: f"/fail/{lagging(ctx)}"),
        Step(f"Write color={value} while B is down", "POST", "/write",
             body={"key": "color", "value": value}, check=check_hint),
        Step("Wipe the stand-in: the hint is lost", "POST", lambda ctx: f"/fail/{stand_in(ctx)}?mode=wipe",
             check=check_wiped_hint),
        Step("Bring S and B back quietly", "POST", lambda ctx, path: path,
             each=lambda ctx: [f"/recover/{stand_in(ctx)}?catch_up=none",
                               f"/recover/{lagging(ctx)}?catch_up=none"]),
    ]


LAB = Lab(3, "Catching up: hinted handoff, read repair, anti-entropy", "lab3_catching_up",
          server={"scheduler": "off"}, steps=[
    Step("Write color=blue with every node up", "POST", "/write", body={"key": "color", "value": "blue"}),
    Step("Where does color live?", "GET", "/placement/color", save="placement",
         notice="call the second replica B and the first fallback node S (the stand-in)."),
    # 1. hinted handoff
    Step("Fail B", "POST", lambda ctx: f"/fail/{lagging(ctx)}"),
    Step("Write color=green while B is down", "POST", "/write", body={"key": "color", "value": "green"},
         check=check_hint, notice="hints: S keeps green for B."),
    Step("Bring B back quietly", "POST", lambda ctx: f"/recover/{lagging(ctx)}?catch_up=none",
         check=check_quiet,
         explain="?catch_up=none: B rejoins without asking for hints or syncing, so that we can watch "
                 "each catch-up mechanism on its own."),
    look_at_b("B is stale", "blue", "B still holds blue"),
    Step("Mechanism 1: hint retry", "POST", "/scheduler/run/hint_retry", check=check_handoff,
         notice="the scheduler runs this job every few seconds; here we run it by hand."),
    look_at_b("B caught up by hinted handoff", "green", "B now holds green"),
    # 2. read repair
    *lose_the_hint("red"),
    Step("Hint retry finds nothing to deliver", "POST", "/scheduler/run/hint_retry", check=check_no_handoff,
         notice="what hinted handoff misses: a hint that dies with its holder."),
    look_at_b("B is stale again", "green", "B still holds green"),
    Step("Mechanism 2: read repair", "GET", "/read/color?r=3", check=check_read_repair,
         notice="repaired: the read found B behind and sent it red."),
    look_at_b("B caught up by read repair", "red", "B now holds red"),
    # 3. anti-entropy
    *lose_the_hint("purple"),
    look_at_b("B is stale, and nobody reads color", "red", "B still holds red",
              notice="what read repair misses: keys nobody reads stay stale forever."),
    Step("Mechanism 3: anti-entropy between the primary and B", "POST",
         lambda ctx: f"/anti-entropy/{replica(ctx, 0)}/{lagging(ctx)}", check=check_anti_entropy,
         notice="the two nodes compared Merkle trees top-down and copied only the bucket that differed."),
    look_at_b("B caught up by anti-entropy", "purple", "B now holds purple"),
    Step("A whole anti-entropy round, one node pair per slice", "POST", "/scheduler/run/anti_entropy",
         check=check_round,
         notice="the scheduler runs this every 30 s; between two exchanges it lets go of the cluster lock, "
                "so requests never wait behind a whole round (run by hand, it holds the lock throughout)."),
])
