"""GET /events/shiviz: the event log as a ShiViz log whose vector clocks agree with the arrows."""
import json
import re
import unittest

from tests.helpers import make_app, write

# ShiViz's default regular expression, (?<event>.*)\n(?<host>\S*) (?<clock>{.*}), in Python's syntax.
SHIVIZ = re.compile(r"(?P<event>.*)\n(?P<host>\S*) (?P<clock>{.*})")


def run_with_faults(client):
    """A 5-node run with a skew, a partition, a crash, duplicates and step mode."""
    write(client, "color", "blue")
    client.post("/nodes/1/clock", json={"skew_ms": -500})
    client.post("/partition", json={"groups": [[1, 2]]})
    client.post("/fail/3?mode=crash")
    write(client, "color", "red", coordinator=1)
    client.post("/recover/3")
    client.post("/heal")
    client.post("/faults/network", json={"duplicate_rate": 1.0})
    write(client, "size", "L")
    client.delete("/faults")
    client.post("/network/pause")
    client.post("/network/step")


def parse(text):
    """The (event, host, clock) entries of a log, and whether the regex consumed all of it."""
    entries: list = []
    end = 0
    for match in SHIVIZ.finditer(text):
        if text[end:match.start()].strip():
            return entries, False
        entries.append((match["event"], match["host"], json.loads(match["clock"])))
        end = match.end()
    return entries, not text[end:].strip()


class ShivizExportTest(unittest.TestCase):
    """The export parses with ShiViz's regex and its clocks follow every arrow of /events."""

    def setUp(self):
        self.app, self.client = make_app()
        run_with_faults(self.client)
        answer = self.client.get("/events/shiviz")
        self.assertEqual(answer.status_code, 200)
        self.text = answer.get_data(as_text=True)
        self.entries, self.whole = parse(self.text)
        self.events = self.client.get("/events?limit=1000").get_json()["events"]

    def test_every_event_parses_with_shiviz_default_regex(self):
        """Each event of the run is one entry the default regex matches, nothing left over."""
        self.assertTrue(self.whole, "some text of the log does not match ShiViz's regex")
        self.assertEqual(len(self.entries), len(self.events))
        self.assertEqual([e[0].split()[0] for e in self.entries], [f"#{e['seq']}" for e in self.events])
        self.assertTrue(all("\n" not in e[0] for e in self.entries))

    def test_each_host_ticks_its_own_entry_by_one(self):
        """A host's own clock entry counts its events 1, 2, 3... as ShiViz requires."""
        seen: dict = {}
        for _, host, clock in self.entries:
            seen[host] = seen.get(host, 0) + 1
            self.assertEqual(clock[host], seen[host], (host, clock))
        self.assertIn("control", seen)  # the partition, the heal...

    def test_clocks_are_consistent_with_the_arrows(self):
        """Each delivery's clock dominates its send's, and no clock knows a future event of another host."""
        sends: dict = {}
        deliveries = 0
        counts = {}
        for (_, host, clock), event in zip(self.entries, self.events):
            counts[host] = clock[host]
            for other, count in clock.items():
                self.assertLessEqual(count, counts.get(other, 0), (event["seq"], other))
            msg = event["details"].get("msg_id")
            if event["type"] in ("message_sent", "message_duplicated"):
                original = event["details"].get("original_id")
                sends[msg] = sends.get(original, clock) if original else clock
            elif event["type"] == "message_delivered":
                sent = sends[msg]
                self.assertEqual(host, event["nodes"][1])
                self.assertTrue(all(clock.get(h, 0) >= c for h, c in sent.items()), (msg, sent, clock))
                self.assertGreater(clock[event["nodes"][1]], sent.get(event["nodes"][1], 0))
                deliveries += 1
        self.assertGreater(deliveries, 20)
        kinds = {e["type"] for e in self.events}
        self.assertTrue({"message_duplicated", "message_dropped", "node_failed", "partition"} <= kinds, kinds)

    def test_limit_is_checked_and_the_regex_is_named(self):
        """?limit= bounds the export; a bad limit is a JSON 400; the answer names the regex."""
        answer = self.client.get("/events/shiviz?limit=5")
        self.assertEqual(len(parse(answer.get_data(as_text=True))[0]), 5)
        self.assertIn("(?<host>", answer.headers["X-ShiViz-Regex"])
        bad = self.client.get("/events/shiviz?limit=0")
        self.assertEqual(bad.status_code, 400)
        self.assertIn("message", bad.get_json())


if __name__ == "__main__":
    unittest.main()
