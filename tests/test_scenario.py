"""Scenario export and replay: the same requests give the same event log; live SSE."""
import contextlib
import io
import json
import os
import subprocess
import sys
import tempfile
import threading
import unittest

from cluster.scenario import event_digest
from labs.__main__ import main as labs_main
from labs.replay import replay
from tests.helpers import ROOT, make_app, write


def post(client, path, body=None):
    return client.post(path, data=json.dumps(body) if body is not None else None)


def run_script(client):
    """A run touching every kind of state change, plain requests only."""
    write(client, "color", "blue")
    write(client, "energy:p1/12:00", {"kwh": 3})
    post(client, "/faults/network", {"drop_rate": 0.2, "duplicate_rate": 0.2, "delay_ms": [0, 40]})
    for i in range(8):
        write(client, f"k{i}", i)
    post(client, "/partition", {"groups": [[0, 1], [2, 3, 4]]})
    write(client, "color", "left", coordinator=1)
    write(client, "color", "right", coordinator=4)
    post(client, "/heal")
    post(client, "/nodes/2/clock", {"skew_ms": -3000})
    post(client, "/fail/3?mode=crash")
    client.get("/read/color")
    client.delete("/delete/k1")
    post(client, "/recover/3")
    post(client, "/scheduler/run/anti_entropy")
    client.delete("/faults")
    post(client, "/tick", {"ms": 500})
    client.get("/read/k2?r=3")


class ReplayTest(unittest.TestCase):
    """A scenario replays to an identical event log."""

    def test_exported_run_replays_byte_for_byte(self):
        """Exported, saved and replayed, a run with faults gives the same digest and answers."""
        app, client = make_app(seed=11)
        run_script(client)
        exported = client.get("/scenario").get_json()
        self.assertEqual(exported["notes"], ["replays exactly: python -m labs replay FILE"])
        self.assertGreater(len(exported["requests"]), 20)
        replayed, answers = replay(exported)
        events = replayed.extensions["replicalab"].events.page(0, 10 ** 9)
        self.assertEqual(event_digest(events), exported["event_digest"])
        self.assertEqual(len(events), exported["events"])

    def test_a_file_recorded_by_an_older_version_still_replays(self):
        """A scenario saved before the code moved into packages replays to the digest it recorded.

        The file covers writes, reads, every crash kind, a partition, link and
        network faults (drops, duplicates, delays), clock skew, anti-entropy, jobs
        and a pause/tick/resume. If a change alters what the cluster does (or how
        it narrates it), this fails: record the file again only on purpose.
        """
        path = os.path.join(ROOT, "tests", "fixtures", "scenario_before_layout.json")
        with open(path, encoding="utf-8") as handle:
            recorded = json.load(handle)
        replayed, _ = replay(recorded)
        events = replayed.extensions["replicalab"].events.page(0, 10 ** 9)
        self.assertEqual(len(events), recorded["events"])
        self.assertEqual(event_digest(events), recorded["event_digest"])

    def test_step_mode_run_replays_too(self):
        """A paused write waiting on its thread, moved message by message, replays identically."""
        app, client = make_app(client_timeout_ms=10_000)
        cluster = app.extensions["replicalab"]
        post(client, "/network/pause")
        thread = threading.Thread(target=lambda: write(app.test_client(), "color", "blue"))
        thread.start()
        with cluster.lock:
            self.assertTrue(cluster.changed.wait_for(lambda: cluster.parked == 1, timeout=10))
        messages = client.get("/network/messages").get_json()["messages"]
        post(client, f"/network/duplicate/{messages[0]['id']}")
        post(client, f"/network/drop/{messages[1]['id']}")
        post(client, "/network/step")
        post(client, "/network/step")
        post(client, "/tick", {"ms": 150})
        post(client, "/network/resume")
        thread.join(10)
        write(client, "after", 1)
        exported = client.get("/scenario").get_json()
        replayed, _ = replay(exported)
        events = replayed.extensions["replicalab"].events.page(0, 10 ** 9)
        self.assertEqual(event_digest(events), exported["event_digest"])

    def test_a_different_seed_is_detected(self):
        """Replaying with another seed gives another log, and the replay command says NO."""
        app, client = make_app()
        run_script(client)
        exported = client.get("/scenario").get_json()
        exported["settings"]["seed"] = 99
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
            json.dump(exported, handle)
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            code = labs_main(["replay", handle.name, "--quiet"])
        os.unlink(handle.name)
        self.assertEqual(code, 1)
        self.assertIn("identical event log: NO", out.getvalue())

    def test_replay_command_confirms_identical_log(self):
        """python -m labs replay FILE prints the story and confirms the digest."""
        app, client = make_app()
        write(client, "color", "blue")
        post(client, "/fail/1")
        write(client, "color", "green")
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
            handle.write(client.get("/scenario").get_data(as_text=True))
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            code = labs_main(["replay", handle.name])
        os.unlink(handle.name)
        self.assertEqual(code, 0, out.getvalue())
        self.assertIn("as a hint for node-1", out.getvalue())
        self.assertIn("identical event log: yes", out.getvalue())

    def test_run_on_sqlite_storage_replays_identically(self):
        """Storage kind does not change the story: a sqlite-backed run replays on memory storage."""
        import shutil
        data_dir = tempfile.mkdtemp()
        try:
            app, client = make_app(storage="sqlite", data_dir=data_dir)
            write(client, "color", "blue")
            post(client, "/fail/1")
            write(client, "color", "green")
            exported = client.get("/scenario").get_json()
            app.extensions["replicalab"].close()
        finally:
            shutil.rmtree(data_dir)
        replayed, _ = replay(exported)
        events = replayed.extensions["replicalab"].events.page(0, 10 ** 9)
        self.assertEqual(event_digest(events), exported["event_digest"])

    def test_wall_clock_run_carries_a_note(self):
        """A scenario recorded on the wall clock says its replay may differ."""
        app, client = make_app(clock="wall")
        write(client, "k", 1)
        notes = client.get("/scenario").get_json()["notes"]
        self.assertTrue(any("wall clock" in note for note in notes))

    def test_bad_files_are_refused_with_a_sentence(self):
        """Missing, non-JSON and foreign files are refused by labs replay and run.py --replay."""
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
            handle.write('{"hello": 1}')
        for path, expected in [("/nonexistent.json", "cannot read"), (handle.name, "not a ReplicaLab scenario")]:
            err = io.StringIO()
            with contextlib.redirect_stderr(err):
                self.assertEqual(labs_main(["replay", path]), 2)
            self.assertIn(expected, err.getvalue())
        result = subprocess.run([sys.executable, "run.py", "--replay", handle.name], cwd=ROOT,
                                capture_output=True, text=True, timeout=60)
        os.unlink(handle.name)
        self.assertEqual(result.returncode, 2)
        self.assertNotIn("Traceback", result.stderr)
        self.assertIn("not a ReplicaLab scenario", result.stderr)


class EventStreamTest(unittest.TestCase):
    """GET /events/stream sends the backlog, then live events, as Server-Sent Events."""

    def test_backlog_then_live_events(self):
        """With ?since=0 the stream starts at event 1; events written meanwhile follow in order."""
        app, client = make_app()
        write(client, "color", "blue")
        backlog = app.extensions["replicalab"].events.last_seq
        response = client.get(f"/events/stream?since=0&limit={backlog + 5}", buffered=False)
        chunks = response.response
        first = [next(chunks) for _ in range(backlog)]
        self.assertTrue(first[0].startswith(b"id: 1\nevent: cluster_started\n"))
        write(client, "size", 3)  # happens while the stream is open
        live = b"".join(chunks)
        response.close()
        ids = [int(line[4:]) for line in live.split(b"\n") if line.startswith(b"id: ")]
        self.assertEqual(ids, list(range(backlog + 1, backlog + 6)))

    def test_bad_stream_parameters(self):
        """Non-numeric since or limit are JSON 400s, not a stream."""
        app, client = make_app()
        self.assertEqual(client.get("/events/stream?since=x").status_code, 400)
        self.assertEqual(client.get("/events/stream?limit=-1").status_code, 400)


if __name__ == "__main__":
    unittest.main()
