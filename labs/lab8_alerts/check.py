"""Lab 8 — alerts under failure: a flaky notifier trips the breaker; ids stop duplicates; quorum loss."""
from labs.placement import replica
from labs.steps import Lab, Step, expect


def readings(*pairs):
    """A batch body: (at, value) pairs for floor-1."""
    return {"readings": [{"sensor": "floor-1", "value": v, "at": at} for at, v in pairs]}


def run(job: str, title: str, check=None, notice: str = "") -> Step:
    """Run one scheduler job by hand."""
    return Step(title, "POST", f"/scheduler/run/{job}", check=check, notice=notice)


def notifier(body: dict, title: str, notice: str = "") -> Step:
    """Inject notifier faults."""
    return Step(title, "POST", "/alerts/notifier", body=body, notice=notice)


def result(check):
    """Apply a check to a job answer's result."""
    return lambda ctx, answer: check(answer["result"])


def owners(ctx, item=None):
    """Two of sensor:floor-1's three replicas: failing them loses its majority."""
    return [replica(ctx, 0), replica(ctx, 1)]


def delivered(counts: dict):
    """The notifier delivered each of these alerts exactly this many times."""
    def check(ctx, answer):
        """Compare the notifier's deliveries per alert."""
        got = answer["notifier"]["deliveries_per_alert"]
        expect(all(got.get(k) == v for k, v in counts.items()),
               f"deliveries per alert: {counts} (got {got})")
    return check


def check_delivered_twice(ctx, answer):
    """Step 27: two deliveries of r1-9000, listed as they landed: the retry before the slow first call."""
    delivered({"r1-9000": 2})(ctx, answer)
    times = [d["at"] for d in answer["notifier"]["delivered"]]
    twice = [d for d in answer["notifier"]["delivered"] if d["id"] == "r1-9000"]
    expect(times == sorted(times) and twice[0]["called_at"] > twice[1]["called_at"],
           "deliveries are listed in the order they landed: the retry first, the slow earlier call after it")


def check_open(ctx, answer):
    """Step 8: the breaker is open after three consecutive failures."""
    expect(answer["breaker"]["state"] == "open", "the breaker is open")
    expect(answer["breaker"]["transitions"][0]["why"] == "3 consecutive failures",
           "it opened after 3 consecutive failures")


def check_closed(ctx, answer):
    """Step 12: half-open, then closed by a successful trial."""
    expect(answer["breaker"] == "closed" and len(answer["sent"]) == 2, "both alerts went out; the breaker is closed")


def check_refused(ctx, answer):
    """Step 30: the reading is refused with 503 and the client told to retry."""
    expect(answer["error"] == "no_quorum" and answer["retry"] is True, "503 no_quorum, retry: true")
    expect(answer["not_stored"] == ["floor-1"], "floor-1's reading was not stored")


LAB = Lab(8, "Alerts under failure", "lab8_alerts", settings={"breaker_cooldown_ms": 300000},
          server={"scheduler": "off"}, steps=[
    Step("Alert when floor-1 goes above 30", "POST", "/alerts/rules", body={"sensor": "floor-1", "above": 30},
         status=201),
    Step("Post five readings", "POST", "/sensors/readings", status=201,
         body=readings((1000, 10), (2000, 35), (3000, 36), (4000, 12), (5000, 40)),
         notice="each sensor is one key; the batch is appended with one CAS."),
    run("alert_rules", "Evaluate the rules",
        check=result(lambda r: expect(r["fired"] == ["r1-2000", "r1-5000"], "two alerts: one per crossing")),
        notice="35 and 36 are one crossing, 40 another: two alerts, not three. Each id is rule-reading time."),
    Step("The alerts wait in the outbox", "GET", "/alerts",
         check=lambda ctx, a: expect(all(x["outbox"]["status"] == "pending" for x in a["alerts"]),
                                     "both alerts are pending in the outbox")),
    notifier({"fail_rate": 1.0}, "Break the notifier: every call fails"),
    run("alert_outbox", "Send the outbox", check=result(lambda r: expect(
        len(r["failed"]) == 2 and r["breaker"] == "closed", "two failures; the breaker is still closed"))),
    run("alert_outbox", "Send again: the third failure opens the breaker", check=result(lambda r: expect(
        r["breaker"] == "open" and len(r["held_by_breaker"]) == 1, "the breaker opened; one alert is held"))),
    Step("Look at the breaker", "GET", "/alerts/notifier", check=check_open,
         notice="half_open_in_ms: how long before the breaker turns half-open and allows one trial call "
                "(cluster time)."),
    run("alert_outbox", "Send again while open", check=result(lambda r: expect(
        r["sent"] == [] and r["failed"] == [] and len(r["held_by_breaker"]) == 2,
        "no call went out: the open breaker protects the notifier and the sender"))),
    notifier({"fail_rate": 0.0}, "Repair the notifier"),
    Step("Let the cooldown pass", "POST", "/tick", body={"ms": 300000},
         notice="time is the cluster's: a tick moves it 5 minutes at once, and the breaker sees it."),
    run("alert_outbox", "Send again: a half-open trial, then closed",
        check=lambda ctx, a: check_closed(ctx, a["result"])),
    Step("Each alert was delivered once", "GET", "/alerts/notifier", check=delivered({"r1-2000": 1, "r1-5000": 1}),
         notice="the outbox retried each alert until one call was acknowledged: at least once."),
    Step("Cross the threshold again", "POST", "/sensors/readings", status=201,
         body=readings((6000, 5), (7000, 45))),
    run("alert_rules", "Evaluate", check=result(lambda r: expect(r["fired"] == ["r1-7000"], "one new alert"))),
    notifier({"delay_ms": 1500}, "Make the notifier slow: 1500 ms, over the sender's 1000 ms timeout"),
    run("alert_outbox", "Send: the call times out", check=result(lambda r: expect(
        "yet it delivered r1-7000" in r["failed"][0]["result"], "the sender saw a failure, yet it was delivered")),
        notice="the sender cannot tell 'lost' from 'slow': it must retry."),
    notifier({"delay_ms": 0}, "Make the notifier fast again"),
    run("alert_outbox", "Retry", check=result(lambda r: expect(
        "duplicate suppressed" in r["sent"][0]["result"], "the notifier recognised the alert id"))),
    Step("Delivered once despite two calls", "GET", "/alerts/notifier", check=delivered({"r1-7000": 1}),
         notice="at-least-once sending + at-most-once delivery by id = exactly-once effect."),
    Step("Cross once more", "POST", "/sensors/readings", status=201, body=readings((8000, 5), (9000, 45))),
    run("alert_rules", "Evaluate", check=result(lambda r: expect(r["fired"] == ["r1-9000"], "one new alert"))),
    notifier({"delay_ms": 1500, "dedupe": False}, "Slow notifier that ignores alert ids"),
    run("alert_outbox", "Send: the call times out"),
    notifier({"dedupe": False}, "Fast again, still ignoring ids"),
    run("alert_outbox", "Retry"),
    Step("Delivered twice", "GET", "/alerts/notifier", check=check_delivered_twice,
         notice="without the idempotency id, the retry is a second alert to a human."),
    Step("Where does sensor:floor-1 live?", "GET", "/placement/sensor:floor-1", save="placement"),
    Step("Fail two of its replicas", "POST", lambda ctx, n: f"/fail/{n}", each=owners),
    Step("Post a reading", "POST", "/sensors/readings", status=503,
         body={"sensor": "floor-1", "value": 22, "at": 10000}, check=check_refused,
         notice="no majority of the key's replicas: the CAS cannot choose it, so it is not acknowledged."),
    Step("Recover them", "POST", lambda ctx, n: f"/recover/{n}", each=owners),
    Step("Retry the same reading", "POST", "/sensors/readings", status=201,
         body={"sensor": "floor-1", "value": 22, "at": 10000},
         check=lambda ctx, a: expect(a["stored"]["floor-1"]["added"] == 1, "stored now")),
    Step("Retry it once more", "POST", "/sensors/readings", status=200,
         body={"sensor": "floor-1", "value": 22, "at": 10000},
         check=lambda ctx, a: expect(a["stored"]["floor-1"]["duplicates_ignored"] == 1
                                     and a["stored"]["floor-1"]["added"] == 0,
                                     "a reading is identified by sensor and time: counted once, nothing new stored"),
         notice="200, not 201: nothing new was created, and no Paxos round ran for it."),
])
