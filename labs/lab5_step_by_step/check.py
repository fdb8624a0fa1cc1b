"""Lab 5 — step by step: pause the network and move a write's messages by hand."""
from labs.steps import Lab, Step, expect


def held(ctx, i):
    """The i-th message listed in step 3."""
    return ctx["held"]["messages"][i]


def check_held(ctx, answer):
    """Two puts wait, one per other replica."""
    expect([m["kind"] for m in answer["messages"]] == ["put", "put"], "two puts are held, nothing else")
    expect(answer["waiting_requests"] == 1, "one client request is waiting")


def check_story(fragment, why):
    """A check that the step's story mentions `fragment`."""
    return lambda ctx, answer: expect(any(fragment in line for line in answer["story"]), why)


def check_acks_held(ctx, answer):
    """Two acks wait now."""
    summaries = sorted(m["summary"] for m in answer["messages"])
    expect(summaries == ["ack color", "ack color (already had)"],
           "two acks wait: one 'stored', one 'already had' (from the duplicate)")


def check_released(ctx, answer):
    """The step that met W says so, and the request no longer counts as waiting."""
    expect(any("client is answered now" in line for line in answer["story"]),
           "the step's story says the write met W=2 and its client is answered now")
    expect(answer["waiting_requests"] == 0, "no request waits any more")


def check_write_answer(ctx, answer):
    """The write answered once two acks were in."""
    expect(answer["quorum"] == {"w": 2, "acks": 2, "met": True}, "the write answered at W=2")
    expect(answer["hints"] == [], "without a hint yet: the dropped replica has not timed out")
    expect(answer["waiting_for"] == [held(ctx, 1)["to"]],
           "waiting_for names the replica whose put was dropped: it has not answered")
    expect(any(f"message {held(ctx, 1)['id']}" in line and "(dropped by hand)" in line for line in answer["story"]),
           "its story tells the hand drop of that put, as it tells the hand duplicate")


def check_timeout(ctx, answer):
    """After the tick, a hinted put to the stand-in waits."""
    dropped_to = held(ctx, 1)["to"]
    expect(any(f"gave up waiting 100ms for {dropped_to}" in line for line in answer["story"]),
           "the coordinator gave up on the replica whose put was dropped")
    expect(any(f"as a hint for {dropped_to}" in m["summary"] for m in answer["messages"]),
           "and a put with a hint for it now waits to be delivered")


LAB = Lab(5, "Step by step: deliver, drop and duplicate messages", "lab5_step_by_step",
          server={"scheduler": "off"}, runs_real=True, steps=[
    Step("Pause the network", "POST", "/network/pause",
         notice="from now on messages are held, and simulated time stands still."),
    Step("Write color=blue (it will wait)", "POST", "/write", body={"key": "color", "value": "blue"},
         background=True, save="write",
         explain="The coordinator stores its own copy and sends two puts. Predict: how many acks does "
                 "it have now? When will it answer?"),
    Step("What is in flight?", "GET", "/network/messages", save="held", check=check_held,
         notice="two puts, one to each other replica. Note their ids."),
    Step("Duplicate the first put", "POST", lambda ctx: f"/network/duplicate/{held(ctx, 0)['id']}",
         save="dup", explain="Predict: what will the replica do with the second copy?"),
    Step("Deliver the first put", "POST", lambda ctx: f"/network/deliver/{held(ctx, 0)['id']}",
         check=check_story("stored color", "the replica stored the value")),
    Step("Deliver the copy", "POST", lambda ctx: f"/network/deliver/{ctx['dup']['copy_id']}",
         check=check_story("already had", "the replica already had this version: duplicates are harmless")),
    Step("Drop the second put", "POST", lambda ctx: f"/network/drop/{held(ctx, 1)['id']}",
         check=check_story("dropped message", "the story names the message that was lost"),
         explain="Predict: can the write still succeed?"),
    Step("What is in flight now?", "GET", "/network/messages", check=check_acks_held),
    Step("Step: deliver the next message", "POST", "/network/step", check=check_released,
         notice="the first ack reaches the coordinator: with its own copy that makes W=2, so the "
                "story says the waiting client is answered now."),
    Step("The write answers", None, None, join="write", check=check_write_answer,
         notice="the client got its answer as soon as W acks were in, before the rest finished."),
    Step("Let 100 ms pass", "POST", "/tick", body={"ms": 100}, check=check_timeout,
         notice="the coordinator's timer fired for the replica whose put was dropped."),
    Step("Resume the network", "POST", "/network/resume",
         check=check_story("as a hint for", "the stand-in stored the value as a hint")),
])
