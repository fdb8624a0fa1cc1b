"""Labs 7, 8, 9 and 10 (and lab 5's diagram step) done from the dashboard alone: clicks and forms only.

Each test follows its lab's README step by step in headless Chromium and checks on the
page what the step asks the student to notice. Screenshots of the panels go to
$REPLICALAB_SCREENSHOTS (docs/images when the README's pictures are refreshed).
"""
import os
import re
import unittest

from tests.browser import BROWSER_MISSING, SHOTS, WAIT_MS, BrowserCase, expect


class PageSteps:
    """The clicks and form fills a student makes, named after what they do."""

    def __init__(self, page):
        self.page = page

    def fill(self, **fields):
        """Type into the inputs named by id (underscores for dashes)."""
        for name, value in fields.items():
            self.page.fill(f"#{name.replace('_', '-')}", str(value))

    def kv(self, action, key, value=None, r="", w="", coordinator="", consistency=""):
        """Write, read or delete from the Controls form."""
        self.fill(kv_key=key, kv_r=r, kv_w=w)
        if value is not None:
            self.fill(kv_value=value)
        self.page.select_option("#kv-coordinator", str(coordinator))
        self.page.select_option("#kv-consistency", consistency)
        before = self.page.locator("#pending-list li").count()
        self.page.click(f"#kv-{action}")
        done = self.page.locator("#pending-list li").first
        expect(self.page.locator("#pending-list li")).to_have_count(min(before + 1, 8), timeout=WAIT_MS)
        expect(done).not_to_contain_text("pending", timeout=WAIT_MS)
        return self.page.locator("#op-result")

    def inspect(self, key):
        """Type a key in the key inspector: the ring and the placement line show where it lives."""
        self.fill(inspect_key=key)
        self.page.click("#inspect-form button")
        expect(self.page.locator("#placement-line")).to_contain_text(f"{key}: preference list", timeout=WAIT_MS)
        return self.page.locator("#placement-line").inner_text()

    def partition(self, side_a, count=5):
        """Nodes in side_a on side A, every other node on side B; click Partition."""
        for node in range(count):
            self.page.select_option(f"#side-{node}", "A" if node in side_a else "B")
        self.page.click("#partition-apply")
        expect(self.page.locator("#control-result")).to_contain_text("partitioned", timeout=WAIT_MS)

    def heal(self):
        """Click Heal."""
        self.page.click("#partition-heal")
        expect(self.page.locator("#control-result")).to_contain_text("healed", timeout=WAIT_MS)

    def submit(self, form, box, expected):
        """Submit a panel form and wait for its answer box to contain `expected`."""
        self.page.locator(f"#{box}").evaluate("(box) => box.replaceChildren()")  # the next answer, not the last
        self.page.click(f"#{form} [type=submit]" if not form.startswith("!") else f"#{form[1:]}")
        expect(self.page.locator(f"#{box}")).to_contain_text(expected, timeout=WAIT_MS)
        return self.page.locator(f"#{box}")

    def click(self, button, box, expected):
        """Click a panel button and wait for its answer box to contain `expected`."""
        return self.submit(f"!{button}", box, expected)

    def shoot(self, selector, name):
        """A screenshot of one panel (without the notices floating over it)."""
        self.page.locator("#notices").evaluate("(box) => box.replaceChildren()")
        self.page.locator(selector).screenshot(path=os.path.join(SHOTS, name))


@unittest.skipIf(BROWSER_MISSING, BROWSER_MISSING)
class LabsFromThePageTest(BrowserCase):
    """Every step of labs 7 to 10 by clicks and forms, checking what the step asks to notice."""

    def script_errors(self):
        """Console errors other than Chromium's line for each refused request (a lab's 409s and 503s)."""
        return [error for error in self.errors if not error.startswith("Failed to load resource")]

    def test_lab5_step_8_on_the_space_time_diagram(self):
        """Lab 5 by clicks on the diagram: a put and its dotted copy delivered, one dropped with a cross,
        two acks in flight; delivering an ack from the diagram answers the waiting write."""
        page = self.open(1280, 900, scheduler="off")
        s = PageSteps(page)
        page.click("#net-pause")                                                  # 1
        expect(page.locator("#step-status")).to_contain_text("paused", timeout=WAIT_MS)
        s.fill(kv_key="color", kv_value="blue")
        page.click("#kv-write")                                                   # 2: it waits
        puts = page.locator("#spacetime .msg-kind-put")
        expect(puts).to_have_count(2, timeout=WAIT_MS)                            # 3: two puts in flight
        expect(page.locator("#spacetime .msg-kind-put.msg-flight")).to_have_count(2)

        def act(arrow, verb):
            arrow.dispatch_event("click")
            page.click(f"#msg-detail .st-{verb}")
            expect(page.locator("#control-result")).not_to_contain_text("Fail, recover", timeout=WAIT_MS)

        first, second = puts.nth(0), puts.nth(1)
        first_id, second_id = first.get_attribute("data-msg-id"), second.get_attribute("data-msg-id")
        act(first, "duplicate")                                                   # 4
        copy = page.locator("#spacetime .msg-kind-put.msg-dup")
        expect(copy).to_have_count(1, timeout=WAIT_MS)
        act(page.locator(f'#spacetime .arrow[data-msg-id="{first_id}"]'), "deliver")  # 5
        expect(page.locator("#control-result")).to_contain_text("stored", timeout=WAIT_MS)
        page.locator(f'#spacetime .arrow[data-msg-id="{first_id}"]').dispatch_event("click")
        expect(page.locator("#msg-detail dl")).to_contain_text("messageput color v")  # its fields
        expect(page.locator("#msg-detail")).to_contain_text("Story of operation")
        act(copy, "deliver")                                                      # 6
        expect(page.locator("#control-result")).to_contain_text("already had", timeout=WAIT_MS)
        act(page.locator(f'#spacetime .arrow[data-msg-id="{second_id}"]'), "drop")  # 7
        dropped = page.locator(f'#spacetime .arrow[data-msg-id="{second_id}"]')
        expect(dropped).to_have_attribute("data-status", "dropped", timeout=WAIT_MS)
        expect(dropped.locator(".died")).to_have_count(1)
        acks = page.locator("#spacetime .msg-kind-put_ack.msg-flight")           # 8: two acks in flight
        expect(acks).to_have_count(2, timeout=WAIT_MS)
        expect(page.locator("#spacetime .msg-kind-put.msg-delivered")).to_have_count(2)
        self.assertEqual(page.locator("#spacetime .msg-kind-put.msg-dup").get_attribute("data-status"), "delivered")
        act(acks.first, "deliver")                                                # step 9's delivery, from the diagram
        expect(page.locator("#pending-list li").first).to_contain_text("done", timeout=WAIT_MS)
        expect(page.locator("#spacetime .st-answer")).to_have_count(1, timeout=WAIT_MS)  # the client's answer
        page.click("#net-resume")
        expect(page.locator("#spacetime .msg-flight")).to_have_count(0, timeout=WAIT_MS)
        self.assertEqual(self.script_errors(), [])

    def test_lab7_double_booking_from_the_page(self):
        """Lab 7: read-write claims double-book d1 across a partition; CAS books d2 once; a plain write slips past."""
        page = self.open(1280, 900, scheduler="off")
        s = PageSteps(page)
        box = "dispatch-result"
        for drone, x, y in (("d1", 0, 0),):
            s.fill(drone_id=drone, drone_x=x, drone_y=y)
            s.submit("drone-form", box, "d1")                                     # 1
        for delivery, pickup, dropoff in (("p1", "3,4", "10,0"), ("p2", "-3,4", "-10,0")):
            s.fill(delivery_id=delivery, delivery_pickup=pickup, delivery_dropoff=dropoff)
            s.submit("delivery-form", box, delivery)                              # 2
        self.assertIn("node-4, node-1, node-2", s.inspect("drone:d1"))            # 3
        s.partition({4, 1})                                                       # 4
        page.select_option("#assign-claim", "read-write")
        for delivery, coordinator in (("p1", "4"), ("p2", "0")):                  # 5, 6: d1 twice
            s.fill(assign_delivery=delivery)
            page.select_option("#assign-coordinator", coordinator)
            s.submit("assign-form", box, f"{delivery} → d1 (read-write")
        s.heal()                                                                  # 7
        s.click("dispatch-audit", box, "d1 held by p1 and p2")                    # 8
        page.click("#dispatch-refresh")
        expect(page.locator("#delivery-list")).to_contain_text("p2", timeout=WAIT_MS)
        s.shoot("#dispatch-panel", "dashboard-dispatch.png")
        s.fill(drone_id="d2", drone_x=100, drone_y=100)
        s.submit("drone-form", box, "d2")                                         # 9
        for delivery, pickup, dropoff in (("p3", "103,104", "110,100"), ("p4", "97,104", "90,100")):
            s.fill(delivery_id=delivery, delivery_pickup=pickup, delivery_dropoff=dropoff)
            s.submit("delivery-form", box, delivery)                              # 10
        self.assertIn("node-1, node-2, node-3", s.inspect("drone:d2"))            # 11
        s.partition({1, 2})                                                       # 12
        page.select_option("#assign-claim", "cas")
        s.fill(assign_delivery="p3")
        page.select_option("#assign-coordinator", "1")
        answer = s.submit("assign-form", box, "p3 → d2 (cas")                      # 13
        for phase in ("prepare", "promise", "accept", "commit"):
            expect(answer.locator(".story")).to_contain_text(phase)
        # The diagram: the round's arrows reach node-2; those toward node-3 die at the partition.
        for kind in ("paxos_prepare", "paxos_propose", "paxos_commit"):
            arrows = page.locator(f"#spacetime .msg-kind-{kind}")
            expect(arrows.locator('xpath=self::*[@data-from="1"][@data-to="2"][@data-status="delivered"]').last)\
                .to_be_attached()
            expect(arrows.locator('xpath=self::*[@data-from="1"][@data-to="3"][@data-status="dropped"]')).to_have_count(1)
        page.locator('#spacetime .msg-kind-paxos_promise[data-from="2"]').last.dispatch_event("click")
        expect(page.locator("#msg-detail")).to_contain_text("Story of operation")
        s.fill(assign_delivery="p4")
        page.select_option("#assign-coordinator", "0")
        s.submit("assign-form", box, "503")                                       # 14: no majority
        expect(page.locator(f"#{box}")).to_contain_text("no_quorum")
        s.heal()                                                                  # 15
        audit = s.click("dispatch-audit", box, "double-booked drones")            # 16
        expect(audit.locator("dt:text-is('double-booked drones') + dd")).not_to_contain_text("d2")
        read = s.kv("read", "drone:d2")                                           # 17
        version = read.locator("dt:text-is('version') + dd").inner_text()
        self.assertRegex(version, r"^\d+@node-\d$")
        s.kv("write", "drone:d2", '{"id":"d2","x":100,"y":100,"status":"maintenance"}')  # 18
        expect(page.locator("#op-result")).to_contain_text("Stored 'drone:d2'")
        s.inspect("drone:d1")  # a whole drone record: too long for the table, it expands
        whole = page.locator("#replica-table details.value").first
        expect(whole).to_be_visible(timeout=WAIT_MS)
        whole.locator("summary").click()
        expect(whole.locator("pre")).to_contain_text('"delivery": "p')
        s.fill(cas_key="drone:d2", cas_expected=version, cas_value='{"id":"d2","x":100,"y":100,"status":"idle"}')
        refused = s.submit("cas-form", box, "409")                                # 19
        expect(refused).to_contain_text("conflict")
        self.assertEqual(self.script_errors(), [])

    def test_lab8_alerts_from_the_page(self):
        """Lab 8: crossings fire alerts, the breaker opens and closes, ids stop duplicates, a lost quorum says retry."""
        page = self.open(1280, 900, scheduler="off", breaker_cooldown_ms=300000)
        s = PageSteps(page)
        box = "alerts-result"
        breaker = page.locator("#breaker-state")
        s.fill(rule_sensor="floor-1", rule_threshold=30)
        s.submit("rule-form", box, "r1")                                          # 1
        s.fill(reading_sensor="floor-1", reading_values="10@1000, 35@2000, 36@3000, 12@4000, 40@5000")
        s.submit("reading-form", box, "added 5")                                  # 2
        fired = s.click("run-alert-rules", box, "r1-2000")                        # 3: two crossings
        expect(fired).to_contain_text('fired["r1-2000","r1-5000"]')
        page.click("#alerts-refresh")                                             # 4
        expect(page.locator("#alert-list li")).to_have_count(2, timeout=WAIT_MS)
        expect(page.locator("#alert-list li").first).to_contain_text("outbox pending")
        s.fill(notifier_fail=1)
        s.submit("notifier-form", box, "notifier")                                # 5
        s.click("run-alert-outbox", box, "breaker")                               # 6
        expect(breaker).to_contain_text("closed · 2 consecutive failures", timeout=WAIT_MS)
        s.click("run-alert-outbox", box, "held_by_breaker")                       # 7
        expect(breaker).to_contain_text("open", timeout=WAIT_MS)
        expect(page.locator("#breaker-transitions")).to_contain_text("closed → open (3 consecutive failures)")  # 8
        expect(breaker).to_contain_text("half-open (a trial call) in")
        calls = re.search(r"(\d+ calls?),", breaker.inner_text()).group(1)
        s.click("run-alert-outbox", box, "held_by_breaker")                       # 9: no call goes out
        expect(breaker).to_contain_text(f"{calls},", timeout=WAIT_MS)
        s.fill(notifier_fail=0)
        s.submit("notifier-form", box, "notifier")                                # 10
        s.fill(tick_ms=300000)
        page.click("#tick-form button")                                           # 11
        expect(page.locator("#control-result")).to_contain_text("300000", timeout=WAIT_MS)
        s.click("run-alert-outbox", box, "sent")                                  # 12
        expect(page.locator("#breaker-transitions")).to_contain_text("half-open → closed", timeout=WAIT_MS)
        expect(breaker).to_contain_text("Breaker: closed")
        for alert in ("r1-2000", "r1-5000"):                                      # 13: once each
            expect(page.locator(f'#deliveries-list [data-alert="{alert}"]')).to_have_text(f"{alert}: delivered 1 time")
        s.fill(reading_values="5@6000, 45@7000")
        s.submit("reading-form", box, "added 2")                                  # 14
        s.click("run-alert-rules", box, "r1-7000")                                # 15
        s.fill(notifier_delay=1500)
        s.submit("notifier-form", box, "notifier")                                # 16
        s.click("run-alert-outbox", box, "failed")                                # 17: timed out, yet delivered
        expect(page.locator('#deliveries-list [data-alert="r1-7000"]')).to_have_text("r1-7000: delivered 1 time",
                                                                                     timeout=WAIT_MS)
        s.fill(notifier_delay=0)
        s.submit("notifier-form", box, "notifier")                                # 18
        s.click("run-alert-outbox", box, "sent")                                  # 19
        expect(breaker).to_contain_text("1 duplicate suppressed", timeout=WAIT_MS)
        expect(page.locator('#deliveries-list [data-alert="r1-7000"]')).to_have_text("r1-7000: delivered 1 time")  # 20
        s.fill(reading_values="5@8000, 45@9000")
        s.submit("reading-form", box, "added 2")                                  # 21
        s.click("run-alert-rules", box, "r1-9000")                                # 22
        s.fill(notifier_delay=1500)
        page.uncheck("#notifier-dedupe")
        s.submit("notifier-form", box, "notifier")                                # 23
        s.click("run-alert-outbox", box, "failed")                                # 24
        s.fill(notifier_delay=0)
        s.submit("notifier-form", box, "notifier")                                # 25
        s.click("run-alert-outbox", box, "sent")                                  # 26
        expect(page.locator('#deliveries-list [data-alert="r1-9000"]')).to_have_text("r1-9000: delivered 2 times",
                                                                                     timeout=WAIT_MS)  # 27
        page.click("#alerts-refresh")
        expect(page.locator("#rule-list")).to_contain_text("r1: floor-1 above 30", timeout=WAIT_MS)
        s.shoot("#alerts-panel", "dashboard-alerts.png")
        owners = s.inspect("sensor:floor-1").split("preference list ")[1].split(" (")[0].split(", ")  # 28
        for owner in owners[:2]:                                                  # 29
            page.click(f"#fail-{owner[-1]}")
            expect(self.state(page, owner[-1])).to_contain_text("down", timeout=WAIT_MS)
        s.fill(reading_values="22@10000")
        refused = s.submit("reading-form", box, "503")                            # 30
        expect(refused).to_contain_text("retry")
        for owner in owners[:2]:                                                  # 31
            page.click(f"#recover-{owner[-1]}")
            expect(self.state(page, owner[-1])).to_have_text("up", timeout=WAIT_MS)
        s.submit("reading-form", box, "added 1")                                  # 32
        s.submit("reading-form", box, "added 0, duplicates ignored 1")            # 33
        self.assertEqual(self.script_errors(), [])

    def test_lab9_linearizable_from_the_page(self):
        """Lab 9: a sloppy-quorum history is not linearizable; the linearizable mode refuses the minority side."""
        page = self.open(1280, 900, scheduler="off")
        s = PageSteps(page)
        box = "check-result"
        s.click("history-clear", box, "History cleared")                          # 1
        self.assertIn("color: preference list node-1, node-4, node-0", s.inspect("color"))  # 2
        expect(s.kv("write", "color", "blue")).to_contain_text("Stored 'color'")  # 3
        s.partition({1, 2})                                                       # 4
        expect(s.kv("write", "color", "left", coordinator=1)).to_contain_text("node-2 (hint for")  # 5
        expect(s.kv("read", "color", coordinator=4)).to_contain_text('value read"blue"')  # 6
        s.fill(history_key="color")
        page.click("#history-form [type=submit]")                                 # 7
        expect(page.locator("#history-table tbody tr")).to_have_count(6, timeout=WAIT_MS)
        self.assertEqual(page.locator("#history-table .hist-type").all_inner_texts(), ["invoke", "ok"] * 3)
        verdict = s.click("history-check", box, "verdict")                        # 8
        expect(verdict.locator("dt:text-is('verdict') + dd")).to_have_text("not linearizable")
        expect(verdict.locator("dt:text-is('key color') + dd")).to_contain_text("blue")  # the unplaceable read
        s.shoot("#history-panel", "dashboard-history.png")
        s.click("history-clear", box, "History cleared")                          # 9
        lin = {"consistency": "linearizable"}
        expect(s.kv("write", "color", "strict-left", coordinator=1, **lin)).to_contain_text("503")  # 10
        expect(s.kv("write", "color", "strict-right", coordinator=4, **lin)).to_contain_text("Stored")  # 11
        expect(page.locator("#op-result .story")).to_contain_text("for their newest version")  # the query phase
        expect(s.kv("read", "color", coordinator=1, **lin)).to_contain_text("503")  # 12
        expect(s.kv("read", "color", coordinator=0, **lin)).to_contain_text('value read"strict-right"')  # 13
        verdict = s.click("history-check", box, "verdict")                        # 14
        expect(verdict.locator("dt:text-is('verdict') + dd")).to_have_text("linearizable")
        s.heal()                                                                  # 15
        s.click("history-clear", box, "History cleared")                          # 16
        s.kv("write", "color", "e", consistency="eventual")                       # 17
        s.kv("write", "color", "l", consistency="linearizable")                   # 18
        page.click("#history-form [type=submit]")                                 # 19
        rows = page.locator("#history-table tbody tr")
        expect(rows).to_have_count(4, timeout=WAIT_MS)
        times = [float(t) for t in page.locator("#history-table tbody td:nth-child(7)").all_inner_texts()]
        self.assertTrue(times[1] > times[0] and times[3] > times[2], times)  # each write took some time
        self.assertEqual(self.script_errors(), [])

    def test_history_panel_links_the_verdict_page_of_the_key_typed(self):
        """The history panel links the checker's picture (GET /check/view), following the key typed."""
        page = self.open()
        link = page.locator("#history-verdict-link")
        expect(link).to_be_visible()
        expect(link).to_have_attribute("href", "/check/view")
        page.fill("#history-key", "color")
        expect(link).to_have_attribute("href", "/check/view?key=color")

    def test_lab10_shopping_cart_from_the_page(self):
        """Lab 10: concurrent carts become siblings with dots, a write-back with the context merges them."""
        page = self.open(1280, 900, scheduler="off", conflicts="siblings")
        s = PageSteps(page)
        summary = page.locator("#siblings-summary")
        siblings = page.locator("#sibling-list li")
        s.kv("write", "cart", '["milk"]')                                          # 1
        expect(summary).to_contain_text("dot {node-1: 1}; supersedes nothing", timeout=WAIT_MS)
        self.assertIn("node-1, node-3, node-4", s.inspect("cart"))               # 2
        s.partition({1, 2})                                                       # 3

        def write_back(value, coordinator="", w="", use=None):
            if use is not None:
                page.locator(f'#context-list .use-context[data-index="{use}"]').click()
            s.fill(wb_value=value, wb_w=w)
            page.select_option("#wb-coordinator", str(coordinator))
            page.click("#writeback-form [type=submit]")
            expect(page.locator("#pending-list li").first).to_contain_text("write back", timeout=WAIT_MS)
            expect(page.locator("#pending-list li").first).not_to_contain_text("pending", timeout=WAIT_MS)

        write_back('["eggs","milk"]', coordinator=1)                              # 4: context of step 1
        expect(summary).to_contain_text("supersedes what its context saw: {node-1: 1}", timeout=WAIT_MS)
        write_back('["bread","milk"]', coordinator=3, use=1)                      # 5: step 1's context again
        expect(summary).to_contain_text("dot {node-3: 1}; supersedes what its context saw: {node-1: 1}",
                                        timeout=WAIT_MS)
        s.heal()                                                                  # 6
        s.kv("read", "cart", r=3)                                                 # 7: two siblings
        expect(siblings).to_have_count(2, timeout=WAIT_MS)
        expect(page.locator('#sibling-list [data-dot="{node-1: 2}"]')).to_contain_text('["eggs","milk"]')
        expect(page.locator('#sibling-list [data-dot="{node-3: 1}"]')).to_contain_text('["bread","milk"]')
        expect(page.locator("#siblings-conflict")).to_contain_text("concurrent")
        expect(page.locator("#op-result")).to_contain_text('value readnull')
        page.click("#inspect-form button")  # the inspector shows each replica's siblings
        expect(page.locator("#replica-table .inspector-siblings").first.locator("li")).to_have_count(2, timeout=WAIT_MS)
        s.shoot("#siblings-panel", "dashboard-siblings.png")
        page.click("#wb-union")                                                   # 8: merge by union
        self.assertEqual(page.input_value("#wb-value"), '["bread","eggs","milk"]')
        write_back('["bread","eggs","milk"]')
        s.kv("read", "cart", r=3)                                                 # 9
        expect(siblings).to_have_count(1, timeout=WAIT_MS)
        expect(siblings).to_contain_text('["bread","eggs","milk"]')
        s.partition({1, 2})                                                       # 10
        write_back('["bread","eggs"]', coordinator=1)                             # 11: Alice removes milk
        write_back('["bread","eggs","jam","milk"]', coordinator=3, use=1)         # 12: Bob, step 9's context
        s.heal()                                                                  # 13
        s.kv("read", "cart", r=3)                                                 # 14
        expect(siblings).to_have_count(2, timeout=WAIT_MS)
        page.click("#wb-union")                                                   # 15: milk is back
        self.assertEqual(page.input_value("#wb-value"), '["bread","eggs","jam","milk"]')
        write_back('["bread","eggs","jam","milk"]')
        s.kv("read", "cart")                                                      # 16
        expect(siblings).to_have_count(1, timeout=WAIT_MS)
        page.click("#net-pause")                                                  # 17
        expect(page.locator("#step-status")).to_contain_text("paused", timeout=WAIT_MS)
        write_back('["bread","eggs","jam","milk","tea"]', coordinator=1, w=1)     # 18: W=1 answers at once
        held = page.locator("#held-list li")                                      # 19
        expect(held).to_have_count(2, timeout=WAIT_MS)
        for item in held.all():
            expect(item).to_contain_text("context {node-1: 6, node-3: 2}")
        expect(page.locator("#spacetime .msg-flight.msg-kind-put")).to_have_count(2)
        page.click("#net-resume")                                                 # 20
        expect(held).to_have_count(0, timeout=WAIT_MS)
        s.kv("read", "cart", r=3)                                                 # 21
        expect(siblings).to_have_count(1, timeout=WAIT_MS)
        expect(siblings).to_contain_text("tea")
        self.assertEqual(self.script_errors(), [])


if __name__ == "__main__":
    unittest.main()
