"""Defects a student walk through every lab found (issue 22), one test class each."""
from __future__ import annotations

import io
import json
import os
import re
import shutil
import subprocess
import unittest
from unittest import mock

from chaos import analysis, report
from labs import runner
from labs.__main__ import main as labs_main
from labs.replay import replay
from models import Ballot
from tests import test_dashboard as dashboard  # its LiveServer and Playwright set-up, not its tests
from tests.helpers import ROOT, make_app
from wording import agrees, plural


class AppsInSiblingsModeTest(unittest.TestCase):
    """The applications say plainly that they need lww, with their own error code."""

    def test_apps_on_an_empty_siblings_store_say_they_need_lww(self):
        """POST /dispatch/drones, /sensors/readings and /alerts/rules answer 409 needs_lww naming --conflicts lww."""
        _, client = make_app(conflicts="siblings")
        requests = [("/dispatch/drones", {"id": "d1", "x": 0, "y": 0}),
                    ("/sensors/readings", {"sensor": "floor-1", "value": 12.5}),
                    ("/alerts/rules", {"sensor": "floor-1", "above": 30})]
        for path, body in requests:
            with self.subTest(path=path):
                response = client.post(path, data=json.dumps(body))
                answer = response.get_json()
                self.assertEqual(response.status_code, 409)
                self.assertEqual(answer["error"], "needs_lww")
                self.assertIn("--conflicts lww", answer["message"])

    def test_apps_still_work_in_lww_mode(self):
        """The same requests succeed on an lww cluster (the default)."""
        _, client = make_app()
        response = client.post("/dispatch/drones", data=json.dumps({"id": "d1", "x": 0, "y": 0}))
        self.assertEqual(response.status_code, 201)


class ChaosAndCasWordingTest(unittest.TestCase):
    """The chaos report names deletes as deletes; /cas in siblings mode says it needs lww."""

    def op(self, f, value, inv, ret, output=None, process=0):
        """One completed operation of a chaos history."""
        return {"f": f, "key": "k", "value": value, "type": "ok", "inv": inv, "ret": ret,
                "output": output, "process": process}

    def test_a_stale_read_after_a_delete_says_the_delete(self):
        """A read that still sees a value after an acknowledged delete is printed as 'after the delete of k'."""
        ops = [self.op("write", "a", 0, 1), self.op("delete", None, 2, 3),
               self.op("read", None, 4, 5, output="a", process=1)]
        found = analysis.stale_reads(ops)
        self.assertEqual(len(found), 1)
        line = report.stale_read_line(found[0])
        self.assertIn("after the delete of k was acknowledged", line)
        self.assertNotIn("None", line)

    def test_a_lost_delete_says_the_delete(self):
        """An acknowledged delete whose key ends with a value is printed as 'the delete of k', never None."""
        ops = [self.op("write", "a", 0, 1), self.op("delete", None, 2, 3)]
        lost = analysis.lost_writes(ops, {"k": "a"})
        self.assertEqual(len(lost), 1)
        line = report.lost_write_line(lost[0])
        self.assertIn("the delete of k acknowledged", line)
        self.assertNotIn("None", line)

    def test_cas_in_siblings_mode_needs_lww_and_has_no_backwards_event_range(self):
        """/cas with --conflicts siblings answers 409 needs_lww, and its empty event range is null, not 2..1."""
        _, client = make_app(conflicts="siblings")
        answer = client.post("/cas", data=json.dumps({"key": "k", "expected": None, "value": 1})).get_json()
        self.assertEqual(answer["error"], "needs_lww")
        self.assertEqual(answer["events"]["count"], 0)
        self.assertIsNone(answer["events"]["first"])
        self.assertIsNone(answer["events"]["last"])

    def test_a_request_that_caused_events_has_a_forward_range(self):
        """A write's events range runs forward and counts its events."""
        _, client = make_app()
        span = client.post("/write", data=json.dumps({"key": "k", "value": 1})).get_json()["events"]
        self.assertLessEqual(span["first"], span["last"])
        self.assertEqual(span["count"], span["last"] - span["first"] + 1)


class FlaskAsRequests:
    """Stands in for the requests module: sends HttpClient's requests to an in-process app, headers included."""

    def __init__(self, app):
        self.client = app.test_client()

    def request(self, method, url, data=None, headers=None, timeout=None):
        """Answer like requests.request, from the Flask test client."""
        path = "/" + url.split("://", 1)[1].split("/", 1)[1]  # http://host:port/path -> /path
        response = self.client.open(path, method=method, data=data, headers=headers or {})
        return mock.Mock(status_code=response.status_code, json=response.get_json)


class LabRunnerTokenTest(unittest.TestCase):
    """`labs run N --url` can send the admin token, and a 401 is blamed on the token, not on --fresh."""

    def guided_output(self, token):
        """Lab 2, guided without pauses through HttpClient against a token-protected server."""
        lab = runner.find(2)
        app, _ = make_app(admin_token="s3cret", **lab.settings)
        client = runner.HttpClient("http://127.0.0.1:5000", token)
        client._requests = FlaskAsRequests(app)  # type: ignore[assignment]  # duck-types the requests module
        out = io.StringIO()
        return runner.guided(lab, client, pause=False, out=out), out.getvalue()

    def test_with_the_token_every_step_holds(self):
        """With --token the fault steps are authorized, every observation holds, and the curl shown sends the token."""
        ok, text = self.guided_output("s3cret")
        self.assertTrue(ok, text[-2000:])
        self.assertIn("""curl -X POST -H 'Authorization: Bearer '"$REPLICALAB_ADMIN_TOKEN" """, text)
        self.assertNotIn("s3cret", text)

    def test_without_the_token_the_runner_names_the_token_not_fresh(self):
        """Without the token the 401 is explained with --token and REPLICALAB_ADMIN_TOKEN, and --fresh is not blamed."""
        ok, text = self.guided_output(None)
        self.assertFalse(ok)
        self.assertIn("--token", text)
        self.assertIn("REPLICALAB_ADMIN_TOKEN", text)
        self.assertNotIn("--fresh", text)

    def test_the_token_comes_from_the_flag_or_the_environment(self):
        """`labs run N --url` passes --token, or else $REPLICALAB_ADMIN_TOKEN, to its HTTP client."""
        for argv, env, expected in ((["--token", "t1"], {}, "t1"), ([], {"REPLICALAB_ADMIN_TOKEN": "t2"}, "t2")):
            with self.subTest(argv=argv), mock.patch.dict(os.environ, env), \
                    mock.patch.object(runner, "HttpClient") as client, \
                    mock.patch.object(runner, "server_mismatch", return_value=None), \
                    mock.patch.object(runner, "guided", return_value=True):
                labs_main(["run", "2", "--url", "http://127.0.0.1:5000", "--no-pause", *argv])
                client.assert_called_once_with("http://127.0.0.1:5000", expected)


class QuickStartTest(unittest.TestCase):
    """The README's quick start says to use a virtualenv before it installs anything."""

    def test_the_virtualenv_comes_before_the_install_and_two_commands_stay(self):
        """The virtualenv is mentioned before `pip install`, and the quick start keeps its two commands."""
        with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as handle:
            quick = handle.read().split("## Quick start", 1)[1].split("\n## ", 1)[0]
        self.assertLess(quick.index("venv"), quick.index("pip install"))
        blocks = quick.split("```")[1::2]
        self.assertEqual([b.strip() for b in blocks],
                         ["pip install -r requirements.txt && python run.py", "python -m pytest"])


BAD_COUNTS = re.compile(r"\w\((s|es|ies)\)|\b1 (acks|answers|records|keys|replicas|nodes|peers|hints|"
                        r"deliveries|operations|events|readings|buckets|siblings|messages|writes)\b")


def texts(value):
    """Every string inside a JSON value."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from texts(item)
    elif isinstance(value, list):
        for item in value:
            yield from texts(item)


class OneVocabularyTest(unittest.TestCase):
    """Stories count in words (1 ack, 2 acks), name ballots as (round, node) and never have a node ask itself."""

    def test_plural_is_singular_for_one_only(self):
        """plural() says '1 ack', '0 acks', '2 deliveries', '1 anomaly'; agrees() picks the verb."""
        self.assertEqual([plural(1, "ack"), plural(0, "ack"), plural(2, "delivery"), plural(1, "anomaly"),
                          plural(3, "key"), plural(2, "match")],
                         ["1 ack", "0 acks", "2 deliveries", "1 anomaly", "3 keys", "2 matches"])
        self.assertEqual([agrees(1, "differs", "differ"), agrees(2, "differs", "differ")], ["differs", "differ"])

    def test_a_ballot_reads_as_round_and_node(self):
        """A ballot prints as (round, node), the README's definition, not round.node."""
        self.assertEqual(str(Ballot(2, 1)), "(2, node-1)")

    def test_a_recorded_run_never_asks_itself_and_counts_in_words(self):
        """Replaying the recorded scenario: no node asks itself to stand in or sends itself a repair; no '(s)'."""
        with open(os.path.join(ROOT, "tests", "fixtures", "scenario_before_layout.json"), encoding="utf-8") as f:
            app, _ = replay(json.load(f))
        events = app.extensions["replicalab"].events.page(0, 10 ** 9)
        selves = 0
        for event in events:
            with self.subTest(seq=event.seq):
                self.assertIsNone(BAD_COUNTS.search(event.text), event.text)
                self.assertIsNone(re.search(r"(node-\d) asks \1 to", event.text), event.text)
                self.assertIsNone(re.search(r"(node-\d) had .*, \1 sends it", event.text), event.text)
            selves += "stands in itself" in event.text or "(the coordinator) had" in event.text
        self.assertGreaterEqual(selves, 2)  # the run has both cases, so the checks above were exercised

    def test_error_sentences_name_one_or_several_fields(self):
        """An unknown field is 'Unknown field 'x'', two are 'Unknown fields ...', never 'field(s)'."""
        _, client = make_app()
        one = client.post("/write", data=json.dumps({"key": "a", "value": 1, "vaule": 2})).get_json()["message"]
        two = client.post("/write", data=json.dumps({"key": "a", "value": 1, "x": 1, "y": 2})).get_json()["message"]
        self.assertTrue(one.startswith("Unknown field 'vaule';"), one)
        self.assertTrue(two.startswith("Unknown fields 'x', 'y';"), two)

    def test_every_lab_answer_counts_in_words(self):
        """No message or story line of any lab's answers says '(s)', '(ies)' or '1 acks'."""
        for lab in runner.discover():
            client = runner.lab_client(lab)  # lab 11 runs on real processes
            ctx: dict = {}
            try:
                for number, step in enumerate(lab.steps, 1):
                    if step.action and lab.number == 12:
                        continue  # a program's run, not an HTTP answer; its lab check runs it
                    outcome = runner.run_step(client, step, ctx)  # lab 11's kill step is an action too
                    for text in texts(outcome.get("answers", [])):
                        with self.subTest(lab=lab.number, step=number):
                            self.assertIsNone(BAD_COUNTS.search(text), text)
            finally:
                getattr(client, "close", lambda: None)()


def lab_answers(number: int, upto: int) -> list:
    """The answers of lab `number`'s steps 1..upto on a fresh in-process cluster (one list per step)."""
    lab = runner.find(number)
    client = runner.InProcessClient(lab.settings)
    ctx: dict = {}
    answers: list = []
    for step in lab.steps[:upto]:
        answers.append(runner.run_step(client, step, ctx)["answers"])
    return answers


class RecoveryStoryTest(unittest.TestCase):
    """A recovery's story says what the recovered node really holds."""

    def test_lab2_step13_handoff_does_not_claim_the_older_hint_won(self):
        """Lab 2 step 13: the hint of green meets a newer red; the story says node-4 keeps red, not 'now has' green."""
        answer = lab_answers(2, 13)[12][0]
        lines = [line for line in answer["story"] if "drops its hint" in line]
        self.assertEqual(len(lines), 1, answer["story"])
        self.assertNotIn("now has", lines[0])
        self.assertIn("already had a newer color", lines[0])

    def test_lab2_step12_recovery_with_silent_peers_claims_nothing_it_cannot_know(self):
        """Lab 2 step 12: a node whose peers were partly silent names them and says it may still lack data."""
        for answer in lab_answers(2, 12)[11]:
            with self.subTest(message=answer["message"]):
                self.assertNotIn("missed nothing", answer["message"])
                self.assertTrue(answer["peers_silent"])  # the step really has silent peers
                self.assertIn(f"{', '.join(answer['peers_silent'])} did not answer", answer["message"])
                self.assertIn("may still lack", answer["message"])
                self.assertFalse(any(" caught up:" in line for line in answer["story"]), answer["story"])

    def test_lab6_step11_recovery_after_a_lost_write_does_not_say_it_missed_nothing(self):
        """Lab 6 step 11: after an acknowledged write was lost, recovery says what its peers had, not completeness."""
        for answer in lab_answers(6, 11)[10]:
            with self.subTest(message=answer["message"]):
                self.assertNotIn("missed nothing", answer["message"])
                self.assertIn("that answered had anything newer", answer["message"])


class Lab9CheckerWordsTest(unittest.TestCase):
    """Lab 9: the checker says what the README quotes, and counts the operations DELETE /history counts."""

    def test_step8_message_contains_the_sentence_the_readme_quotes(self):
        """README step 8 quotes the checker's explanation word for word, and /check says exactly that."""
        with open(os.path.join(ROOT, "labs", "lab9_linearizable", "README.md"), encoding="utf-8") as handle:
            step8 = re.search(r"^8\. \*\*Ask the checker\*\*.*?(?=^9\. )", handle.read(), re.S | re.M).group(0)
        quoted = [q for q in re.findall(r"`([^`]*)`", step8) if "cannot be placed" in q]
        self.assertEqual(len(quoted), 1, step8)
        self.assertIn(quoted[0], lab_answers(9, 8)[7][0]["message"])

    def test_step15_accounts_for_every_recorded_operation(self):
        """Step 15 says 2 operations were placed and the other 2 of the 4 recorded failed; step 17 clears 4."""
        answers = lab_answers(9, 17)
        check = answers[14][0]
        self.assertEqual(check["ops_checked"], 2)
        self.assertIn("all 2 operations", check["message"])
        self.assertIn("the other 2 operations of the 4 recorded failed", check["message"])
        self.assertEqual(answers[16][0]["forgotten_ops"], 4)


class Lab10SiblingShapesTest(unittest.TestCase):
    """Lab 10: dots have one shape, siblings mode shows no LWW version, held puts show the whole new cart."""

    def test_sibling_dots_have_the_shape_of_the_write_dot(self):
        """A write's siblings[].dot is the same text as its top-level dot, e.g. {node-1: 1}."""
        answer = lab_answers(10, 1)[0][0]
        self.assertEqual(answer["siblings"][0]["dot"], answer["dot"])
        self.assertRegex(answer["dot"], r"^\{node-\d: 1\}$")

    def test_two_siblings_read_has_no_lww_version(self):
        """Lab 10 step 7: value null beside two siblings, and version null rather than the newest sibling's."""
        answer = lab_answers(10, 7)[6][0]
        self.assertIsNone(answer["value"])
        self.assertEqual(len(answer["siblings"]), 2)
        self.assertIsNone(answer["version"])
        for sibling in answer["siblings"]:
            self.assertRegex(sibling["dot"], r"^\{node-\d: \d+\}$")

    def test_held_puts_show_the_whole_new_cart(self):
        """Lab 10 step 19: each held put's sibling shows its whole value, so the added tea is visible."""
        answer = lab_answers(10, 19)[18][0]
        puts = [m for m in answer["messages"] if m["kind"] == "put"]
        self.assertEqual(len(puts), 2)
        for put in puts:
            self.assertEqual(put["siblings"][0]["value"], ["bread", "eggs", "jam", "milk", "tea"])


class Lab8NotifierTimesTest(unittest.TestCase):
    """Lab 8: deliveries listed in the order they landed; the breaker names the time until half-open."""

    def test_deliveries_are_in_time_order_after_a_timed_out_call_and_its_retry(self):
        """Lab 8 step 27: the slow call and its faster retry are listed by delivery time, with when each was made."""
        delivered = lab_answers(8, 27)[26][0]["notifier"]["delivered"]
        times = [item["at"] for item in delivered]
        self.assertEqual(times, sorted(times))
        twice = [item for item in delivered if item["id"] == delivered[-1]["id"]]
        self.assertEqual(len(twice), 2)  # the step really delivers one alert twice
        self.assertLess(twice[1]["called_at"], twice[0]["called_at"])  # the earlier call landed last
        self.assertTrue(all(item["called_at"] <= item["at"] for item in delivered))

    def test_breaker_names_the_time_until_half_open(self):
        """Lab 8 step 8: an open breaker shows half_open_in_ms, the cooldown left, and no opens_in_ms."""
        breaker = lab_answers(8, 8)[7][0]["breaker"]
        self.assertEqual(breaker["state"], "open")
        self.assertNotIn("opens_in_ms", breaker)
        self.assertTrue(0 < breaker["half_open_in_ms"] <= breaker["cooldown_ms"])


NODE = shutil.which("node")


def run_js(script: str) -> str:
    """Run an ES-module script with Node against the dashboard's modules (ROOT as `root`); its stdout."""
    source = f"const root = {json.dumps(ROOT)};\n" + script
    assert NODE is not None, "the tests that call run_js skip without node"
    done = subprocess.run([NODE, "--experimental-default-type=module", "--input-type=module", "-e", source],
                          capture_output=True, text=True, timeout=60, check=False)
    if done.returncode:
        raise AssertionError(done.stderr)
    return done.stdout


@unittest.skipUnless(NODE, "needs Node.js to run the dashboard's modules (apt-get install nodejs)")
class DashboardLogicTest(unittest.TestCase):
    """The dashboard's result box shows a job's result fields, and Last operations keeps each operation whole."""

    def test_interleaved_operations_stay_one_group_each(self):
        """Events of operations 10 and 11 arriving 10, 11, 10, 11 make two groups, 10 then 11, not four."""
        out = run_js("""
const {groupOperations} = await import(root + "/static/js/inspector.js");
const ev = (seq, type, op) => ({seq, type, key: "k", text: type, details: op === undefined ? {} : {op_id: op}});
const groups = groupOperations([ev(1, "handoff_started", 10), ev(2, "sync_started", 11),
                                ev(3, "replica_stored"), ev(4, "hint_delivered", 10), ev(5, "sync_finished", 11)], "k");
console.log(JSON.stringify(groups.map((g) => [g.op, g.lines.length])));
""")
        self.assertEqual(json.loads(out), [[10, 2], [11, 3]])

    def test_a_job_answer_shows_its_result_fields(self):
        """The facts of a scheduler job's answer list its result fields (not the clock reading 'now')."""
        out = run_js("""
const {facts} = await import(root + "/static/js/controls.js");
console.log(JSON.stringify(facts({job: "hint_retry", message: "Ran hint_retry.",
  result: {now: 5, handoffs_tried: 1, delivered: {"node-2 -> node-4": ["color"]}, hints_left: 0}})));
""")
        self.assertEqual(json.loads(out), [["handoffs tried", 1], ["delivered", '{"node-2 -> node-4":["color"]}'],
                                           ["hints left", 0]])


@unittest.skipUnless(dashboard.sync_playwright is not None and os.path.exists(dashboard.CHROMIUM),
                     "needs the playwright package and /usr/bin/chromium (apt-get install chromium)")
class DashboardResultBoxTest(unittest.TestCase):
    """In the browser: running a job leaves the write/read box alone and shows the job's result."""

    def test_a_job_answer_does_not_replace_the_write_read_box(self):
        """After a page write, running hint_retry shows its result in the control box; op-result keeps the write."""
        server = dashboard.LiveServer()
        playwright = dashboard.sync_playwright().start()
        browser = playwright.chromium.launch(executable_path=dashboard.CHROMIUM)
        try:
            page = browser.new_page()
            page.goto(server.url + "/dashboard")
            expect = dashboard.expect
            expect(page.locator("body")).to_have_attribute("data-ready", "true", timeout=dashboard.WAIT_MS)
            page.click("#kv-write")
            expect(page.locator("#op-result")).to_contain_text("Stored 'color'", timeout=dashboard.WAIT_MS)
            page.select_option("#job-name", "hint_retry")
            page.click("#job-form button[type=submit]")
            expect(page.locator("#control-result")).to_contain_text("Ran hint_retry", timeout=dashboard.WAIT_MS)
            expect(page.locator("#control-result")).to_contain_text("hints left")
            expect(page.locator("#op-result")).to_contain_text("Stored 'color'")
        finally:
            browser.close()
            playwright.stop()
            server.stop()

if __name__ == "__main__":
    unittest.main()
