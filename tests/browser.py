"""Shared by the browser tests: a live server on a free port and a headless Chromium page on it.

The browser tests need Playwright for Python (`pip install -r requirements.txt`)
and Debian's Chromium at /usr/bin/chromium (`apt-get install chromium`); without
them they are skipped with a message saying which one is missing. Screenshots go
to $REPLICALAB_SCREENSHOTS, or a temporary folder.
"""
from __future__ import annotations

import json
import logging
import os
import tempfile
import threading
import unittest
from typing import TYPE_CHECKING, Optional

import requests

from app import create_app
from config import simulation_config

CHROMIUM = "/usr/bin/chromium"
try:
    from playwright.sync_api import expect, sync_playwright
except ImportError:  # the tests that need no browser still run
    # The names stay importable (as None) for the test modules; their browser tests are skipped.
    expect = sync_playwright = None  # type: ignore[assignment]  # an optional import mypy cannot model
if TYPE_CHECKING:
    from playwright.sync_api import Browser, Playwright

BROWSER_MISSING: Optional[str]  # why the browser tests are skipped, or None when they can run
if sync_playwright is None:
    BROWSER_MISSING = "Playwright for Python is not installed: pip install playwright (see requirements.txt)"
elif not os.path.exists(CHROMIUM):
    BROWSER_MISSING = f"no Chromium at {CHROMIUM}: apt-get install chromium"
else:
    BROWSER_MISSING = None

SHOTS = os.environ.get("REPLICALAB_SCREENSHOTS") or os.path.join(tempfile.gettempdir(),
                                                                  "replicalab-dashboard-shots")
WAIT_MS = 5000  # patience for page conditions; a node change must show within 2 s


class LiveServer:
    """The app on a free loopback port, served by werkzeug threads (SSE needs a real server)."""

    def __init__(self, **overrides):
        from werkzeug.serving import make_server
        self.app = create_app(simulation_config(**overrides))
        self.server = make_server("127.0.0.1", 0, self.app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def post(self, path, body=None, token=None):
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        data = json.dumps(body) if body is not None else None
        return requests.post(self.url + path, data=data, headers=headers, timeout=10)

    def get(self, path):
        return requests.get(self.url + path, timeout=10).json()

    def stop(self):
        """Stop listening; open event streams end with the process (daemon threads)."""
        self.server.shutdown()
        self.server.server_close()


class BrowserCase(unittest.TestCase):
    """A fresh server and browser page per test (subclasses add @skipIf(BROWSER_MISSING))."""

    browser_args: list = []  # extra Chromium flags for a subclass's browser
    playwright: Playwright  # set by setUpClass, shared by the class's tests
    browser: Browser

    @classmethod
    def setUpClass(cls):
        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no line per request in the test output
        cls.playwright = sync_playwright().start()
        cls.browser = cls.playwright.chromium.launch(executable_path=CHROMIUM, args=cls.browser_args)
        os.makedirs(SHOTS, exist_ok=True)

    @classmethod
    def tearDownClass(cls):
        cls.browser.close()
        cls.playwright.stop()

    def setUp(self):
        self.server = None
        self.context = None
        self.errors = []

    def tearDown(self):
        if self.context:
            self.context.close()
        if self.server:
            self.server.stop()

    def open(self, width=1280, height=800, **overrides):
        """Start a fresh cluster and open the dashboard on it; returns the page once ready."""
        self.server = LiveServer(**overrides)
        self.context = self.browser.new_context(viewport={"width": width, "height": height})
        page = self.context.new_page()
        page.on("console", lambda msg: self.errors.append(msg.text) if msg.type == "error" else None)
        page.on("pageerror", lambda error: self.errors.append(str(error)))
        page.goto(self.server.url + "/dashboard")
        expect(page.locator("body")).to_have_attribute("data-ready", "true", timeout=WAIT_MS)
        expect(page.locator("#conn-status")).to_contain_text("Live", timeout=WAIT_MS)
        return page

    def shoot(self, page, name):
        page.evaluate("window.scrollTo(0, 0)")  # the panels a student sees first
        page.screenshot(path=os.path.join(SHOTS, name))

    def state(self, page, node_id):
        return page.locator(f"#node-row-{node_id} .state")
