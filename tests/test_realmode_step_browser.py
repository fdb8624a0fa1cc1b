"""The space-time diagram on real node processes: held messages are arrows in flight, moved from the page."""
import os
import threading
import unittest

from tests.browser import BROWSER_MISSING, SHOTS, WAIT_MS, BrowserCase, expect
from tests.real_cluster import RealCluster


@unittest.skipIf(BROWSER_MISSING, BROWSER_MISSING)
class RealStepModeDiagramTest(BrowserCase):
    """A paused write on `run.py cluster` as the dashboard draws it."""

    def test_held_messages_are_arrows_in_flight_that_the_page_delivers(self):
        """Paused, a write's two held puts are in-flight arrows; delivering one from its detail turns it delivered,
        and resume leaves no arrow in flight."""
        cluster = RealCluster(nodes=3, rf=3, r=2, w=2)
        self.addCleanup(lambda: self.assertEqual(cluster.stop(), []))
        self.context = self.browser.new_context(viewport={"width": 1280, "height": 1000})
        page = self.context.new_page()
        page.on("pageerror", lambda error: self.errors.append(str(error)))
        page.goto(cluster.url + "/dashboard")
        expect(page.locator("body")).to_have_attribute("data-ready", "true", timeout=WAIT_MS)
        expect(page.locator("#conn-status")).to_contain_text("Live", timeout=WAIT_MS)
        self.assertEqual(cluster.post("/network/pause").status_code, 200)
        writer = threading.Thread(target=cluster.post, args=("/write", {"key": "color", "value": "blue"}))
        writer.start()
        held = page.locator("#spacetime .msg-flight")
        expect(held).to_have_count(2, timeout=WAIT_MS)
        listed = {m["id"] for m in cluster.get("/network/messages").json()["messages"]}
        first = held.first.get_attribute("data-msg-id")
        self.assertIn(int(first or 0), listed)  # the arrow's id is the one /network/messages lists
        held.first.dispatch_event("click")
        page.click("#msg-detail .st-deliver")
        arrow = page.locator(f'#spacetime .arrow[data-msg-id="{first}"]')
        expect(arrow).to_have_attribute("data-status", "delivered", timeout=WAIT_MS)
        os.makedirs(SHOTS, exist_ok=True)
        page.screenshot(path=os.path.join(SHOTS, "dashboard-spacetime-real.png"))
        self.assertEqual(cluster.post("/network/resume").status_code, 200)
        writer.join(timeout=30)
        expect(page.locator("#spacetime .msg-flight")).to_have_count(0, timeout=WAIT_MS)
        self.assertEqual(self.errors, [])


if __name__ == "__main__":
    unittest.main()
