"""GET /metrics: the cluster's numbers in Prometheus text format (prometheus-client).

Each app has its own CollectorRegistry (every test builds a fresh app; the
library's global registry would mix them). Three sources, each cheap per request:
- HTTP requests by route (the URL rule, never the raw path: keys would make a
  label value per key), method and status, with a latency histogram; and client
  operations (write, read, delete) by their outcome as the client saw it;
- counts from the event log: a listener adds one to a plain counter per event
  (O(1), under the cluster lock every event is emitted with);
- gauges read at scrape time: nodes up, hints pending, event log size.
"""
from __future__ import annotations

import threading
import time
from typing import Dict

from flask import Blueprint, Response, current_app, g, request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

bp = Blueprint("metrics", __name__)

# Every label comes from a closed set, so no client can add series (each is kept for the
# life of the process): routes are URL rules, methods are these or "other".
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"})
NO_ROUTE = "(no route)"
OPERATIONS = {"kv.write": "write", "kv.read": "read", "kv.delete": "delete"}
OUTCOMES = {200: "ok", 404: "not_found", 503: "no_quorum", 504: "timeout"}  # other 4xx: "rejected"
MESSAGE_FATES = {"message_sent": "sent", "message_delivered": "delivered",
                 "message_dropped": "dropped", "message_duplicated": "duplicated"}
# Requests take from a fraction of a millisecond (a read) to seconds (a paused network).
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


class EventTally:
    """Counts events by type as they are emitted, plus the keys anti-entropy moved."""

    def __init__(self) -> None:
        self.by_type: Dict[str, int] = {}
        self.anti_entropy_keys = 0

    def __call__(self, event) -> None:
        """Count one event (called by the event log for every event)."""
        self.by_type[event.type] = self.by_type.get(event.type, 0) + 1
        if event.type == "anti_entropy":
            details = event.details
            self.anti_entropy_keys += details["pushed"] + details["pulled"]


class ClusterCollector:
    """The event counts and the scrape-time gauges of one cluster, as metric families."""

    def __init__(self, metrics: Metrics):
        self.metrics = metrics
        self.tally = metrics.tally

    def collect(self):
        """Yield every cluster metric family (prometheus_client calls this at each scrape)."""
        counts = dict(self.tally.by_type)
        messages = CounterMetricFamily("replicalab_messages", "Node-to-node messages by fate.", labels=["fate"])
        for event_type, fate in MESSAGE_FATES.items():
            messages.add_metric([fate], counts.get(event_type, 0))
        yield messages
        events = CounterMetricFamily("replicalab_events", "Events in the event log, by type.", labels=["type"])
        for event_type in sorted(counts):
            events.add_metric([event_type], counts[event_type])
        yield events
        yield CounterMetricFamily("replicalab_read_repairs", "Stale replicas sent the newest record by a read.",
                                  value=counts.get("read_repair", 0))
        yield CounterMetricFamily("replicalab_hints_stored", "Records a stand-in kept as a hint.",
                                  value=counts.get("hint_stored", 0))
        yield CounterMetricFamily("replicalab_hints_delivered", "Hints handed back to their owner.",
                                  value=counts.get("hint_delivered", 0))
        yield CounterMetricFamily("replicalab_anti_entropy_keys_transferred",
                                  "Keys pushed or pulled by Merkle-tree anti-entropy.",
                                  value=self.tally.anti_entropy_keys)
        yield from self._gauges()

    def _gauges(self):
        manager = self.metrics.follow_cluster()
        up = GaugeMetricFamily("replicalab_node_up", "1 when the node is up, 0 when failed.", labels=["node"])
        hints = GaugeMetricFamily("replicalab_hints_pending", "Hints a node holds for other nodes.",
                                  labels=["node"])
        with manager.lock:  # a consistent picture; the cluster holds it only briefly
            for node in manager.handles:
                up.add_metric([node.name], 1 if manager.is_up(node.node_id) else 0)
                hints.add_metric([node.name], node.hint_count())
            retained = manager.events.last_seq - manager.events.first_seq + 1
            in_flight = manager.network.in_flight
            unrecorded = manager.scenario.not_recorded
        yield up
        yield hints
        yield GaugeMetricFamily("replicalab_messages_in_flight", "Messages on the wire (held, in step mode).",
                                value=in_flight)
        yield GaugeMetricFamily("replicalab_event_log_events", "Events kept in memory for /events.",
                                value=retained)
        yield GaugeMetricFamily("replicalab_scenario_requests_not_recorded",
                                "Requests past the scenario record's memory budget.", value=unrecorded)


class Metrics:
    """The metrics of one app: its registry, its HTTP instruments and its cluster collector."""

    def __init__(self, extensions: dict):
        self._extensions = extensions  # the app's: POST /reset puts a new cluster there
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter("replicalab_http_requests", "HTTP requests by route, method and status.",
                                ["route", "method", "status"], registry=self.registry)
        self.latency = Histogram("replicalab_http_request_duration_seconds",
                                 "Time to handle a request, by route and method.", ["route", "method"],
                                 buckets=LATENCY_BUCKETS, registry=self.registry)
        self.operations = Counter("replicalab_operations", "Client operations by kind and the outcome "
                                  "the client saw: ok, no_quorum, timeout, not_found, rejected.",
                                  ["kind", "outcome"], registry=self.registry)
        self._series: dict = {}  # (endpoint, route, method, status) -> its counters, bounded by the routes
        self.tally = EventTally()
        self._followed = None
        self._following = threading.Lock()
        self.follow_cluster()
        self.registry.register(ClusterCollector(self))

    def follow_cluster(self):
        """The app's cluster now, its event log feeding the tally (subscribed again after a reset).

        Counters go on across POST /reset, as Prometheus expects of a process;
        only the events the new cluster emits while being built are not counted.
        """
        manager = self._extensions["replicalab"]
        if manager is not self._followed:
            with self._following:  # two requests seeing the new cluster must not subscribe twice
                if manager is not self._followed:
                    manager.events.subscribe(self.tally)
                    self._followed = manager
        return manager

    def observe(self, endpoint, route: str, method: str, status: int, seconds: float) -> None:
        """Count one finished request."""
        series = self._series.get((endpoint, route, method, status))
        if series is None:
            series = self._series.setdefault((endpoint, route, method, status),
                                             self._new_series(endpoint, route, method, status))
        count, histogram, operation = series
        count.inc()
        histogram.observe(seconds)
        if operation is not None:
            operation.inc()

    def _new_series(self, endpoint, route: str, method: str, status: int):
        """The labelled children one kind of request updates (looked up once, not per request)."""
        kind = OPERATIONS.get(endpoint)
        outcome = OUTCOMES.get(status, "rejected" if status < 500 else "error")
        return (self.requests.labels(route, method, str(status)), self.latency.labels(route, method),
                self.operations.labels(kind, outcome) if kind else None)


@bp.record_once
def _install(state) -> None:
    """Give the app its own metrics when the blueprint is registered (after the cluster is built)."""
    state.app.extensions["replicalab_metrics"] = Metrics(state.app.extensions)


@bp.before_app_request
def _start_clock() -> None:
    g.metrics_started = time.perf_counter()


@bp.after_app_request
def _count(response):
    started = g.get("metrics_started")
    if started is not None:
        rule = request.url_rule
        metrics = current_app.extensions["replicalab_metrics"]
        metrics.follow_cluster()  # after a POST /reset, count the new cluster's events from now on
        method = request.method if request.method in METHODS else "other"
        metrics.observe(request.endpoint if rule is not None else None, rule.rule if rule is not None else NO_ROUTE,
                        method, response.status_code, time.perf_counter() - started)
    return response


@bp.get("/metrics")
def metrics():
    """Prometheus metrics: requests, operations, messages, hints, repairs, anti-entropy, nodes up."""
    registry = current_app.extensions["replicalab_metrics"].registry
    return Response(generate_latest(registry), headers={"Content-Type": CONTENT_TYPE_LATEST})
