"""A client operation as its coordinator node runs it: stamp, start the op, wait, judge the result.

The control plane (replication.py) validates a request and picks the
coordinator; what happens next is the coordinator's own business and is the
same on every transport: in simulated mode the manager calls these functions
on a node of its process (through LocalNodeHandle), in real mode the node
process calls them on its one node (realmode/node_process.py). `run(op)` is
the caller's "start it and give me the result once a client can be answered":
the simulated network's `ClusterCore.run`, or a node process's wait on its
own threads.
"""
from __future__ import annotations

from typing import Any, Callable, Optional

from cluster import siblings
from cluster.errors import NoQuorum
from cluster.linearizable import AbdOp, majority
from cluster.paxos import CasResult, compare_and_set
from cluster.quorum import ReadOp, ReadResult, WriteOp, WriteResult
from models import Record, Version
from wording import plural

Run = Callable[[Any], Any]


def new_record(node, key: str, value: Any, deleted: bool, context: Any) -> Record:
    """A client's write stamped by `node` as coordinator (an LWW version, or a new dot in siblings mode)."""
    if node.conflicts == "siblings":
        return siblings.new_write(node, key, value, deleted, context)
    return Record(key, None if deleted else value, node.stamp_above(None), deleted)


def _abd(run: Run, node, key: str, needed: int, write: Optional[Record] = None):
    """Run one linearizable (ABD) read or write; NoQuorum when no majority answered."""
    op = AbdOp(node.next_op_id(), node, key, node.ring, majority(node.ring.rf, needed), write)
    result = run(op)
    if op.failure:
        what = "write" if write is not None else "read"
        raise NoQuorum(f"The linearizable {what} of {key!r} failed: {op.failure}. This mode never "
                       "asks a stand-in, so it answers 503 rather than risk a stale or lost value. "
                       "Recover nodes or heal the partition and retry.", result=result)
    return result


def write(run: Run, node, key: str, value: Any, needed: int, mode: str, deleted: bool = False,
          context: Any = siblings.vv.EMPTY) -> WriteResult:
    """Coordinate one write (or tombstone) with write quorum `needed`; NoQuorum when it is unmet."""
    if mode == "linearizable":  # the version is chosen after the query phase
        return _abd(run, node, key, needed, Record(key, None if deleted else value,
                                                  Version(0, node.node_id), deleted))
    record = new_record(node, key, value, deleted, context)
    result = run(WriteOp(node.next_op_id(), node, record, node.ring, needed))
    if not result.ok:
        stored = [a["node"] for a in result.acks if a["applied"]]
        raise NoQuorum(
            f"The write of {key!r} is not confirmed: {len(result.acks)} of the {needed} "
            f"acknowledgements needed (W={needed}) arrived. "
            + (f"It was stored on {', '.join(stored)}, so later reads may still return it "
               "and recovery may spread it." if stored else "No node stored it.")
            + " Recover nodes and retry.", result=result)
    return result


def read(run: Run, node, key: str, needed: int, mode: str) -> ReadResult:
    """Coordinate one quorum (or linearizable) read with read repair; NoQuorum when too few answered."""
    if mode == "linearizable":
        result = _abd(run, node, key, needed)
    else:
        result = run(ReadOp(node.next_op_id(), node, key, node.ring, needed))
    if not result.ok:
        raise NoQuorum(f"The read of {key!r} failed: only {len(result.answers)} of the "
                       f"{plural(needed, 'answer')} needed (R={needed}) arrived. Recover nodes or "
                       "read with a smaller ?r=.", result=result)
    return result


def cas(run: Run, node, key: str, expected: Optional[str], value: Any) -> CasResult:
    """Coordinate one compare-and-set by Paxos (cluster/paxos.py)."""
    return compare_and_set(run, node, key, expected, value)
