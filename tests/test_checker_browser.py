"""The checker's HTML view in a real browser (Playwright driving Debian's Chromium)."""
import json
import os
import unittest

from tests.helpers import make_app
from tests.test_checker_view import STALE

CHROMIUM = "/usr/bin/chromium"

try:
    from playwright.sync_api import Browser, Playwright, sync_playwright
except ImportError:  # pragma: no cover - the venv has it
    sync_playwright = None  # type: ignore[assignment]  # an optional import mypy cannot model


@unittest.skipUnless(sync_playwright is not None, "playwright is not installed (pip install playwright)")
@unittest.skipUnless(os.path.exists(CHROMIUM),
                     f"no {CHROMIUM}: install Debian's chromium package (apt-get install chromium)")
class BrowserViewTest(unittest.TestCase):
    """POST /check/view rendered by Chromium under the server's own headers (CSP included)."""

    playwright: Playwright
    browser: Browser

    @classmethod
    def setUpClass(cls):
        cls.playwright = sync_playwright().start()
        cls.browser = cls.playwright.chromium.launch(executable_path=CHROMIUM)

    @classmethod
    def tearDownClass(cls):
        cls.browser.close()
        cls.playwright.stop()

    def open_view(self, history):
        """Load the server's answer to POST /check/view in a page; returns (page, errors)."""
        _, http = make_app()
        answer = http.post("/check/view", data=json.dumps({"history": history}))
        self.assertEqual(answer.status_code, 200)
        page = self.browser.new_page(viewport={"width": 1200, "height": 800})
        self.addCleanup(page.close)
        errors = []
        page.on("pageerror", lambda err: errors.append(str(err)))
        page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
        # the browser gets exactly the server's body and headers, Content-Security-Policy too
        page.route("http://replicalab.test/check/view", lambda route: route.fulfill(
            status=200, body=answer.get_data(), headers=dict(answer.headers)))
        page.goto("http://replicalab.test/check/view")
        return page, errors

    def test_violation_highlights_the_operation_that_cannot_be_placed(self):
        """The stale read is the one highlighted bar, and hovering it explains why."""
        page, errors = self.open_view(STALE)
        red = page.locator(".op.unplaceable")
        self.assertEqual(red.count(), 1)
        self.assertEqual(red.inner_text(), "read -> 1")
        self.assertEqual(red.evaluate("e => getComputedStyle(e).borderTopColor"), "rgb(204, 0, 0)")
        red.hover()
        tip = page.locator("#tip")
        tip.wait_for(state="visible")
        self.assertIn("cannot be placed", tip.inner_text())
        self.assertIn("process 1: write 2", tip.inner_text())
        self.assertEqual(errors, [])

    def test_valid_history_shows_its_linearization_on_hover(self):
        """A linearizable history lists its order, and hovering the last bar shows the whole of it."""
        history = [dict(e) for e in STALE]
        history[-1]["value"] = 2
        page, errors = self.open_view(history)
        self.assertEqual(page.locator("#headline").inner_text(), "Linearizable")
        self.assertEqual(page.locator("ol.linearization li").count(), 3)
        page.locator(".op.placed", has_text="3. read").hover()
        text = page.locator("#tip").inner_text()
        self.assertIn("Partial linearization ending with this operation", text)
        self.assertLess(text.index("1. process 0: write 1"), text.index("3. process 2: read -> 2"))
        self.assertEqual(errors, [])


if __name__ == "__main__":
    unittest.main()
