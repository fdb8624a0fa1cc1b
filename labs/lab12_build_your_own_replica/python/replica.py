"""Lab 12 model answers (teacher's mode): one replica engine, three stages, planted bugs.

Stage 1, single copy: node_ids[0] holds the data; the others forward to it.
Stage 2, primary-backup: the primary sends each change to every backup it
  believes alive and answers once they all acknowledged; a backup that stops
  hearing the primary takes over by itself. Safe under crashes, split-brained
  under a partition: both sides elect a primary.
Stage 3, majority leader: a node becomes primary of a numbered view only once a
  majority joined the view and gave it their data; a change counts once a
  majority stored it; a read (and a cas that fails its compare) first checks
  with a majority that this node is still the primary. Linearizable.

Planted bugs (`--bug NAME`, see BUGS) break one rule each, so the grader can
show what that rule was for. State per key is [value, version]; a version is
[view, sequence], so any change of a later view wins.
"""
import argparse
import random
import sys

from node_loop import (
    KEY_DOES_NOT_EXIST,
    PRECONDITION_FAILED,
    TEMPORARILY_UNAVAILABLE,
    TIMEOUT,
    Node,
    Storage,
    key_name,
    log,
)

BUGS = {
    "ack-before-replicating": "stage 2: the primary answers the client before the backups have the change",
    "no-retry": "stage 2: a change is sent to each backup once; a backup whose acknowledgement does not come "
                "is taken for crashed instead of being sent the change again",
    "read-one-replica": "stage 3: any node answers a read from its own copy",
    "leader-never-steps-down": "stage 3: the primary answers reads from its copy without asking a majority "
                               "whether it is still the primary",
    "cas-compares-without-quorum": "stage 3: any node refuses a cas whose compare fails on its own copy",
}
HEARTBEAT_MS, SUSPECT_MS, RESEND_MS, ROUND_MS, FORWARD_MS = 100, 1500, 100, 1000, 2500
MAX_QUEUE = 200


class Replica:
    """read / write / cas over `stage` (1, 2 or 3), with at most one planted bug."""

    def __init__(self, stage, bug=None):
        self.stage, self.bug = stage, bug
        self.node = Node()
        for kind in ("read", "write", "cas"):
            self.node.on(kind, self.on_client)
        for kind in ("replicate", "prepare_view"):
            self.node.on(kind, getattr(self, f"on_{kind}"))
        self.node.on_start.append(self.start)
        self.store = None
        self.queue, self.busy = [], False  # the primary runs one client operation at a time
        self.sequence = 0
        self.heard = {}  # node -> self.node.now() of its last message (the node's clock: REPLICALAB_TIME_SCALE)
        self.preparing_since = 0.0  # when this node last asked the others to join its view

    # --- state -----------------------------------------------------------------------------

    @property
    def view(self):
        return self.store.state["view"]

    def primary(self, view=None):
        ids = self.node.node_ids
        return ids[(self.view if view is None else view) % len(ids)] if self.stage > 1 else ids[0]

    def ready(self):
        """Stage 3: a primary serves only once a majority's data is merged into its own ("led" view)."""
        return self.stage < 3 or self.primary() != self.node.node_id or self.store.state.get("led") == self.view

    def majority(self):
        return len(self.node.node_ids) // 2 + 1

    def start(self):
        """Load the state saved before a crash, and start the heartbeats and the failure detector."""
        # In view 0 everyone starts empty, so node_ids[0] leads it without gathering anything.
        first = self.node.node_id == self.node.node_ids[0]
        self.store = Storage(self.node.node_id, {"view": 0, "data": {}, "led": 0 if first else None})
        # Number new changes above every version on disk: after a restart in the same view, a counter
        # starting again at 0 would make new writes look older than the ones they replace.
        self.sequence = max((version[1] for _, version in self.store.state["data"].values()), default=0)
        self.heard = {peer: self.node.now() for peer in self.node.peers()}
        if self.stage > 1:
            self.node.after(HEARTBEAT_MS, self.tick)

    def value(self, key):
        return self.store.state["data"].get(key_name(key))

    def store_change(self, key, value, version):
        """Keep a change if it is newer than what this node holds; True if kept."""
        current = self.store.state["data"].get(key)
        if current is not None and current[1] >= version:
            return False
        self.store.state["data"][key] = [value, version]
        self.store.save()
        return True

    def adopt(self, view):
        if view > self.view:
            self.store.state["view"] = view
            self.store.save()

    # --- clients ---------------------------------------------------------------------------

    def on_client(self, request):
        body = request["body"]
        local = self.value(body["key"])
        if self.bug == "read-one-replica" and body["type"] == "read":
            return self.answer_read(request, local)
        if self.bug == "cas-compares-without-quorum" and body["type"] == "cas" and local is not None \
                and local[0] != body["from"]:
            return self.node.error(request, PRECONDITION_FAILED, f"the value is {local[0]!r}")
        if self.primary() != self.node.node_id:
            if body.get("hops", 0) >= 2:
                return self.node.error(request, TEMPORARILY_UNAVAILABLE, "no primary known; try again")
            body["hops"] = body.get("hops", 0) + 1
            return self.node.forward(request, self.primary(), FORWARD_MS)
        if not self.ready() or len(self.queue) >= MAX_QUEUE:
            return self.node.error(request, TEMPORARILY_UNAVAILABLE, "the primary is not ready; try again")
        self.queue.append(request)
        self.next_operation()

    def next_operation(self):
        if self.busy or not self.queue:
            return
        self.busy = True
        request = self.queue.pop(0)
        body = request["body"]
        if self.primary() != self.node.node_id or not self.ready():
            # Queued while this node led a view it has since left (a round heard of a newer one):
            # applied now, the change would carry the new view's number from a node that does not lead it.
            self.node.error(request, TEMPORARILY_UNAVAILABLE, "this node is no longer the primary; try again")
            self.busy = False
            return self.next_operation()
        key, current = key_name(body["key"]), self.value(body["key"])

        def finish(answer=None, code=None, text=""):
            if code is None:
                self.node.reply(request, answer)
            else:
                self.node.error(request, code, text)
            self.busy = False
            self.next_operation()

        if body["type"] == "read" or (body["type"] == "cas" and (current is None or current[0] != body["from"])):
            def after_check(ok):  # a read happens only if this node is still the primary
                if not ok:
                    return finish(code=TEMPORARILY_UNAVAILABLE, text="lost contact with a majority; not applied")
                if body["type"] == "read":
                    return self.answer_read(request, current, finish)
                if current is None:
                    return finish(code=KEY_DOES_NOT_EXIST, text="no such key")
                finish(code=PRECONDITION_FAILED, text=f"expected {body['from']!r}, the value is {current[0]!r}")
            if self.stage < 3 or self.bug == "leader-never-steps-down":
                return after_check(True)
            return self.round(None, after_check)
        value = body["value"] if body["type"] == "write" else body["to"]
        self.sequence += 1
        version = [self.view, self.sequence]
        before = self.store.state["data"].get(key)
        self.store_change(key, value, version)
        done = {"type": f"{body['type']}_ok"}
        if self.bug == "ack-before-replicating":
            finish(done)
            return self.round({"key": body["key"], "value": value, "version": version}, lambda ok: None)

        def after_replicate(ok):
            if ok:
                return finish(done)
            # Not on enough replicas: take it back here, so that no read of this node returns a value
            # a later primary may never have heard of (where it did land, it may still surface later).
            if self.store.state["data"].get(key, [None, None])[1] == version:
                if before is None:
                    del self.store.state["data"][key]
                else:
                    self.store.state["data"][key] = before
                self.store.save()
            finish(code=TIMEOUT, text="not enough replicas acknowledged in time; the change may still appear")
        # The change names the client's key as the client gave it: step mode lists it with that key.
        self.round({"key": body["key"], "value": value, "version": version}, after_replicate)

    def answer_read(self, request, record, finish=None):
        send = finish or (lambda answer=None, code=None, text="": (
            self.node.reply(request, answer) if code is None else self.node.error(request, code, text)))
        if record is None:
            return send(code=KEY_DOES_NOT_EXIST, text="no such key")
        send({"type": "read_ok", "value": record[0]})

    # --- replication rounds ------------------------------------------------------------------

    def needed_acks(self):
        """How many peers must acknowledge: stage 2 every peer believed alive, stage 3 a majority."""
        if self.stage == 1:
            return 0
        if self.stage == 2:
            now = self.node.now()
            return sum(1 for t in self.heard.values() if now - t < SUSPECT_MS / 1000)
        return self.majority() - 1

    def round(self, change, callback):
        """Send `change` (None: just "am I still the primary?") to every peer until enough acknowledge."""
        needed, acked, view, state = self.needed_acks(), set(), self.view, {"done": False}
        deadline = self.node.now() + ROUND_MS / 1000

        def settle(ok):
            if not state["done"]:
                state["done"] = True
                callback(ok)

        def on_ack(peer, answer):
            if state["done"] or answer is None:
                return
            if answer.get("view", view) > view:
                self.adopt(answer["view"])  # a newer view exists: step down
                return settle(False)
            acked.add(peer)
            if len(acked) >= needed:
                settle(True)

        def send_missing():
            if state["done"]:
                return
            if self.node.now() > deadline:
                return settle(False)
            for peer in self.node.peers():
                if peer not in acked:
                    self.node.rpc(peer, {"type": "replicate", "view": view, "change": change},
                                  lambda answer, peer=peer: on_ack(peer, answer), ROUND_MS)
            if self.bug != "no-retry":
                self.node.after(RESEND_MS, send_missing)

        if needed == 0:
            return settle(True)
        send_missing()
        if self.bug == "no-retry":  # silence is taken for a crash: the change counts as replicated
            self.node.after(ROUND_MS, lambda: settle(True))

    def on_replicate(self, message):
        body = message["body"]
        self.heard[message["src"]] = self.node.now()
        if body["view"] < self.view:
            return self.node.reply(message, {"type": "replicate_ok", "view": self.view})
        self.adopt(body["view"])
        change = body.get("change")
        if change and message["src"] == self.primary(body["view"]):  # only the view's primary makes changes
            self.store_change(key_name(change["key"]), change["value"], change["version"])
        self.node.reply(message, {"type": "replicate_ok", "view": self.view})

    # --- failure detection and views ----------------------------------------------------------

    def tick(self):
        """Primary: heartbeat. Backup: if the primary is silent, try to become primary of a later view."""
        self.node.after(HEARTBEAT_MS, self.tick)
        me = self.node.node_id
        if self.primary() == me and not self.ready() and self.node.now() - self.preparing_since > ROUND_MS / 1000:
            self.become_primary(self.view)  # the earlier attempt (or the one before a crash) did not finish
        if self.primary() == me:
            for peer in self.node.peers():
                self.node.rpc(peer, {"type": "replicate", "view": self.view, "change": None},
                              lambda answer, peer=peer: self.heard_from(peer, answer), HEARTBEAT_MS * 3)
            return
        silent_s = self.node.now() - self.heard.get(self.primary(), 0)
        patience = (SUSPECT_MS + 300 * self.node.node_ids.index(me) + random.randint(0, 200)) / 1000
        if silent_s > patience:
            view = next(v for v in range(self.view + 1, self.view + 1 + len(self.node.node_ids))
                        if self.primary(v) == me)
            self.heard[self.primary()] = self.node.now()  # wait a full patience before trying again
            self.become_primary(view)

    def heard_from(self, peer, answer):
        if answer is not None:
            self.heard[peer] = self.node.now()
            if answer.get("view", 0) > self.view:
                self.adopt(answer["view"])

    def become_primary(self, view):
        log(f"{self.node.node_id}: the primary is silent; trying to lead view {view}")
        self.adopt(view)
        if self.stage == 2:  # naive: take over without asking anyone
            return
        self.preparing_since, answers = self.node.now(), {}

        def complete_if_majority():
            if len(answers) + 1 >= self.majority():  # a majority's data includes every acknowledged change
                for data in answers.values():
                    for key, (value, version) in data.items():
                        self.store_change(key, value, version)
                self.store.state["led"] = view
                self.store.save()
                log(f"{self.node.node_id}: primary of view {view}")

        def on_answer(peer, answer):
            if answer is None or self.view != view or self.ready():
                return
            if answer.get("view", view) > view:
                return self.adopt(answer["view"])
            answers[peer] = answer["data"]
            complete_if_majority()
        for peer in self.node.peers():
            self.node.rpc(peer, {"type": "prepare_view", "view": view},
                          lambda answer, peer=peer: on_answer(peer, answer), ROUND_MS)
        complete_if_majority()  # a one-node cluster is its own majority

    def on_prepare_view(self, message):
        view = message["body"]["view"]
        if view < self.view:  # refused: the answer names the newer view
            return self.node.reply(message, {"type": "prepare_view_ok", "view": self.view, "data": {}})
        self.adopt(view)
        self.heard[message["src"]] = self.node.now()
        self.node.reply(message, {"type": "prepare_view_ok", "view": view, "data": self.store.state["data"]})


def main(stage, argv=None):
    """Run the engine at `stage`, with `--bug NAME` to plant one of BUGS."""
    parser = argparse.ArgumentParser(description=f"Lab 12 model answer, stage {stage}.")
    parser.add_argument("--bug", choices=sorted(BUGS), help="plant one bug (for the grader's exercises)")
    args = parser.parse_args(argv)
    if args.bug:
        log(f"PLANTED BUG {args.bug}: {BUGS[args.bug]}")
    Replica(stage, args.bug).node.run()


if __name__ == "__main__":
    sys.exit("run model_1_single_copy.py, model_2_primary_backup.py or model_3_majority_leader.py")
