"""The chaos run against a real server (`--url`): HTTP clients on threads, the nemesis over HTTP.

A real server runs on the wall clock and answers on its own threads, so this
run is concurrent for real and not reproducible to the byte, as Jepsen's runs
are not. The clients record the history themselves (Jepsen's way: client-side
times, `X-Client-Id` naming each one to the server as well). Every request
goes to the URL given, which should be a server on this machine started for the
purpose (`python run.py --fresh --scheduler off`); the run is bounded in
operations and each request in time.
"""
from __future__ import annotations

import random
import threading
import time
from collections import Counter
from typing import Any, Dict, List, Tuple

import requests

from cluster.history import History, Outcome

from .nemesis import Nemesis, link_fault
from .report import analyse

TIMEOUT_S = 10


class MonotonicClock:
    """Milliseconds since the run began, from the client's monotonic clock."""

    def __init__(self):
        self.start = time.monotonic()

    def now(self) -> float:
        """Elapsed ms, to the microsecond."""
        return round((time.monotonic() - self.start) * 1000, 3)


class ControlError(RuntimeError):
    """A fault control the server did not carry out (no answer, or not JSON); the sentence says which."""


class HttpControls:
    """The fault controls of a server, over its HTTP API."""

    def __init__(self, url: str, timeout_s: float = TIMEOUT_S):
        self.url = url.rstrip("/")
        self.http = requests.Session()
        self.timeout_s = timeout_s

    def _call(self, method: str, path: str, body=None) -> Dict[str, Any]:
        try:
            r = self.http.request(method, self.url + path, json=body, timeout=self.timeout_s)
            return r.json()
        except requests.RequestException as error:
            raise ControlError(f"{method} {path} got no answer within {self.timeout_s:g} s "
                               f"({type(error).__name__})") from error
        except ValueError as error:
            raise ControlError(f"{method} {path} answered HTTP {r.status_code} with something not JSON") from error

    def state(self) -> Tuple[int, List[int], bool, bool]:
        """(node count, down nodes, partitioned?, any network fault or skew?)."""
        nodes = self._call("GET", "/nodes")["nodes"]
        faults = self._call("GET", "/faults")
        down = [n["node_id"] for n in nodes if n["status"] != "alive"]
        return len(nodes), down, faults["partition"] is not None, bool(faults["network"] or faults["clock_skew"])

    def apply(self, kind: str, arg: Any) -> None:
        """Inject one fault (or repair) of `kind` with its argument."""
        if kind in ("stop", "crash"):
            self._call("POST", f"/fail/{arg}?mode={kind}")
        elif kind == "recover":
            self._call("POST", f"/recover/{arg}")
        elif kind == "partition":
            self._call("POST", "/partition", {"groups": arg})
        elif kind == "heal":
            self._call("POST", "/heal")
        elif kind == "network":
            self._call("POST", "/faults/network", arg)
        elif kind == "links":
            for to in arg["to"]:
                self._call("POST", f"/links/{arg['from']}/{to}", link_fault(arg))
        elif kind == "skew":
            self._call("POST", f"/nodes/{arg[0]}/clock", {"skew_ms": arg[1]})
        else:
            self._call("DELETE", "/faults")

    def recent_events(self, limit: int = 1000) -> List[dict]:
        """The server's last `limit` events (an empty list if it does not answer)."""
        try:
            newest = self._call("GET", f"/events?since={2 ** 62}&limit=1")["last_seq"]
            return self._call("GET", f"/events?since={max(0, newest - limit)}&limit={limit}")["events"]
        except (ControlError, KeyError, TypeError):
            return []

    def heal_faults(self) -> int:
        """No partition or network fault, every node recovered; returns the node count."""
        self._call("DELETE", "/faults")
        nodes, down, _, _ = self.state()
        for node in down:
            self._call("POST", f"/recover/{node}")
        return nodes

    def heal_everything(self) -> None:
        """No fault, every node recovered, anti-entropy between every pair, hints handed back."""
        nodes = self.heal_faults()
        for _ in range(nodes - 1):
            self._call("POST", "/scheduler/run/anti_entropy")
        self._call("POST", "/scheduler/run/hint_retry")

    def convergence(self, keys: List[str], final: Dict[str, Any]) -> Dict[str, Any]:
        """Whether every replica of every key holds the same version, from /placement and /nodes."""
        nodes = self._call("GET", "/nodes")["nodes"]
        held = {}
        for n in nodes:
            records = self._call("GET", f"/nodes/{n['node_id']}")["records"]
            held[n["node_id"]] = {r["key"]: r["version"]["text"] for r in records}
        diverged = []
        for key in keys:
            names = self._call("GET", f"/placement/{key}")["preference_list"]
            replicas = [int(name.split("-")[1]) for name in names]
            versions = {held[n].get(key) for n in replicas}
            if len(versions) > 1:
                diverged.append({"key": key, "versions": sorted(map(str, versions))})
        hints = sum(n["hints"] for n in nodes)
        return {"converged": not diverged and hints == 0, "diverged_keys": diverged, "hints_left": hints,
                "final": final}


class RemoteRun:
    """Clients on threads and a nemesis against one server."""

    def __init__(self, url: str, settings):
        self.url, self.s = url.rstrip("/"), settings
        self.history = History(MonotonicClock(), settings.ops + settings.keys + 10)
        self.lock = threading.Lock()  # the history and the op counter are shared by the client threads
        self.meta: Dict[int, Dict[str, Any]] = {}
        # Fresh keys per run: a server keeps the data of earlier runs, and a history starts empty.
        run_id = f"chaos{int(time.time() * 1000) % 10**9}"
        self.keys = [f"{run_id}:k{i}" for i in range(settings.keys)]
        self.left = settings.ops
        self.controls = HttpControls(url)
        self.nemesis = Nemesis(self.controls, settings.seed, settings.faults)
        self.rf = 3

    def request(self, http, client, f: str, key: str, value=None, extra: str = "", final: bool = False) -> Outcome:
        """One client operation over HTTP, recorded around the request."""
        mode = f"consistency={self.s.consistency}{extra}"
        with self.lock:
            invoke = self.history.begin(client, f, key, value)
        try:
            headers = {"X-Client-Id": str(client)}
            if f == "read":
                r = http.get(f"{self.url}/read/{key}?{mode}", headers=headers, timeout=TIMEOUT_S)
            elif f == "delete":
                r = http.delete(f"{self.url}/delete/{key}?{mode}", headers=headers, timeout=TIMEOUT_S)
            else:
                r = http.post(f"{self.url}/write?{mode}", json={"key": key, "value": value}, headers=headers,
                              timeout=TIMEOUT_S)
            outcome, meta = classify(f, r.status_code, r.json())
        except requests.RequestException as error:
            outcome, meta = Outcome("fail" if f == "read" else "info", None, {"error": type(error).__name__}), {}
        with self.lock:
            self.history.end(invoke, outcome)
            self.meta[invoke["index"]] = {**meta, "final": final}
        return outcome

    def client(self, number: int) -> None:
        """One client's loop: operations until the run's budget is spent."""
        rng = random.Random(f"remote-client-{self.s.seed}-{number}")
        http = requests.Session()
        while True:
            with self.lock:
                if self.left <= 0:
                    return
                self.left -= 1
                value = self.s.ops - self.left
            f = rng.choices(("read", "write", "delete"), (45, 45, 10))[0]
            self.request(http, number, f, rng.choice(self.keys), value if f == "write" else None)

    def run(self) -> Dict[str, Any]:
        """Run the clients and the nemesis, heal, read every key with R = RF, analyse."""
        began = time.monotonic()
        self.rf = self.controls._call("GET", "/config").get("config", {}).get("rf", 3)
        threads = [threading.Thread(target=self.client, args=(n,), daemon=True)
                   for n in range(self.s.clients)]
        for t in threads:
            t.start()
        rng = random.Random(f"remote-nemesis-{self.s.seed}")
        while any(t.is_alive() for t in threads):
            time.sleep(rng.uniform(0, 2 * self.s.fault_every_ms) / 1000)
            if any(t.is_alive() for t in threads):
                self.nemesis.act()
        self.nemesis.heal_everything()
        http, final = requests.Session(), {}
        for key in self.keys:
            final[key] = self.request(http, "final", "read", key, extra=f"&r={self.rf}", final=True).value
        state = self.controls.convergence(self.keys, final)
        return analyse(self.s, self.history.complete_events(), self.meta, Counter(self.nemesis.injected),
                       state, None, time.monotonic() - began)


def classify(f: str, status: int, answer: Dict[str, Any]) -> Tuple[Outcome, Dict[str, Any]]:
    """ok / fail / info and the run's metadata from one HTTP answer."""
    version = answer.get("version") or None
    meta: Dict[str, Any] = {"stand_ins": len(answer.get("hints") or [])}
    if version and f != "read":
        meta["version"] = [version["timestamp"], int(str(version["node"]).split("-")[-1])]
    if status == 200:
        return Outcome("ok", answer.get("value") if f == "read" else None), meta
    if status == 404:
        return Outcome("ok" if f == "read" else "fail", None), meta
    if status in (503, 504) and f != "read":
        # A version in the answer means the record went out: a replica may hold it (a late ack).
        sent = status == 504 or answer.get("acks") or answer.get("version")
        return Outcome("info" if sent else "fail", None), meta
    return Outcome("fail", None, {"error": answer.get("error")}), meta


def run_remote(url: str, settings) -> Dict[str, Any]:
    """Run the chaos against the server at `url` and return the report."""
    return RemoteRun(url, settings).run()
