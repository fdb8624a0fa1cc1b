"""The hostile run, round two, as a bench: what every route answers to a hostile client.

    python -m bench.hostile [--server run|gunicorn] [--methods 300] [--big 200] [--in-process] [--quick]

Starts `python run.py` (or gunicorn) with default settings on a free loopback
port, or uses the Flask test client with --in-process, and sends every route
(the fuzz's list, /check/view and /events/shiviz included: their success is
HTML or a ShiViz log, their errors JSON):
invented HTTP methods (QX0, QX1, ...); 5,000-digit (and 4,000-digit, and
negative) numbers in every path, query, numeric and version field; odd Host
forms on every state-changing route; and 512 KiB values in every body field.
It prints the counts the issue asks for: answers 5xx, answers not strict JSON,
foreign Hosts accepted, /metrics growth and resident memory growth. Exit
status 1 when any count is not 0.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

from bench.measure import rss_mib
from tests.fuzzing import FUZZED as ENDPOINTS
from tests.fuzzing import strict_json

HUGE = "9" * 5000  # past int()'s 4,300-digit limit
NUMBERS = [HUGE, "9" * 4000, "-" + "9" * 4000]  # raw JSON numbers; the first is not even parseable
# Node names as strings ("node-9...9"), alone and as a partition group: node_ref used to int() them (500).
NODE_NAMES = [json.dumps("node-" + HUGE), json.dumps([["node-" + HUGE], ["node-1"]]), json.dumps(HUGE)]
VERSIONS = [HUGE + "@node-1", "1@node-" + HUGE, "v" + HUGE + "@node-0", "9" * 4000 + "@node-" + "9" * 4000]
BODY_FIELDS = ["key", "value", "w", "r", "coordinator", "expected", "groups", "drop_rate", "duplicate_rate",
               "delay_ms", "down", "skew_ms", "ms", "id", "x", "y", "pickup", "dropoff", "delivery", "claim",
               "sensor", "at", "readings", "above", "below", "anomaly", "fail_rate", "dedupe", "context",
               "consistency"]
QUERIES = ["r", "w", "coordinator", "since", "limit", "offset", "mode", "catch_up", "consistency", "key"]
FOREIGN_HOSTS = ["127.0.0.1:5000@evil.example", "localhost@evil.example", "127.0.0.1@evil.example:80",
                 "evil.example", "evil.example:5000", "localhost.evil.example", "127.0.0.1.evil.example",
                 "127.0.0.1:5000/evil.example", "127.0.0.1 evil.example", "127.0.0.1,evil.example",
                 "[::1]evil.example", "[evil.example]", "127.0.0.1:5000:80", "127.0.0.1:x", "127.0.0.1\tevil"]
BIG_VALUE = "x" * (512 * 1024 - 2)  # its JSON encoding is 512 KiB
NO_ANSWER = 599  # the connection closed without an answer (counted with the 5xx)
CLUSTER_OUTCOMES = (503, 504)  # no quorum / timeout: answers about the cluster, not server errors
# Routes whose success is not JSON (an HTML picture, a ShiViz log); their errors still are.
SUCCESS_TYPES = {"/check/view": "text/html", "/events/shiviz": "text/plain"}
# An answer (status, content type, text), or None when the client library refused to send it.
Send = Callable[[str, str, Optional[bytes], Dict[str, str]], Optional[Tuple[int, str, str]]]


def path_of(template: str, number: str = "1") -> str:
    """A route's path with every placeholder filled: ids with `number`, keys and jobs plainly."""
    return template.format(key="k1", node=number, node2=number, msg=number, job="flush")


def invented_methods(stop: int, start: int = 0) -> Iterator[tuple]:
    """Requests with methods no server knows (QX<start>..QX<stop-1>), spread over every route."""
    for i in range(start, stop):
        _, template = ENDPOINTS[i % len(ENDPOINTS)]
        yield "methods", f"QX{i}", path_of(template), None, {}


def huge_numbers(quick: bool = False) -> Iterator[tuple]:
    """Every path id, query and body field with numbers and version texts far too long.

    `quick` sends one number and one version text per field instead of all seven forms.
    """
    forms = ([HUGE, json.dumps(VERSIONS[0])] + NODE_NAMES[:2] if quick
             else NUMBERS + [json.dumps(v) for v in VERSIONS] + NODE_NAMES)
    for method, template in ENDPOINTS:
        if "{node" in template or "{msg" in template:
            for number in (HUGE, "9" * 4000):
                yield "numbers", method, path_of(template, number), None, {}
        if method == "GET":
            for name in QUERIES:
                for number in NUMBERS[:1 if quick else 2]:
                    yield "numbers", method, f"{path_of(template)}?{name}={number}", None, {}
        else:
            for name in BODY_FIELDS:
                for raw in forms:
                    body = f'{{"key": "k1", "value": 1, "{name}": {raw}}}'.encode() if name != "key" else \
                        f'{{"key": {raw}, "value": 1}}'.encode()
                    yield "numbers", method, path_of(template), body, {}


def odd_hosts() -> Iterator[tuple]:
    """Every state-changing route under every foreign or malformed Host form."""
    routes = [(m, t) for m, t in ENDPOINTS if m in ("POST", "DELETE")] + [("POST", "/reset")]
    for method, template in routes:
        for host in FOREIGN_HOSTS:
            yield "hosts", method, path_of(template), b'{"key": "k1", "value": 1}', {"Host": host}


def big_values(count: int) -> Iterator[tuple]:
    """512 KiB values: in every body field of every route, then `count` writes and CAS of them."""
    for method, template in ENDPOINTS:
        if method != "GET":
            for name in BODY_FIELDS:
                body: Dict[str, Any] = {"key": "big", "value": 1, name: BIG_VALUE}
                yield "big", method, path_of(template), json.dumps(body).encode(), {}
    for i in range(count):
        path, body = ("/write", {"key": f"big{i}", "value": BIG_VALUE}) if i % 2 else \
            ("/cas", {"key": f"cas{i}", "expected": None, "value": BIG_VALUE})
        yield "big", "POST", path, json.dumps(body).encode(), {}


def problem(method: str, path: str, status: int, content_type: str, text: str) -> Optional[str]:
    """Why an answer is wrong (a 5xx other than the cluster's 503/504, or not strict JSON), or None."""
    if status >= 500 and status not in CLUSTER_OUTCOMES:
        return f"{status} for {method} {path[:60]}" + (f" ({text[:120]})" if status == NO_ANSWER else "")
    if method == "HEAD" or (status == 200 and path.startswith("/metrics")):
        return None  # no body; Prometheus text by design
    route = path.split("?")[0]
    if status == 200 and route in SUCCESS_TYPES:
        expected = SUCCESS_TYPES[route]
        return None if content_type.startswith(expected) else \
            f"{status} {content_type!r} (not {expected}) for {method} {path[:60]}"
    if not content_type.startswith("application/json"):
        return f"{status} {content_type!r} (not JSON) for {method} {path[:60]}"
    try:
        strict_json(text)
    except ValueError:
        return f"{status} answer not strict JSON for {method} {path[:60]}"
    return None


def text_of(answer) -> str:
    """The text of an answer ('' when it was not sent)."""
    return answer[2] if answer else ""


def run(send: Send, rss: Callable[[], float], methods: int, big: int, quick: bool = False) -> int:
    """Send everything, print the counts; returns the exit status."""
    metrics_before = len(text_of(send("GET", "/metrics", None, {})))
    rss_before = rss()
    counts: Counter = Counter()
    server_errors, not_json, foreign_accepted, problems = 0, 0, 0, []
    outcomes: Counter = Counter()
    outcome_lines: List[str] = []
    started = time.perf_counter()
    series = []  # /metrics lines after each half of the invented methods: new names must add none
    for source in (invented_methods(methods // 2), "scrape", invented_methods(methods, methods // 2), "scrape",
                   huge_numbers(quick), odd_hosts(), big_values(big)):
        if isinstance(source, str):  # the one string in the sequence is "scrape"
            send("GET", "/metrics", None, {})  # a scrape counts itself after answering: scrape twice
            series.append(len(text_of(send("GET", "/metrics", None, {})).splitlines()))
            continue
        for kind, method, path, body, headers in source:
            answer = send(method, path, body, headers)
            if answer is None:
                counts["not sent (refused by the client library)"] += 1
                continue
            status, content_type, text = answer
            counts[kind] += 1
            why = problem(method, path, status, content_type, text)
            if why:
                problems.append(why)
                server_errors += status >= 500
                not_json += status < 500
            if status in CLUSTER_OUTCOMES:
                outcomes[status] += 1
                outcome_lines.append(f"{status} {method} {path[:40]}: {text_of(answer)[:400]}")
            if kind == "hosts" and status != 403:
                foreign_accepted += 1
                problems.append(f"foreign Host {headers['Host']!r} accepted ({status}) on {method} {path}")
    elapsed = time.perf_counter() - started
    send("GET", "/metrics", None, {})  # so that both scrapes count one scrape of /metrics
    metrics_after = len(text_of(send("GET", "/metrics", None, {})))
    rss_after = rss()
    total = sum(n for kind, n in counts.items() if not kind.startswith("not sent"))
    print(f"requests: {total} in {elapsed:.1f} s ({', '.join(f'{k}: {n}' for k, n in counts.items())})")
    print(f"answers 5xx: {server_errors} (besides the cluster's own outcomes, 503 no quorum / 504 timeout: "
          f"{dict(outcomes) or 0})")
    for line in outcome_lines[:3]:
        print("  cluster outcome:", line)
    print(f"answers not strict JSON: {not_json}")
    print(f"foreign Hosts accepted: {foreign_accepted} of {counts['hosts']} sent")
    print(f"/metrics: {metrics_before / 1000:.1f} kB before, {metrics_after / 1000:.1f} kB after (new routes "
          f"and statuses); lines added by {methods - methods // 2} more invented methods: {series[1] - series[0]}")
    if series[1] != series[0]:
        problems.append(f"invented methods added {series[1] - series[0]} /metrics lines")
    print(f"resident memory: {rss_before:.1f} MiB before, {rss_after:.1f} MiB after "
          f"({rss_after - rss_before:+.1f} MiB)")
    for line in problems[:20]:
        print("  problem:", line)
    return 1 if problems else 0


def main(argv: Optional[List[str]] = None) -> int:
    """Parse the options, start the target, run; returns the exit status."""
    parser = argparse.ArgumentParser(prog="python -m bench.hostile", description=__doc__.split("\n")[0])
    parser.add_argument("--server", choices=("run", "gunicorn"), default="run")
    parser.add_argument("--methods", type=int, default=300, help="invented methods to send")
    parser.add_argument("--big", type=int, default=200, help="512 KiB writes and CAS after the field sweep")
    parser.add_argument("--in-process", action="store_true", help="the Flask test client, no server")
    parser.add_argument("--quick", action="store_true", help="two number forms per field instead of seven")
    args = parser.parse_args(argv)
    if args.in_process:
        from tests.helpers import make_app
        _, client = make_app()

        def send_local(method, path, body, headers):
            """One request through the test client."""
            answer = client.open(path, method=method, data=body, headers=headers)
            return answer.status_code, answer.content_type or "", answer.get_data(as_text=True)
        print("target: in-process test client (simulation settings)")
        return run(send_local, rss_mib, args.methods, args.big, args.quick)

    import requests

    from bench.servers import dev_server, gunicorn
    from bench.value_memory import worker_pid
    server = dev_server(False) if args.server == "run" else gunicorn(False)
    try:
        session = requests.Session()
        pid = worker_pid(server.pid())

        def send_http(method, path, body, headers):
            """One request to the server; None when requests refuses a header (a tab in Host)."""
            try:
                answer = session.request(method, server.url + path, data=body, headers=headers, timeout=60)
            except requests.ConnectionError as error:  # an answer that never came is a problem too
                return NO_ANSWER, "", f"no answer: {error}"
            except ValueError:  # requests.exceptions.InvalidHeader
                return None
            return answer.status_code, answer.headers.get("Content-Type", ""), answer.text
        print(f"target: {args.server} with default settings on {server.url}")
        return run(send_http, lambda: rss_mib(pid), args.methods, args.big, args.quick)
    finally:
        server.stop()


if __name__ == "__main__":
    sys.exit(main())
