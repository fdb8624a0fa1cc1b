"""The live dashboard: its route, and the page itself in headless Chromium against a real server.

The browser tests need Playwright and Debian's Chromium (tests/browser.py says how).
"""
import os
import re
import signal
import subprocess
import sys
import unittest

import requests

# CHROMIUM and sync_playwright are unused here: other tests reuse this module's set-up by name.
from tests.browser import (  # noqa: F401
    BROWSER_MISSING,
    CHROMIUM,
    WAIT_MS,
    BrowserCase,
    LiveServer,
    expect,
    sync_playwright,
)
from tests.helpers import ROOT, make_app
from tests.test_server import Server


class DashboardRouteTest(unittest.TestCase):
    """GET /dashboard and its static files, without a browser."""

    def test_page_and_its_files_are_served_from_the_app(self):
        """/dashboard serves the page with a CSP that allows only its own files, which are all served."""
        app, client = make_app()
        page = client.get("/dashboard")
        self.assertEqual(page.status_code, 200)
        html = page.get_data(as_text=True)
        self.assertIn("<title>ReplicaLab dashboard</title>", html)
        self.assertIn("default-src 'self'", page.headers["Content-Security-Policy"])
        self.assertNotIn("<script>", html)  # no inline script: the CSP would refuse it
        for path in ("/static/dashboard.css", "/static/js/main.js", "/static/js/stream.js"):
            self.assertEqual(client.get(path).status_code, 200, path)
        self.assertNotIn("http", "".join(
            line for line in html.splitlines() if "src=" in line or "href=" in line))
        self.assertIn("GET /dashboard", client.get("/").get_json()["endpoints"])

    def test_every_module_the_page_imports_is_served(self):
        """Each static/js module's imports name files that the app serves (no build step resolves them)."""
        app, client = make_app()
        folder = os.path.join(ROOT, "static", "js")
        imported = set()
        for name in sorted(os.listdir(folder)):
            with open(os.path.join(folder, name), encoding="utf-8") as handle:
                for target in re.findall(r'^import .* from "\./([\w.]+)";$', handle.read(), re.M):
                    self.assertEqual(client.get(f"/static/js/{target}").status_code, 200, f"{name} imports {target}")
                    imported.add(target)
        self.assertGreaterEqual(len(imported), 10)  # the pattern found the imports

    def test_start_banner_prints_the_dashboard_url(self):
        """python run.py's banner names the dashboard's address on the configured host and port."""
        from config import Config
        from run import banner
        self.assertIn("http://0.0.0.0:8000/dashboard", banner(Config(host="0.0.0.0", port=8000)))


@unittest.skipIf(BROWSER_MISSING, BROWSER_MISSING)
class DashboardBrowserTest(BrowserCase):
    """The dashboard in headless Chromium, driven by clicks and by curl-like requests."""

    def test_page_loads_without_console_errors(self):
        """The page loads, shows every node up and the events so far, with no console error."""
        page = self.open()
        for i in range(6):
            self.server.post("/write", {"key": f"k{i}", "value": i})
        expect(page.locator("#node-table tbody tr")).to_have_count(5)
        expect(self.state(page, 0)).to_have_text("up")
        expect(page.locator("#event-list")).to_contain_text("write k5", timeout=WAIT_MS)
        expect(page.locator("#spacetime .arrow").first).to_be_visible()
        page.locator("#spacetime .arrow").first.dispatch_event("click")
        expect(page.locator("#msg-detail h3")).to_contain_text("Message")
        self.assertEqual(self.errors, [])

    def test_with_every_stream_slot_taken_the_page_polls_and_still_follows(self):
        """--max-streams 1 held by another client: the page says it polls, and still shows a failure."""
        self.server = LiveServer(max_streams=1)
        holder = requests.get(self.server.url + "/events/stream", stream=True, timeout=10)
        self.addCleanup(holder.close)
        self.context = self.browser.new_context(viewport={"width": 1280, "height": 800})
        page = self.context.new_page()
        page.on("pageerror", lambda error: self.errors.append(str(error)))
        page.goto(self.server.url + "/dashboard")
        expect(page.locator("#conn-status")).to_contain_text("polling", timeout=WAIT_MS)
        self.server.post("/fail/3")
        expect(self.state(page, 3)).to_contain_text("down", timeout=WAIT_MS)
        self.assertEqual(self.errors, [])

    def test_node_failed_by_api_turns_down_and_back(self):
        """A node failed by a request turns 'down (crash)' within 2 s; recovered, it is 'up' again."""
        page = self.open()
        self.assertEqual(self.server.post("/fail/1?mode=crash").status_code, 200)
        expect(self.state(page, 1)).to_have_text("down (crash)", timeout=2000)
        expect(page.locator("#ring-svg")).to_contain_text("node-1 down (crash)")
        self.server.post("/write", {"key": "color", "value": "green"})  # a stand-in keeps a hint
        page.fill("#inspect-key", "color")
        page.click("#inspect-form button")
        expect(page.locator("#hint-list")).to_contain_text("for node-1", timeout=WAIT_MS)
        self.shoot(page, "dashboard-1280x800.png")
        self.assertEqual(self.server.post("/recover/1").status_code, 200)
        expect(self.state(page, 1)).to_have_text("up", timeout=2000)

    def test_fail_button_fails_the_node(self):
        """Choosing 'wipe' and clicking Fail for node-2 fails it, as the JSON API confirms.

        Enter on Recover then recovers it.
        """
        page = self.open()
        page.select_option("#fail-mode-2", "wipe")
        page.click("#fail-2")
        expect(self.state(page, 2)).to_have_text("down (wipe)", timeout=WAIT_MS)
        self.assertEqual(self.server.get("/faults")["down"], [{"node": "node-2", "mode": "wipe"}])
        page.focus("#recover-2")  # real buttons: the keyboard works too
        page.keyboard.press("Enter")
        expect(self.state(page, 2)).to_have_text("up", timeout=WAIT_MS)
        self.assertEqual(self.server.get("/faults")["down"], [])

    def test_step_mode_delivering_held_messages_completes_the_write(self):
        """Paused, a write from the page waits; its puts are held (counted in words, never "message(s)");
        delivering a put and its ack completes it."""
        page = self.open(1920, 1080)
        page.click("#net-pause")
        expect(page.locator("#step-status")).to_contain_text("paused", timeout=WAIT_MS)
        page.fill("#kv-key", "color")
        page.fill("#kv-value", "blue")
        page.click("#kv-write")
        request = page.locator("#pending-list li").first
        expect(request).to_contain_text("pending")
        held = page.locator("#held-list li")
        expect(held).to_have_count(2, timeout=WAIT_MS)
        expect(held.first).to_contain_text("put color")
        expect(request).to_contain_text("1 of W=2 acks", timeout=WAIT_MS)  # the coordinator's own copy
        expect(page.locator("#step-status")).to_contain_text("2 messages held", timeout=WAIT_MS)
        expect(page.locator("#waiting-count")).to_contain_text("1 request is waiting", timeout=WAIT_MS)
        expect(page.locator("#msg-count")).to_have_text(re.compile(r"^\d+ messages$"), timeout=WAIT_MS)
        self.assertNotRegex(page.locator("body").inner_text(), r"\w\((s|es|ies)\)")  # as wording.py counts
        page.fill("#inspect-key", "color")
        page.click("#inspect-form button")
        expect(page.locator("#replica-table tbody tr")).to_have_count(3, timeout=WAIT_MS)
        self.shoot(page, "dashboard-step-1920x1080.png")
        held.first.locator(".held-deliver").click()
        ack = page.locator("#held-list li", has_text="ack color")
        expect(ack).to_have_count(1, timeout=WAIT_MS)
        self.assertEqual(self.server.get("/network/messages")["waiting_requests"], 1)
        ack.locator(".held-deliver").click()
        expect(request).to_contain_text("done", timeout=WAIT_MS)
        expect(page.locator("#op-result")).to_contain_text("Stored 'color'")
        self.assertEqual(self.server.get("/network/messages")["waiting_requests"], 0)
        page.click("#net-resume")
        expect(page.locator("#step-status")).to_contain_text("running", timeout=WAIT_MS)
        expect(page.locator("#held-list li")).to_have_count(0)
        self.assertEqual(self.errors, [])

    def test_requests_waiting_in_step_mode_are_capped(self):
        """Paused, a fourth waiting write is refused with a sentence; resume answers all.

        The browser must keep connections free to deliver messages.
        """
        page = self.open()
        page.click("#net-pause")
        expect(page.locator("#net-resume")).to_be_enabled(timeout=WAIT_MS)
        for key in ("a", "b", "c", "d"):
            page.fill("#kv-key", key)
            page.click("#kv-write")
        expect(page.locator("#notices")).to_contain_text("3 requests from this page are still waiting")
        requests_shown = page.locator("#pending-list li")
        expect(requests_shown).to_have_count(3)
        expect(page.locator("#waiting-count")).to_contain_text("3 requests are waiting", timeout=WAIT_MS)
        page.click("#net-resume")
        expect(requests_shown.filter(has_text="done")).to_have_count(3, timeout=WAIT_MS)
        self.assertEqual(self.server.get("/keys")["count"], 3)

    def test_partition_built_in_the_page_shows_on_ring_and_faults(self):
        """Sides chosen in the partition builder show on the ring and in GET /faults; Heal removes them."""
        page = self.open()
        for node in (2, 3, 4):
            page.select_option(f"#side-{node}", "B")
        page.click("#partition-apply")
        expect(page.locator("#node-row-0 .group")).to_have_text("A", timeout=WAIT_MS)
        expect(page.locator("#node-row-3 .group")).to_have_text("B")
        expect(page.locator('#ring-svg [data-node="node-3"]')).to_contain_text("side B")
        self.assertEqual(self.server.get("/faults")["partition"],
                         [["node-0", "node-1"], ["node-2", "node-3", "node-4"]])
        page.click("#partition-heal")
        expect(page.locator("#node-row-3 .group")).to_have_text("–", timeout=WAIT_MS)
        self.assertIsNone(self.server.get("/faults")["partition"])

    def test_inspector_shows_a_stale_replica_then_its_repair(self):
        """After a write that missed a replica, the inspector marks it stale; a read with R=3 repairs it."""
        page = self.open()
        self.server.post("/write", {"key": "color", "value": "blue"})
        replicas = self.server.get("/placement/color")["preference_list"]
        missed = replicas[1]
        self.server.post(f"/fail/{missed}")
        self.server.post("/write", {"key": "color", "value": "green"})
        self.server.post(f"/recover/{missed}?catch_up=none")
        page.fill("#inspect-key", "color")
        page.click("#inspect-form button")
        row = page.locator(f"#replica-{missed}")
        expect(row.locator(".replica-state")).to_have_text("stale", timeout=WAIT_MS)
        expect(row.locator(".replica-value")).to_have_text('"blue"')
        expect(page.locator("#hint-list")).to_contain_text(f"for {missed}")
        expect(page.locator("#ring-svg")).to_contain_text("key color")
        self.shoot(page, "dashboard-inspector-1280x800.png")
        page.fill("#kv-key", "color")
        page.fill("#kv-r", "3")
        page.click("#kv-read")
        expect(row.locator(".replica-state")).to_have_text("current", timeout=WAIT_MS)
        expect(row.locator(".replica-value")).to_have_text('"green"')
        expect(page.locator("#op-list")).to_contain_text("read repair")

    def test_lab2_observations_are_on_the_page(self):
        """Lab 2 from the page: a read shows its value, health turns degraded then down, a recover
        names what it caught up on, and the inspector's columns fit at 1280 px (wall-clock versions
        are 13 digits long)."""
        page = self.open(clock="wall")
        expect(page.locator("#health-status")).to_contain_text("ok: 5/5 nodes up", timeout=WAIT_MS)
        page.fill("#kv-key", "color")
        page.fill("#kv-value", "green")
        page.click("#kv-write")
        expect(page.locator("#op-result")).to_contain_text("stored on", timeout=WAIT_MS)
        page.click("#kv-read")
        expect(page.locator("#op-result")).to_contain_text('value read"green"', timeout=WAIT_MS)
        replicas = [int(name.split("-")[1]) for name in self.server.get("/placement/color")["preference_list"]]
        self.server.post(f"/fail/{replicas[1]}")
        expect(page.locator("#health-status")).to_contain_text("degraded", timeout=WAIT_MS)
        page.fill("#kv-value", '{"shade": "a rather long red, as values often are", "rgb": [200, 30, 30]}')
        page.click("#kv-write")
        expect(page.locator("#op-result")).to_contain_text("hint for", timeout=WAIT_MS)
        for node in range(5):
            if node not in (replicas[1], replicas[0]):
                self.server.post(f"/fail/{node}")
        expect(page.locator("#health-status")).to_contain_text("down", timeout=WAIT_MS)
        page.click(f"#recover-{replicas[1]}")
        expect(page.locator("#control-result")).to_contain_text("pulled by sync", timeout=WAIT_MS)
        page.fill("#inspect-key", "color")
        page.click("#inspect-form button")
        expect(page.locator(f"#replica-node-{replicas[0]} .replica-state")).to_be_visible(timeout=WAIT_MS)
        fits = page.evaluate("""() => {
            const table = document.getElementById('replica-table');
            const panel = document.getElementById('inspector-panel');
            return table.getBoundingClientRect().right <= panel.getBoundingClientRect().right + 1
                && document.documentElement.scrollWidth <= window.innerWidth;
        }""")
        self.assertTrue(fits, "the key inspector overflows its panel at 1280 px")
        expect(page.locator("#op-list")).to_contain_text("[sync]", timeout=WAIT_MS)
        mixed = page.evaluate("""() => [...document.querySelectorAll('#op-list > li')]
            .filter((li) => li.textContent.includes('[sync]')
                          && (li.textContent.includes('read color') || li.textContent.includes('coordinated by')))
            .length""")
        self.assertEqual(mixed, 0, "a recovery's sync stores are grouped under an earlier read or write")
        self.assertEqual(self.errors, [])

    def test_admin_token_errors_are_shown_and_the_token_is_sent(self):
        """Without the token a click shows the server's 401 message; with it the node fails."""
        page = self.open(admin_token="s3cret")
        page.click("#fail-0")
        expect(page.locator("#notices")).to_contain_text("needs the admin token", timeout=WAIT_MS)
        self.assertEqual(self.server.get("/faults")["down"], [])
        page.fill("#token-input", "s3cret")
        page.click("#token-form button")
        page.click("#fail-0")
        expect(self.state(page, 0)).to_have_text("down (stop)", timeout=WAIT_MS)
        self.assertEqual(page.evaluate("sessionStorage.getItem('replicalab.adminToken')"), "s3cret")

    def test_a_stopped_server_is_reported_and_a_restart_picked_up(self):
        """When python run.py stops the page says so and a request explains it got no answer.

        Restarted, the page follows the new cluster.
        """
        flags = ["--storage", "memory", "--clock", "virtual", "--scheduler", "off", "--narrate", "off"]
        first = Server([sys.executable, "run.py", *flags])
        try:
            self.context = self.browser.new_context(viewport={"width": 1280, "height": 800})
            page = self.context.new_page()
            page.goto(first.url + "/dashboard")
            expect(page.locator("#conn-status")).to_contain_text("Live", timeout=WAIT_MS)
            first.post("/write", {"key": "color", "value": "blue"})
            expect(page.locator("#event-list")).to_contain_text("write color", timeout=WAIT_MS)
        finally:
            first.stop()  # Ctrl+C: the process exits and its event stream closes
            first.log.close()
        expect(page.locator("#conn-status")).to_contain_text("stopped answering", timeout=WAIT_MS)
        page.click("#kv-read")
        expect(page.locator("#op-result")).to_contain_text("did not answer", timeout=WAIT_MS)
        # Same port at once, although the closed stream's connection lingers in TIME_WAIT.
        again = subprocess.Popen([sys.executable, "run.py", "--port", str(first.port), *flags],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd=ROOT)
        try:
            expect(page.locator("#conn-status")).to_contain_text("Live", timeout=15000)
            expect(page.locator("#event-list li")).to_have_count(1, timeout=WAIT_MS)  # a fresh cluster
            expect(page.locator("#event-list")).to_contain_text("cluster started")
        finally:
            again.send_signal(signal.SIGINT)
            output = again.communicate(timeout=20)[1]
        self.assertNotIn("cannot listen", output)

    def test_dropped_messages_paused_view_and_log_filters(self):
        """A message to a down node is drawn dropped; a paused view holds new arrows; the log filters."""
        page = self.open()
        self.server.post("/fail/1")
        self.server.post("/write", {"key": "color", "value": "blue"})  # node-1 is one of its replicas
        dropped = page.locator("#spacetime .msg-dropped")
        expect(dropped).to_have_count(1, timeout=WAIT_MS)
        expect(dropped.locator(".died")).to_have_count(1)
        dropped.dispatch_event("click")  # arrows cross: a real click may land on another
        expect(page.locator("#msg-detail")).to_contain_text("node-1 is down")
        drawn = page.locator("#spacetime .arrow").count()
        page.click("#msg-pause")
        self.server.post("/write", {"key": "size", "value": "L"})
        expect(page.locator("#msg-count")).to_contain_text("new while paused", timeout=WAIT_MS)
        self.assertEqual(page.locator("#spacetime .arrow").count(), drawn)
        page.click("#msg-pause")
        expect(page.locator("#spacetime .arrow")).not_to_have_count(drawn)
        page.select_option("#log-type", "node_failed")
        expect(page.locator("#event-list li")).to_have_count(1)
        expect(page.locator("#event-list li")).to_contain_text("node-1")
        page.select_option("#log-type", "")
        page.fill("#log-key", "size")
        expect(page.locator("#event-list li .ev-text").first).to_contain_text("size")
        texts = page.locator("#event-list li .ev-text").all_text_contents()  # rows off screen too
        self.assertTrue(texts and all("size" in text for text in texts), texts)
        page.fill("#log-key", "")
        page.select_option("#log-node", "node-3")
        events = {e["seq"]: e for e in self.server.get("/events?limit=1000")["events"]}
        shown = page.locator("#event-list li").evaluate_all("(rows) => rows.map((r) => Number(r.dataset.seq))")
        self.assertTrue(shown)
        self.assertTrue(all("node-3" in events[seq]["nodes"] for seq in shown))

    def test_a_burst_keeps_the_page_bounded(self):
        """Thousands of events leave at most 1,500 arrows and 400 log rows drawn, the newest included."""
        page = self.open()
        for i in range(150):
            self.server.post("/write", {"key": f"burst{i}", "value": i})
        last = self.server.get("/events?limit=1")["last_seq"]
        self.assertGreater(last, 1500)
        expect(page.locator(f'#event-list li[data-seq="{last}"]')).to_have_count(1, timeout=10000)
        newest = self.server.get(f"/events?since={last - 30}")["events"]
        msg_id = [e for e in newest if e["type"] == "message_delivered"][-1]["details"]["msg_id"]
        expect(page.locator(f'#spacetime .arrow[data-msg-id="{msg_id}"]')).to_have_count(1, timeout=WAIT_MS)
        self.assertLessEqual(page.locator("#spacetime .arrow").count(), 1500)
        self.assertEqual(page.locator("#event-list li").count(), 400)


if __name__ == "__main__":
    unittest.main()
