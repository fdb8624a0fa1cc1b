#!/usr/bin/env python3
"""Lab 12 starter: a lin-kv node whose message loop works and whose replication is yours to write.

Run it alone:  python3 starter.py  (then type {"src":"c1","dest":"n1","body":{"type":"init",
"msg_id":1,"node_id":"n1","node_ids":["n1"]}} and press Enter). As it stands every
node keeps its own copy and never talks to the others: a client that writes on n1
and reads on n2 does not see its write. The TODOs walk you through the lab's stages.
"""
from node_loop import KEY_DOES_NOT_EXIST, PRECONDITION_FAILED, Node, Storage, key_name, log


class KvNode:
    """read / write / cas on this node's own copy of the data."""

    def __init__(self):
        self.node = Node()
        self.node.on("read", self.on_read)
        self.node.on("write", self.on_write)
        self.node.on("cas", self.on_cas)
        self.node.on_start.append(self.start)
        self.store = None

    def start(self):
        """After init: load what this node saved before it was killed (if anything)."""
        self.store = Storage(self.node.node_id, {})
        # TODO stage 1 (single copy): pick ONE node to hold the data, e.g. self.node.node_ids[0].
        #   Every other node forwards each client request to it with self.node.rpc(...) and relays
        #   the answer back with self.node.reply(request, answer). What if the holder is down?
        # TODO stage 2 (primary-backup): the holder (the primary) also sends every change to the
        #   other nodes (backups) and answers the client only once each backup acknowledged it.
        #   Hint: if you answer first, a crash of the primary loses an acknowledged write.
        #   Hint: a message can be lost: resend until acknowledged (or give up with error 0).
        # TODO stage 3 (quorums): let any node serve, and make every operation reach a majority
        #   (e.g. a per-key Paxos: prepare/promise, then accept). A read must reach a majority too.

    def on_read(self, request):
        """Answer the value of a key, or error 20 if it was never written."""
        key = key_name(request["body"]["key"])
        if key not in self.store.state:
            self.node.error(request, KEY_DOES_NOT_EXIST, "no such key")
            return
        self.node.reply(request, {"type": "read_ok", "value": self.store.state[key]})

    def on_write(self, request):
        """Store the value, save it, then acknowledge (acknowledge only what is durable)."""
        body = request["body"]
        self.store.state[key_name(body["key"])] = body["value"]
        self.store.save()
        self.node.reply(request, {"type": "write_ok"})

    def on_cas(self, request):
        """Set the key to `to` only if it holds `from`: error 20 if absent, 22 if different."""
        body = request["body"]
        key = key_name(body["key"])
        if key not in self.store.state:
            self.node.error(request, KEY_DOES_NOT_EXIST, "no such key")
        elif self.store.state[key] != body["from"]:
            self.node.error(request, PRECONDITION_FAILED,
                            f"expected {body['from']!r}, but the value is {self.store.state[key]!r}")
        else:
            self.store.state[key] = body["to"]
            self.store.save()
            self.node.reply(request, {"type": "cas_ok"})


if __name__ == "__main__":
    log("starter node: waiting for init on stdin")
    KvNode().node.run()
