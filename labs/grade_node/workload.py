"""The grader's clients: concurrent lin-kv operations over a cluster's HTTP API, recorded as a history.

Each client is a thread that sends one operation at a time to a node it picks
(`coordinator`), so a student's node is asked through every one of its peers.
The history is recorded on the client side, as Jepsen does (chaos/remote.py's
clock and History): an operation's interval contains whatever the cluster did.
Every request has a timeout; a request that gets no answer is a `fail` for a
read (a read changes nothing) and an `info` for a write or cas (it may have
happened). Values are unique, so a read names the write it saw.
"""
from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass
from typing import Any, Dict, List, Tuple

import requests

from chaos.remote import MonotonicClock, classify
from cluster.history import History, Outcome

REQUEST_TIMEOUT_S = 5.0
READ_BACK_TRIES = 3
# After a successful read, how often the client's next operation is a cas of that key from the
# value it read (through another random node): a compare that usually should succeed.
READ_MODIFY_WRITE = 0.5
# The operation mix (weights of read, write, cas), and how it follows the nemesis (Clients.focus).
MIXES = {"normal": {"read": 4, "write": 4, "cas": 2}, "before": {"read": 1, "write": 8, "cas": 1},
         "during": {"read": 6, "write": 2, "cas": 2}}
FAULTS = ("crash", "stop", "partition")  # the steps clients prepare for and then read through
# Before a kill or pause the clients write in a burst; before a partition they keep the normal mix: a
# leader cut off with a queue of writes (each waiting for acknowledgements that cannot come) would
# spend the partition working through them, instead of showing what it answers alone.
BURST_BEFORE = ("crash", "stop")
REPAIRS = ("recover", "heal")
# Each fault has fresh keys of its own, written in the second before it and read while it lasts
# (and by the read-back on every node): nothing else writes them, and several of them keep each
# one's writes few, so a write acknowledged just before the fault is the value every later read of
# its key must see (no later write hides it), and a fault that lost it shows.
FRESH_SHARE = 0.5  # of the operations in those windows
FRESH_KEYS_PER_FAULT = 6
MAX_FRESH_KEYS = 60  # a long run's later faults use the shared keys only (the read-back reads each on every node)
# Maelstrom's definite codes: the operation did not happen (byon/lin_kv.py has the whole table).
DEFINITE = {1, 10, 11, 12, 14, 20, 21, 22, 30}
# A cas refused with these codes compared the value and saw another one: it happened, as a
# cas that returned false (the checker's `observed`). Code 11 only says "not now".
COMPARED = {20, 22}


@dataclass(frozen=True)
class Protocol:
    """How operations reach the cluster: lin-kv on student nodes, or ReplicaLab's own API."""

    student: bool  # True: the nodes are `--node-cmd` programs answering lin-kv
    consistency: str = "linearizable"  # ReplicaLab's own nodes: ?consistency= of each request

    @property
    def operations(self) -> Tuple[str, ...]:
        """What the clients may send: ReplicaLab's /cas compares versions, not values, so only lin-kv has cas."""
        return ("read", "write", "cas") if self.student else ("read", "write")


def classify_lin_kv(f: str, status: int, answer: Dict[str, Any]) -> Outcome:
    """ok / fail / info from the front's answer to a lin-kv request (byon/lin_kv.py's statuses and codes)."""
    code = answer.get("node_code")
    if status == 200:
        return Outcome("ok", answer.get("value") if f == "read" else None)
    if f == "read":
        missing = code == 20 or (code is None and status == 404)
        return Outcome("ok", None) if missing else Outcome("fail", None, {"code": code})
    if f == "cas" and code in COMPARED:
        return Outcome("fail", None, {"code": code, "observed": True})
    if code in DEFINITE or (code is None and 400 <= status < 500 and status != 408):
        return Outcome("fail", None, {"code": code})
    return Outcome("info", None, {"code": code})


class Clients:
    """Client threads against one cluster, recording one history."""

    def __init__(self, url: str, nodes: int, keys: List[str], seed: int, protocol: Protocol,
                 timeout_s: float = REQUEST_TIMEOUT_S):
        self.url, self.nodes, self.keys, self.seed = url.rstrip("/"), nodes, keys, seed
        self.protocol, self.timeout_s = protocol, timeout_s
        self.operations = protocol.operations  # eventual-kv narrows it to read and write
        self.history = History(MonotonicClock(), 1_000_000)
        self.lock = threading.Lock()
        self.values = iter(range(1, 10**9))
        self.problems: List[str] = []  # answers that were not JSON, said once each
        self.windows: List[Tuple[float, float, str, Tuple[str, ...]]] = []  # (from, to, mix, fresh keys): focus()
        self.fresh_keys: List[str] = []
        self.started = time.monotonic()

    def focus(self, schedule: List[Dict[str, Any]], started: float) -> None:
        """Follow the nemesis schedule (planned from the seed): writes just before a fault, reads while it lasts.

        In the second before a kill or pause (and while the leader's messages are late
        or lost before its kill) the clients mostly write (BURST_BEFORE),
        so the fault lands while changes are still being replicated; until the
        fault is repaired they mostly read, so a change the fault lost is read
        before a new write hides it. Half of those operations use one of the fault's
        own fresh keys (FRESH_SHARE). `started` is when the schedule's clock began.
        """
        self.started, self.windows, self.fresh_keys = started, [], []
        for number, step in enumerate(schedule):
            if step["kind"] not in FAULTS:
                continue
            at = step["at_s"]
            # A kill that the leader's own late and lost messages lead into: writes all along them.
            lead_in = schedule[number - 1]["at_s"] if number and schedule[number - 1]["kind"] == "links" else at
            repair = next((s["at_s"] for s in schedule[number + 1:] if s["kind"] in REPAIRS), float("inf"))
            if self.windows and self.windows[-1][0] == at:  # another node of the same fault: its keys
                fresh = self.windows[-1][3]
            else:
                group = len(self.fresh_keys) // FRESH_KEYS_PER_FAULT + 1
                room = len(self.fresh_keys) + FRESH_KEYS_PER_FAULT <= MAX_FRESH_KEYS
                fresh = tuple(f"fresh-{group}-{n}" for n in range(1, FRESH_KEYS_PER_FAULT + 1)) if room else ()
                self.fresh_keys += fresh
            before = "before" if step["kind"] in BURST_BEFORE else "normal"
            self.windows += [(min(at - 1.0, lead_in), at, before, fresh), (at, repair, "during", fresh)]

    def window(self) -> Tuple[str, Tuple[str, ...]]:
        """(mix, fresh keys) now: before a fault or during one (with the fault's keys), else ("normal", ())."""
        elapsed = time.monotonic() - self.started
        return next(((mix, fresh) for start, end, mix, fresh in self.windows if start <= elapsed < end),
                    ("normal", ()))

    def mix(self) -> Dict[str, int]:
        """The operation weights now: before a fault, during one, or otherwise."""
        return MIXES[self.window()[0]]

    def operation(self, http: requests.Session, process: str, f: str, key: str, node: int,
                  value: Any = None, expected: Any = None) -> Outcome:
        """Send one operation to `node` and record it around the request."""
        with self.lock:
            invoke = self.history.begin(process, f, key, [expected, value] if f == "cas" else value)
        try:
            status, answer = self._send(http, f, key, node, value, expected)
            outcome = (classify_lin_kv(f, status, answer) if self.protocol.student
                       else classify(f, status, answer)[0])
            outcome.details.update({"node": node, "http": status})
            if outcome.type != "ok" and isinstance(answer.get("message"), str):
                outcome.details["said"] = answer["message"][:300]  # the front's sentence: why it failed
        except requests.RequestException as error:
            kind = "fail" if f == "read" else "info"
            outcome = Outcome(kind, None, {"node": node, "error": f"no answer within {self.timeout_s:g} s"
                                           if isinstance(error, requests.Timeout) else type(error).__name__})
        with self.lock:
            self.history.end(invoke, outcome)
        return outcome

    def _send(self, http: requests.Session, f: str, key: str, node: int, value: Any,
              expected: Any) -> Tuple[int, Dict[str, Any]]:
        mode = "" if self.protocol.student else f"&consistency={self.protocol.consistency}"
        if f == "read":
            r = http.get(f"{self.url}/read/{key}?coordinator={node}{mode}", timeout=self.timeout_s)
        elif f == "write":
            r = http.post(f"{self.url}/write?coordinator={node}{mode}", json={"key": key, "value": value},
                          timeout=self.timeout_s)
        else:
            r = http.post(f"{self.url}/cas?coordinator={node}", json={"key": key, "from": expected, "to": value},
                          timeout=self.timeout_s)
        try:
            answer = r.json()
        except ValueError:
            answer = None
        if not isinstance(answer, dict):
            self._problem(f"{f} to node-{node} got HTTP {r.status_code} with an answer that is not a JSON object")
            answer = {}
        return r.status_code, answer

    def _problem(self, text: str) -> None:
        with self.lock:
            if text not in self.problems and len(self.problems) < 20:
                self.problems.append(text)

    def client(self, number: int, stop: threading.Event) -> None:
        """One client's loop: a random operation on a random key through a random node, until `stop`.

        Half the reads are followed by a cas of the key from the value read (a
        read-modify-write), so a node that compares with a stale copy is caught.
        """
        rng = random.Random(f"grader-client-{self.seed}-{number}")
        http = requests.Session()
        ops = self.operations
        seen: Dict[str, Any] = {}  # key -> the last value this client read or wrote: a cas that may well match
        follow = None  # a key just read: a read-modify-write, whose cas compares with a value likely still current
        while not stop.is_set():
            mix, fresh = self.window()
            weights = MIXES[mix]
            f = rng.choices(ops, [weights[o] for o in ops])[0]
            key, node = rng.choice(self.keys), rng.randrange(self.nodes)
            if fresh and rng.random() < FRESH_SHARE:
                key = rng.choice(fresh)
            if follow is not None and "cas" in ops and rng.random() < READ_MODIFY_WRITE:
                f, key = "cas", follow
            if f == "cas" and seen.get(key) is None:
                f = "write"  # lin-kv has no cas from null: a missing key is error 20
            with self.lock:
                value = next(self.values)
            outcome = self.operation(http, f"c{number}", f, key, node, value if f != "read" else None,
                                     seen.get(key))
            if outcome.type == "ok":
                seen[key] = outcome.value if f == "read" else value
            follow = key if f == "read" and outcome.type == "ok" else None

    def run(self, clients: int, stop: threading.Event) -> List[threading.Thread]:
        """Start `clients` client threads; they end once `stop` is set and their request is answered."""
        threads = [threading.Thread(target=self.client, args=(n, stop), daemon=True, name=f"grader-client-{n}")
                   for n in range(clients)]
        for thread in threads:
            thread.start()
        return threads

    def read_back(self, deadline: float) -> Dict[str, Dict[str, Any]]:
        """After the heal: every key (fresh ones too) read through every node, recorded; {key: {node-N: value}}.

        Up to READ_BACK_TRIES rounds, half a second apart, each asking again only
        the (key, node) pairs still unanswered (a new leader may still be settling);
        a node that never answers is left out of its key's map. Nothing is sent
        once `deadline` (time.monotonic()) has passed.
        """
        http = requests.Session()
        keys = self.keys + self.fresh_keys
        final: Dict[str, Dict[str, Any]] = {key: {} for key in keys}
        todo = [(key, node) for key in keys for node in range(self.nodes)]
        for round_ in range(READ_BACK_TRIES):
            if round_:
                time.sleep(0.5)
            missing = []
            for key, node in todo:
                if time.monotonic() > deadline:
                    return final
                outcome = self.operation(http, f"final-{node}", "read", key, node)
                if outcome.type == "ok":
                    final[key][f"node-{node}"] = outcome.value
                else:
                    missing.append((key, node))
            todo = missing
            if not todo:
                break
        return final

    def events(self) -> List[dict]:
        """The history so far (invocations and completions, in time order)."""
        with self.lock:
            return self.history.complete_events()

