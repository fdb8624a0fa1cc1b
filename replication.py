"""ReplicationManager: the replicated key-value cluster, composed from its parts.

The manager builds the shared ClusterCore (cluster/core.py: nodes, ring,
network, clock, event log, one lock) and the parts that act on it:
`faults` (cluster/fault_control.py), `steps` (cluster/step_mode.py) and
`jobs` (cluster/maintenance.py). It serves the client operations itself —
write, read, delete, fail, recover and the views — each under the lock:
start an operation on a coordinator node, let the network run, return a plain
result. The HTTP layer (api/) turns results into answers. Where each
mechanism lives: docs/architecture.md.
"""
from __future__ import annotations

from typing import Dict, List, Optional, Tuple

from cluster import crash, siblings
from cluster.clock import make_clock
from cluster.core import ClusterCore
from cluster.errors import BadRequest, Conflict, KeyNotFound, NeedsLww, NodeDown
from cluster.event_log import EventLog
from cluster.fault_control import FaultControl
from cluster.hints import HintStore
from cluster.history import History
from cluster.linearizable import CONSISTENCY_MODES
from cluster.maintenance import Maintenance, owed_handoffs
from cluster.network import Network
from cluster.node import ReplicaNode
from cluster.node_handle import LocalNodeHandle, NodeHandle
from cluster.paxos import CasResult
from cluster.paxos_acceptor import PaxosState
from cluster.quorum import ReadResult, WriteResult
from cluster.ring import Ring
from cluster.scenario import ScenarioRecord
from cluster.seam import NodeSeam
from cluster.step_mode import StepControl
from config import Config
from db import DataDirLock, LRUCache, NodeStore, open_backend, remove_node_files
from models import MAX_NODE_DIGITS, Version, node_id_of, node_name, node_ref, shown


def build_node(config: Config, ring: Ring, node_id: int, seam) -> ReplicaNode:
    """One ReplicaNode on its sqlite (or memory) files in config.data_dir: the same in both modes."""
    name = node_name(node_id)
    store = NodeStore(open_backend(config.storage, config.data_dir, f"{name}.records"),
                      LRUCache(config.cache_items, config.cache_bytes), config.durability, config.batch_size,
                      ring.preference_list)
    hints = HintStore(open_backend(config.storage, config.data_dir, f"{name}.hints"))
    node = ReplicaNode(node_id, store, hints, ring, seam, config.request_timeout_ms)
    node.conflicts = config.conflicts
    node.paxos = PaxosState(open_backend(config.storage, config.data_dir, f"{name}.paxos"))
    return node


class SimulatedWorld:
    """Every node a ReplicaNode in this process, over the one simulated Network (the default)."""

    mode = "simulated"

    def network(self, clock, events: EventLog, config: Config) -> Network:
        """The seeded Network every node's seam sends through."""
        return Network(clock, events, config.seed, (config.latency_min_ms, config.latency_max_ms))

    def step_control(self, core: ClusterCore) -> StepControl:
        """Step mode over the simulated Network."""
        return StepControl(core)

    def start(self, core: ClusterCore) -> Optional[DataDirLock]:
        """Build the nodes and their handles into `core`; returns the data directory's lock (sqlite)."""
        config = core.config
        # A second server on the same files would silently fork or delete the first one's data.
        data_lock = DataDirLock(config.data_dir) if config.storage == "sqlite" else None
        if config.fresh and config.storage == "sqlite":
            remove_node_files(config.data_dir)
        core.nodes.extend(build_node(config, core.ring, i, NodeSeam(i, core.network, core.events))
                          for i in range(config.nodes))
        core.handles.extend(LocalNodeHandle(node, core.run) for node in core.nodes)
        return data_lock

    def close(self) -> None:
        """Nothing runs outside this process: closing the handles closed everything."""


class ReplicationManager:
    """The cluster: N nodes on a ring, one network, one event log, one lock."""

    def __init__(self, config: Config, clock=None, world=None):
        self.config = config.validate()
        self.clock = clock or make_clock(config.clock)
        self.events = EventLog(self.clock, config.max_events, config.narrate)
        # Where the nodes live: here, over the simulated Network (the default), or one OS
        # process each (realmode/front.py). The control plane below is the same for both.
        self.world = world or SimulatedWorld()
        self.network = self.world.network(self.clock, self.events, config)
        self.ring = Ring(config.nodes, config.vnodes, config.rf)
        self.core = ClusterCore(self.config, self.clock, self.events, self.network, self.ring)
        self.lock = self.core.lock
        self.changed = self.core.changed
        self.faults = FaultControl(self.core)
        self.steps = self.world.step_control(self.core)
        self.jobs = Maintenance(self.core)
        self.scenario = ScenarioRecord()
        self.history = History(self.clock, config.max_history)  # client operations, for /history and /check
        self.nodes: List[ReplicaNode] = self.core.nodes
        self.handles: List[NodeHandle] = self.core.handles
        self.data_lock = self.world.start(self.core)
        if hasattr(self.world, "recover_node"):  # real mode: a node continued from a terminal recovers as here
            self.world.recover_node = self.recover
        stored = sum(h.live_count() for h in self.handles)
        self.started_empty = stored == 0 and not any(h.hint_count() for h in self.handles)
        said = (f"cluster started: {config.nodes} nodes, RF={config.rf}, R={config.r}, W={config.w}, seed "
                f"{config.seed}, {config.clock} clock ({stored} live records loaded)")
        if getattr(self.world, "student", False):  # quorums and records are ReplicaLab's nodes', not a program's
            said = f"cluster started: {config.nodes} nodes, each a student's program keeping its own data"
        self.events.emit("cluster_started", said,
                         range(config.nodes), node_count=config.nodes, rf=config.rf, r=config.r, w=config.w)
        self.events.flush()

    # --- lookups -------------------------------------------------------------

    @property
    def parked(self) -> int:
        """How many requests wait in step mode for their operation right now."""
        return self.core.parked

    @property
    def parks(self) -> int:
        """How many times a request started waiting in step mode (only grows)."""
        return self.core.parks

    def record(self, entry: dict) -> None:
        """Remember a state-changing request (or job run) for the scenario export."""
        with self.lock:
            self.scenario.record(entry)

    def node(self, node_id: int) -> ReplicaNode:
        """Return the node with this id, or raise NodeNotFound."""
        return self.core.node(node_id)

    def is_up(self, node_id: int) -> bool:
        """True unless the node has been failed."""
        return self.core.is_up(node_id)

    def coordinator_for(self, key: str, chosen: Optional[int] = None) -> NodeHandle:
        """The node that coordinates `key`: `chosen` if given (a client connected to it),
        else the first node of the key's ring walk that is up (its primary when healthy)."""
        if chosen is not None:
            given, chosen = chosen, node_ref(chosen)
            if chosen is None:
                raise BadRequest(f"coordinator must be a node id such as 1 or \"node-1\" (at most "
                                 f"{MAX_NODE_DIGITS} digits), not {shown(given)}.", field="coordinator")
            node = self.node(chosen)
            if not self.is_up(chosen):
                raise NodeDown(f"{node.name} is down ({self.handles[chosen].failure()}): a client connected "
                               f"to it gets no answer, and nothing was done. Choose another coordinator, or "
                               f"bring it back with POST /recover/{chosen}.", key=key, node=node.name)
            return self.handles[chosen]
        for node_id in self.ring.walk(key):
            if self.is_up(node_id):
                return self.handles[node_id]
        raise NodeDown("Every node is down, so nothing can be read or written. "
                       "Recover a node with POST /recover/<id>.", key=key)

    def _quorum(self, name: str, value: Optional[int]) -> int:
        if value is None:
            return getattr(self.config, name)
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= self.config.rf:
            raise BadRequest(f"{name} must be a whole number from 1 to the replication factor "
                             f"{self.config.rf} (got {value!r}).", field=name)
        return value

    def settle(self) -> None:
        """Run the network as far as it can go now, and wake requests waiting on it."""
        self.core.settle()

    # --- key-value operations ----------------------------------------------------

    def _mode(self, consistency: Optional[str]) -> str:
        """The consistency mode of one request: its own, or the server's --consistency."""
        if consistency == "linearizable" and self.siblings_mode:
            raise BadRequest("consistency=linearizable cannot run with --conflicts siblings: a "
                             "linearizable register has one value, never siblings.", field="consistency")
        if consistency is None:
            return self.config.consistency
        if consistency not in CONSISTENCY_MODES:
            raise BadRequest(f"consistency must be one of {', '.join(CONSISTENCY_MODES)}, not "
                             f"{consistency!r}.", field="consistency")
        return consistency

    @property
    def siblings_mode(self) -> bool:
        """True when concurrent writes are kept as siblings (--conflicts siblings)."""
        return self.config.conflicts == "siblings"

    def _context(self, text: Optional[str], key: str):
        """The causal context a client sent back for `key` (siblings mode), validated; empty if none."""
        if text is None:
            return siblings.vv.EMPTY
        if not self.siblings_mode:
            raise BadRequest("\"context\" only means something with --conflicts siblings; this cluster "
                             "resolves conflicts by last-writer-wins, so leave it out.", field="context")
        try:
            return siblings.decode_context(text, len(self.nodes), key)
        except siblings.OtherKeyContext as error:
            raise BadRequest(f"\"context\" is not valid: {error}.", field="context") from None
        except ValueError as error:
            raise BadRequest(f"\"context\" is not valid: {error}. Send back the context string a read "
                             "of this key answered with, unchanged, or none.", field="context") from None

    def write(self, key: str, value, w: Optional[int] = None, deleted: bool = False,
              coordinator: Optional[int] = None, consistency: Optional[str] = None,
              context: Optional[str] = None) -> WriteResult:
        """Write `value` (or a tombstone) with write quorum `w`; raises NoQuorum if unmet.

        In siblings mode the write supersedes what `context` (from a read) saw, nothing else.
        The coordinator node runs it (cluster/coordinator.py), in this process or its own.
        """
        with self.lock, self.history.record("delete" if deleted else "write", key,
                                            None if deleted else value):
            needed = self._quorum("w", w)
            mode = self._mode(consistency)
            seen = self._context(context, key)
            handle = self.coordinator_for(key, coordinator)
            return handle.write(key, value, needed, mode, deleted, seen)

    def read(self, key: str, r: Optional[int] = None, coordinator: Optional[int] = None,
             consistency: Optional[str] = None) -> ReadResult:
        """Quorum read with read repair; raises NoQuorum or KeyNotFound."""
        with self.lock, self.history.record("read", key) as outcome:
            needed = self._quorum("r", r)
            mode = self._mode(consistency)
            result = self.coordinator_for(key, coordinator).read(key, needed, mode)
            if not result.found:
                why = (f"it was deleted (tombstone v{result.record.version})" if result.record
                       else "no replica that answered has it")
                raise KeyNotFound(f"Key {key!r} not found: {why}.", result=result)
            record = result.record
            assert record is not None  # found
            outcome.value = record.value
            sset = siblings.of(record) if self.siblings_mode else None
            if sset is not None:  # the history keeps what the client saw: the live values
                outcome.value = [s.value for s in sset.live]
            return result

    def delete(self, key: str, w: Optional[int] = None, r: Optional[int] = None,
               coordinator: Optional[int] = None, consistency: Optional[str] = None,
               context: Optional[str] = None) -> Tuple[ReadResult, WriteResult]:
        """Read `key` (404 if absent), then write a tombstone; returns (read, write) results.

        In siblings mode the tombstone supersedes what the client's `context` saw, or
        else what this read saw: a write the read did not see survives as a sibling.
        """
        with self.lock, self.history.record("delete", key):
            self._quorum("w", w)
            self._context(context, key)
            found = self.read(key, r, coordinator, consistency)
            sset = siblings.of(found.record) if self.siblings_mode else None
            if sset is not None and context is None:
                context = siblings.encode_context(sset.context, key)
            return found, self.write(key, None, w, deleted=True, coordinator=coordinator,
                                     consistency=consistency, context=context)

    def cas(self, key: str, expected: Optional[str], value, coordinator: Optional[int] = None) -> CasResult:
        """Compare-and-set by single-decree Paxos over the key's replicas (cluster/paxos.py)."""
        if self.siblings_mode:
            raise NeedsLww("Compare-and-set needs --conflicts lww: it compares one "
                           "version, and a key here may hold several concurrent siblings. Use a "
                           "write with the context of your read instead.", key=key)
        with self.lock, self.history.record("cas", key, [{"expected_version": expected}, value]) as outcome:
            result = self.coordinator_for(key, coordinator).cas(key, expected, value)
            outcome.details["compared_with"] = result.fields()["compared_with"]
            return result

    # --- failures and recovery ------------------------------------------------

    def fail(self, node_id: int, mode: str = "stop") -> dict:
        """Take a node down: stop (keeps memory and disk), crash (loses memory) or wipe."""
        if mode not in crash.MODES:
            raise BadRequest(f"?mode= must be one of {', '.join(crash.MODES)}, not {mode!r}.",
                             field="mode")
        with self.lock:
            node = self.node(node_id)
            if not self.is_up(node_id):
                raise Conflict(f"{node.name} is already down ({self.handles[node_id].failure()}).", node=node.name)
            self.network.down.add(node_id)
            lost = self.handles[node_id].fail(mode)
            self.events.emit("node_failed", crash.describe(node, mode, lost), [node_id], mode=mode)
            self.settle()  # operations it coordinated may have been abandoned
            return {"node": self.handles[node_id].summary(False), "lost": lost}

    def recover(self, node_id: int, catch_up: bool = True) -> dict:
        """Bring a node back; unless catch_up is False, hand its hints home and sync it."""
        with self.lock:
            node = self.node(node_id)
            if self.is_up(node_id):
                raise Conflict(f"{node.name} is already up.", node=node.name)
            failed_as = self.handles[node_id].failure()
            self.handles[node_id].recover()
            self.network.down.discard(node_id)
            if not catch_up:
                self.events.emit("node_recovered", f"{node.name} is back up after a {failed_as}, "
                                 "quietly: no handoff, no sync. Hint retry, read repair and "
                                 "anti-entropy are left to catch it up", [node_id])
                return {"node": self.handles[node_id].summary(True), "hints_received": [], "hints_handed_off": {},
                        "pulled_keys": [], "pushed_to_peers": {}, "peers_answered": [], "peers_silent": []}
            self.events.emit("node_recovered", f"{node.name} is back up after a {failed_as}; it "
                             "now catches up on what it missed", [node_id])
            handoffs = [(holder, self.handles[holder].start_handoff(owner))
                        for holder, owner in owed_handoffs(self.handles, self.is_up, node_id)]
            sync = self.handles[node_id].start_sync([p for p in range(len(self.nodes)) if p != node_id])
            self.settle()
            received = sorted({k for _, op in handoffs if op.owner == node_id for k in op.delivered})
            handed = {node_name(op.owner): op.delivered for holder, op in handoffs
                      if holder == node_id and op.delivered}
            return {"node": self.handles[node_id].summary(True), "hints_received": received,
                    "hints_handed_off": handed, **sync.summary()}

    # --- views ---------------------------------------------------------------

    def nodes_view(self) -> List[dict]:
        """Every node's summary."""
        with self.lock:
            return [h.summary(self.is_up(h.node_id)) for h in self.handles]

    def node_view(self, node_id: int) -> dict:
        """One node's records and hints."""
        with self.lock:
            node = self.node(node_id)
            return self.handles[node.node_id].detail(self.is_up(node_id))

    def keys_view(self) -> dict:
        """Every key any node holds, with its newest version and who holds it (no quorum)."""
        with self.lock:
            holders: Dict[str, List[int]] = {}
            versions: Dict[str, Tuple[Version, bool]] = {}
            for handle in self.handles:
                for key, (version, deleted) in handle.key_versions().items():
                    holders.setdefault(key, []).append(handle.node_id)
                    if key not in versions or version > versions[key][0]:
                        versions[key] = (version, deleted)
            live = [{"key": k, "version": versions[k][0].to_dict(), "held_by": [node_name(n) for n in holders[k]]}
                    for k in sorted(versions) if not versions[k][1]]
            gone = sorted(k for k in versions if versions[k][1])
            return {"count": len(live), "keys": live, "deleted_keys": gone}

    def live_keys(self, prefix: str) -> List[str]:
        """The keys under `prefix` whose newest copy on any node is not a tombstone, sorted.

        Reads each node's sorted key index, so it costs what matches, not what the store holds.
        """
        with self.lock:
            newest: dict = {}
            for handle in self.handles:
                for key, version, deleted in handle.keys_with_prefix(prefix):
                    if key not in newest or version > newest[key][0]:
                        newest[key] = (version, deleted)
            return sorted(k for k, (_, deleted) in newest.items() if not deleted)

    def placement(self, key: str, rf: Optional[int] = None) -> dict:
        """Where `key` lives on the ring (or would with another RF), and who is up."""
        if rf is not None and not 1 <= rf <= len(self.nodes):
            raise BadRequest(f"?rf= must be between 1 and the number of nodes {len(self.nodes)} "
                             f"(got {rf}).", field="rf")
        with self.lock:
            info = self.ring.explain(key, rf)
            info["replicas_up"] = [n for n in info["preference_list"] if self.is_up(node_id_of(n))]
            info["coordinator"] = next((node_name(n) for n in self.ring.walk(key) if self.is_up(n)), None)
            return info

    def close(self) -> None:
        """Flush every node's pending writes and close storage."""
        with self.lock:
            # The world first: node processes (real mode) stop all at once there, not one by one
            # below; in the simulated world it has nothing to close.
            self.world.close()
            for handle in self.handles:
                handle.close()
            if self.data_lock is not None:
                self.data_lock.release()

