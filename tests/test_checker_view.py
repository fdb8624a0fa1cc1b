"""The picture of a verdict: checker/html.py, `--html`, and GET/POST /check/view."""
import base64
import hashlib
import io
import json
import os
import re
import tempfile
import unittest
from contextlib import redirect_stdout

from checker import check_history
from checker.__main__ import main as cli_main
from checker.html import render_html
from tests.helpers import make_app

STALE = [  # write 1, write 2, then a read of 1: the read cannot be placed
    {"process": 0, "type": "invoke", "f": "write", "key": "x", "value": 1},
    {"process": 0, "type": "ok", "f": "write", "key": "x", "value": 1},
    {"process": 1, "type": "invoke", "f": "write", "key": "x", "value": 2},
    {"process": 1, "type": "ok", "f": "write", "key": "x", "value": 2},
    {"process": 2, "type": "invoke", "f": "read", "key": "x", "value": None},
    {"process": 2, "type": "ok", "f": "read", "key": "x", "value": 1},
]


def bars(page, cls):
    """The text of every bar whose class list includes `cls`."""
    return re.findall(rf'<div class="op [^"]*\b{cls}\b[^"]*"[^>]*>([^<]*)</div>', page)


class RenderTest(unittest.TestCase):
    """What the page shows for each verdict."""

    def test_violation_highlights_the_unplaceable_read_with_its_sentence(self):
        """The read that cannot be placed is the one red bar, and the page says why."""
        verdict = check_history(STALE, "store")
        page = render_html(verdict)
        self.assertEqual(bars(page, "unplaceable"), ["read -&gt; 1"])
        self.assertEqual(bars(page, "placed"), ["1. write 1", "2. write 2"])
        self.assertIn("cannot be placed", page)
        self.assertIn("Longest linearizable prefix, in order (2 ops)", page)

    def test_valid_history_shows_its_whole_linearization(self):
        """A linearizable history numbers every operation and lists the order."""
        events = [dict(e) for e in STALE]
        events[-1]["value"] = 2
        page = render_html(check_history(events, "store"))
        self.assertEqual(bars(page, "placed"), ["1. write 1", "2. write 2", "3. read -&gt; 2"])
        self.assertEqual(len(re.findall(r"<li>", page)), 3)
        self.assertNotIn('class="op done unplaceable', page)

    def test_one_lane_per_client(self):
        """Each process gets its own lane, named after it."""
        page = render_html(check_history(STALE, "store"))
        self.assertEqual(re.findall(r"<span class=who>([^<]*)</span>", page), ["0", "1", "2"])

    def test_history_text_is_escaped(self):
        """Values and client names from the history never become markup."""
        events = [dict(e) for e in STALE]
        events[-1]["value"] = "</script><script>alert(1)</script>"
        events[-2]["process"] = events[-1]["process"] = "<b>eve</b>"
        page = render_html(check_history(events, "store"))
        self.assertNotIn("<script>alert(1)", page)
        self.assertNotIn("<b>eve</b>", page)
        self.assertIn("&lt;b&gt;eve&lt;/b&gt;", page)
        self.assertEqual(page.count("<script"), 2)  # the data block and the page's own script

    def test_unknown_key_says_which_budget(self):
        """A key the memory budget stopped is drawn with the reason, never a guess."""
        page = render_html(check_history(STALE, "store", memory_mb=0))
        self.assertIn("the memory budget ran out", page)


class CliHtmlTest(unittest.TestCase):
    """python -m checker FILE --html OUT."""

    def test_html_file_is_written_beside_the_verdict(self):
        """--html writes the page and the exit status still says not linearizable."""
        with tempfile.TemporaryDirectory() as tmp:
            src, out = os.path.join(tmp, "h.json"), os.path.join(tmp, "h.html")
            with open(src, "w") as fh:
                json.dump(STALE, fh)
            with redirect_stdout(io.StringIO()):
                status = cli_main([src, "--html", out])
            with open(out) as fh:
                page = fh.read()
        self.assertEqual(status, 1)
        self.assertTrue(page.startswith("<!doctype html>"))
        self.assertEqual(bars(page, "unplaceable"), ["read -&gt; 1"])


class ViewRouteTest(unittest.TestCase):
    """GET /check/view and POST /check/view on the server."""

    def setUp(self):
        self.app, self.http = make_app()

    def test_get_view_draws_the_recorded_history(self):
        """GET /check/view is an HTML page of the recorded history's verdict."""
        self.http.post("/write", data=json.dumps({"key": "color", "value": "blue"}))
        self.http.get("/read/color")
        answer = self.http.get("/check/view")
        self.assertEqual(answer.status_code, 200)
        self.assertEqual(answer.mimetype, "text/html")
        page = answer.get_data(as_text=True)
        self.assertIn("Linearizable", page)
        self.assertEqual(bars(page, "placed"), ['1. write &quot;blue&quot;', '2. read -&gt; &quot;blue&quot;'])

    def test_post_view_draws_a_posted_violation(self):
        """POST /check/view with a history in the body highlights the read that cannot be placed."""
        answer = self.http.post("/check/view", data=json.dumps({"history": STALE}))
        self.assertEqual(answer.status_code, 200)
        self.assertEqual(bars(answer.get_data(as_text=True), "unplaceable"), ["read -&gt; 1"])

    def test_view_csp_allows_exactly_its_own_script(self):
        """The page's Content-Security-Policy hashes its one inline script and allows same-site frames."""
        answer = self.http.get("/check/view")
        policy = answer.headers["Content-Security-Policy"]
        script = re.findall(r"<script>(.*?)</script>", answer.get_data(as_text=True), re.S)[0]
        digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
        self.assertIn(f"'sha256-{digest}'", policy)
        self.assertIn("frame-ancestors 'self'", policy)

    def test_bad_input_is_a_json_error(self):
        """A bad ?model= or ?initial= on the view is the usual 400 JSON error, not a page."""
        for path in ("/check/view?model=nope", "/check/view?initial=%7Bbad"):
            answer = self.http.get(path)
            self.assertEqual(answer.status_code, 400, path)
            self.assertIn("message", answer.get_json())

    def test_initial_query_parameter(self):
        """?initial= sets where every key starts: a first read of 0 needs ?initial=0."""
        history = [{"process": 0, "type": "invoke", "f": "read", "key": "k", "value": None},
                   {"process": 0, "type": "ok", "f": "read", "key": "k", "value": 0}]
        body = json.dumps({"history": history})
        self.assertFalse(self.http.post("/check", data=body).get_json()["linearizable"])
        self.assertTrue(self.http.post("/check?initial=0", data=body).get_json()["linearizable"])


if __name__ == "__main__":
    unittest.main()
