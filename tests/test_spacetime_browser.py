"""The space-time diagram in headless Chromium: its arrows against /events, step mode, exports, load.

Frame time at 200 events/s and heap use over 100,000 events are measured and printed
(run with `python -m pytest tests/test_spacetime_browser.py -s` to read them); the
tests assert what the diagram draws and how much it keeps, never a duration.
"""
import json
import os
import re
import threading
import time
import unittest
import xml.etree.ElementTree as ElementTree

import requests

from tests.browser import BROWSER_MISSING, SHOTS, WAIT_MS, BrowserCase, expect

SHIVIZ = re.compile(r"(?P<event>.*)\n(?P<host>\S*) (?P<clock>{.*})")
ARROWS_JS = """() => [...document.querySelectorAll('#spacetime .arrow')].map((g) => ({
    id: Number(g.dataset.msgId), from: Number(g.dataset.from), to: Number(g.dataset.to),
    sent: Number(g.dataset.sent), status: g.dataset.status,
    delivered: g.dataset.delivered === '' ? null : Number(g.dataset.delivered)}))"""


def expected_arrows(events):
    """What the diagram must draw for each message of /events: lanes, send time, fate and its time."""
    arrows: dict = {}
    for e in events:
        if not e["type"].startswith("message_"):
            continue
        d = e["details"]
        src, dst = (int(name.split("-")[1]) for name in e["nodes"])
        arrow = arrows.setdefault(d["msg_id"], {"id": d["msg_id"], "from": src, "to": dst,
                                                "sent": e["time_ms"], "status": "flight", "delivered": None})
        if e["type"] == "message_delivered":
            arrow.update(status="delivered", delivered=e["time_ms"])
        elif e["type"] == "message_dropped":
            arrow.update(status="dropped", delivered=e["time_ms"])
    return arrows


@unittest.skipIf(BROWSER_MISSING, BROWSER_MISSING)
class SpacetimeBrowserTest(BrowserCase):
    """The Messages panel's space-time diagram, driven by a live server."""

    browser_args = ["--enable-precise-memory-info", "--js-flags=--expose-gc"]

    def all_events(self):
        events, since = [], 0
        while True:
            page = self.server.get(f"/events?since={since}&limit=1000")
            events += page["events"]
            if not page["more"]:
                return events
            since = page["next_since"]

    def test_arrows_match_events_for_a_partition_a_crash_and_step_mode(self):
        """A 5-node run with a skew, a partition, a crash, duplicates and step mode draws one arrow per message
        of /events, from its sender's lane at its send time to its receiver's at its delivery time; a held
        message is in flight until delivered from the diagram."""
        page = self.open(1280, 1000)
        s = self.server
        s.post("/write", {"key": "color", "value": "blue"})
        s.post("/nodes/1/clock", {"skew_ms": -500})
        s.post("/partition", {"groups": [[1, 2], [0, 3, 4]]})
        s.post("/fail/3?mode=crash")
        s.post("/write", {"key": "color", "value": "red", "coordinator": 1})
        s.post("/recover/3")
        s.post("/heal")
        s.post("/faults/network", {"duplicate_rate": 1.0, "delay_ms": [30, 40]})
        s.post("/write", {"key": "size", "value": "L"})
        requests.delete(s.url + "/faults", timeout=10)
        s.post("/network/pause")
        writer = threading.Thread(target=s.post, args=("/write", {"key": "size", "value": "XL"}))
        writer.start()
        held = page.locator("#spacetime .msg-flight")
        expect(held).to_have_count(2, timeout=WAIT_MS)
        first = held.first.get_attribute("data-msg-id")
        held.first.dispatch_event("click")
        page.click("#msg-detail .st-deliver")                # deliver it from the diagram
        arrow = page.locator(f'#spacetime .arrow[data-msg-id="{first}"]')
        expect(arrow).to_have_attribute("data-status", "delivered", timeout=WAIT_MS)
        expect(page.locator("#spacetime .msg-flight")).to_have_count(2, timeout=WAIT_MS)  # the other put, an ack
        self.shoot_diagram(page, "dashboard-spacetime.png")
        events = self.all_events()
        expected = expected_arrows(events)
        last_msg = max(expected)
        expect(page.locator(f'#spacetime .arrow[data-msg-id="{last_msg}"]')).to_have_count(1, timeout=WAIT_MS)
        drawn = {a["id"]: a for a in page.evaluate(ARROWS_JS)}
        self.assertEqual(drawn, expected)
        self.assertEqual({a["status"] for a in drawn.values()}, {"delivered", "dropped", "flight"})
        self.assertTrue(page.locator("#spacetime .msg-dup").count() > 0)
        self.assertTrue(page.locator("#spacetime .msg-delayed").count() > 0)
        marks = page.locator("#spacetime .st-mark").evaluate_all(
            "(ms) => ms.map((m) => m.dataset.mark + ':' + m.dataset.seq)")
        for kind, event_type in (("fail", "node_failed"), ("recover", "node_recovered"), ("skew", "clock_skew"),
                                 ("wide", "partition"), ("wide", "partition_healed"), ("request", "write_started"),
                                 ("answer", "write_succeeded")):
            seqs = [e["seq"] for e in events if e["type"] == event_type]
            self.assertTrue(seqs and all(f"{kind}:{seq}" in marks for seq in seqs), (kind, event_type))
        page.click("#net-resume")
        writer.join(timeout=10)
        expect(page.locator("#spacetime .msg-flight")).to_have_count(0, timeout=WAIT_MS)
        self.assertEqual(self.errors, [])

    def test_held_and_dropped_arrows_point_at_their_destination_lane(self):
        """A held or dropped arrow ends nearer its destination's lane than any other, heading toward it, and the
        time labels, crash label and network line keep clear of lanes, the edge and the clients' labels."""
        page = self.open(1000, 900)
        s = self.server
        s.post("/fail/4?mode=crash")                                 # color lives on node-1, node-4, node-0
        s.post("/write", {"key": "color", "value": "blue", "coordinator": 1})  # its put to node-4 is dropped
        s.post("/recover/4")
        s.post("/network/pause")
        writer = threading.Thread(target=s.post, args=("/write", {"key": "color", "value": "red", "coordinator": 1}))
        writer.start()
        expect(page.locator("#spacetime .msg-flight")).to_have_count(2, timeout=WAIT_MS)
        put = page.locator('#spacetime .msg-flight[data-to="4"]')
        put.dispatch_event("click")
        page.click("#msg-detail .st-deliver")                      # node-4 stores it: its ack to node-1 is held
        expect(page.locator('#spacetime .msg-flight[data-from="4"][data-to="1"]')).to_have_count(1, timeout=WAIT_MS)
        self.shoot_diagram(page, "dashboard-spacetime-held.png")
        geometry = page.evaluate("""() => {
            const lanes = [...document.querySelectorAll('#spacetime .st-lane:not(.st-lane-client)')]
                .map((l) => Number(l.getAttribute('x1')));
            const arrows = [...document.querySelectorAll('#spacetime .arrow.msg-flight, #spacetime .arrow.msg-dropped')]
                .map((g) => { const shaft = g.querySelector('.shaft');
                    return {from: Number(g.dataset.from), to: Number(g.dataset.to), status: g.dataset.status,
                            x1: Number(shaft.getAttribute('x1')), x2: Number(shaft.getAttribute('x2')),
                            label: g.textContent}; });
            const box = (q) => [...document.querySelectorAll(q)].map((t) => {
                const r = t.getBoundingClientRect();
                return {left: r.left, right: r.right, top: r.top, bottom: r.bottom}; });
            const svg = document.querySelector('#spacetime .st-underlay').getBoundingClientRect();
            return {lanes, arrows, svgLeft: svg.left, svgRight: svg.right, times: box('#spacetime .st-time'),
                    laneLabels: box('#spacetime .st-lane-label'),
                    wide: box('#spacetime .st-wide-label, #spacetime .st-wide-line'),
                    clients: box('#spacetime .st-client-label')};
        }""")
        lanes = geometry["lanes"]
        self.assertEqual(len(lanes), 5)
        statuses = sorted((a["from"], a["to"], a["status"]) for a in geometry["arrows"])
        self.assertIn((1, 4, "dropped"), statuses)
        self.assertIn((4, 1, "flight"), statuses)
        for arrow in geometry["arrows"]:
            with self.subTest(arrow=arrow):
                end, target = arrow["x2"], lanes[arrow["to"]]
                nearest = min(range(len(lanes)), key=lambda lane: abs(lanes[lane] - end))
                self.assertEqual(nearest, arrow["to"])
                self.assertLess(abs(end - target), min(abs(end - x) for i, x in enumerate(lanes) if i != arrow["to"]))
                self.assertGreater((end - arrow["x1"]) * (target - arrow["x1"]), 0)  # heading toward it
                if arrow["status"] == "flight":
                    self.assertIn(f"in flight to node-{arrow['to']}", arrow["label"])
        last_lane = geometry["svgLeft"] + lanes[-1]
        self.assertTrue(geometry["times"])
        for label in geometry["times"]:
            self.assertGreater(label["left"], last_lane + 4)            # in the gutter, off node-4's lane
            self.assertLessEqual(label["right"], geometry["svgRight"])
        for label in geometry["laneLabels"]:
            self.assertLessEqual(label["right"], geometry["svgRight"])  # "✕ crash" is not cut off
        for wide in geometry["wide"]:
            for client in geometry["clients"]:
                overlap = (wide["left"] < client["right"] and client["left"] < wide["right"]
                           and wide["top"] < client["bottom"] and client["top"] < wide["bottom"])
                self.assertFalse(overlap, (wide, client))
        page.click("#net-resume")
        writer.join(timeout=10)
        self.assertEqual(self.errors, [])

    def test_an_arrows_story_is_the_story_the_write_answered(self):
        """Clicking an arrow of a write that used a stand-in lists the same story lines as the write's JSON answer."""
        page = self.open()
        self.server.post("/fail/4")                                   # color's put to node-4 goes to a stand-in
        answer = self.server.post("/write", {"key": "color", "value": "blue", "coordinator": 1}).json()
        self.assertIn("hint", " ".join(answer["story"]))
        arrow = page.locator("#spacetime .arrow").first
        expect(arrow).to_have_count(1, timeout=WAIT_MS)
        arrow.dispatch_event("click")
        lines = page.locator("#msg-detail .story li")
        expect(lines).to_have_count(len(answer["story"]), timeout=WAIT_MS)
        shown = [re.sub(r"^#\d+ t=\d+ms ", "", text) for text in lines.all_inner_texts()]
        self.assertEqual(shown, answer["story"])
        self.assertEqual(self.errors, [])

    def shoot_diagram(self, page, name):
        """The Messages panel scrolled to the run's beginning (the skew, the partition, the crash)."""
        page.locator("#notices").evaluate("(box) => box.replaceChildren()")
        page.locator("#msg-scroll").evaluate("(box) => { box.scrollTop = 0; }")
        page.locator("#messages-panel").screenshot(path=os.path.join(SHOTS, name))

    def test_exports_svg_and_shiviz_log(self):
        """Export SVG downloads the drawn arrows as standalone SVG; the ShiViz link downloads a parsable log."""
        page = self.open()
        for key in ("a", "b"):
            self.server.post("/write", {"key": key, "value": 1})
        expect(page.locator("#spacetime .arrow")).to_have_count(8, timeout=WAIT_MS)
        with page.expect_download() as download:
            page.click("#msg-export-svg")
        svg = ElementTree.parse(download.value.path()).getroot()
        self.assertEqual(svg.tag, "{http://www.w3.org/2000/svg}svg")
        shafts = svg.findall(".//{http://www.w3.org/2000/svg}line[@class='shaft']")
        self.assertEqual(len(shafts), 8)
        self.assertTrue(all(line.get("stroke") not in (None, "", "none") for line in shafts))
        with page.expect_download() as download:
            page.click("#msg-export-shiviz")
        with open(download.value.path(), encoding="utf-8") as handle:
            entries = [(m["host"], json.loads(m["clock"])) for m in SHIVIZ.finditer(handle.read())]
        self.assertEqual(len(entries), self.server.get("/events?limit=1")["last_seq"])
        self.assertEqual(self.errors, [])

    def test_frame_time_at_200_events_per_second(self):
        """At about 200 events/s for 6 s the page keeps drawing frames and follows the newest arrow.

        Prints the frame intervals (median, 95th percentile, worst) and the longest diagram update.
        """
        page = self.open()
        page.evaluate("""() => {
            window.__frames = [];
            let last = performance.now();
            const loop = (now) => { window.__frames.push(now - last); last = now; requestAnimationFrame(loop); };
            requestAnimationFrame(loop);
        }""")
        first_seq = self.server.get("/events?limit=1")["last_seq"]
        start = time.monotonic()
        i = 0
        while time.monotonic() - start < 6:
            self.server.post("/write", {"key": f"k{i % 50}", "value": i})
            i += 1
            produced = self.server.get("/events?limit=1")["last_seq"] - first_seq
            ahead = produced / 200 - (time.monotonic() - start)  # seconds ahead of 200 events/s
            if ahead > 0:
                time.sleep(ahead)
        elapsed = time.monotonic() - start
        last = self.server.get("/events?limit=1")["last_seq"]
        msg = [e for e in self.server.get(f"/events?since={last - 20}")["events"] if e["type"] == "message_delivered"]
        expect(page.locator(f'#spacetime .arrow[data-msg-id="{msg[-1]["details"]["msg_id"]}"]')).to_have_count(
            1, timeout=WAIT_MS)
        frames = sorted(page.evaluate("window.__frames")[5:])
        self.assertGreater(len(frames), 60)
        rate = (last - first_seq) / elapsed
        print(f"\nspace-time diagram at {rate:.0f} events/s over {elapsed:.1f} s: {len(frames)} frames, "
              f"frame interval median {frames[len(frames) // 2]:.1f} ms, p95 {frames[int(len(frames) * .95)]:.1f} ms, "
              f"worst {frames[-1]:.1f} ms")
        self.assertGreater(rate, 150)

    def test_memory_stays_bounded_over_100k_events(self):
        """100,000 events fed to the diagram keep at most 1,500 arrows in memory and in the DOM, paused or not.

        Prints the JS heap after 20,000 and after 100,000 events (after garbage collection).
        """
        page = self.open()
        figures = page.evaluate("""async () => {
            const st = await import('/static/js/spacetime.js');
            const heap = () => { window.gc(); return performance.memory.usedJSHeapSize; };
            let seq = 1000000, id = 1000000, t = 0;
            const batch = () => {
                const events = [];
                for (let i = 0; i < 250; i++) {
                    const from = i % 5, to = (i + 2) % 5;
                    const nodes = [`node-${from}`, `node-${to}`];
                    const details = {msg_id: ++id, kind: "put", op_id: id, latency_ms: 3};
                    events.push({seq: ++seq, time_ms: t, type: "message_sent", nodes, key: "k", text: "sent", details});
                    t += 1;
                    events.push({seq: ++seq, time_ms: t, type: "message_delivered", nodes, key: "k", text: "delivered",
                                 details});
                }
                st.addSpacetimeEvents(events);
            };
            const sizes = {};
            for (let n = 0; n < 200; n++) {
                batch();
                if (n === 39) sizes.heap20k = heap();
            }
            sizes.heap100k = heap();
            sizes.arrows = st.timeline().arrows.size;
            sizes.marks = st.timeline().marks.length;
            sizes.forgotten = st.timeline().forgotten;
            sizes.dom = document.querySelectorAll('#spacetime *').length;
            sizes.drawn = document.querySelectorAll('#spacetime .arrow').length;
            document.getElementById('msg-pause').click();  // paused, the model follows and stays bounded
            for (let n = 0; n < 40; n++) batch();
            sizes.pendingWhilePaused = st.timeline().evicted.length;
            document.getElementById('msg-pause').click();
            sizes.drawnAfterResume = document.querySelectorAll('#spacetime .arrow').length;
            sizes.newestDrawn = document.querySelectorAll(`#spacetime .arrow[data-msg-id="${id}"]`).length;
            return sizes;
        }""")
        print(f"\nspace-time diagram memory: JS heap {figures['heap20k'] / 2**20:.1f} MiB after 20,000 events, "
              f"{figures['heap100k'] / 2**20:.1f} MiB after 100,000; {figures['arrows']} arrows kept, "
              f"{figures['forgotten']} forgotten, {figures['dom']} SVG elements")
        self.assertEqual(figures["arrows"], 1500)
        self.assertEqual(figures["drawn"], 1500)
        self.assertGreaterEqual(figures["forgotten"], 48500)
        self.assertLessEqual(figures["marks"], 600)
        self.assertLess(figures["dom"], 1500 * 5 + 600 * 4 + 50)
        self.assertLessEqual(figures["pendingWhilePaused"], 1500)
        self.assertEqual((figures["drawnAfterResume"], figures["newestDrawn"]), (1500, 1))
        self.assertEqual(self.errors, [])


if __name__ == "__main__":
    unittest.main()
