"""The event log as a ShiViz log: one entry per event, each with its host's vector clock.

ShiViz (https://bestchai.bitbucket.io/shiviz/) draws a space-time diagram from a
log whose entries match its default regular expression
`(?<event>.*)\\n(?<host>\\S*) (?<clock>{.*})`: a line of text, then the host and its
vector clock as JSON. The clocks follow Lamport's rules on the message events: every
event ticks its own host's entry; a delivery also takes the entry-wise maximum with
the clock its message was sent with, so an arrow always goes from a smaller clock to a
larger one. A duplicated copy carries the clock of its original's send. Events about
the whole cluster (a partition, a tick) happen on the `control` host, which sends no
message: they order nothing, as in the simulation they are the control plane's.
"""
from __future__ import annotations

import json
from typing import Dict, Iterable, List

CONTROL_HOST = "control"
# The regular expression ShiViz parses a log with by default (JavaScript named groups).
SHIVIZ_REGEX = r"(?<event>.*)\n(?<host>\S*) (?<clock>{.*})"
CONTROL_EVENTS = frozenset({"cluster_started", "cluster_reset", "partition", "partition_healed",
                            "network_fault", "faults_cleared", "network_paused", "network_resumed", "tick"})


def host_of(event) -> str:
    """The host an event happens on: a delivery on its receiver, a one-node event on its node."""
    nodes = event.nodes
    if event.type == "message_delivered":
        return f"node-{nodes[1]}"
    if not nodes or event.type in CONTROL_EVENTS:
        return CONTROL_HOST
    return f"node-{nodes[0]}"  # the sender, the coordinator, the failed node: who acted


def shiviz_entries(events: Iterable) -> List[dict]:
    """Each event as {"event", "host", "clock", "seq"}, clocks by Lamport's rules (see module doc)."""
    clocks: Dict[str, Dict[str, int]] = {}
    sent_with: Dict[int, Dict[str, int]] = {}  # msg_id -> the sender's clock at its send
    entries = []
    for event in events:
        host = host_of(event)
        clock = dict(clocks.get(host, {}))
        details = event.details
        msg_id = details.get("msg_id")
        if event.type == "message_delivered" and msg_id in sent_with:
            for other, count in sent_with.pop(msg_id).items():
                clock[other] = max(clock.get(other, 0), count)
        clock[host] = clock.get(host, 0) + 1
        clocks[host] = clock
        if event.type == "message_sent":
            sent_with[msg_id] = clock
        elif event.type == "message_duplicated":
            sent_with[msg_id] = sent_with.get(details.get("original_id"), clock)
        elif event.type == "message_dropped":
            sent_with.pop(msg_id, None)
        text = " ".join(f"#{event.seq} t={event.time_ms}ms {event.type}: {event.text}".split())
        entries.append({"event": text, "host": host, "clock": clock, "seq": event.seq})
    return entries


def shiviz_log(events: Iterable) -> str:
    """The ShiViz log text: per event, its text line, then `host {clock JSON}`."""
    return "".join(f"{e['event']}\n{e['host']} {json.dumps(e['clock'], sort_keys=True)}\n"
                   for e in shiviz_entries(events))
