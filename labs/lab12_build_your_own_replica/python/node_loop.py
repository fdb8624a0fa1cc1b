"""The message loop of a lab 12 node: done for you, so you can write the replication.

A node reads one JSON message per line on stdin and prints one per line on
stdout (docs/node-protocol.md); anything else goes to stderr with `log`. One
thread runs every handler, callback and timer, so your code needs no locks.

    node = Node()
    node.on("read", handle_read)        # handle_read(message) for each "read" that arrives
    node.reply(message, {"type": "read_ok", "value": 3})
    node.rpc("n2", {"type": "get", "key": "x"}, on_answer, timeout_ms=200)  # on_answer(body or None)
    node.after(100, fn)                 # fn() in 100 ms
    node.now()                          # seconds on this node's clock: compare times with it
    node.run()

Every timer and `now()` follow the node's clock, which runs REPLICALAB_TIME_SCALE
times slower than real time when that variable is set (ReplicaLab sets it with
`python run.py cluster --time-scale 50`): stepping messages by hand then takes
seconds of yours while only milliseconds pass for the node. Use node.now(),
never time.monotonic(), so your timeouts slow down with it.
"""
import heapq
import itertools
import json
import os
import queue
import sys
import threading
import time

# Maelstrom's error codes (docs/node-protocol.md has the full table and which are definite).
TIMEOUT, NOT_SUPPORTED, TEMPORARILY_UNAVAILABLE, MALFORMED_REQUEST, CRASH = 0, 10, 11, 12, 13
KEY_DOES_NOT_EXIST, PRECONDITION_FAILED = 20, 22


def key_name(key):
    """A lin-kv key (any JSON value: Maelstrom sends numbers) as a dict key that survives a JSON file."""
    return json.dumps(key, sort_keys=True)


def log(*parts):
    """Print a debugging line on stderr (stdout is for messages only)."""
    print(*parts, file=sys.stderr, flush=True)


def time_scale():
    """How many times slower than real time this node's clock runs: $REPLICALAB_TIME_SCALE, else 1."""
    raw = os.environ.get("REPLICALAB_TIME_SCALE", "").strip() or "1"
    try:
        scale = float(raw)
    except ValueError:
        scale = 0.0
    if not 0 < scale < float("inf"):
        log(f"REPLICALAB_TIME_SCALE={raw!r} is not a positive number; the clock runs at real speed")
        return 1.0
    return scale


class Node:
    """Reads messages, dispatches them by type, sends replies, runs callbacks and timers."""

    def __init__(self):
        self.node_id = None
        self.node_ids = []
        self.handlers = {"init": self._on_init}
        self.on_start = []  # functions called once init has arrived
        self._msg_ids = itertools.count(1)
        self._waiting = {}  # msg_id of our request -> callback for its reply
        self._timers = []  # heap of (due time, sequence, function)
        self._sequence = itertools.count()
        self._inbox = queue.Queue(10_000)
        self.time_scale = time_scale()

    # --- sending ------------------------------------------------------------------------

    def send(self, dest, body):
        """Send one message; gives it a fresh msg_id unless it has one; returns the msg_id."""
        body = dict(body)
        body.setdefault("msg_id", next(self._msg_ids))
        line = json.dumps({"src": self.node_id, "dest": dest, "body": body}, separators=(",", ":"))
        sys.stdout.write(line + "\n")
        sys.stdout.flush()  # without this the message may sit in a buffer forever
        return body["msg_id"]

    def reply(self, request, body):
        """Answer `request` (a whole message): same peer, in_reply_to its msg_id."""
        self.send(request["src"], dict(body, in_reply_to=request["body"].get("msg_id")))

    def error(self, request, code, text):
        """Answer `request` with a Maelstrom error: a code from the table and a sentence."""
        self.reply(request, {"type": "error", "code": code, "text": text})

    def rpc(self, dest, body, callback, timeout_ms=1000):
        """Send a request; callback(reply body) when it is answered, callback(None) after timeout_ms."""
        msg_id = self.send(dest, body)
        self._waiting[msg_id] = callback

        def expire():
            if self._waiting.pop(msg_id, None) is not None:
                callback(None)
        self.after(timeout_ms, expire)
        return msg_id

    def now(self):
        """Seconds on this node's clock (real time slowed by REPLICALAB_TIME_SCALE); only differences mean anything."""
        return time.monotonic() / self.time_scale

    def after(self, delay_ms, function):
        """Call function() once, delay_ms from now on this node's clock (on the loop's thread)."""
        due = self.now() + delay_ms / 1000
        heapq.heappush(self._timers, (due, next(self._sequence), function))

    def forward(self, request, dest, timeout_ms=2000):
        """Relay a client's request to `dest` and its answer back; error 0 if `dest` stays silent."""
        body = {k: v for k, v in request["body"].items() if k not in ("msg_id", "in_reply_to")}

        def relay(answer):
            if answer is None:
                self.error(request, TIMEOUT, f"{dest} did not answer within {timeout_ms} ms")
            else:
                self.reply(request, {k: v for k, v in answer.items() if k not in ("msg_id", "in_reply_to")})
        self.rpc(dest, body, relay, timeout_ms)

    def on(self, kind, handler):
        """Call handler(message) for every message whose body type is `kind`."""
        self.handlers[kind] = handler

    # --- the loop -------------------------------------------------------------------------

    def peers(self):
        """Every other node of the cluster."""
        return [n for n in self.node_ids if n != self.node_id]

    def _on_init(self, message):
        body = message["body"]
        self.node_id, self.node_ids = body["node_id"], list(body["node_ids"])
        self.reply(message, {"type": "init_ok"})
        log(f"{self.node_id} started; cluster: {', '.join(self.node_ids)}")
        for function in self.on_start:
            function()

    def _read_stdin(self):
        for line in sys.stdin:
            if line.strip():
                self._inbox.put(line)
        self._inbox.put(None)  # stdin closed: time to stop

    def _dispatch(self, line):
        try:
            message = json.loads(line)
            body = message["body"]
        except (ValueError, KeyError, TypeError):
            log("ignoring a line that is not a message:", line[:200])
            return
        if self.node_id is None and body.get("type") != "init":
            log("ignoring a message that came before init:", line[:200])
            return
        callback = self._waiting.pop(body.get("in_reply_to"), None)
        if callback is not None:
            callback(body)
        elif body.get("type") in self.handlers:
            self.handlers[body["type"]](message)
        elif "in_reply_to" not in body:  # a late reply is ignored; an unknown request is answered
            self.error(message, NOT_SUPPORTED, f"this node does not handle {body.get('type')!r} messages")

    def _fire_due_timers(self):
        while self._timers and self._timers[0][0] <= self.now():
            heapq.heappop(self._timers)[2]()

    def run(self):
        """Serve until stdin closes."""
        threading.Thread(target=self._read_stdin, daemon=True).start()
        while True:
            self._fire_due_timers()
            # A due time is on the node's clock: in real seconds the wait is time_scale times longer.
            wait = max(0.0, (self._timers[0][0] - self.now()) * self.time_scale) if self._timers else None
            try:
                line = self._inbox.get(timeout=wait)
            except queue.Empty:
                continue
            if line is None:
                return
            self._dispatch(line)


class Storage:
    """A node's durable state: one JSON file in $REPLICALAB_DATA_DIR, replaced atomically.

    `save` writes a temporary file, flushes it to disk and renames it over the
    old one, so a node killed at any moment finds either the old or the new
    state when it restarts. The folder is created if it does not exist. Without
    the variable (or with "") state is kept in memory only. Saving the whole state costs its size: fine for a lab.
    """

    def __init__(self, node_id, default):
        folder = os.environ.get("REPLICALAB_DATA_DIR", "")
        if folder:
            os.makedirs(folder, exist_ok=True)  # run by hand (REPLICALAB_DATA_DIR=/tmp/n1) it may not exist yet
        self.path = os.path.join(folder, f"{node_id}.json") if folder else ""
        self.state = default
        if self.path and os.path.exists(self.path):
            with open(self.path, encoding="utf-8") as handle:
                self.state = json.load(handle)
            log(f"{node_id} recovered its state from {self.path}")

    def save(self):
        """Make the current state durable before you acknowledge anything that depends on it."""
        if not self.path:
            return
        temporary = self.path + ".tmp"
        with open(temporary, "w", encoding="utf-8") as handle:
            json.dump(self.state, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, self.path)
