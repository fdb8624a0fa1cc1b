"""Labs 1, 3, 4 and 6 done from the dashboard alone: clicks and forms only, no HTTP call from the test.

Each test follows its lab's README step by step in headless Chromium and checks on the
page what the step asks the student to notice (the lab's curl of /nodes/<id> is the key
inspector's row for that node; its /nodes is the ring panel's node table).
"""
import unittest

from tests.browser import BROWSER_MISSING, WAIT_MS, BrowserCase, expect
from tests.test_dashboard_labs import PageSteps


@unittest.skipIf(BROWSER_MISSING, BROWSER_MISSING)
class EarlyLabsFromThePageTest(BrowserCase):
    """Every step of labs 1, 3, 4 and 6 by clicks and forms, checking what the step asks to notice."""

    def script_errors(self):
        """Console errors other than Chromium's line for each refused request (a lab's 404s and 503s)."""
        return [error for error in self.errors if not error.startswith("Failed to load resource")]

    def keys_per_node(self, page):
        """The Keys column of the node table, node-0 first."""
        return [int(text) for text in page.locator("#node-table .keys").all_inner_texts()]

    def replica(self, page, node):
        """The key inspector's row for one node (what GET /nodes/<id> says about the inspected key)."""
        return page.locator(f"#replica-node-{node}")

    def test_lab1_placement_from_the_page(self):
        """Lab 1: the preference list and its clockwise steps, three replicas per key, spread primaries, RF 5."""
        page = self.open(1280, 900)
        s = PageSteps(page)
        line = s.inspect("color")                                                 # 1
        self.assertIn("preference list node-1, node-4, node-0", line)
        self.assertIn("node-1 after 0 steps, node-4 after 3 steps, node-0 after 8 steps", line)
        answer = s.kv("write", "color", "blue")                                   # 2
        expect(answer).to_contain_text("W=2 acknowledgements were needed and 3 arrived")
        expect(answer.locator("dt:text-is('acks') + dd")).to_have_text("node-1; node-4; node-0")
        expect(answer.locator(".story li").first).to_contain_text("coordinated by node-1")
        expect(page.locator("#node-table .keys")).to_have_text(["1", "1", "0", "0", "1"], timeout=WAIT_MS)  # 3
        page.click("#inspect-form button")                                        # 4: inside the primary
        expect(self.replica(page, 1)).to_contain_text("replica 1", timeout=WAIT_MS)
        expect(self.replica(page, 1).locator(".replica-value")).to_have_text('"blue"')
        expect(self.replica(page, 1).locator(".replica-version")).to_contain_text("@node-1")
        keys = [f"energy:{floor}:{hour}:00" for floor in ("p1", "p2", "p3") for hour in ("08", "12", "18", "22")]
        for key in keys:                                                          # 5
            expect(s.kv("write", key, '{"kwh":14}')).to_contain_text(f"Stored '{key}' on 3 nodes")
        # 6: 13 keys, three copies each (the table refreshes after the last answer shows)
        page.wait_for_function("""() => [...document.querySelectorAll('#node-table .keys')]
                                  .reduce((sum, cell) => sum + Number(cell.textContent), 0) === 39""", timeout=WAIT_MS)
        counts = self.keys_per_node(page)
        self.assertTrue(all(count < 13 for count in counts), counts)  # no node holds them all
        primaries = set()
        for key in keys[:4]:                                                      # 7
            primaries.add(s.inspect(key).split("preference list ")[1].split(",")[0])
        self.assertGreater(len(primaries), 1, primaries)
        s.fill(inspect_rf=5)                                                      # 8
        line = s.inspect("color")
        self.assertIn("preference list node-1, node-4, node-0, ", line)
        self.assertIn("(badges 1…5)", line)
        s.fill(inspect_rf="")
        read = s.kv("read", "color")                                              # 9
        expect(read.locator("dt:text-is('replicas read') + dd")).to_contain_text("@node-1")
        self.assertGreaterEqual(read.locator("dt:text-is('replicas read') + dd").inner_text().count("@node-1"), 2)
        self.assertEqual(self.script_errors(), [])


if __name__ == "__main__":
    unittest.main()
