"""A hostile client: random and malformed requests to every endpoint, and the checks after them.

Used three ways: by tests/test_fuzz.py through hypothesis and the Flask test
client, by the same file against a real gunicorn server, and by
`python -m bench.fuzz`, which prints how many requests of each status it sent.
Requests never target keys starting with "canary" so that the canaries written
first can be checked at the end; fail never uses mode=wipe, the one fault that
is meant to lose acknowledged data.
"""
from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Tuple
from urllib.parse import quote

NASTY_TEXT = ["\ud800", "\udfff", "a\ud83db", "\u0000", "\u202e", "😀" * 3, "", " ", "../..",
              "%", "?", "#", "&", "=", "\\", "'", '"', "\n", "é", "中文", "x" * 600]
NODE_IDS = ["0", "1", "2", "3", "4", "node-2", "-1", "5", "99", "x", "1.5", "node-", "%20", "9" * 30]
ENDPOINTS: List[Tuple[str, str]] = [
    ("POST", "/write"), ("GET", "/read/{key}"), ("DELETE", "/delete/{key}"), ("GET", "/keys"),
    ("GET", "/placement/{key}"), ("GET", "/nodes"), ("GET", "/nodes/{node}"), ("POST", "/fail/{node}"),
    ("POST", "/recover/{node}"), ("POST", "/partition"), ("POST", "/heal"), ("POST", "/links/{node}/{node2}"),
    ("DELETE", "/links/{node}/{node2}"), ("POST", "/faults/network"), ("POST", "/nodes/{node}/clock"),
    ("GET", "/faults"), ("DELETE", "/faults"), ("POST", "/network/pause"), ("GET", "/network/messages"),
    ("POST", "/network/deliver/{msg}"), ("POST", "/network/drop/{msg}"), ("POST", "/network/duplicate/{msg}"),
    ("POST", "/network/step"), ("POST", "/network/resume"), ("POST", "/tick"), ("GET", "/scheduler/jobs"),
    ("POST", "/scheduler/run/{job}"), ("POST", "/anti-entropy/{node}/{node2}"), ("GET", "/events"),
    ("GET", "/scenario"), ("GET", "/health"), ("GET", "/config"), ("GET", "/"),
    ("POST", "/cas"), ("POST", "/dispatch/drones"), ("GET", "/dispatch/drones"),
    ("POST", "/dispatch/deliveries"), ("GET", "/dispatch/deliveries"), ("GET", "/dispatch/deliveries/{key}"),
    ("POST", "/dispatch/assign"), ("POST", "/dispatch/deliveries/{key}/complete"), ("GET", "/dispatch/audit"),
    ("POST", "/sensors/readings"), ("GET", "/sensors"), ("GET", "/sensors/{key}"), ("POST", "/alerts/rules"),
    ("GET", "/alerts/rules"), ("DELETE", "/alerts/rules/{key}"), ("GET", "/alerts"),
    ("GET", "/alerts/notifier"), ("POST", "/alerts/notifier"),
    ("GET", "/history"), ("DELETE", "/history"), ("GET", "/check"), ("POST", "/check"), ("GET", "/metrics"),
    ("GET", "/read/"), ("DELETE", "/delete/"),
]
# Routes that answer something other than JSON on success (record() knows which, and so does
# bench/hostile.py's SUCCESS_TYPES): their errors are JSON like every other route's.
NOT_JSON_ENDPOINTS: List[Tuple[str, str]] = [("GET", "/check/view"), ("POST", "/check/view"),
                                             ("GET", "/events/shiviz")]
FUZZED = ENDPOINTS + NOT_JSON_ENDPOINTS
# Not fuzzed: POST /reset (it empties the cluster on purpose, so the acknowledged writes the fuzz
# checks would be gone), GET /events/stream (it never ends), and the dashboard's static files.
WRONG_METHODS = ["PUT", "PATCH", "GET", "POST", "DELETE", "OPTIONS", "HEAD"]


def nasty_value(rng: random.Random, depth: int = 0):
    """A JSON-ish value: deep, odd strings, non-finite numbers, huge ints, wrong types."""
    roll = rng.random()
    if depth < 45 and roll < 0.25:
        return [nasty_value(rng, depth + 1) for _ in range(rng.randint(0, 2))]
    if depth < 45 and roll < 0.4:
        return {rng.choice(NASTY_TEXT + ["k", "v"]): nasty_value(rng, depth + 1) for _ in range(rng.randint(0, 2))}
    return rng.choice([None, True, False, 0, -1, 1.5, 10 ** 30, float("nan"), float("inf"), 1e308,
                       rng.choice(NASTY_TEXT), "blue", rng.randint(-5, 5)])


def nasty_key(rng: random.Random):
    """A key: usually ordinary, sometimes odd, overlong, empty or not a string."""
    roll = rng.random()
    if roll < 0.5:
        return f"k{rng.randint(0, 6)}"
    if roll < 0.8:
        return "".join(rng.choice(NASTY_TEXT + ["a", "b", "/", ":"]) for _ in range(rng.randint(1, 4)))[:700]
    return rng.choice([None, 5, ["k"], {"k": 1}, "x" * 513, "😀" * 512])


def deep(depth: int, inner: str = "1") -> str:
    """A JSON text nested `depth` lists deep."""
    return "[" * depth + inner + "]" * depth


def nasty_body(rng: random.Random, method: str, path: str) -> Optional[bytes]:
    """A body for this endpoint: a sensible one, a wrong one, or garbage."""
    roll = rng.random()
    if roll < 0.08:
        return deep(rng.choice([40, 600, 1200, 5000])).encode()
    if roll < 0.14:
        return rng.choice([b"\xff\xfe", b"{", b"[1,2", b"NaN", b"{'key': 1}", b"key=a&value=b", b"null",
                           b'{"key": "a", "value": 1e400}', b'{"key":"sur","value":"\\ud800"}'])
    if roll < 0.2:
        return None
    fields: Dict[str, object] = {}
    if path == "/write":
        fields = {"key": nasty_key(rng), "value": nasty_value(rng)}
        if rng.random() < 0.3:
            fields["w"] = rng.choice([1, 2, 3, 0, 4, "2", True])
        if rng.random() < 0.2:
            fields["coordinator"] = rng.choice([0, 1, 4, 7, -1, "1", None])
    elif path == "/partition":
        fields = {"groups": rng.choice([[[0, 1], [2, 3, 4]], [[1]], [[0, 0]], [], "x", [[9]], [[0], [0]],
                                        [[rng.randint(0, 4)]], nasty_value(rng)])}
    elif path.startswith("/links/"):
        fields = rng.choice([{"down": True}, {"drop_rate": rng.random()}, {"delay_ms": [5, 50]},
                             {"drop_rate": 2}, {"down": "yes"}, {}, {"delay_ms": [50, 5]}])
    elif path == "/faults/network":
        fields = rng.choice([{"drop_rate": 0.2, "duplicate_rate": 0.2, "delay_ms": [0, 30]},
                             {"drop_rate": -1}, {"duplicate_rate": float("nan")}, {}, {"extra": 1}])
    elif path.endswith("/clock"):
        fields = {"skew_ms": rng.choice([-5000, 0, 3000, 10 ** 12, 1.5, "5", None])}
    elif path == "/cas":
        fields = {"key": nasty_key(rng), "expected": rng.choice([None, "1@node-0", 5, "x"]),
                  "value": nasty_value(rng)}
    elif path == "/dispatch/drones":
        fields = {"id": rng.choice(["d1", "d2", nasty_key(rng)]), "x": nasty_value(rng), "y": rng.randint(-9, 9)}
    elif path == "/dispatch/deliveries":
        fields = {"id": rng.choice(["p1", "p2", nasty_key(rng)]), "pickup": [rng.randint(0, 9), 1],
                  "dropoff": rng.choice([[3, 4], [1], "x", nasty_value(rng)])}
    elif path == "/dispatch/assign":
        fields = rng.choice([{}, {"claim": "read-write"}, {"claim": "cas"}, {"claim": "maybe"}, {"delivery": 5}])
    elif path == "/sensors/readings":
        fields = rng.choice([{"sensor": "floor-1", "value": rng.uniform(0, 60)},
                             {"sensor": nasty_key(rng), "value": nasty_value(rng), "at": nasty_value(rng)},
                             {"readings": [{"sensor": "floor-2", "value": 3}, nasty_value(rng)]}])
    elif path == "/alerts/rules":
        fields = rng.choice([{"sensor": "floor-1", "above": 30}, {"sensor": "floor-1", "anomaly": True},
                             {"sensor": nasty_key(rng), "below": nasty_value(rng)}, {"above": 1}])
    elif path == "/alerts/notifier":
        fields = rng.choice([{"fail_rate": rng.random(), "delay_ms": rng.choice([0, 500, -1, 10 ** 9])},
                             {"fail_rate": 2}, {"dedupe": "yes"}, {}])
    elif path.startswith("/check"):
        return rng.choice([b'{"process": 0, "type": "invoke", "f": "write", "key": "x", "value": 1}',
                           b"{:process 0, :type :invoke, :f :write, :value 3}\n{:process 0, :type :ok, :f :write",
                           b"INFO  jepsen.util - 3\t:invoke\t:cas\t[1 4]", b"[]", b"",
                           json.dumps([{"process": "x", "type": "boom"}]).encode(),
                           b'{"pad": "' + b"p" * 250 + b'", "history": [{"process": true, "type": "invoke", '
                           b'"f": "write", "key": {"a": 1}, "value": NaN, "time": 1e400}]}',
                           b"jepsen.util" + b"x" * 3000, b"{:process 0 :type :invoke :f :write :value 1/0}"])
    elif path == "/tick":
        fields = {"ms": rng.choice([1, 50, 500, 0, -3, 10 ** 9, "10", None])}
    if rng.random() < 0.1:
        fields[rng.choice(NASTY_TEXT)] = nasty_value(rng)
    return json.dumps(fields).encode()  # json.dumps writes NaN/Infinity: hostile on purpose


@dataclass
class Request:
    """One request a hostile client sends."""

    method: str
    path: str
    body: Optional[bytes] = None
    headers: Dict[str, str] = field(default_factory=dict)


def next_request(rng: random.Random) -> Request:
    """A random request: mostly valid routes with hostile arguments, sometimes wrong methods."""
    method, template = rng.choice(FUZZED)
    key = nasty_key(rng)
    key_text = key if isinstance(key, str) and key else "k1"
    if key_text.startswith("canary"):
        key_text = "k" + key_text
    path = template.format(key=quote(key_text, safe="", errors="surrogatepass"), node=rng.choice(NODE_IDS),
                           node2=rng.choice(NODE_IDS), msg=rng.choice(["1", "2", "999999", "x", "-1"]),
                           job=rng.choice(["hint_retry", "anti_entropy", "flush", "nope", "%00", "dispatch_move",
                                           "sensor_simulate", "alert_rules", "alert_outbox"]))
    if template.startswith("/fail/"):
        path += rng.choice(["", "?mode=stop", "?mode=crash", "?mode=boom", "?mode="])
    if template.startswith("/recover/"):
        path += rng.choice(["", "?catch_up=none", "?catch_up=maybe"])
    if template.startswith("/read/") and rng.random() < 0.3:
        path += rng.choice(["?r=1", "?r=3", "?r=0", "?r=x", "?coordinator=2", "?coordinator=node-9"])
    if template in ("/history", "/check", "/check/view") and rng.random() < 0.5:
        path += rng.choice(["?key=k1", "?format=edn", "?model=register", "?model=nope", "?limit=-1", "?since=x",
                            "?initial=NaN", "?initial=" + "%5B" * 3000, "?model=set", "?format=json"])
    if template == "/events/shiviz" and rng.random() < 0.5:
        path += rng.choice(["?limit=1", "?limit=0", "?limit=x", "?limit=" + "9" * 5000])
    if template == "/events" and rng.random() < 0.5:
        path += rng.choice(["?since=0", "?limit=1000", "?limit=0", "?since=-1", "?since=x"])
    if rng.random() < 0.05:
        method = rng.choice(WRONG_METHODS)
    headers = {}
    if rng.random() < 0.3:
        headers["Content-Type"] = rng.choice(["text/plain", "application/json",
                                              "application/x-www-form-urlencoded", "multipart/form-data"])
    return Request(method, path, nasty_body(rng, method, path), headers)


def strict_json(text: str):
    """Parse JSON the way a strict client does: NaN and Infinity are errors."""
    def refuse(name):
        raise ValueError(f"{name} is not JSON")
    return json.loads(text, parse_constant=refuse)


@dataclass
class FuzzLog:
    """What a fuzz run sent and got back, and the writes it must find again."""

    statuses: Dict[int, int] = field(default_factory=dict)
    requests: int = 0
    acked: Dict[str, Tuple[int, int]] = field(default_factory=dict)  # key -> newest acked (timestamp, node)
    problems: List[str] = field(default_factory=list)

    def record(self, request: Request, status: int, content_type: str, text: str) -> Optional[dict]:
        """Check one answer (never 5xx, always strict JSON); remember acknowledged writes."""
        self.requests += 1
        self.statuses[status] = self.statuses.get(status, 0) + 1
        where = f"{request.method} {request.path[:80]} {str(request.body)[:80]}"
        if status >= 500 and status not in (503, 504):
            self.problems.append(f"{status} for {where}")
        if request.method == "HEAD":
            return None
        text_export = request.path.startswith(("/metrics", "/events/shiviz")) or "format=edn" in request.path
        if status == 200 and text_export and content_type.startswith(("text/plain", "application/edn")):
            return None  # Prometheus' text format, the ShiViz log and the EDN history export, by design
        if status == 200 and request.path.startswith("/check/view") and content_type.startswith("text/html"):
            return None  # the verdict's picture, by design
        if not content_type.startswith("application/json"):
            self.problems.append(f"{status} {content_type!r} (not JSON) for {where}")
            return None
        try:
            body = strict_json(text)
        except ValueError as error:
            self.problems.append(f"{status} answer is not strict JSON ({error}) for {where}")
            return None
        if request.method == "POST" and request.path == "/write" and status == 200:
            version = body["version"]
            node = int(str(version["node"]).rsplit("-", 1)[1])
            stamp = (version["timestamp"], node)
            self.acked[body["key"]] = max(self.acked.get(body["key"], stamp), stamp)
        return body

    def summary(self) -> str:
        """One line: requests and how many got each status."""
        counts = ", ".join(f"{code}: {n}" for code, n in sorted(self.statuses.items()))
        return f"{self.requests} requests ({counts}); {len(self.acked)} keys acknowledged; " \
               f"{len(self.problems)} problem(s)"


def heal_everything(send: Callable[[str, str, Optional[bytes]], Tuple[int, str]], nodes: int) -> None:
    """Resume, clear faults, recover every node, then let hints and anti-entropy finish."""
    send("POST", "/network/resume", None)
    send("DELETE", "/faults", None)
    for node in range(nodes):
        send("POST", f"/recover/{node}", None)
    for _ in range(2):
        send("POST", "/scheduler/run/hint_retry", None)
        for _ in range(nodes - 1):
            send("POST", "/scheduler/run/anti_entropy", None)


def lost_writes(log: FuzzLog, read: Callable[[str], Tuple[int, dict]]) -> List[str]:
    """Acknowledged writes that are gone: the key reads older than what was acknowledged."""
    lost = []
    for key, stamp in sorted(log.acked.items()):
        status, body = read(key)
        version = body.get("version") if isinstance(body, dict) else None
        if status not in (200, 404) or not version:
            lost.append(f"{key!r}: read answered {status} {str(body)[:120]}")
            continue
        found = (version["timestamp"], int(str(version["node"]).rsplit("-", 1)[1]))
        if found < stamp:
            lost.append(f"{key!r}: acknowledged {stamp}, now reads {found}")
    return lost
