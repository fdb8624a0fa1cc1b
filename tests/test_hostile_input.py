"""Hostile run, round two: huge numbers, invented methods and odd Host headers get clean answers."""
import json
import unittest

import requests

from api.guards import host_name
from tests.helpers import make_app, write
from tests.processes import ServerProcess

HUGE = "9" * 5000  # past int()'s 4,300-digit limit


class HugeNumberTest(unittest.TestCase):
    """Numbers too long for int() are a 400 with a sentence, never a 500."""

    def setUp(self):
        """A fresh deterministic cluster with one key."""
        self.app, self.client = make_app()
        write(self.client, "k", 1)

    def cas(self, expected):
        """POST /cas with this expected version."""
        return self.client.post("/cas", data=json.dumps({"key": "k", "expected": expected, "value": 2}))

    def test_a_cas_with_a_5000_digit_timestamp_is_a_400(self):
        """"9"*5000 + "@node-1" as expected is refused with a 400 naming the field."""
        answer = self.cas(HUGE + "@node-1")
        self.assertEqual(answer.status_code, 400)
        self.assertEqual(answer.get_json()["field"], "expected")

    def test_a_cas_with_a_5000_digit_node_number_is_a_400(self):
        """"1@node-" + "9"*5000 as expected is refused with a 400, not a 500."""
        answer = self.cas("1@node-" + HUGE)
        self.assertEqual(answer.status_code, 400)
        self.assertIn("version text", answer.get_json()["message"])

    def test_huge_numbers_in_paths_queries_and_bodies_are_client_errors(self):
        """A 5,000-digit number in a node id, a query or a body field answers a 4xx JSON error."""
        requests = [("POST", f"/fail/{HUGE}", None), ("GET", f"/nodes/{HUGE}", None),
                    ("GET", f"/read/k?r={HUGE}", None), ("GET", f"/read/k?coordinator={HUGE}", None),
                    ("GET", f"/events?since={HUGE}", None), ("GET", f"/history?limit={HUGE}", None),
                    ("POST", "/write", f'{{"key": "k", "value": 1, "w": {HUGE}}}'),
                    ("POST", "/tick", f'{{"ms": {HUGE}}}'),
                    ("POST", "/network/deliver/" + HUGE, None)]
        for method, path, body in requests:
            answer = self.client.open(path, method=method, data=body)
            self.assertTrue(400 <= answer.status_code < 500, (path[:40], answer.status_code))
            self.assertIn("message", answer.get_json(), path[:40])


    def test_a_5000_digit_node_name_is_a_400_with_a_short_sentence(self):
        """"node-9...9" as a write's coordinator or a partition member is a 400 naming the digit limit, not a 500."""
        big = "node-" + HUGE
        for path, body, field in (("/write", {"key": "a", "value": 1, "coordinator": big}, "coordinator"),
                                  ("/partition", {"groups": [[big], ["node-1"]]}, "node id")):
            answer = self.client.post(path, data=json.dumps(body))
            self.assertEqual(answer.status_code, 400, path)
            message = answer.get_json()["message"]
            self.assertIn(field, message)
            self.assertIn("at most 6 digits", message)
            self.assertLess(len(message), 200)  # it quotes the start of the id, not 5,000 digits

    def test_a_huge_message_id_is_a_400_with_a_short_sentence(self):
        """/network/deliver, drop and duplicate of a 5,000 (or 4,000) digit id: a 400 quoting its start only."""
        for action in ("deliver", "drop", "duplicate"):
            for digits in (HUGE, "9" * 4000):
                answer = self.client.post(f"/network/{action}/{digits}")
                with self.subTest(action=action, digits=len(digits)):
                    self.assertEqual(answer.status_code, 400)
                    self.assertLess(len(answer.get_data()), 600)

    def test_a_message_from_a_5000_digit_node_is_a_bad_message(self):
        """codec.decode refuses a node name of 5,000 digits with its BadMessage, not a ValueError."""
        from cluster import codec
        from cluster.errors import BadMessage
        from cluster.messages import Put
        from models import Record, Version
        envelope = codec.encode(Put(1, 2, "node-1:1", Record("k", 1, Version(1, 1)), None))
        for end in ("src", "dest"):
            with self.subTest(end=end), self.assertRaises(BadMessage):
                codec.decode({**envelope, end: "node-" + HUGE})

class MetricLabelTest(unittest.TestCase):
    """Every metrics label comes from a closed set: invented methods add no series."""

    def test_invented_methods_share_one_label_and_add_no_series(self):
        """300 requests with methods QX0..QX299 leave /metrics as large as one such request does."""
        app, client = make_app()
        client.open("/nodes", method="QX")
        client.get("/metrics")  # so that both scrapes below count a scrape
        before = client.get("/metrics").get_data(as_text=True)
        for i in range(300):
            client.open("/nodes", method=f"QX{i}")
        after = client.get("/metrics").get_data(as_text=True)
        self.assertNotIn("QX", after)
        self.assertIn('method="other"', after)
        self.assertEqual(len(after.splitlines()), len(before.splitlines()))

    def test_unknown_paths_are_counted_under_no_route(self):
        """Requests to invented paths are counted as "(no route)", never by their path."""
        app, client = make_app()
        for i in range(50):
            client.get(f"/nothing-here-{i}")
        text = client.get("/metrics").get_data(as_text=True)
        self.assertNotIn("nothing-here", text)
        self.assertIn('route="(no route)"', text)


class StrictHostTest(unittest.TestCase):
    """The Host header is host[:port] and nothing else; anything more is refused."""

    FOREIGN = ["127.0.0.1:5000@evil.example", "localhost@evil.example", "127.0.0.1@evil.example:5000",
               "127.0.0.1:5000/evil.example", "127.0.0.1 evil.example", "127.0.0.1,evil.example",
               "[::1]evil.example", "[evil.example]:5000", "127.0.0.1:5000:6000", "127.0.0.1:x",
               "evil.example", "evil.example:5000", "localhost.evil.example", "127.0.0.1.evil.example"]

    def test_the_user_part_trick_is_refused_on_state_changing_routes(self):
        """Host: 127.0.0.1:5000@evil.example is a 403 on a write, a fail and a reset."""
        app, client = make_app()
        host = {"Host": "127.0.0.1:5000@evil.example"}
        self.assertEqual(client.post("/write", data='{"key": "a", "value": 1}', headers=host).status_code, 403)
        self.assertEqual(client.post("/fail/1", headers=host).status_code, 403)
        self.assertEqual(client.post("/reset", headers=host).status_code, 403)
        self.assertEqual(client.get("/keys").get_json()["count"], 0)
        self.assertTrue(app.extensions["replicalab"].is_up(1))

    def test_every_odd_foreign_form_is_refused(self):
        """Each Host form that names another site, or is not host[:port], answers 403 JSON."""
        app, client = make_app()
        for host in self.FOREIGN:
            answer = client.post("/network/pause", headers={"Host": host})
            self.assertEqual(answer.status_code, 403, host)
            self.assertEqual(answer.get_json()["error"], "forbidden", host)

    def test_plain_forms_still_pass(self):
        """IP addresses, localhost (any case, trailing dot) and bracketed IPv6, with or without a port."""
        app, client = make_app()
        for host in ["127.0.0.1", "127.0.0.1:5000", "LOCALHOST:5000", "localhost.", "[::1]", "[::1]:8000",
                     "10.1.2.3:80"]:
            self.assertEqual(client.get("/nodes", headers={"Host": host}).status_code, 200, host)

    def test_host_name_parses_only_host_and_port(self):
        """host_name gives the name of host[:port] and None for anything else."""
        self.assertEqual(host_name("Example.org:5000"), "example.org")
        self.assertEqual(host_name("[::1]:80"), "::1")
        self.assertIsNone(host_name("127.0.0.1:5000@evil.example"))
        self.assertIsNone(host_name("[not-an-ip]"))


class UnreadBodyTest(unittest.TestCase):
    """A large body a route does not read leaves a kept-alive connection usable (real gunicorn)."""

    def test_the_next_request_on_the_connection_is_answered(self):
        """Three DELETEs carrying 512 KiB bodies, then a GET, on one keep-alive session: all answered."""
        server = ServerProcess("gunicorn", {"REPLICALAB_STORAGE": "memory", "REPLICALAB_FRESH": "0"})
        self.addCleanup(server.log.close)
        self.addCleanup(server.kill)
        session = requests.Session()
        self.addCleanup(session.close)
        body = json.dumps({"key": "k", "value": "x" * (512 * 1024)})
        statuses = []
        for _ in range(3):
            statuses.append(session.delete(server.url + "/delete/k", data=body, timeout=30).status_code)
        statuses.append(session.get(server.url + "/health", timeout=30).status_code)
        self.assertEqual(statuses, [404, 404, 404, 200])


if __name__ == "__main__":
    unittest.main()
