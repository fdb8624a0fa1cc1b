"""Regression tests for the ways one careless or hostile client could break the class cluster."""
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import unittest
from urllib.parse import quote

import requests

from app import create_app, shutdown
from config import Config, ConfigError, simulation_config
from db import DataDirBusy, DataDirLock, remove_node_files
from models import Record, Version
from run import port_problem
from tests.fuzzing import deep, strict_json
from tests.helpers import ROOT, make_app, write
from tests.test_server import Server, free_port


class NestedValueTest(unittest.TestCase):
    """A deeply nested value is refused at the door and leaves the cluster untouched."""

    def setUp(self):
        self.app, self.client = make_app()
        self.cluster = self.app.extensions["replicalab"]

    def test_a_600_level_value_is_refused_and_poisons_nothing(self):
        """~1 KB of [[[...]]] answers 400, stores nothing, strands no message; later requests work."""
        answer = self.client.post("/write", data='{"key": "d", "value": ' + deep(600) + "}")
        self.assertEqual(answer.status_code, 400)
        self.assertEqual(answer.get_json()["rule"], "max_depth")
        self.assertEqual(self.cluster.network.in_flight, 0)
        self.assertEqual(self.client.get("/read/d").status_code, 404)
        self.assertEqual(write(self.client, "e", "fine").status_code, 200)
        self.assertEqual(self.client.get("/read/e").get_json()["value"], "fine")
        for path in ["/keys", "/scenario", "/events?since=0"] + [f"/nodes/{n}" for n in range(5)]:
            self.assertEqual(self.client.get(path).status_code, 200, path)

    def test_the_depth_limit_is_32_levels_of_value(self):
        """A value nested 32 levels is stored and read back; 33 levels is refused."""
        self.assertEqual(write(self.client, "ok", json.loads(deep(32))).status_code, 200)
        self.assertEqual(self.client.get("/read/ok").get_json()["value"], json.loads(deep(32)))
        self.assertEqual(write(self.client, "no", json.loads(deep(33))).status_code, 400)

    def test_bodies_nested_thousands_deep_are_400_on_every_body_endpoint(self):
        """1,000+ levels on every endpoint that reads a body: 400 with the rule, never a 500."""
        for path in ["/write", "/partition", "/links/0/1", "/faults/network", "/nodes/1/clock", "/tick"]:
            for depth in (1200, 5000):
                answer = self.client.post(path, data=deep(depth))
                self.assertEqual(answer.status_code, 400, path)
                self.assertEqual(answer.get_json()["rule"], "max_depth", path)
        self.assertEqual(self.cluster.network.in_flight, 0)


class TextAndNumberRulesTest(unittest.TestCase):
    """Strings must be valid Unicode, numbers finite; answers are always strict JSON."""

    def setUp(self):
        self.app, self.client = make_app()

    def test_lone_surrogates_are_refused_in_values_keys_and_object_keys(self):
        """\\ud800 in a value, a key or an object key inside a value: 400, nothing stored."""
        for body in ['{"key": "sur", "value": "\\ud800"}', '{"key": "\\udfff", "value": 1}',
                     '{"key": "obj", "value": {"\\ud800": 1}}']:
            answer = self.client.post("/write", data=body)
            self.assertEqual(answer.status_code, 400, body)
            self.assertEqual(answer.get_json()["rule"], "valid_unicode")
        self.assertEqual(self.client.get("/keys").get_json()["count"], 0)

    def test_non_finite_numbers_are_refused(self):
        """NaN, Infinity, -Infinity and 1e400 are 400s, so no answer can ever contain them."""
        for literal in ["NaN", "Infinity", "-Infinity", "1e400"]:
            answer = self.client.post("/write", data='{"key": "n", "value": ' + literal + "}")
            self.assertEqual(answer.status_code, 400, literal)
            self.assertEqual(answer.get_json()["rule"], "finite_numbers")
            strict_json(answer.get_data(as_text=True))

    def test_control_bodies_refuse_non_finite_numbers_too(self):
        """A drop rate of NaN is refused before it reaches the network's random draws."""
        answer = self.client.post("/faults/network", data='{"drop_rate": NaN}')
        self.assertEqual(answer.status_code, 400)


class AnyWrittenKeyCanBeReadTest(unittest.TestCase):
    """Every key the write endpoint accepts can be read, placed and deleted through the URL."""

    def test_keys_with_leading_double_and_trailing_slashes(self):
        """'/', '/a', '//x//' and '/read/' round-trip (the fuzz found '/'-first keys unreadable)."""
        app, client = make_app()
        for key in ["/", "/:😀", "//x//", "/read/", "a/b", "energy:p1:12:00", "sp ace", "q?#%", "\n", "a\r\nb"]:
            self.assertEqual(write(client, key, key).status_code, 200, key)
            path = quote(key, safe="")
            self.assertEqual(client.get("/read/" + path).get_json()["value"], key)
            self.assertEqual(client.get("/placement/" + path).status_code, 200, key)
            self.assertEqual(client.delete("/delete/" + path).status_code, 200, key)


class SiblingContextTest(unittest.TestCase):
    """A context a client sends back is checked like any other input."""

    def test_a_deeply_nested_forged_context_is_a_400(self):
        """base64 of JSON nested 2,500 deep in the context is refused, not a 500 (found by a review)."""
        import base64
        app, client = make_app(conflicts="siblings")
        forged = base64.b64encode(('{"vv":' + deep(2500) + ',"cloud":[]}').encode()).decode()
        answer = client.post("/write", data=json.dumps({"key": "cart", "value": ["x"], "context": forged}))
        self.assertEqual(answer.status_code, 400)
        self.assertIn("context", answer.get_json()["message"])


class LinearizableRefusalTest(unittest.TestCase):
    """A linearizable write refused before it chose a version does not show one."""

    def test_no_placeholder_version_in_a_query_phase_refusal(self):
        """With two of three replicas down the 503 says version null, not a made-up 0@node-N."""
        app, client = make_app()
        replicas = app.extensions["replicalab"].ring.preference_list("color")
        for node in replicas[1:]:
            client.post(f"/fail/{node}")
        answer = client.post("/write", data='{"key": "color", "value": 1, "consistency": "linearizable"}')
        self.assertEqual(answer.status_code, 503)
        self.assertIsNone(answer.get_json()["version"])


class ClientIdTest(unittest.TestCase):
    """X-Client-Id names the client as it was sent."""

    def test_utf8_names_survive_and_control_characters_are_dropped(self):
        """élève-😀 is recorded as is (not mojibake); a control character does not reach the history."""
        app, client = make_app()
        client.post("/write", data='{"key": "k", "value": 1}',
                    headers={"X-Client-Id": "élève-😀".encode().decode("latin-1")})
        client.post("/write", data='{"key": "k", "value": 2}', headers={"X-Client-Id": "bob\x01"})
        processes = {e["process"] for e in client.get("/history").get_json()["events"]}
        self.assertIn("élève-😀", processes)
        self.assertIn("bob", processes)


class CheckerEndpointTest(unittest.TestCase):
    """/check refuses what it cannot read or model with a 400, and runs one check at a time."""

    def setUp(self):
        self.app, self.client = make_app()

    def test_a_model_that_cannot_check_the_recorded_ops_is_a_400(self):
        """The register model has no delete: GET /check?model=register after a delete says so (was a 500)."""
        write(self.client, "k", 1)
        self.client.delete("/delete/k")
        answer = self.client.get("/check?model=register")
        self.assertEqual(answer.status_code, 400)
        self.assertIn("delete", answer.get_json()["message"])

    def test_a_deeply_nested_posted_history_is_a_400(self):
        """A history nested thousands deep cannot crash the parser (was a 500)."""
        for body in (deep(5000), "{:process " + deep(5000)):
            answer = self.client.post("/check", data=body)
            self.assertEqual(answer.status_code, 400, body[:20])

    def test_a_second_concurrent_check_is_told_to_retry(self):
        """While one check runs, another gets 429: checks are CPU-heavy and share the server."""
        from api import history
        self.assertTrue(history._CHECKING.acquire(blocking=False))
        try:
            answer = self.client.get("/check")
            self.assertEqual(answer.status_code, 429)
            self.assertIn("one at a time", answer.get_json()["message"])
        finally:
            history._CHECKING.release()
        self.assertEqual(self.client.get("/check").status_code, 200)


class OldBadDataTest(unittest.TestCase):
    """Data an older version stored without today's rules never makes an endpoint answer 500."""

    def setUp(self):
        self.data_dir = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, self.data_dir)

    def test_a_stored_surrogate_and_nan_are_shown_escaped_and_can_be_deleted_after_a_restart(self):
        """Planted on disk, read after a restart: every endpoint answers strict JSON; delete works."""
        config = simulation_config(storage="sqlite", data_dir=self.data_dir)
        app = create_app(config)
        manager = app.extensions["replicalab"]
        replicas = manager.ring.preference_list("sur")
        for node in replicas:  # what an older version let through
            manager.nodes[node].store.put(Record("sur", {"text": "\ud800", "n": float("nan")},
                                                 Version(5, node)))
        shutdown(app)
        app = create_app(config)
        self.addCleanup(shutdown, app)
        client = app.test_client()
        paths = ["/read/sur", "/keys", "/events?since=0", "/scenario"] + [f"/nodes/{n}" for n in replicas]
        for path in paths:
            answer = client.get(path)
            self.assertEqual(answer.status_code, 200, path)
            strict_json(answer.get_data(as_text=True))  # raises on NaN or undecodable text
        shown = client.get("/read/sur").get_json()["value"]
        self.assertEqual(shown, {"text": "\ud800", "n": "NaN"})  # the surrogate escaped, NaN named
        self.assertEqual(client.delete("/delete/sur").status_code, 200)
        self.assertEqual(client.get("/read/sur").status_code, 404)

    def test_a_message_that_cannot_be_handled_is_dropped_not_stuck(self):
        """If a node's handler raises (a bug), the message is dropped with an event; the next request works."""
        app, client = make_app()
        manager = app.extensions["replicalab"]
        victim = manager.ring.preference_list("k")[1]
        original = manager.nodes[victim].on_put

        def broken(msg):
            raise RecursionError("simulated bug")

        manager.nodes[victim].on_put = broken
        answer = write(client, "k", "v")
        self.assertEqual(answer.status_code, 200)  # the stand-in replaced the silent replica
        self.assertEqual(manager.network.in_flight, 0)
        dropped = [e for e in manager.events.page(0, 10 ** 6) if "could not handle it" in e.text]
        self.assertTrue(dropped)
        manager.nodes[victim].on_put = original
        self.assertEqual(write(client, "k2", "v2").status_code, 200)


class CrossSiteTest(unittest.TestCase):
    """Other web sites cannot drive the cluster; curl and the server's own pages can."""

    def setUp(self):
        self.app, self.client = make_app()
        self.cluster = self.app.extensions["replicalab"]

    def test_a_text_plain_post_from_another_site_is_refused(self):
        """A form post from evil.example with a JSON-looking text/plain body: 403, nothing stored."""
        answer = self.client.post("/write", data='{"key": "x", "value": 1}', content_type="text/plain",
                                  headers={"Origin": "https://evil.example"})
        self.assertEqual(answer.status_code, 403)
        self.assertIn("other web sites", answer.get_json()["message"])
        answer = self.client.post("/fail/1?mode=wipe", headers={"Origin": "https://evil.example"})
        self.assertEqual(answer.status_code, 403)
        self.assertTrue(self.cluster.is_up(1))
        self.assertEqual(self.client.get("/keys").get_json()["count"], 0)

    def test_sandboxed_pages_with_origin_null_are_refused(self):
        """Origin: null (sandboxed frames, file:// pages) is not this server."""
        answer = self.client.post("/write", data='{"key": "x", "value": 1}', headers={"Origin": "null"})
        self.assertEqual(answer.status_code, 403)

    def test_curl_and_same_origin_pages_pass(self):
        """No Origin (curl -d, scripts) and the server's own origin both write."""
        self.assertEqual(write(self.client, "a", 1).status_code, 200)
        answer = self.client.post("/write", data='{"key": "b", "value": 2}',
                                  headers={"Origin": "http://localhost"})
        self.assertEqual(answer.status_code, 200)

    def test_an_instructor_can_allow_an_origin(self):
        """--allowed-origins lets a named page call the server."""
        app, client = make_app(allowed_origins="https://course.example.edu, http://x.test:8000")
        answer = client.post("/write", data='{"key": "a", "value": 1}',
                             headers={"Origin": "https://course.example.edu"})
        self.assertEqual(answer.status_code, 200)

    def test_dns_rebinding_host_names_are_refused(self):
        """A Host that is a foreign name is refused; IP addresses, localhost and allowed names pass."""
        answer = self.client.get("/nodes", headers={"Host": "attacker.example:5000"})
        self.assertEqual(answer.status_code, 403)
        self.assertIn("DNS rebinding", answer.get_json()["message"])
        for host in ["127.0.0.1:5000", "localhost:5000", "[::1]:5000", "10.1.2.3"]:
            self.assertEqual(self.client.get("/nodes", headers={"Host": host}).status_code, 200, host)
        app, client = make_app(allowed_hosts="lab.example.edu")
        self.assertEqual(client.get("/nodes", headers={"Host": "lab.example.edu:8000"}).status_code, 200)

    def test_host_verdicts_stay_right_past_the_remembered_ones(self):
        """After more distinct Host headers than the guard remembers, each is still judged on its own."""
        for i in range(100):
            foreign = self.client.get("/nodes", headers={"Host": f"attacker{i}.example"})
            self.assertEqual(foreign.status_code, 403)
            self.assertEqual(self.client.get("/nodes", headers={"Host": f"10.0.0.{i}"}).status_code, 200)
        self.assertEqual(self.client.get("/nodes", headers={"Host": "attacker.example"}).status_code, 403)
        self.assertEqual(self.client.get("/nodes", headers={"Host": "localhost:5000"}).status_code, 200)

    def test_an_empty_admin_token_is_a_config_error(self):
        """--admin-token '' would look protected and be open: refused at start."""
        with self.assertRaises(ConfigError):
            Config(admin_token="").validate()
        with self.assertRaises(ConfigError):
            Config(admin_token="   ").validate()

    def test_binding_beyond_loopback_without_a_token_warns(self):
        """0.0.0.0 with no admin token has a warning; loopback or a token has none."""
        self.assertIn("admin-token", Config(host="0.0.0.0").exposure_warning())
        self.assertIsNone(Config(host="127.0.0.1").exposure_warning())
        self.assertIsNone(Config(host="0.0.0.0", admin_token="s3cret").exposure_warning())


class BatchAnswersTest(unittest.TestCase):
    """Batch-mode acknowledgements say they are not yet durable, and where."""

    def test_batch_write_names_the_nodes_waiting_for_a_group_commit(self):
        """In batch mode the answer lists not_yet_durable nodes; after a flush a sync-like write has none."""
        app, client = make_app(durability="batch", batch_size=100)
        answer = write(client, "color", "blue").get_json()
        self.assertEqual(sorted(answer["not_yet_durable"]), sorted(answer["stored_on"]))
        self.assertIn("not yet durable", answer["message"])
        self.assertTrue(all(a["durable"] is False for a in answer["acks"]))
        client.post("/scheduler/run/flush")
        manager = app.extensions["replicalab"]
        self.assertFalse(any(n.store.pending for n in manager.nodes))

    def test_sync_write_is_durable_when_acknowledged(self):
        """In sync mode every ack is durable and the message says nothing about group commits."""
        app, client = make_app()
        answer = write(client, "color", "blue").get_json()
        self.assertEqual(answer["not_yet_durable"], [])
        self.assertNotIn("not yet durable", answer["message"])


class DataDirTest(unittest.TestCase):
    """One server per data directory; --fresh deletes only the cluster's own files."""

    def setUp(self):
        self.data_dir = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, self.data_dir)

    def test_a_second_cluster_on_the_same_directory_is_refused(self):
        """While one manager holds the directory, a second (even with fresh) is refused; after close it works."""
        config = simulation_config(storage="sqlite", data_dir=self.data_dir)
        first = create_app(config)
        write(first.test_client(), "keep", "me")
        with self.assertRaises(DataDirBusy) as caught:
            create_app(simulation_config(storage="sqlite", data_dir=self.data_dir, fresh=True))
        self.assertIn(str(os.getpid()), str(caught.exception))
        self.assertEqual(first.test_client().get("/read/keep").get_json()["value"], "me")
        shutdown(first)
        second = create_app(config)
        self.addCleanup(shutdown, second)
        self.assertEqual(second.test_client().get("/read/keep").get_json()["value"], "me")

    def test_fresh_deletes_only_the_files_the_cluster_created(self):
        """Files that merely look similar (notes, other tools' sqlite) survive --fresh."""
        keep = ["node-notes.sqlite.txt", "my-node-1.sqlite", "node-1.records.sqlite.bak", "node-x.hints.sqlite"]
        gone = ["node-1.records.sqlite", "node-12.hints.sqlite", "node-0.records.sqlite-journal"]
        for name in keep + gone:
            with open(os.path.join(self.data_dir, name), "w") as handle:
                handle.write("x")
        self.assertEqual(remove_node_files(self.data_dir), len(gone))
        self.assertEqual(sorted(os.listdir(self.data_dir)), sorted(keep))

    def test_the_lock_dies_with_its_holder(self):
        """A lock released (as when a server dies) can be taken again at once."""
        lock = DataDirLock(self.data_dir)
        with self.assertRaises(DataDirBusy):
            DataDirLock(self.data_dir)
        lock.release()
        DataDirLock(self.data_dir).release()

    def test_run_py_refuses_a_second_server_on_the_same_directory(self):
        """python run.py --fresh on another port but the same --data-dir exits 1 and deletes nothing."""
        server = Server([sys.executable, "run.py", "--data-dir", self.data_dir, "--scheduler", "off"])
        self.addCleanup(server.log.close)
        self.addCleanup(server.stop)
        self.assertEqual(server.post("/write", {"key": "precious", "value": 1}).status_code, 200)
        result = subprocess.run([sys.executable, "run.py", "--fresh", "--port", str(free_port()),
                                 "--data-dir", self.data_dir], cwd=ROOT, capture_output=True, text=True,
                                timeout=60)
        self.assertEqual(result.returncode, 1, result.stderr)
        self.assertIn("in use by another ReplicaLab server", result.stderr)
        self.assertEqual(server.get("/read/precious").json()["value"], 1)
        self.assertTrue(any(name.endswith(".records.sqlite") for name in os.listdir(self.data_dir)))


class PortProbeTest(unittest.TestCase):
    """A port left in TIME_WAIT by a server that just stopped is free to reuse."""

    def test_time_wait_sockets_do_not_block_a_restart(self):
        """After a server closes an accepted connection first, the probe still calls the port free."""
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        client = socket.create_connection(("127.0.0.1", port))
        accepted, _ = listener.accept()
        accepted.close()  # the server side closes first: its socket lingers in TIME_WAIT
        listener.close()
        client.close()
        self.assertIsNone(port_problem("127.0.0.1", port))

    def test_a_port_in_use_is_still_refused(self):
        """A port another process listens on is reported busy."""
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        self.addCleanup(listener.close)
        self.assertIsNotNone(port_problem("127.0.0.1", listener.getsockname()[1]))


class EventStreamLimitsTest(unittest.TestCase):
    """Live-event streams are capped below the thread count, and gone clients free their slot."""

    def test_streams_beyond_the_cap_get_429_and_health_still_answers(self):
        """With --max-streams 2, a third stream is refused with a sentence; /health shows the count."""
        app, client = make_app(max_streams=2)
        open_streams = [client.get("/events/stream", buffered=False) for _ in range(2)]
        third = client.get("/events/stream")
        self.assertEqual(third.status_code, 429)
        self.assertIn("--max-streams", third.get_json()["message"])
        self.assertEqual(client.get("/health").get_json()["event_streams"], {"open": 2, "max": 2})
        for stream in open_streams:
            stream.close()
        self.assertEqual(client.get("/health").get_json()["event_streams"]["open"], 0)
        self.assertEqual(client.get("/events/stream", buffered=False).status_code, 200)

    def test_gunicorn_frees_the_thread_of_a_client_that_left(self):
        """Behind gunicorn, streams that disconnect are noticed within seconds by the heartbeat."""
        data_dir = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, data_dir, True)
        server = Server([sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py"],
                        env={"REPLICALAB_DATA_DIR": data_dir, "REPLICALAB_THREADS": "4",
                             "REPLICALAB_MAX_STREAMS": "2", "REPLICALAB_STREAM_HEARTBEAT_S": "1",
                             "REPLICALAB_SCHEDULER": "off"})
        self.addCleanup(server.log.close)
        self.addCleanup(server.stop)
        streams = [requests.get(server.url + "/events/stream", stream=True, timeout=10) for _ in range(2)]
        self.assertEqual(requests.get(server.url + "/events/stream", timeout=10).status_code, 429)
        self.assertEqual(requests.get(server.url + "/health", timeout=5).status_code, 200)
        for stream in streams:
            stream.raw._fp.fp.raw._sock.shutdown(socket.SHUT_RDWR)  # the client vanishes
            stream.close()
        deadline = time.monotonic() + 10  # bounded wait for the server's heartbeat, not the cluster
        while time.monotonic() < deadline:
            if requests.get(server.url + "/health", timeout=5).json()["event_streams"]["open"] == 0:
                break
            time.sleep(0.2)
        self.assertEqual(requests.get(server.url + "/health", timeout=5).json()["event_streams"]["open"], 0)

    def test_gunicorn_refuses_more_streams_than_threads_allow(self):
        """REPLICALAB_MAX_STREAMS above the thread count minus 2 stops gunicorn with one sentence."""
        env = {**os.environ, "REPLICALAB_THREADS": "4", "REPLICALAB_MAX_STREAMS": "3",
               "REPLICALAB_PORT": str(free_port())}
        result = subprocess.run([sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py"], cwd=ROOT,
                                env=env, capture_output=True, text=True, timeout=60)
        self.assertEqual(result.returncode, 2)
        self.assertIn("REPLICALAB_MAX_STREAMS=3", result.stderr)


if __name__ == "__main__":
    unittest.main()

