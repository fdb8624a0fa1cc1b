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

    def fail_node(self, page, node, mode="stop"):
        """Pick how the node fails in the Fail and recover table, click Fail; returns the control's answer box."""
        page.select_option(f"#fail-mode-{node}", mode)
        page.click(f"#fail-{node}")
        expect(self.state(page, node)).to_contain_text(f"down ({mode})", timeout=WAIT_MS)
        return page.locator("#control-result")

    def recover_node(self, page, node, catch_up=True):
        """Tick or untick the node's catch-up box, click Recover; returns the control's answer box."""
        page.set_checked(f"#catch-up-{node}", catch_up)
        page.click(f"#recover-{node}")
        expect(self.state(page, node)).to_have_text("up", timeout=WAIT_MS)
        expect(page.locator("#control-result")).to_contain_text(f"node-{node} recovered", timeout=WAIT_MS)
        return page.locator("#control-result")

    def job(self, page, name, expected):
        """Run a scheduler job from the Controls' job form and wait for its answer."""
        page.select_option("#job-name", name)
        page.click("#job-form [type=submit]")
        expect(page.locator("#control-result")).to_contain_text(expected, timeout=WAIT_MS)
        return page.locator("#control-result")

    def holds(self, page, node, value):
        """The inspector's row for the node shows `value` for the inspected key."""
        page.click("#inspect-form button")
        expect(self.replica(page, node).locator(".replica-value")).to_have_text(f'"{value}"', timeout=WAIT_MS)

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

    def test_lab3_catching_up_from_the_page(self):
        """Lab 3: a stale replica catches up by hinted handoff, then read repair, then anti-entropy."""
        page = self.open(1280, 900, scheduler="off")
        s = PageSteps(page)
        result = page.locator("#control-result")
        s.kv("write", "color", "blue")                                            # 1
        line = s.inspect("color")                                                 # 2
        self.assertIn("preference list node-1, node-4, node-0", line)
        self.assertIn("stand-ins in order node-2,", line)
        self.fail_node(page, 4)                                                        # 3
        answer = s.kv("write", "color", "green")                                  # 4
        expect(answer.locator("dt:text-is('hints') + dd")).to_have_text("node-2 for node-4")
        self.recover_node(page, 4, catch_up=False)                                     # 5
        self.holds(page, 4, "blue")                                               # 6
        expect(self.replica(page, 4).locator(".replica-state")).to_have_text("stale")
        ran = self.job(page, "hint_retry", "handed back 1 hint")                  # 7
        expect(ran.locator("dt:text-is('delivered') + dd")).to_contain_text("node-2 -> node-4")
        self.holds(page, 4, "green")                                              # 8
        self.fail_node(page, 4)                                                        # 9
        answer = s.kv("write", "color", "red")                                    # 10
        expect(answer.locator("dt:text-is('hints') + dd")).to_have_text("node-2 for node-4")
        lost = self.fail_node(page, 2, "wipe")                                         # 11
        expect(lost.locator("dt:text-is('hints lost') + dd")).to_have_text("1", timeout=WAIT_MS)
        self.recover_node(page, 2, catch_up=False)                                     # 12
        self.recover_node(page, 4, catch_up=False)
        ran = self.job(page, "hint_retry", "Ran hint_retry")                      # 13
        expect(ran.locator("dt:text-is('delivered') + dd")).to_have_text("{}")
        self.holds(page, 4, "green")                                              # 14
        read = s.kv("read", "color", r=3)                                         # 15
        expect(read.locator("dt:text-is('value read') + dd")).to_have_text('"red"')
        expect(read.locator("dt:text-is('repaired') + dd")).to_contain_text("node-4")
        self.holds(page, 4, "red")                                                # 16
        self.fail_node(page, 4)                                                        # 17
        answer = s.kv("write", "color", "purple")                                 # 18
        expect(answer.locator("dt:text-is('hints') + dd")).to_have_text("node-2 for node-4")
        self.fail_node(page, 2, "wipe")                                                # 19
        expect(result.locator("dt:text-is('hints lost') + dd")).to_have_text("1", timeout=WAIT_MS)
        self.recover_node(page, 2, catch_up=False)                                     # 20
        self.recover_node(page, 4, catch_up=False)
        self.holds(page, 4, "red")                                                # 21: nobody reads color
        page.select_option("#ae-node", "1")                                       # 22
        page.select_option("#ae-peer", "4")
        page.click("#ae-form [type=submit]")
        expect(result).to_contain_text("node-1 and node-4 compared", timeout=WAIT_MS)
        expect(result.locator("dt:text-is('buckets differing') + dd")).to_have_text("1")
        expect(result.locator("dt:text-is('keys pushed') + dd")).to_have_text("color")
        expect(result.locator("dt:text-is('tree nodes compared') + dd")).not_to_have_text("0")
        self.holds(page, 4, "purple")                                             # 23
        ran = self.job(page, "anti_entropy", "5 exchanges")                       # 24
        expect(ran.locator(".story li").last).to_contain_text("5 slices")
        self.assertEqual(self.script_errors(), [])

    def test_lab4_partitions_from_the_page(self):
        """Lab 4: both sides of a partition accept a write, LWW keeps one; a slow clock's later write loses."""
        page = self.open(1280, 900, scheduler="off")
        s = PageSteps(page)
        acks = "dt:text-is('acks') + dd"
        s.kv("write", "color", "blue")                                            # 1
        self.assertIn("preference list node-1, node-4, node-0", s.inspect("color"))  # 2
        s.partition({1, 2})                                                       # 3
        expect(page.locator("#node-table .group")).to_have_text(["B", "A", "A", "B", "B"], timeout=WAIT_MS)
        left = s.kv("write", "color", "left", coordinator=1)                      # 4
        expect(left.locator(acks)).to_contain_text("node-1; node-2 (hint for node-")
        right = s.kv("write", "color", "right", coordinator=4)                    # 5
        expect(right.locator(acks)).to_contain_text("node-4")
        expect(right.locator(acks)).to_contain_text("node-0")
        expect(right.locator(acks)).to_contain_text("(hint for node-1)")
        self.holds(page, 1, "left")                                               # 6
        self.holds(page, 4, "right")                                              # 7
        s.heal()                                                                  # 8
        read = s.kv("read", "color", r=3)                                         # 9
        expect(read.locator("dt:text-is('value read') + dd")).to_have_text('"right"')
        expect(read.locator("dt:text-is('repaired') + dd")).to_contain_text("node-1")
        page.select_option("#skew-node", "4")                                     # 10
        s.fill(skew_ms=-5000)
        page.click("#skew-form [type=submit]")
        expect(page.locator("#node-row-4 .skew")).to_have_text("-5000 ms", timeout=WAIT_MS)
        s.kv("write", "color", "fast", coordinator=1)                             # 11
        slow = s.kv("write", "color", "slow", coordinator=4)                      # 12
        expect(slow.locator("p").first).to_contain_text("stored nowhere")
        expect(slow.locator("dt:text-is('stored on') + dd")).to_have_text("none")
        for ack in slow.locator(acks).inner_text().split("; "):
            self.assertIn("(kept newer)", ack)
        read = s.kv("read", "color")                                              # 13
        expect(read.locator("dt:text-is('value read') + dd")).to_have_text('"fast"')
        page.click("#faults-clear")                                               # 14
        expect(page.locator("#node-row-4 .skew")).to_have_text("0", timeout=WAIT_MS)
        self.assertEqual(self.script_errors(), [])

    def test_lab6_durability_from_the_page(self):
        """Lab 6: a crash loses an uncommitted write, a stop does not; group commit and CAS survive crashes."""
        page = self.open(1280, 900, scheduler="off", durability="batch", batch_size=100)
        s = PageSteps(page)
        result = page.locator("#control-result")
        lost = result.locator("dt:text-is('uncommitted writes lost') + dd")
        unsynced = page.locator("#node-table .unsynced")
        replicas = (1, 4, 0)
        expect(page.locator("#cluster-summary")).to_contain_text("durability batch")  # 1
        self.assertIn("preference list node-1, node-4, node-0", s.inspect("color"))  # 2
        written = s.kv("write", "color", "blue")                                  # 3
        expect(written.locator("dt:text-is('not yet on disk') + dd")).to_contain_text("node-1")
        expect(unsynced).to_have_text(["1", "1", "0", "0", "1"], timeout=WAIT_MS)  # 4
        self.fail_node(page, 1, "stop")                                           # 5: nothing lost
        expect(result).to_contain_text("keeps its memory and disk", timeout=WAIT_MS)
        expect(unsynced.nth(1)).to_have_text("1", timeout=WAIT_MS)  # its uncommitted write is still there
        self.recover_node(page, 1)                                                # 6
        self.fail_node(page, 1, "crash")                                          # 7
        expect(lost).to_have_text("color", timeout=WAIT_MS)
        page.click("#inspect-form button")                                        # 8: gone from its disk
        expect(self.replica(page, 1).locator(".replica-state")).to_have_text("missing, node down", timeout=WAIT_MS)
        pulled = self.recover_node(page, 1)                                       # 9
        expect(pulled.locator("dt:text-is('pulled by sync') + dd")).to_have_text("color", timeout=WAIT_MS)
        for node in replicas:                                                     # 10
            self.fail_node(page, node, "crash")
            expect(lost).to_have_text("color", timeout=WAIT_MS)
        for node in replicas:                                                     # 11
            expect(self.recover_node(page, node)).to_contain_text("had anything newer", timeout=WAIT_MS)
        expect(s.kv("read", "color")).to_contain_text("404 key_not_found")        # 12: the acknowledged write is gone
        s.kv("write", "color", "green")                                           # 13
        self.job(page, "flush", "committed 3 pending writes")                     # 14
        expect(unsynced).to_have_text(["0"] * 5, timeout=WAIT_MS)
        self.fail_node(page, 1, "crash")                                          # 15: nothing lost
        expect(lost).to_have_text("none", timeout=WAIT_MS)
        self.recover_node(page, 1)                                                # 16
        self.fail_node(page, 4, "wipe")                                           # 17
        rebuilt = self.recover_node(page, 4)                                      # 18
        expect(rebuilt.locator("dt:text-is('pulled by sync') + dd")).to_have_text("color", timeout=WAIT_MS)
        read = s.kv("read", "color")                                              # 19
        version = read.locator("dt:text-is('version') + dd").inner_text()
        s.fill(cas_key="color", cas_expected=version, cas_value="red")
        cas = s.submit("cas-form", "dispatch-result", "CAS applied")              # 20
        expect(cas.locator("p").first).to_contain_text("Durable:")
        expect(cas).not_to_contain_text("not yet on disk")
        for node in replicas:                                                     # 21
            self.fail_node(page, node, "crash")
            expect(lost).to_have_text("none", timeout=WAIT_MS)
        for node in replicas:                                                     # 22
            self.recover_node(page, node)
        read = s.kv("read", "color")                                              # 23
        expect(read.locator("dt:text-is('value read') + dd")).to_have_text('"red"')
        self.assertEqual(self.script_errors(), [])


if __name__ == "__main__":
    unittest.main()
