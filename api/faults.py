"""Fault routes: fail/recover with crash kinds, partitions, links, network, clock skew.

Every route that changes the cluster is admin-only when a token is configured;
GET /faults is open so students can always see what is broken.
"""
from __future__ import annotations

from flask import Blueprint, request

from cluster import crash
from cluster.errors import BadRequest
from models import node_name
from wording import agrees, plural

from .common import admin_only, example, json_fields, manager, parse_node_id, success, with_story

bp = Blueprint("faults", __name__)


@bp.post("/fail/<raw_id>")
@admin_only
@example(path="/fail/2?mode=crash")
def fail(raw_id):
    """Take a node down: ?mode=stop (default), crash or wipe."""
    node_id = parse_node_id(raw_id)
    mode = request.args.get("mode", "stop")
    result, story = with_story(manager().fail, node_id, mode)
    return success(crash.sentence(result["node"]["name"], mode, result["lost"]) + ".", mode=mode, **result, **story)


@bp.post("/recover/<raw_id>")
@admin_only
def recover(raw_id):
    """Bring a node back; it receives its hints and syncs with its peers."""
    node_id = parse_node_id(raw_id)
    catch_up = request.args.get("catch_up", "all")
    if catch_up not in ("all", "none"):
        raise BadRequest(f"?catch_up= must be all (hints and sync, the default) or none (rejoin "
                         f"quietly), not {catch_up!r}.", field="catch_up")
    result, story = with_story(manager().recover, node_id, catch_up == "all")
    caught_up = sorted(set(result["hints_received"]) | set(result["pulled_keys"]))
    if catch_up == "none":
        # No catch-up ran, so "caught up on 0 keys" would claim a check that never happened.
        message = (f"{node_name(node_id)} recovered without catching up (catch_up=none): it holds only what "
                   "it had, until hint retry, read repair or anti-entropy bring it the rest.")
    elif getattr(manager().handles[node_id], "program", None):
        # A student's program: ReplicaLab's hints and sync are not part of its protocol.
        message = (f"{node_name(node_id)} recovered: its program runs again on its data directory "
                   "(REPLICALAB_DATA_DIR) and catches up by its own protocol, if it has one.")
    elif manager().network.paused and not result["peers_answered"]:
        # Its handoff and sync went out as messages that the paused network holds: nobody was silent.
        message = (f"{node_name(node_id)} recovered; the network is paused, so its hint handoff and sync "
                   "requests are held: GET /network/messages lists them, and delivering them (or POST "
                   "/network/resume) lets it catch up.")
    else:
        message = recovered_message(node_id, caught_up, result)
    return success(message, caught_up_keys=caught_up, **result, **story)


def recovered_message(node_id: int, caught_up: list, result: dict) -> str:
    """What a recovery learned, and no more: only peers that answered were asked, nothing proves completeness."""
    answered, silent = result["peers_answered"], result["peers_silent"]
    if caught_up:
        text = (f"{node_name(node_id)} recovered and caught up on {plural(len(caught_up), 'key')}: "
                f"{', '.join(caught_up[:10])}.")
    else:
        text = (f"{node_name(node_id)} recovered; no hint was waiting for it and "
                + (f"none of the {plural(len(answered), 'peer')} that answered had anything newer for it."
                   if answered else "no peer answered its sync."))
    if silent:
        text += (f" {', '.join(silent)} did not answer, so it may still lack what only "
                 f"{agrees(len(silent), 'that peer holds', 'they hold')}: hint retry, read repair and "
                 "anti-entropy catch that up later.")
    return text

PARTITION_EXAMPLE = '{"groups": [[0, 1], [2, 3, 4]]}'


@bp.post("/partition")
@admin_only
@example(body=PARTITION_EXAMPLE)
def partition():
    """Split the cluster: nodes in different groups cannot reach each other."""
    data = json_fields(("groups",), PARTITION_EXAMPLE)
    faults, story = with_story(manager().faults.partition, data.get("groups"))
    return success("Partitioned: " + " | ".join(", ".join(g) for g in faults["partition"]) + ".",
                   faults=faults, **story)


@bp.post("/heal")
@admin_only
def heal():
    """Remove the partition."""
    faults, story = with_story(manager().faults.heal)
    return success("Partition healed.", faults=faults, **story)


LINK_EXAMPLE = '{"down": true} or {"drop_rate": 0.3, "delay_ms": [5, 50]}'


@bp.post("/links/<raw_a>/<raw_b>")
@admin_only
@example(body=LINK_EXAMPLE)
def set_link(raw_a, raw_b):
    """Fault the one-way link a -> b."""
    data = json_fields(("down", "drop_rate", "delay_ms"), LINK_EXAMPLE)
    a, b = parse_node_id(raw_a), parse_node_id(raw_b)
    faults, story = with_story(manager().faults.set_link, a, b, data)
    return success(f"Link node-{a} -> node-{b} faulted (one way; node-{b} -> node-{a} is unchanged).",
                   faults=faults, **story)


@bp.delete("/links/<raw_a>/<raw_b>")
@admin_only
def clear_link(raw_a, raw_b):
    """Repair the one-way link a -> b."""
    a, b = parse_node_id(raw_a), parse_node_id(raw_b)
    faults, story = with_story(manager().faults.clear_link, a, b)
    return success(f"Link node-{a} -> node-{b} repaired.", faults=faults, **story)


NETWORK_EXAMPLE = '{"drop_rate": 0.1, "duplicate_rate": 0.05, "delay_ms": [0, 200]}'


@bp.post("/faults/network")
@admin_only
@example(body=NETWORK_EXAMPLE)
def network_faults():
    """Whole-network drop rate, duplicate rate and extra delay (which reorders messages)."""
    data = json_fields(("drop_rate", "duplicate_rate", "delay_ms"), NETWORK_EXAMPLE)
    faults, story = with_story(manager().faults.set_network, data)
    return success("Network faults set.", faults=faults, **story)


SKEW_EXAMPLE = '{"skew_ms": -5000}'


@bp.post("/nodes/<raw_id>/clock")
@admin_only
@example(body=SKEW_EXAMPLE)
def clock_skew(raw_id):
    """Skew one node's clock: versions it stamps move with it."""
    data = json_fields(("skew_ms",), SKEW_EXAMPLE)
    node_id = parse_node_id(raw_id)
    faults, story = with_story(manager().faults.set_skew, node_id, data.get("skew_ms"))
    return success(f"node-{node_id}'s clock skew is now {data.get('skew_ms')} ms.", faults=faults, **story)


@bp.get("/faults")
def faults():
    """Every active fault: down nodes, partition, links, network, skews, pause."""
    view = manager().faults.faults_view()
    active = any(value for value in view.values())
    return success("Active faults listed." if active else "No faults: a perfect network.", **view)


@bp.delete("/faults")
@admin_only
def clear_faults():
    """Clear every network fault and clock skew; failed nodes stay down."""
    result, story = with_story(manager().faults.clear_faults)
    return success("Network faults and clock skews cleared; recover failed nodes with "
                   "POST /recover/<id>.", **result, **story)
