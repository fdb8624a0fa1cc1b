"""HttpNodeHandle: the control plane's calls on a node that runs in its own OS process.

The same NodeHandle as cluster/node_handle.py's LocalNodeHandle, so the
manager, fault control and maintenance jobs do not change in real mode; each
call is an HTTP request to the node's `/node/...` routes (node_routes.py), and
each failure a real signal: stop is SIGSTOP, crash SIGKILL, wipe SIGKILL plus
deleting the node's files; recover is SIGCONT or a restart on its data dir.

A client operation may take as long as its quorum does, so while it waits the
handle releases the cluster lock (ClusterCore.changed.wait, as step mode does):
other requests, and the events the nodes report, go on meanwhile. The node's
last answered state is kept for /nodes, and the records, hints and keys of a
node whose process cannot answer (down) are read from its sqlite files
(node_files.py), as the simulation still shows a down node's data.
"""
from __future__ import annotations

import contextlib
import json
import queue
import threading
from types import SimpleNamespace
from typing import Any, Callable, Dict, List, Optional, Tuple

import requests

from byon import program_status
from byon.node_host import wipe_program_dir
from cluster.errors import GatewayTimeout, NodeDown, ReplicaLabError
from db import remove_node_files
from models import Version, node_name
from realmode import node_files, processes
from realmode.front_steps import lose_held
from realmode.keepalive import KeepAliveClient, Unreachable
from realmode.wire_results import decode_error, decode_result

ADMIN_TIMEOUT_S = 3.0
DETAIL_TIMEOUT_S = 10.0  # every record of a node: longer to list than a summary, on a loaded machine


class HttpNodeHandle:
    """A NodeHandle for a ReplicaNode in its own process, reached over HTTP at `address`."""

    def __init__(self, node_id: int, address: str, child: Optional[processes.Child], data_dir: str,
                 core, token: Optional[str] = None, client_timeout_s: float = 30.0):
        self.node_id = node_id
        self.name = node_name(node_id)
        self.address = address
        self.child = child
        self.data_dir = data_dir
        self.core = core
        self.client_timeout_s = client_timeout_s
        self._failure: Optional[str] = None
        self.program_pid: Optional[int] = None  # a student's program under the node process (byon)
        self.program: Optional[dict] = None  # that program as the node's last health answer showed it
        self.rejoined: Callable[[HttpNodeHandle], None] = lambda handle: None  # set by the front (front.py)
        self.sink: Any = None  # the front's EventSink: events that ride along in an answer go there
        self._headers = {"Authorization": f"Bearer {token}"} if token else {}
        # Idle Sessions, each keeping its connection alive: a request takes one and puts it back. Not one
        # per thread: a client operation runs on a new thread each time (_while_unlocked), and a new
        # Session is a new TCP connection (and a new server thread in the node process).
        self._idle: queue.SimpleQueue = queue.SimpleQueue()
        self._clients: queue.SimpleQueue = queue.SimpleQueue()  # the same for client operations (keepalive.py)
        self._state: Dict[str, Any] = {"summary": {"node_id": node_id, "name": self.name, "keys": 0,
                                                   "tombstones": 0, "hints": 0, "clock_skew_ms": 0,
                                                   "uncommitted_writes": 0},
                                       "owed": [], "hints": 0, "live": 0, "skew_ms": 0}

    # --- HTTP ---------------------------------------------------------------

    @property
    def pid(self) -> Optional[int]:
        """The node process's pid (None for a node started elsewhere)."""
        return self.child.pid if self.child is not None else None

    def _session(self) -> requests.Session:
        try:
            return self._idle.get_nowait()
        except queue.Empty:
            session = requests.Session()
            session.trust_env = False  # no proxy between the front and its nodes; and it saves a lookup per call
            session.headers.update(self._headers)
            return session

    def _call(self, method: str, path: str, body: Optional[dict] = None, timeout: float = ADMIN_TIMEOUT_S,
              params: Optional[dict] = None) -> requests.Response:
        session = self._session()
        try:
            answer = session.request(method, f"http://{self.address}{path}", json=body, params=params,
                                     timeout=(1.0, timeout))
            self._idle.put(session)
            return answer
        except (requests.ConnectTimeout, requests.ConnectionError) as error:
            if not isinstance(error, requests.ConnectTimeout) and "NewConnectionError" not in repr(error):
                # Connected, sent, then lost (the process died mid-request): it may have acted on it.
                raise GatewayTimeout(f"{self.name}'s process (pid {self.pid}) dropped the connection during "
                                     f"{path}: it may or may not have done it. GET /nodes says whether it "
                                     "is still alive.", node=self.name) from None
            raise NodeDown(f"{self.name}'s process (pid {self.pid}, {self.address}) refused {path}: nothing "
                           "was done. Is it killed? GET /nodes says.", node=self.name) from None
        except requests.RequestException as error:
            raise GatewayTimeout(f"{self.name}'s process (pid {self.pid}, {self.address}) did not answer "
                                 f"{path} in time ({type(error).__name__}): it may or may not have done it. "
                                 "Is it stopped? GET /nodes says.", node=self.name) from None

    def _json(self, method: str, path: str, body: Optional[dict] = None, **kwargs) -> dict:
        answer = self._call(method, path, body, **kwargs)
        data = answer.json()
        if data.get("events") and self.sink is not None:
            self.sink.accept(data["events"])
        if answer.status_code >= 400:
            raise decode_error(data)
        return data

    def _while_unlocked(self, call: Callable[[], Any]) -> Any:
        """Run `call` on a helper thread and wait for it with the cluster lock released."""
        box: Dict[str, Any] = {}

        def work() -> None:
            try:
                box["value"] = call()
            except BaseException as error:  # noqa: BLE001 -- handed to the waiting thread
                box["error"] = error
            with self.core.changed:
                box["done"] = True
                self.core.changed.notify_all()
        threading.Thread(target=work, name=f"front-to-{self.name}", daemon=True).start()
        with self.core.changed:
            while "done" not in box:
                self.core.changed.wait()
        if "error" in box:
            raise box["error"]
        return box["value"]

    def _operation(self, path: str, body: dict) -> Any:
        status, data = self._while_unlocked(lambda: self._post_operation(path, body))
        if data.get("events") and self.sink is not None:
            self.sink.accept(data["events"])
        if status >= 400:
            raise decode_error(data)
        return decode_result(data["result"])

    def _post_operation(self, path: str, body: dict) -> Tuple[int, dict]:
        """POST a client operation on a kept-alive connection (the hot path: no requests machinery)."""
        try:
            client = self._clients.get_nowait()
        except queue.Empty:
            client = KeepAliveClient(self.address, 1.0, self.client_timeout_s + 5, self._headers)
        try:
            status, answer = client.post(path, json.dumps(body).encode(), retry_broken=False)  # never run one twice
        except Unreachable as error:
            if not error.sent:
                raise NodeDown(f"{self.name}'s process (pid {self.pid}, {self.address}) refused {path}: nothing "
                               "was done. Is it killed? GET /nodes says.", node=self.name) from None
            raise GatewayTimeout(f"{self.name}'s process (pid {self.pid}, {self.address}) did not answer {path} "
                                 f"({error.reason}): it may or may not have done it. Is it stopped or killed? "
                                 "GET /nodes says.", node=self.name) from None
        self._clients.put(client)
        return status, json.loads(answer)

    # --- client operations ------------------------------------------------------

    def write(self, key: str, value: Any, needed: int, mode: str, deleted: bool, context: Any):
        """The node process coordinates the write."""
        from cluster import siblings  # the context travels as the text a client sees
        text = None if context == siblings.vv.EMPTY else siblings.encode_context(context, key)
        return self._operation("/node/write", {"key": key, "value": value, "needed": needed, "mode": mode,
                                               "deleted": deleted, "context": text})

    def read(self, key: str, needed: int, mode: str):
        """The node process coordinates the read."""
        return self._operation("/node/read", {"key": key, "needed": needed, "mode": mode})

    def cas(self, key: str, expected: Optional[str], value: Any):
        """The node process coordinates the compare-and-set."""
        return self._operation("/node/cas", {"key": key, "expected": expected, "value": value})

    def kv(self, request: dict, timeout_ms: int, paused_wait_ms: int = 0) -> dict:
        """A lin-kv request to a student's program (byon/node_host.py): its reply, or none in time.

        `paused_wait_ms`: how long it may also wait while the network is paused (step mode).
        """
        body = {"request": request, "timeout_ms": timeout_ms, "paused_wait_ms": paused_wait_ms}
        return self._while_unlocked(lambda: self._json("POST", "/node/kv", body,
                                                       timeout=(timeout_ms + paused_wait_ms) / 1000 + 5))

    def saw_health(self, health: dict) -> None:
        """Note what the node's health answer says of its student program (its pid, to signal it)."""
        program = health.get("program") if isinstance(health, dict) else None
        self.program = program if isinstance(program, dict) else None
        self.program_pid = program.get("pid") if isinstance(program, dict) and program.get("running") else None

    def program_gone(self) -> Optional[str]:
        """Why this node's student program is not running while the node is up (a crash), else None."""
        if self._failure is not None or self.child is None or self.program is None:
            return None
        if not program_status.program_gone(self.program, processes.is_alive):
            return None
        with contextlib.suppress(ReplicaLabError):  # the node process says how its program ended
            self._state = self._json("GET", "/node/state")
            self.program = self._state["summary"].get("program") or self.program
        return program_status.why_gone(self.name, self.program)

    # --- recovery work ------------------------------------------------------------

    def start_handoff(self, owner: int) -> Any:
        """Run the handoff in the node process (it returns when done); an op-like answer."""
        self.core.network.run()  # a node just back must not be down in the table the holder enforces
        data = self._while_unlocked(lambda: self._json("POST", "/node/handoff", {"owner": owner}, timeout=15))
        return SimpleNamespace(owner=owner, delivered=data["delivered"])

    def start_sync(self, peers: List[int]) -> Any:
        """Run a recovery sync in the node process; an answer with the op's summary()."""
        self.core.network.run()
        data = self._while_unlocked(lambda: self._json("POST", "/node/sync", {"peers": peers}, timeout=15))
        return SimpleNamespace(summary=lambda: data["summary"])

    def start_anti_entropy(self, peer: int) -> Any:
        """Run one anti-entropy exchange in the node process; an answer with the op's summary()."""
        data = self._while_unlocked(lambda: self._json("POST", "/node/anti-entropy", {"peer": peer}, timeout=15))
        return SimpleNamespace(summary=lambda: data["summary"])

    # --- state ------------------------------------------------------------------------

    def _refresh(self) -> Dict[str, Any]:
        """The node's state, asked now when it is up, else the last one it gave."""
        if self._failure is None:
            with contextlib.suppress(ReplicaLabError):  # not answering (stopped?): the supervisor says so
                self._state = self._json("GET", "/node/state")
        return self._state

    def summary(self, up: bool) -> dict:
        """The node as /nodes lists it, with its pid and address."""
        return self._placed(self._refresh()["summary"], up)

    def _placed(self, summary: dict, up: bool) -> dict:
        """A copy of the node's summary with what the front knows: status, failure, pid, address.

        A down node's student program is shown as its failure left it (killed with its node process).
        """
        node = dict(summary)
        node.update(status="alive" if up else "dead", failure=None if up else self._failure,
                    pid=self.pid, address=self.address)
        if not up and self._failure and program_status.is_student(node):
            node["program"] = program_status.down_view(node["program"], self._failure)
        return node

    def detail(self, up: bool) -> dict:
        """Every record and hint it holds: asked now while it runs, else read from its files (node_files.py)."""
        if self._failure is None:
            try:
                detail = self._json("GET", "/node/detail", params={"up": "1" if up else "0"}, timeout=DETAIL_TIMEOUT_S)
                detail["node"] = self._placed(detail["node"], up)
                return detail
            except ReplicaLabError as error:
                return self._from_files(up, f"did not answer in time ({error.message})")
        return self._from_files(up, f"is down ({self._failure})")

    def _from_files(self, up: bool, why: str) -> dict:
        """The detail of a node whose process cannot answer, from its sqlite files, saying so."""
        node = self._placed(self._state["summary"], up)
        answer = {"node": node, "records": [], "hints_held": [], "source": "files"}
        if program_status.is_student(node):
            answer.update(source="program", note=f"{self.name}'s process {why}. " + program_status.DATA_NOTE.format(
                where=node["program"].get("data_dir", "its data directory")))
            return answer
        if not self.data_dir:
            answer.update(source="last summary", note=f"{self.name}'s process {why} and runs on another machine: "
                          "its files are not here, so this is its last summary.")
            return answer
        try:
            records = node_files.records(self.data_dir, self.node_id)
            answer["records"] = [record.to_dict() for record in records]
            answer["hints_held"] = node_files.hints(self.data_dir, self.node_id)
            # Counted from the same files as the records, not its last summary (older than its last writes).
            node.update(keys=sum(not r.deleted for r in records), tombstones=sum(r.deleted for r in records),
                        hints=len(answer["hints_held"]))
        except node_files.FilesUnreadable as error:
            answer.update(source="last summary", note=f"{self.name}'s process {why}, and {error.reason}: this is "
                          "its last summary.")
            return answer
        unsaved = (" A stopped process's batch writes not yet committed are in its memory, not shown here."
                   if self.core.config.durability == "batch" else "")
        answer["note"] = (f"{self.name}'s process {why}: its records and hints are read from its sqlite files in "
                          f"{self.data_dir} (read-only), what it had committed to disk.{unsaved}")
        return answer

    def hint_count(self) -> int:
        """How many hints it holds."""
        return self._refresh()["hints"]

    def live_count(self) -> int:
        """How many live keys it holds."""
        return self._refresh()["live"]

    def owed_hints(self) -> List[int]:
        """The owners it holds hints for."""
        return list(self._refresh()["owed"])

    def skew(self) -> int:
        """Its clock offset (as last set or reported)."""
        return self._state["skew_ms"]

    def set_skew(self, skew_ms: int) -> None:
        """Offset its clock (remembered for when it comes back, if it is down)."""
        self._state["skew_ms"] = skew_ms
        if self._failure is None:
            self._json("POST", "/node/skew", {"skew_ms": skew_ms})

    def flush(self) -> int:
        """Group-commit its pending writes (none to ask for in sync durability: each write committed before its ack)."""
        if self._failure is None and self.core.config.durability != "sync":
            with contextlib.suppress(ReplicaLabError):  # died a moment ago: the supervisor is about to say so
                return self._json("POST", "/node/flush")["committed"]
        return 0

    def key_versions(self) -> Dict[str, Tuple[Version, bool]]:
        """Every key it holds: asked now while it runs, else read from its files."""
        return {key: (version, deleted) for key, version, deleted in self._keys("")}

    def keys_with_prefix(self, prefix: str) -> List[Tuple[str, Version, bool]]:
        """Its key index under `prefix`: asked now while it runs, else read from its files."""
        return self._keys(prefix)

    def _keys(self, prefix: str) -> List[Tuple[str, Version, bool]]:
        if self._failure is None:
            try:
                rows = self._json("GET", "/node/keys", params={"prefix": prefix} if prefix else None)["keys"]
                return [(key, Version.from_dict(version), deleted) for key, version, deleted in rows]
            except ReplicaLabError:  # died a moment ago (the supervisor is about to say so): its files tell
                pass
        if not self.data_dir:
            return []  # a node on another machine: its files are not here
        try:
            found = node_files.key_versions(self.data_dir, self.node_id, prefix)
        except node_files.FilesUnreadable:
            return []
        return [(key, version, deleted) for key, (version, deleted) in found.items()]

    # --- failures ------------------------------------------------------------------

    def failure(self) -> Optional[str]:
        """How it last failed, or None while it runs."""
        return self._failure

    def fail(self, mode: str) -> dict:
        """A real failure: SIGSTOP (stop), SIGKILL (crash), SIGKILL and its files deleted (wipe)."""
        before = self._refresh()
        self._failure = mode
        lost: Dict[str, Any] = {"mode": mode, "pid": self.pid}
        if self.child is None:
            return lost  # started elsewhere (--node-addresses): only the fault table marks it down
        lost["signal"] = "SIGSTOP" if mode == "stop" else "SIGKILL"
        if self.program_pid is not None:
            lost["program_pid"] = self.program_pid
        if mode == "stop":
            processes.pause(self.child)
            if self.program_pid is not None:  # the program runs on by itself: stop it too
                processes.pause(self.program_pid)
            return lost
        if getattr(self.core.network, "paused", False):
            lose_held(self)  # step mode: what it holds dies with it; say so before the kill
        processes.kill(self.child)
        if self.program_pid is not None:
            processes.kill(self.program_pid)  # it would die with its node process anyway (PDEATHSIG)
            self.program_pid = None  # gone: its PID may be another process's tomorrow
        if mode == "wipe":
            remove_node_files(self.data_dir)
            if wipe_program_dir(self.data_dir):
                lost["program_data_dir"] = "deleted"
            lost.update(keys_lost=before["live"], hints_lost=before["hints"])
        return lost

    def died(self, how: str) -> None:
        """The supervisor saw the process stop or exit on its own (kill from a terminal)."""
        self._failure = how

    def recover(self) -> None:
        """SIGCONT a stopped process; restart a killed one on its data dir and wait until it answers."""
        if self.child is not None and self._failure is not None:
            if self._failure == "stop" and self.child.exit_code() is None:
                if self.program_pid is not None:
                    processes.resume(self.program_pid)
                processes.resume(self.child)
            else:
                self.child = processes.restart(self.child)
                self.saw_health(processes.wait_healthy(f"http://{self.address}/peer/health", self.child,
                                                       timeout_s=15))
                if self.program is not None and not self.program.get("running"):  # still down: say why
                    raise program_status.ProgramNotRunning(
                        f"{program_status.closed(program_status.why_gone(self.name, self.program))} So {self.name} "
                        f"stays down: fix the program, then POST /recover/{self.node_id} starts it again.",
                        node=self.name)
        self._failure = None
        if self._state["skew_ms"]:
            self.set_skew(self._state["skew_ms"])
        self.rejoined(self)

    def close(self) -> None:
        """Stop the process by PID (SIGTERM: it flushes and closes its store)."""
        if self.child is not None:
            processes.stop(self.child)
