"""The node-to-node routes: guarded, JSON answers only, bound to the one address given."""
import json
import re
import socket
import sys
import time
import unittest
from unittest import mock

import flask
import requests

from cluster.errors import BadRequest
from realmode import processes
from realmode.fault_table import FaultTable, LiveFaults
from realmode.keepalive import KeepAliveClient, Unreachable
from realmode.node_server import KeepAliveHandler, NodeServer, create_node_app

PEER = {"REMOTE_ADDR": "10.0.0.7"}


class NodeRoutesTest(unittest.TestCase):
    """POST /peer/message, GET /peer/health and POST /peer/faults through Flask's test client."""

    def make(self, token=None, receive=None):
        self.received: list = []
        self.faults = LiveFaults(FaultTable(3))

        def record(envelope):
            self.received.append(envelope)
            return True, ""
        app = create_node_app(2, "10.0.0.9:7002", receive or record, self.faults, {"10.0.0.7"}, token)
        return app.test_client()

    def test_health_names_the_node_its_pid_and_address(self):
        """GET /peer/health gives mode, node name, pid and the address the node was given."""
        answer = self.make().get("/peer/health", environ_base=PEER).get_json()
        self.assertEqual((answer["mode"], answer["node"], answer["address"]), ("real", "node-2", "10.0.0.9:7002"))
        self.assertIsInstance(answer["pid"], int)

    def test_a_peer_message_is_handed_to_the_transport(self):
        """A peer's envelope is passed on as sent and answered 202 accepted."""
        client = self.make()
        envelope = {"src": "node-0", "dest": "node-2", "body": {"type": "ping", "msg_id": 1}}
        answer = client.post("/peer/message", json=envelope, environ_base=PEER)
        self.assertEqual(answer.status_code, 202)
        self.assertEqual(self.received, [envelope])

    def test_a_message_the_fault_table_drops_is_answered_with_the_reason(self):
        """When the transport refuses an envelope the answer says accepted false and why."""
        client = self.make(receive=lambda envelope: (False, "node-0 is down"))
        answer = client.post("/peer/message", json={"src": "node-0"}, environ_base=PEER).get_json()
        self.assertEqual((answer["accepted"], answer["reason"]), (False, "node-0 is down"))

    def test_strangers_are_refused(self):
        """A caller that is neither a peer nor the front gets a JSON 403 naming its address."""
        answer = self.make().post("/peer/message", json={}, environ_base={"REMOTE_ADDR": "10.6.6.6"})
        self.assertEqual(answer.status_code, 403)
        self.assertIn("10.6.6.6", answer.get_json()["message"])
        self.assertEqual(self.received, [])

    def test_web_pages_are_refused(self):
        """A request carrying an Origin header (a browser) is refused even from a peer's address."""
        answer = self.make().get("/peer/health", environ_base=PEER, headers={"Origin": "http://evil.example"})
        self.assertEqual(answer.status_code, 403)

    def test_a_foreign_host_name_is_refused_without_a_token(self):
        """A GET under a web site's name (DNS rebinding) is a JSON 403; IPs, localhost and the node's own host pass."""
        client = self.make()
        refused = client.get("/peer/health", environ_base=PEER, headers={"Host": "evil.example:7002"})
        self.assertEqual(refused.status_code, 403)
        self.assertIn("evil.example", refused.get_json()["message"])
        for host in ("10.0.0.9:7002", "127.0.0.1:7002", "localhost:7002", "[::1]:7002", "10.0.0.9"):
            with self.subTest(host=host):
                self.assertEqual(client.get("/peer/health", environ_base=PEER, headers={"Host": host}).status_code, 200)

    def test_the_admin_token_is_required_when_set(self):
        """With a token set, a call without it is a JSON 401 and a call with it passes."""
        client = self.make(token="s3cret")
        self.assertEqual(client.get("/peer/health", environ_base=PEER).status_code, 401)
        good = client.get("/peer/health", environ_base=PEER, headers={"Authorization": "Bearer s3cret"})
        self.assertEqual(good.status_code, 200)

    def test_bad_input_gets_a_json_sentence_never_a_5xx(self):
        """Junk bodies, wrong methods, unknown paths and codec errors are JSON 4xx with a message."""
        def refuse(envelope):
            raise BadRequest("An envelope must have src, dest and body.")
        client = self.make(receive=refuse)
        cases = [("post", "/peer/message", b"not json"), ("post", "/peer/message", b"[1, 2]"),
                 ("post", "/peer/message", b"{}"), ("post", "/peer/message", b"\xff\xfe"),
                 ("get", "/peer/message", None), ("get", "/nope", None),
                 ("post", "/peer/faults", b'{"nodes": "three"}'),
                 ("post", "/peer/faults", b'{"nodes": 3, "down": [9]}'),
                 ("post", "/peer/message", b"{" * 100_000), ("post", "/peer/message", b"x" * (5 * 1024 * 1024)),
                 # Found by the hostile review: deep but well-formed nesting, NaN, a foreign cluster size,
                 # a version too large to ever be replaced.
                 ("post", "/peer/message", b"[" * 5000 + b"]" * 5000),
                 ("post", "/peer/faults", b'{"a":' * 3000 + b"1" + b"}" * 3000),
                 ("post", "/peer/message", b'{"src": NaN}'),
                 ("post", "/peer/faults", b'{"nodes": 10000000, "version": 2, "partition": [[0], [1]]}'),
                 ("post", "/peer/faults", b'{"nodes": 5, "version": 4}'),
                 ("post", "/peer/faults", b'{"nodes": 3, "version": 1' + b"0" * 4000 + b"}")]
        for method, path, data in cases:
            with self.subTest(path=path, data=(data or b"")[:20]):
                answer = getattr(client, method)(path, data=data, environ_base=PEER)
                self.assertTrue(400 <= answer.status_code < 500, answer.status_code)
                body = answer.get_json()
                self.assertEqual(body["status"], "error")
                self.assertTrue(body["message"])

    def test_a_bug_in_the_node_is_a_json_500_not_an_html_page(self):
        """An unexpected exception while taking a message is answered as JSON, with the traceback logged."""
        def broken(envelope):
            raise KeyError("body")
        client = self.make(receive=broken)
        with self.assertLogs("replicalab", "ERROR"):
            answer = client.post("/peer/message", json={}, environ_base=PEER)
        self.assertEqual((answer.status_code, answer.get_json()["error"]), (500, "internal_error"))

    def test_a_refused_table_leaves_the_one_in_force(self):
        """A table for another cluster size or with an endless version is refused, and later tables still apply."""
        client = self.make()
        for bad in ({"nodes": 5, "version": 9}, {"nodes": 3, "version": 10 ** 30}):
            self.assertEqual(client.post("/peer/faults", json=bad, environ_base=PEER).status_code, 400)
        table = FaultTable(3, down=frozenset({2}), version=1).to_json()
        self.assertTrue(client.post("/peer/faults", json=table, environ_base=PEER).get_json()["adopted"])
        self.assertEqual(self.faults.table.down, frozenset({2}))

    def test_the_front_replaces_the_fault_table_and_old_versions_are_ignored(self):
        """POST /peer/faults adopts a newer table and ignores an older one."""
        client = self.make()
        table = FaultTable(3, down=frozenset({1}), version=3).to_json()
        self.assertTrue(client.post("/peer/faults", json=table, environ_base=PEER).get_json()["adopted"])
        self.assertEqual(self.faults.table.down, frozenset({1}))
        older = client.post("/peer/faults", json=FaultTable(3, version=2).to_json(), environ_base=PEER).get_json()
        self.assertEqual((older["adopted"], older["version"]), (False, 3))


class NodeServerTest(unittest.TestCase):
    """The real server binds only the address it is given."""

    def test_the_server_listens_on_the_given_address_only(self):
        """Bound to 127.0.0.1, the server answers there and refuses connections on 127.0.0.2."""
        app = create_node_app(0, "", lambda envelope: (True, ""), LiveFaults(FaultTable(1)), {"127.0.0.1"})
        server = NodeServer(app, "127.0.0.1", processes.free_port()).start()
        self.addCleanup(server.shutdown)
        answer = requests.get(f"http://{server.address}/peer/health", timeout=2)
        self.assertEqual(answer.json()["node"], "node-0")
        with socket.socket() as probe, self.assertRaises(ConnectionRefusedError):
            probe.settimeout(2)
            probe.connect(("127.0.0.2", server.port))

    def test_a_server_level_refusal_is_json(self):
        """A request line the server itself refuses (a raw space) is answered in JSON, not HTML."""
        app = create_node_app(0, "", lambda envelope: (True, ""), LiveFaults(FaultTable(1)), {"127.0.0.1"})
        server = NodeServer(app, "127.0.0.1", 0).start()
        self.addCleanup(server.shutdown)
        with socket.create_connection(("127.0.0.1", server.port), timeout=2) as raw:
            raw.sendall(b"GET /peer/health HTTP/1.1 extra junk\r\nHost: x\r\n\r\n")
            reply = raw.recv(4096).decode("latin-1")
        self.assertIn('"status": "error"', reply)

    def serve(self, receive=lambda envelope: (True, ""), allowed=("127.0.0.1",)) -> NodeServer:
        """A node server on a free loopback port, shut down after the test."""
        app = create_node_app(0, "", receive, LiveFaults(FaultTable(1)), set(allowed))
        server = NodeServer(app, "127.0.0.1", 0).start()
        self.addCleanup(server.shutdown)
        return server

    def test_one_connection_carries_many_messages(self):
        """Fifty POSTs through one KeepAliveClient use one TCP connection (keep-alive), each answered 202."""
        ports = set()

        def receive(envelope):
            ports.add(flask.request.environ["REMOTE_PORT"])
            return True, ""
        client = KeepAliveClient(self.serve(receive).address, 1.0, 2.0)
        self.addCleanup(client.close)
        statuses = {client.post("/peer/message", json.dumps({"n": n}).encode())[0] for n in range(50)}
        self.assertEqual((statuses, len(ports)), ({202}, 1))

    def test_an_idle_connection_closes_without_an_error_line(self):
        """A kept-alive connection left idle past its timeout is closed by the server, and nothing is logged."""
        server = self.serve()
        with mock.patch.object(KeepAliveHandler, "timeout", 0.2), \
                self.assertNoLogs("werkzeug", "INFO"), \
                socket.create_connection(("127.0.0.1", server.port), timeout=5) as raw:
            raw.sendall(b"GET /peer/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            received = b""
            while (chunk := raw.recv(4096)):  # the answer, then b"" once the server closes the idle connection
                received += chunk
        self.assertIn(b"200 OK", received)

    def test_a_refused_request_with_a_body_leaves_the_connection_usable(self):
        """A 403 whose body the route never read is followed on the same connection by a request that is served."""
        server = self.serve(allowed=("10.9.9.9",))  # loopback is refused: the guard answers before reading
        with socket.create_connection(("127.0.0.1", server.port), timeout=2) as raw:
            body = b'{"padding": "' + b"x" * 5000 + b'"}'
            raw.sendall(b"POST /peer/message HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                        b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
            raw.sendall(b"GET /peer/nothing HTTP/1.1\r\nHost: x\r\n\r\n")
            replies = b""
            while replies.count(b"HTTP/1.1 ") < 2:
                chunk = raw.recv(65536)
                if not chunk:
                    break
                replies += chunk
        self.assertEqual(re.findall(rb"HTTP/1\.1 (\d{3}) ", replies), [b"403", b"403"],
                         "both requests were read and answered, the second after the first's body")

    def test_a_content_length_that_is_not_a_number_of_bytes_is_a_json_400(self):
        """A Content-Length of 5,000 digits or a superscript digit is a JSON 400; the server serves on."""
        server = self.serve()
        for length in (b"9" * 5000, b"\xb2", b"-1"):
            with socket.create_connection(("127.0.0.1", server.port), timeout=5) as raw:
                raw.sendall(b"POST /peer/message HTTP/1.1\r\nHost: x\r\nContent-Length: " + length + b"\r\n\r\n{}")
                reply = b""
                while chunk := raw.recv(65536):
                    reply += chunk
            status, _, rest = reply.partition(b"\r\n\r\n")
            self.assertTrue(status.startswith(b"HTTP/1.1 400 "), (length[:10], reply[:200]))
            self.assertIn("Content-Length", json.loads(rest)["message"])
        self.assertEqual(requests.get(f"http://{server.address}/peer/health", timeout=2).status_code, 200)

    def test_slow_clients_cannot_take_more_than_the_connection_bound(self):
        """Past max_connections idle half-sent requests, a new client gets a JSON 503; once they leave, it is served."""
        app = create_node_app(0, "", lambda envelope: (True, ""), LiveFaults(FaultTable(1)), {"127.0.0.1"})
        server = NodeServer(app, "127.0.0.1", 0, max_connections=3).start()
        self.addCleanup(server.shutdown)
        slow = [socket.create_connection(("127.0.0.1", server.port), timeout=2) for _ in range(3)]
        for raw in slow:
            raw.sendall(b"GET /peer/health HTTP/1.1\r\nHost: x\r\n")  # never ends its headers
        busy = requests.get(f"http://{server.address}/peer/health", timeout=5)
        self.assertEqual((busy.status_code, busy.json()["error"]), (503, "too_many_connections"))
        for raw in slow:
            raw.close()
        statuses = []  # each closed connection frees its slot when its thread sees the EOF: a moment later
        for _ in range(50):
            statuses.append(requests.get(f"http://{server.address}/peer/health", timeout=5).status_code)
            if statuses[-1] == 200:
                break
            time.sleep(0.1)
        self.assertEqual(statuses[-1], 200, statuses)

    def test_the_client_reconnects_after_the_server_restarts(self):
        """A KeepAliveClient whose kept connection died with its server reaches a new server on the same port."""
        first = self.serve()
        client = KeepAliveClient(first.address, 1.0, 2.0)
        self.addCleanup(client.close)
        self.assertEqual(client.post("/peer/message", b"{}")[0], 202)
        first.shutdown()
        app = create_node_app(0, "", lambda envelope: (True, ""), LiveFaults(FaultTable(1)), {"127.0.0.1"})
        second = None
        for _ in range(50):  # the freed port is anyone's: another process may hold it a moment
            try:
                second = NodeServer(app, "127.0.0.1", first.port).start()
                break
            except (OSError, SystemExit):  # werkzeug turns a failed bind into sys.exit(1)
                time.sleep(0.1)
        if second is None:
            self.skipTest(f"port {first.port} was taken by another process after the first server stopped")
        self.addCleanup(second.shutdown)
        self.assertEqual(client.post("/peer/message", b"{}")[0], 202)

    def test_a_client_of_a_closed_port_is_told_it_is_unreachable(self):
        """Posting to a port nobody listens on raises Unreachable (not a hang, not a stack of requests errors)."""
        client = KeepAliveClient(f"127.0.0.1:{processes.free_port()}", 0.5, 0.5)
        with self.assertRaises(Unreachable):
            client.post("/peer/message", b"{}")


class NodeProcessTest(unittest.TestCase):
    """A node process answers its health URL and is gone after stop (the demo ping node stands in)."""

    def test_a_node_process_becomes_healthy_and_stops_by_pid(self):
        """wait_healthy returns the child's own pid from /peer/health; stop leaves no process."""
        port = processes.free_port()
        child = processes.start([sys.executable, "-m", "realmode.demo_node", "--id", "0",
                                 "--listen", f"127.0.0.1:{port}"], name="node-0")
        self.addCleanup(processes.kill, child.pid)
        health = processes.wait_healthy(f"http://127.0.0.1:{port}/peer/health", child)
        self.assertEqual(health["pid"], child.pid)
        self.assertEqual(processes.stop(child), 0)  # SIGTERM: the node shuts its server down and exits
        self.assertFalse(processes.is_alive(child.pid))

    def test_wait_healthy_reports_a_child_that_exits(self):
        """A child that dies before answering makes wait_healthy fail with its exit code, not hang."""
        child = processes.start([sys.executable, "-c", "raise SystemExit(3)"], name="broken")
        self.addCleanup(processes.kill, child.pid)
        with self.assertRaises(processes.ChildFailed) as caught:
            processes.wait_healthy(f"http://127.0.0.1:{processes.free_port()}/peer/health", child)
        self.assertIn("exited with code 3", str(caught.exception))


if __name__ == "__main__":
    unittest.main()
