"""Fuzzing every endpoint as a hostile client would: never a 5xx, never non-JSON, nothing lost.

In-process, hypothesis drives random request sequences through the Flask test
client; against a real gunicorn server, a seeded sequence does the same over
HTTP, with malformed request lines and headers that only a real server sees.
After each run the cluster is healed and every acknowledged write must still
be readable (at its version or a newer one).
"""
import json
import os
import random
import shutil
import socket
import sys
import tempfile
import unittest

import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fuzzing import FuzzLog, heal_everything, lost_writes, next_request, strict_json
from tests.helpers import make_app
from tests.test_server import Server

CANARIES = {f"canary-{i}": {"n": i} for i in range(5)}


def run_in_process(rng: random.Random, count: int):
    """Send `count` hostile requests to a fresh app; returns (log, stuck-message reports, app, client)."""
    app, client = make_app(client_timeout_ms=50)
    manager = app.extensions["replicalab"]
    log = FuzzLog()
    for key, value in CANARIES.items():
        answer = client.post("/write", data=json.dumps({"key": key, "value": value, "w": 3}))
        log.record(_req("POST", "/write"), answer.status_code, answer.content_type, answer.get_data(as_text=True))
    stuck = []
    for _ in range(count):
        request = next_request(rng)
        if rng.random() < 0.03:
            request.headers["Origin"] = "http://evil.example"
        answer = client.open(request.path, method=request.method, data=request.body, headers=request.headers)
        log.record(request, answer.status_code, answer.content_type, answer.get_data(as_text=True))
        if not manager.network.paused and manager.network.in_flight:
            stuck.append(f"{manager.network.in_flight} message(s) stuck after {request.method} {request.path}")
    return log, stuck, app, client


def lost_after_healing(client, log: FuzzLog) -> list:
    """Heal the in-process cluster, then list the acknowledged writes it no longer has."""
    def send(method, path, body):
        answer = client.open(path, method=method, data=body)
        return answer.status_code, answer.get_data(as_text=True)

    def read(key):
        answer = client.get("/read/" + requests.utils.quote(key, safe="") + "?r=3")
        return answer.status_code, strict_json(answer.get_data(as_text=True))

    heal_everything(send, 5)
    return lost_writes(log, read)


def _req(method, path):
    from tests.fuzzing import Request
    return Request(method, path)


class InProcessFuzzTest(unittest.TestCase):
    """Hypothesis-driven request sequences through the Flask test client."""

    @settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(st.randoms(use_true_random=False))
    def test_no_request_breaks_the_cluster(self, rng):
        """Random hostile requests never get a 5xx or non-JSON, never strand a message, lose no ack."""
        log, stuck, app, client = run_in_process(rng, 40)
        self.assertEqual(log.problems, [])
        self.assertEqual(stuck, [])
        self.assertEqual(lost_after_healing(client, log), [])
        for key in CANARIES:
            self.assertIn(key, log.acked)

    def test_a_long_seeded_run(self):
        """1,500 seeded hostile requests in a row on one cluster: the same guarantees hold."""
        log, stuck, app, client = run_in_process(random.Random(7), 1500)
        self.assertEqual(log.problems, [])
        self.assertEqual(stuck, [])
        self.assertGreater(len(log.statuses), 4, log.summary())  # the run reached many kinds of answer
        self.assertEqual(lost_after_healing(client, log), [])


def raw_request(port: int, data: bytes) -> bytes:
    """Send raw bytes to a server on loopback and return everything it answers."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(data)
        chunks = []
        while True:
            try:
                chunk = sock.recv(65536)
            except (TimeoutError, ConnectionResetError):
                break
            if not chunk:
                break
            chunks.append(chunk)
    return b"".join(chunks)


def split_answer(raw: bytes):
    """(status code, headers text, body) of a raw HTTP answer."""
    head, _, body = raw.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    return status, head.decode("latin-1").lower(), body


class RealServerFuzzTest(unittest.TestCase):
    """The same hostile client against real servers, plus what only a real server parses."""

    def setUp(self):
        self.data_dir = tempfile.mkdtemp()

    def tearDown(self):
        shutil.rmtree(self.data_dir, ignore_errors=True)

    def serve(self, command):
        env = {"REPLICALAB_DATA_DIR": self.data_dir, "REPLICALAB_CLIENT_TIMEOUT_MS": "100",
               "REPLICALAB_SCHEDULER": "off", "REPLICALAB_NARRATE": "off", "REPLICALAB_SEED": "5"}
        server = Server(command, env=env)
        self.addCleanup(server.log.close)
        self.addCleanup(server.stop)
        return server

    def test_gunicorn_survives_a_hostile_client(self):
        """600 hostile requests through gunicorn: no 5xx, only JSON, and every acknowledged write survives."""
        server = self.serve([sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py"])
        session = requests.Session()
        log = FuzzLog()
        for key, value in CANARIES.items():
            answer = session.post(server.url + "/write", data=json.dumps({"key": key, "value": value, "w": 3}))
            log.record(_req("POST", "/write"), answer.status_code, answer.headers["Content-Type"], answer.text)
        rng = random.Random(11)
        stuck = []
        for number in range(600):
            request = next_request(rng)
            answer = session.request(request.method, server.url + request.path, data=request.body,
                                     headers=request.headers, timeout=20)
            log.record(request, answer.status_code, answer.headers.get("Content-Type", ""), answer.text)
            if number % 10 == 0:  # unpaused, nothing may stay in flight after a request
                held = session.get(server.url + "/network/messages", timeout=20).json()
                if not held["paused"] and held["messages"]:
                    stuck.append(f"{len(held['messages'])} stuck after {request.method} {request.path}")
        self.assertEqual(log.problems, [], log.summary())
        self.assertEqual(stuck, [])

        def send(method, path, body):
            answer = session.request(method, server.url + path, data=body, timeout=20)
            return answer.status_code, answer.text

        heal_everything(send, 5)

        def read(key):
            answer = session.get(server.url + "/read/" + requests.utils.quote(key, safe="") + "?r=3")
            return answer.status_code, strict_json(answer.text)

        self.assertEqual(lost_writes(log, read), [])

    def test_gunicorn_answers_its_own_errors_in_json(self):
        """A request line over gunicorn's limit, a raw space, oversize headers: JSON errors, not HTML."""
        server = self.serve([sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py"])
        cases = [b"GET /read/" + b"a" * 9000 + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
                 b"GET /read/a b HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
                 b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + b"h" * 9000 + b"\r\n\r\n"]
        for raw in cases:
            status, headers, body = split_answer(raw_request(server.port, raw))
            self.assertIn(status, (400, 414, 431))
            self.assertIn("content-type: application/json", headers)
            answer = json.loads(body)
            self.assertEqual(answer["status"], "error")
            self.assertTrue(answer["message"])

    def test_a_key_of_512_emoji_can_be_written_read_and_deleted_through_gunicorn(self):
        """The longest key allowed, percent-encoded to 6 KB of URL, still fits gunicorn's request line."""
        server = self.serve([sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py"])
        key = "😀" * 512
        self.assertEqual(server.post("/write", {"key": key, "value": 1}).status_code, 200)
        path = "/read/" + requests.utils.quote(key, safe="")
        self.assertEqual(server.get(path).json()["value"], 1)
        answer = requests.delete(server.url + "/delete/" + requests.utils.quote(key, safe=""), timeout=10)
        self.assertEqual(answer.status_code, 200, answer.text)

    def test_dev_server_answers_its_own_errors_in_json(self):
        """python run.py: a raw space in the request line and 64 KiB of headers get JSON errors."""
        server = self.serve([sys.executable, "run.py"])
        cases = [b"GET /read/a b HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
                 b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + b"h" * 70000 + b"\r\n\r\n"]
        for raw in cases:
            status, headers, body = split_answer(raw_request(server.port, raw))
            self.assertIn(status, (400, 431))
            self.assertIn("content-type: application/json", headers)
            self.assertEqual(json.loads(body)["status"], "error")


if __name__ == "__main__":
    unittest.main()


if os.environ.get("REPLICALAB_FUZZ_DEBUG"):  # pragma: no cover - a hand tool for shrinking failures
    print(run_in_process(random.Random(int(os.environ["REPLICALAB_FUZZ_DEBUG"])), 200)[0].summary())
