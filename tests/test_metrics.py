"""GET /metrics: Prometheus text that its own parser reads, with counters that follow the cluster."""
import unittest

from prometheus_client.parser import text_string_to_metric_families

from tests.helpers import make_app, write


def scrape(client) -> dict:
    """Every sample of GET /metrics as {(name, sorted labels): value}, parsed by prometheus_client."""
    response = client.get("/metrics")
    assert response.status_code == 200, response.status_code
    samples = {}
    for family in text_string_to_metric_families(response.get_data(as_text=True)):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples: dict, name: str, **labels) -> float:
    """One sample's value (0 when the series does not exist yet)."""
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


class MetricsTest(unittest.TestCase):
    """The /metrics counters move when requests and faults happen."""

    def test_requests_are_counted_by_route_not_by_key(self):
        """Reads of two keys count under one route label, with their status and a latency histogram."""
        app, client = make_app()
        write(client, "a/b", 1)
        write(client, "color", "blue")
        client.get("/read/a/b")
        client.get("/read/color")
        client.get("/read/missing")
        samples = scrape(client)
        route = next(rule.rule for rule in app.url_map.iter_rules() if rule.endpoint == "kv.read")
        self.assertEqual(value(samples, "replicalab_http_requests_total", route=route, method="GET",
                              status="200"), 2)
        self.assertEqual(value(samples, "replicalab_http_requests_total", route=route, method="GET",
                              status="404"), 1)
        self.assertEqual(value(samples, "replicalab_http_request_duration_seconds_count", route=route,
                               method="GET"), 3)
        self.assertFalse([key for key in samples if any("color" in v for _, v in key[1])])
        self.assertEqual(value(samples, "replicalab_operations_total", kind="write", outcome="ok"), 2)
        self.assertEqual(value(samples, "replicalab_operations_total", kind="read", outcome="not_found"), 1)

    def test_faults_move_the_cluster_counters(self):
        """A failed node shows as down; writes then drop messages and leave hints; recovery hands them back."""
        app, client = make_app()
        before = scrape(client)
        self.assertEqual(value(before, "replicalab_node_up", node="node-1"), 1)
        client.post("/fail/1")
        for i in range(20):
            write(client, f"k{i}", i)
        during = scrape(client)
        self.assertEqual(value(during, "replicalab_node_up", node="node-1"), 0)
        self.assertGreater(value(during, "replicalab_messages_total", fate="dropped"), 0)
        self.assertGreater(value(during, "replicalab_messages_total", fate="delivered"),
                           value(before, "replicalab_messages_total", fate="delivered"))
        pending = sum(value(during, "replicalab_hints_pending", node=f"node-{n}") for n in range(5))
        self.assertGreater(pending, 0)
        self.assertEqual(value(during, "replicalab_hints_stored_total"), pending)
        client.post("/recover/1")
        after = scrape(client)
        self.assertEqual(sum(value(after, "replicalab_hints_pending", node=f"node-{n}") for n in range(5)), 0)
        self.assertEqual(value(after, "replicalab_hints_delivered_total"), pending)

    def test_no_quorum_read_repair_and_anti_entropy_are_counted(self):
        """A 503 write counts as no_quorum; a stale replica read counts a repair; anti-entropy counts keys."""
        app, client = make_app(scheduler="off")
        write(client, "color", "blue")
        client.post("/fail/1?mode=wipe")
        client.post("/recover/1?catch_up=none")
        client.get("/read/color?r=3")
        client.post("/fail/1?mode=wipe")
        client.post("/recover/1?catch_up=none")
        client.post("/scheduler/run/anti_entropy")
        for node in (0, 2, 3, 4):
            client.post(f"/fail/{node}")
        self.assertEqual(write(client, "lost", 1).status_code, 503)
        samples = scrape(client)
        self.assertEqual(value(samples, "replicalab_operations_total", kind="write", outcome="no_quorum"), 1)
        self.assertGreaterEqual(value(samples, "replicalab_read_repairs_total"), 1)
        self.assertGreaterEqual(value(samples, "replicalab_anti_entropy_keys_transferred_total"), 1)

    def test_counters_follow_the_cluster_across_a_reset(self):
        """After POST /reset, gauges describe the new cluster and its messages are still counted."""
        app, client = make_app()
        client.post("/fail/1")
        write(client, "a", 1)
        before = scrape(client)
        self.assertEqual(client.post("/reset").status_code, 200)
        write(client, "b", 2)
        after = scrape(client)
        self.assertEqual(value(after, "replicalab_node_up", node="node-1"), 1)
        self.assertGreater(value(after, "replicalab_messages_total", fate="delivered"),
                           value(before, "replicalab_messages_total", fate="delivered"))
        self.assertEqual(value(after, "replicalab_operations_total", kind="write", outcome="ok"), 2)

    def test_each_app_has_its_own_registry(self):
        """Two apps in one process count their own requests only."""
        first_app, first = make_app()
        second_app, second = make_app()
        write(first, "a", 1)
        route = {"route": "/write", "method": "POST", "status": "200"}
        self.assertEqual(value(scrape(first), "replicalab_http_requests_total", **route), 1)
        self.assertEqual(value(scrape(second), "replicalab_http_requests_total", **route), 0)


if __name__ == "__main__":
    unittest.main()
