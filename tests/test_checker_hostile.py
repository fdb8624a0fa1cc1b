"""The checker routes against a hostile client: no hang, bounded pages, one validation, 400s that teach."""
import io
import itertools
import json
import random
import threading
import unittest
from unittest import mock
from urllib.parse import quote

import api.history
from checker import HistoryError, check_history, parse_history
from checker.html import render_html
from tests.fuzzing import FuzzLog, Request, next_request
from tests.helpers import make_app, write


def doc(*events, **fields) -> str:
    """A JSON document {"history": [...]} with extra top-level fields first."""
    return json.dumps({**fields, "history": list(events)})


def op(process, type_, f="write", key="x", value=1, **extra) -> dict:
    """One event in ReplicaLab's JSON export shape."""
    return {"process": process, "type": type_, "f": f, "key": key, "value": value, **extra}


WRITE = [op(0, "invoke"), op(0, "ok")]


class CheckerTestCase(unittest.TestCase):
    """A fresh app and client per test."""

    def setUp(self):
        self.app, self.http = make_app()

    def post(self, body, query="", view=False):
        """POST a history to /check (or /check/view) and return the response."""
        data = body.encode("utf-8", "surrogatepass") if isinstance(body, str) else body
        return self.http.post(f"/check{'/view' if view else ''}{query}", data=data)

    def assertRefused(self, response, *words):
        """A 400 JSON error whose message holds every word and no Python internals."""
        self.assertEqual(response.status_code, 400, response.get_data(as_text=True)[:300])
        message = response.get_json()["message"]
        for word in words:
            self.assertIn(word, message)
        for leak in ("set_int_max_str_digits", "Traceback", "Error:"):
            self.assertNotIn(leak, message)
        return message


class ParsingCostTest(CheckerTestCase):
    """Finding 1: reading a history takes linear time, inside the check's budget and lock."""

    def test_a_long_jepsen_util_line_is_read_without_backtracking(self):
        """A 200,000-character jepsen.util line is refused at once (the old regex took minutes on it)."""
        outcome = []
        text = "jepsen.util" + "x" * 200_000

        def read():
            try:
                parse_history(text, "jepsen-log")
            except HistoryError as error:
                outcome.append(str(error))
        worker = threading.Thread(target=read, daemon=True)
        worker.start()
        worker.join(20)  # a hang guard, not a speed target: linear parsing takes milliseconds
        self.assertFalse(worker.is_alive(), "parsing one long line hung")
        self.assertIn("no jepsen.util operation lines", outcome[0])

    def test_log_lines_still_read_with_either_separator(self):
        """Both 'jepsen.util - 3' and the older 'jepsen.util: 3' lines give the same operations."""
        new = parse_history("INFO  jepsen.util - 3\t:invoke\t:write\t1\nINFO  jepsen.util - 3\t:ok\t:write\t1")
        old = parse_history("jepsen.util: 3 :invoke :write 1\njepsen.util: 3 :ok :write 1")
        self.assertEqual([(e.process, e.type, e.f, e.value) for e in new],
                         [(e.process, e.type, e.f, e.value) for e in old])
        self.assertEqual(new[0].process, 3)

    def test_parsing_spends_the_check_budget(self):
        """The search gets only what is left of CHECK_TIMEOUT_S after the history was read."""
        clock = itertools.chain([100.0], itertools.repeat(104.0))  # deadline set at 100 s; read by 104 s
        seen = {}

        def spy(events, model, timeout, memory_mb, initial):
            seen["timeout"] = timeout
            return check_history(events, model, timeout, memory_mb, initial)
        with mock.patch.object(api.history.time, "monotonic", lambda: next(clock)), \
                mock.patch.object(api.history, "check_history", spy):
            self.assertEqual(self.post(doc(*WRITE)).status_code, 200)
        self.assertAlmostEqual(seen["timeout"], api.history.CHECK_TIMEOUT_S - 4.0)

    def test_parsing_holds_the_one_check_lock(self):
        """A posted history is read while the one-check-at-a-time lock is held."""
        held = []
        real = api.history.parse_document

        def spy(*args, **kwargs):
            held.append(api.history._CHECKING._value == 0)
            return real(*args, **kwargs)
        with mock.patch.object(api.history, "parse_document", spy):
            self.post(doc(*WRITE))
        self.assertEqual(held, [True])

    def test_head_check_runs_no_check(self):
        """HEAD /check and HEAD /check/view answer 200 headers without running the checker."""
        with mock.patch.object(api.history, "check_history", side_effect=AssertionError("checked")):
            for path, kind in (("/check", "application/json"), ("/check/view", "text/html")):
                response = self.http.head(path)
                self.assertEqual(response.status_code, 200)
                self.assertTrue(response.content_type.startswith(kind))


class ViewSizeTest(CheckerTestCase):
    """Finding 2: the picture's size is bounded, and drawing it takes the one-check lock."""

    @staticmethod
    def quotes_history(readers=1000) -> str:
        """One write of 50,000 double quotes, then `readers` overlapping reads that cannot be placed."""
        events = [op(0, "invoke", value='"' * 50_000, time=0), op(0, "ok", value='"' * 50_000, time=1)]
        events += [op(p, "invoke", "read", value=None, time=2) for p in range(1, readers + 1)]
        events += [op(p, "ok", "read", value="y", time=3) for p in range(1, readers + 1)]
        return doc(*events)

    def test_a_long_state_in_a_thousand_tooltips_stays_a_small_page(self):
        """The page for a 50,000-quote state and 1,000 red bars is under 2 MB, with the state shortened."""
        response = self.post(self.quotes_history(), view=True)
        self.assertEqual(response.status_code, 200)
        page = response.get_data(as_text=True)
        self.assertLess(len(page), 2_000_000)
        self.assertIn("100002 characters, sha256:", page)  # the state as JSON: 50,000 escaped quotes

    def test_the_violation_sentence_is_drawn_once_per_key(self):
        """Only the first operation that cannot be placed carries the violation's sentence."""
        page = self.post(self.quotes_history(20), view=True).get_data(as_text=True)
        self.assertEqual(page.count("lets the read return"), 3)  # its tooltip, the key's sentence, the data

    def test_the_page_bars_are_capped_across_keys(self):
        """40 keys of 1,000 operations each draw at most MAX_BARS bars in all."""
        events = []
        for key in range(40):
            for n in range(500):
                events += [op(n % 5, "invoke", key=f"k{key}", value=n), op(n % 5, "ok", key=f"k{key}", value=n)]
        verdict = check_history(events, "store")
        page = render_html(verdict)
        self.assertLessEqual(page.count('<div class="op '), api.history.render_html.__globals__["MAX_BARS"])

    def test_the_page_is_drawn_holding_the_one_check_lock(self):
        """render_html runs while the one-check-at-a-time lock is held, inside the check's budget."""
        held = []
        real = api.history.render_html

        def spy(*args, **kwargs):
            held.append(api.history._CHECKING._value == 0)
            return real(*args, **kwargs)
        with mock.patch.object(api.history, "render_html", spy):
            self.assertEqual(self.post(doc(*WRITE), view=True).status_code, 200)
        self.assertEqual(held, [True])

    def test_a_second_view_while_a_check_runs_gets_429(self):
        """POST /check/view while another check holds the lock answers 429, like /check."""
        with api.history.one_check_at_a_time():
            response = self.post(doc(*WRITE), view=True)
        self.assertEqual(response.status_code, 429)
        self.assertIn("one at a time", response.get_json()["message"])


class OneValidationTest(CheckerTestCase):
    """Finding 3: every JSON path (document, array, lines, ?format=json, ?initial=) meets the same rules."""

    def test_a_padded_document_is_still_validated(self):
        """A 250-character field before "history" no longer skips the NaN check."""
        body = doc(op(0, "invoke", value=float("nan")), op(0, "ok"), pad="p" * 250)
        self.assertRefused(self.post(body), "NaN")

    def test_every_json_shape_refuses_what_the_store_refuses(self):
        """Arrays, JSON lines and ?format=json refuse NaN, Infinity, 1e400, lone surrogates, huge ints, depth."""
        bad_values = {"NaN": "NaN", "Infinity": "Infinity", "1e400": "1e400",
                      '"\\ud800"': "lone surrogate", "9" * 5000: "5000 digits",
                      "[" * 40 + "1" + "]" * 40: "levels"}
        for raw, word in bad_values.items():
            event = '{"process": 0, "type": "invoke", "f": "write", "key": "x", "value": ' + raw + "}"
            done = '{"process": 0, "type": "ok", "f": "write", "key": "x", "value": 1}'
            for body, query in ((f"[{event}, {done}]", ""), (f"{event}\n{done}", ""),
                                (f"[{event}, {done}]", "?format=json"),
                                ('{"pad": 1, "history": [' + event + ", " + done + "]}", "")):
                with self.subTest(value=raw[:20], body=body[:20], query=query):
                    self.assertRefused(self.post(body, query), word)

    def test_edn_refuses_a_lone_surrogate_and_joins_a_pair(self):
        """EDN bodies refuse a lone \\ud800 (string or character) with a 400, as JSON does; a pair is one character."""
        for raw in ('"\\ud800"', '"a\\udc00"', "\\ud800"):
            event = "{:process 0, :type :invoke, :f :write, :value " + raw + "}"
            done = "{:process 0, :type :ok, :f :write, :value 1}"
            with self.subTest(value=raw):
                self.assertRefused(self.post(f"{event}\n{done}", "?format=edn"), "lone surrogate")
        smile = '"\\ud83d\\ude00"'
        pair = (f"{{:process 0, :type :invoke, :f :write, :value {smile}}}\n"
                f"{{:process 0, :type :ok, :f :write, :value {smile}}}")
        answer = self.post(pair, "?format=edn")
        self.assertEqual(answer.status_code, 200, answer.get_data(as_text=True)[:300])

    def test_initial_refuses_what_json_bodies_refuse(self):
        """?initial= refuses NaN, Infinity, 1e400, a lone surrogate and deep nesting with a 400."""
        for raw in ("NaN", "Infinity", "1e400", '"\\ud800"', "[" * 3000):
            with self.subTest(initial=raw[:10]):
                message = self.assertRefused(self.http.get("/check?initial=" + quote(raw)), "?initial=")
                self.assertLess(len(message), 400)


class KeyAndModelTypeTest(CheckerTestCase):
    """Finding 4: a key or model of the wrong type is a 400, not a TypeError."""

    def test_unhashable_keys_are_refused(self):
        """Keys that are objects, nested lists or lists of objects answer 400 naming what a key may be."""
        for key in ({"a": 1}, [[1]], [{"a": 1}]):
            with self.subTest(key=key):
                body = doc(op(0, "invoke", key=key), op(0, "ok", key=key))
                self.assertRefused(self.post(body), "a key must be a string, a number, or a list of those")
        edn = '{:process 0 :type :invoke :f :write :key {[1] 2} :value 1}\n{:process 0 :type :ok :f :write :value 1}'
        self.assertRefused(self.post(edn), "a key must be")

    def test_a_list_key_still_checks(self):
        """A key that is a list of strings and numbers is checked as one key."""
        body = doc(op(0, "invoke", key=["a", 1]), op(0, "ok", key=["a", 1]))
        self.assertTrue(self.post(body).get_json()["linearizable"])

    def test_a_model_that_is_not_a_name_is_refused(self):
        """"model": [1] or {"a": 1} in the document answers 400."""
        for model in ([1], {"a": 1}):
            with self.subTest(model=model):
                self.assertRefused(self.post(doc(*WRITE, model=model)), '"model" must be the name of a model')


class EdnNumberTest(CheckerTestCase):
    """Finding 5: an EDN ratio over zero is invalid EDN, not a ZeroDivisionError."""

    def test_ratio_over_zero_is_invalid_edn(self):
        """1/0 and 0/0 as a value answer 400 'invalid EDN'."""
        for ratio in ("1/0", "0/0"):
            with self.subTest(ratio=ratio):
                body = f"{{:process 0 :type :invoke :f :write :value {ratio}}}\n{{:process 0 :type :ok :f :write}}"
                self.assertRefused(self.post(body), "invalid EDN", "divides by zero")


class TimeTest(CheckerTestCase):
    """Findings 6 and 7: times must be finite numbers, and a completion cannot precede its invocation."""

    def test_a_4000_digit_time_is_refused_by_the_view(self):
        """/check/view with a 4,000-digit time answers 400, in JSON and in EDN."""
        json_body = doc(op(0, "invoke", time=0), op(0, "ok")).replace('"ok", "f": "write", "key": "x", "value": 1',
                                                                     '"ok", "f": "write", "key": "x", "value": 1, '
                                                                     '"time": ' + "9" * 4000)
        self.assertRefused(self.post(json_body, view=True), "4000 digits")
        edn = "{:process 0 :type :invoke :f :write :value 1 :time 0}\n{:process 0 :type :ok :f :write :time %s}"
        self.assertRefused(self.post(edn % ("9" * 4000), view=True), "invalid EDN")

    def test_check_history_refuses_a_time_no_float_holds(self):
        """check_history itself refuses a time of 4,000 digits (too large for a float)."""
        with self.assertRaisesRegex(HistoryError, "time must be a finite number"):
            check_history([op(0, "invoke", time=0), op(0, "ok", time=10 ** 4000)])

    def test_a_completion_before_its_invocation_is_refused(self):
        """A completion time earlier than its invocation answers 400 naming both times."""
        body = doc(op(0, "invoke", time=10), op(0, "ok", time=5))
        self.assertRefused(self.post(body), "before it invoked it", "time 10")

    def test_process_true_is_not_process_1(self):
        """Process true (or 1.0) is refused instead of being paired with process 1."""
        for other in (True, 1.0):
            with self.subTest(process=other):
                body = doc(op(1, "invoke"), op(other, "ok"))
                self.assertRefused(self.post(body), "process must be a whole number or a name")

    def test_format_edn_reads_a_json_body_as_edn(self):
        """?format=edn with a JSON document answers 400 invalid EDN instead of reading JSON."""
        self.assertRefused(self.post(doc(*WRITE), "?format=edn"), "invalid EDN")


class MessageTest(CheckerTestCase):
    """Finding 8: answers speak the student's language, not Python's or the CLI's."""

    def test_http_answers_name_query_parameters_not_flags(self):
        """An undetectable format and an unknown operation point at ?format= and ?model=, never --."""
        message = self.assertRefused(self.post("hello there"), "?format=")
        self.assertNotIn("--", message)
        write(self.http, "color", "blue")
        message = self.assertRefused(self.http.get("/check?model=set"), "?model=")
        self.assertNotIn("--", message)

    def test_recorded_history_errors_name_the_history_index(self):
        """GET /check?model=set names the /history index of the operation, not a line nobody sees."""
        for value in ("a", "b"):
            write(self.http, "color", value)
        message = self.assertRefused(self.http.get("/check?model=set"), "history index 1")
        self.assertNotIn("line", message)

    def test_nothing_recorded_says_so(self):
        """An empty history, or a ?key= with no operations, says no operations were recorded."""
        message = self.http.get("/check").get_json()["message"]
        self.assertIn("no operations were recorded", message)
        write(self.http, "color", "blue")
        message = self.http.get("/check?key=nope").get_json()["message"]
        self.assertIn("no operations were recorded for key 'nope'", message)
        self.assertNotIn("0 operations", message)

    def test_a_chunked_body_over_the_limit_is_413(self):
        """A chunked body past MAX_CONTENT_LENGTH answers 413 instead of being cut and called invalid."""
        limit = self.app.config["MAX_CONTENT_LENGTH"]
        response = self.http.post("/check", input_stream=io.BytesIO(b"[" + b" " * limit + b"]"),
                                  headers={"Transfer-Encoding": "chunked"},
                                  environ_overrides={"wsgi.input_terminated": True})
        self.assertEqual(response.status_code, 413)
        self.assertIn(str(limit), response.get_json()["message"])

    def test_shiviz_limit_echo_is_capped(self):
        """/events/shiviz?limit= with 5,000 digits answers a short 400 that says how long it was."""
        response = self.http.get("/events/shiviz?limit=" + "9" * 5000)
        self.assertEqual(response.status_code, 400)
        message = response.get_json()["message"]
        self.assertLess(len(message), 200)
        self.assertIn("5000 characters", message)


class NumberingTest(CheckerTestCase):
    """Finding 9: the violation numbers operations as /history does and says each thing once."""

    def stale_read(self):
        """Write blue, write left, then a read that returns blue: the history index of the read is 3."""
        for value in ("blue", "left"):
            write(self.http, "color", value)
        self.http.get("/read/color")
        history = self.http.get("/history").get_json()["events"]
        forged = [dict(e) for e in history]
        forged[-1]["value"] = "blue"  # the read's completion: as if a stale replica answered
        return history, self.post(json.dumps(forged)).get_json()

    def test_violation_ops_carry_the_history_index(self):
        """Each operation of a violation carries the same "index" as its events in /history."""
        history, answer = self.stale_read()
        violation = answer["violations"][0]
        indexes = [o["index"] for o in violation["linearizable_prefix"] + violation["unplaceable"]]
        self.assertEqual(sorted(indexes), sorted({e["index"] for e in history}))
        self.assertIn(f"history index {violation['unplaceable'][0]['index']}", violation["message"])

    def test_the_message_names_the_key_once_and_the_operation_explicitly(self):
        """The answer names the key once and says the read had to take effect before the read completed."""
        _, answer = self.stale_read()
        self.assertEqual(answer["message"].count("color"), 1)
        self.assertIn("the read had to take effect before the read itself completed", answer["message"])
        self.assertNotIn("before it completed", answer["message"])


class FuzzHarnessTest(unittest.TestCase):
    """Finding 10: the fuzz harness reaches /check/view and /events/shiviz and accepts their answers."""

    def test_the_new_routes_are_fuzzed(self):
        """The fuzz picks GET and POST /check/view and GET /events/shiviz among its routes."""
        rng, seen = random.Random(7), set()
        for _ in range(3000):
            request = next_request(rng)
            seen.add((request.method, request.path.split("?")[0]))
        for route in (("GET", "/check/view"), ("POST", "/check/view"), ("GET", "/events/shiviz")):
            self.assertIn(route, seen)

    def test_html_is_accepted_only_for_a_successful_view(self):
        """A 200 text/html from /check/view is fine; HTML from /check or a 400 view is a problem."""
        log = FuzzLog()
        log.record(Request("POST", "/check/view"), 200, "text/html; charset=utf-8", "<!doctype html>")
        log.record(Request("GET", "/events/shiviz?limit=5"), 200, "text/plain; charset=utf-8", "x")
        self.assertEqual(log.problems, [])
        log.record(Request("POST", "/check"), 200, "text/html", "<html>")
        log.record(Request("POST", "/check/view"), 400, "text/html", "<html>")
        self.assertEqual(len(log.problems), 2)


if __name__ == "__main__":
    unittest.main()
