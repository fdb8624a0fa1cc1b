"""Lab 9 — is it linearizable? Record a history under a partition, check it, then pay for linearizability."""
import re

from labs.placement import names, replica, stand_in
from labs.steps import Lab, Step, expect


def check_sloppy_write(ctx, answer):
    """A's side acknowledges the write with the stand-in's help."""
    expect(answer["quorum"]["met"], "the write on A's side succeeds (W=2)")
    expect({a["node"] for a in answer["acks"]} == names(replica(ctx, 0), stand_in(ctx)),
           "acknowledged by A and by S standing in for a replica it cannot reach")


def check_stale_read(ctx, answer):
    """B's side still reads blue, after left was acknowledged."""
    expect(answer["value"] == "blue", "the read on B's side returns blue, not the acknowledged left")


STEP8_SENTENCE = ('after the 2 operations of the longest linearizable prefix the value is "left", and process '
                  'B\'s read -> "blue" (history index 3) cannot be placed: the read had to take effect '
                  'before the read itself completed, and no order of the operations invoked by then lets the '
                  'read return "blue"')  # README step 8 quotes it


def check_violation(ctx, answer):
    """The checker finds no order for the history and says which read cannot fit."""
    expect(answer["linearizable"] is False, "the history is NOT linearizable")
    message = answer["violations"][0]["message"]
    expect("read -> \"blue\"" in message and "cannot be placed" in message,
           "the explanation names the read that returned blue after left was acknowledged")
    expect(STEP8_SENTENCE in answer["message"], "the checker says the sentence the README quotes")


def check_picture(ctx, answer):
    """The HTML view draws the read of blue as the one operation that cannot be placed."""
    page = answer.get("raw", "")
    red = re.findall(r'<div class="op [^"]*unplaceable[^"]*"[^>]*>([^<]*)</div>', page)
    expect(red == ["read -&gt; &quot;blue&quot;"],
           "the picture highlights exactly one bar, the read that returned blue")
    placed = re.findall(r'<div class="op [^"]*placed[^"]*"[^>]*>([^<]*)</div>', page)
    expect(placed == ["1. write &quot;blue&quot;", "2. write &quot;left&quot;"],
           "the longest linearizable prefix is numbered: write blue, then write left")
    expect("cannot be placed" in page, "the page says why the read cannot be placed")
    lanes = re.findall(r'<span class=who>([^<]*)</span>', page)
    expect(lanes == ["A", "B"], "one lane per client: A, who wrote, and B, who read")


CLIENT_A = {"X-Client-Id": "A"}
CLIENT_B = {"X-Client-Id": "B"}


def check_history_events(ctx, answer):
    """Three operations, each an invoke and an ok; client A wrote, client B read."""
    kinds = [(e["type"], e["f"]) for e in answer["events"]]
    expect([e["process"] for e in answer["events"]] == ["A", "A", "A", "A", "B", "B"],
           "the writes are client A's and the read is client B's (each request's X-Client-Id)")
    expect(kinds == [("invoke", "write"), ("ok", "write"), ("invoke", "write"), ("ok", "write"),
                     ("invoke", "read"), ("ok", "read")],
           "the history holds write blue, write left, read blue: each an invoke and an ok")


def check_refused(ctx, answer):
    """The minority side answers 503 rather than use a stand-in."""
    expect("never asks a stand-in" in answer["message"], "the answer says this mode never asks a stand-in")


def check_majority_write(ctx, answer):
    """The majority side writes with two phases: query, then propagate above the newest version."""
    story = " ".join(answer["story"])
    expect("asks" in story and "writes v" in story and "above it" in story,
           "the story shows the query phase and the version chosen above the newest one")


def check_linearizable(ctx, answer):
    """The second history checks out."""
    expect(answer["linearizable"] is True, "this history IS linearizable")
    expect(answer["ops_checked"] == 2 and "the other 2 operations of the 4 recorded failed" in answer["message"],
           "the 2 successful operations are placed; the 2 refused ones, of 4 recorded, are fails left out")


def durations(answer):
    """How long each operation of a history page took, in ms, in order."""
    started, took = {}, []
    for event in answer["events"]:
        if event["type"] == "invoke":
            started[event["index"]] = event["time"]
        else:
            took.append(event["time"] - started[event["index"]])
    return took


def check_price(ctx, answer):
    """Both writes are in the history with their durations; the linearizable one made two round trips.

    Durations alone depend on luck (each message takes 1-10 ms at random), so the
    observation checked is the round trips: the linearizable write's story shows a
    query phase before its write phase.
    """
    took = durations(answer)
    expect(len(took) == 2 and all(t >= 0 for t in took),
           f"the history holds both writes with their durations ({', '.join(f'{t:.0f} ms' for t in took)})")
    story = " ".join(ctx["linearizable_write"]["story"])
    expect("asks" in story and "above it" in story,
           "the linearizable write made two round trips: it asked a majority for the newest version first")


LAB = Lab(9, "Is it linearizable?", "lab9_linearizable", steps=[
    Step("Start from an empty history", "DELETE", "/history"),
    Step("Where does color live?", "GET", "/placement/color", save="placement",
         notice="call the replicas A, B, C and the first fallback S."),
    Step("Client A writes color=blue", "POST", "/write", body={"key": "color", "value": "blue"},
         headers=CLIENT_A),
    Step("Partition: A and S on one side", "POST", "/partition",
         body=lambda ctx: {"groups": [[replica(ctx, 0), stand_in(ctx)]]}),
    Step("A client of A writes color=left", "POST", "/write",
         body=lambda ctx: {"key": "color", "value": "left", "coordinator": replica(ctx, 0)},
         check=check_sloppy_write, notice="the sloppy quorum acknowledges it on A's side.", headers=CLIENT_A),
    Step("Then a client of B reads color", "GET", lambda ctx: f"/read/color?coordinator={replica(ctx, 1)}",
         check=check_stale_read, notice="B and C never saw left: R=2 is met on their side with blue.",
         headers=CLIENT_B),
    Step("Look at the recorded history", "GET", "/history?key=color", check=check_history_events,
         notice="every operation is an invoke and a completion, with the cluster clock's time."),
    Step("Ask the checker", "GET", "/check", check=check_violation,
         notice="no sequential order puts the read of blue after the acknowledged write of left."),
    Step("See the picture", "GET", "/check/view?key=color", check=check_picture,
         notice="open {url}/check/view?key=color in a browser: one lane per client (A and B), the read "
                "of blue in red, hover a bar for the order that ends with it."),
    Step("Empty the history again", "DELETE", "/history"),
    Step("A's side tries a linearizable write", "POST", "/write", status=503,
         body=lambda ctx: {"key": "color", "value": "strict-left", "coordinator": replica(ctx, 0),
                           "consistency": "linearizable"},
         check=check_refused, notice="A reaches one replica of three: no majority, and no stand-in allowed."),
    Step("B's side writes linearizably", "POST", "/write",
         body=lambda ctx: {"key": "color", "value": "strict-right", "coordinator": replica(ctx, 1),
                           "consistency": "linearizable"},
         check=check_majority_write, notice="B and C are a majority: query, then write above the newest."),
    Step("A's side tries a linearizable read", "GET", status=503,
         path=lambda ctx: f"/read/color?coordinator={replica(ctx, 0)}&consistency=linearizable",
         notice="reads are unavailable on the minority side too: that is the price."),
    Step("C's side reads linearizably", "GET",
         lambda ctx: f"/read/color?coordinator={replica(ctx, 2)}&consistency=linearizable",
         check=lambda ctx, a: expect(a["value"] == "strict-right", "the read returns strict-right")),
    Step("Ask the checker again", "GET", "/check", check=check_linearizable,
         notice="the refused operations are fail (they did not happen); the rest has an order."),
    Step("Heal the partition", "POST", "/heal"),
    Step("Empty the history for the price", "DELETE", "/history"),
    Step("An eventual write on a healthy cluster", "POST", "/write",
         body={"key": "color", "value": "e", "consistency": "eventual"}),
    Step("A linearizable write on a healthy cluster", "POST", "/write", save="linearizable_write",
         body={"key": "color", "value": "l", "consistency": "linearizable"}),
    Step("Compare their durations in the history", "GET", "/history?key=color", check=check_price,
         notice="subtract each invoke's time from its ok's time: usually about twice as long, since it makes "
                "two round trips; one pair can come out either way (random latencies), so "
                "python -m bench.consistency_price averages many."),
])
