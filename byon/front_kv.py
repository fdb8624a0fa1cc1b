"""The front's client operations on a cluster of student nodes (`run.py cluster --node-cmd`).

`/write`, `/read` and `/cas` become lin-kv requests (lin_kv.py) to one node:
the one the request names (`coordinator`), else the first node of the key's
ring walk that is up, as for ReplicaLab's own nodes. The node process hands the
request to the program (node_host.py) and returns its reply; here the reply
becomes the answer's status and sentence and the operation's line in /history
(ok / fail / info, as Jepsen means them), so /check works on student nodes.
"""
from __future__ import annotations

from typing import Any, Optional, Tuple

from models import node_ref

from .lin_kv import KvOperation, KvResult, NodeAnswerError, interpret, no_reply
from .node_host import student_name

REPLY_TIMEOUT_MS = 5000  # how long the front waits for a program's reply before answering 504 (times --time-scale)
MAX_REPLY_TIMEOUT_MS = 600_000  # a slowed program still answers within 10 minutes or is given up on


def student_mode(manager: Any) -> bool:
    """True when the cluster's nodes are student programs (run.py cluster --node-cmd)."""
    return bool(getattr(manager.world, "student", False))


def not_running(op: KvOperation, node: str, why: str, node_id: int) -> KvResult:
    """The program is not running: nothing reached it, so the operation certainly did not happen."""
    return KvResult(op, "fail", 503, f"{node}'s program is not running, so the {op.f} of {op.key!r} was not "
                                     f"sent to it and did not happen: {why.rstrip('.')}. POST /recover/{node_id} "
                                     "restarts it.", details={"error": "program_not_running"})


def down_node(manager: Any, op: KvOperation, coordinator: Any) -> Optional[KvResult]:
    """The answer for a request naming a coordinator that is down (its program exited, or a fault); else None."""
    chosen = node_ref(coordinator) if coordinator is not None else None
    if chosen is None or not 0 <= chosen < len(manager.handles) or manager.is_up(chosen):
        return None
    handle, node = manager.handles[chosen], student_name(chosen)
    program = getattr(handle, "program", None) or {}
    why = f"its program is not running: {program['problem']}" if program.get("problem") and \
        handle.failure() == "crash" else f"failed with mode {handle.failure()}"
    return KvResult(op, "fail", 503, f"{node} is down ({why.rstrip('.')}), so the {op.f} of {op.key!r} was not "
                                     f"sent to it and did not happen. POST /recover/{chosen} restarts it, or name "
                                     "another coordinator.", details={"error": "node_down"})


def _ask(manager: Any, op: KvOperation, coordinator: Optional[Any], timeout_ms: int) -> Tuple[KvResult, str]:
    """The coordinator's answer to `op` as a KvResult, and that node's student id."""
    down = down_node(manager, op, coordinator)
    if down is not None:
        return down, student_name(node_ref(coordinator))  # type: ignore[arg-type]
    handle = manager.coordinator_for(op.key, coordinator)
    node = student_name(handle.node_id)
    paused_wait_ms = manager.config.client_timeout_ms if manager.network.paused else 0
    answer = handle.kv(op.request_body(0), timeout_ms, paused_wait_ms)
    if answer.get("not_running"):
        return not_running(op, node, answer["not_running"], handle.node_id), node
    if answer.get("reply") is None:
        paused_ms = answer.get("paused_ms", 0)  # gave up on the paused network: say so, and what to do
        return no_reply(op, node, timeout_ms, paused_ms if paused_ms >= paused_wait_ms > 0 else 0), node
    return interpret(op, answer["reply"], node), node


def reply_timeout_ms(config: Any) -> int:
    """How long the front waits for a program on a running network: 5 s on the program's clock (--time-scale)."""
    return min(REPLY_TIMEOUT_MS * max(1, int(getattr(config, "time_scale", 1))), MAX_REPLY_TIMEOUT_MS)


def run(manager: Any, op: KvOperation, coordinator: Optional[Any] = None,
        timeout_ms: Optional[int] = None) -> Tuple[KvResult, str]:
    """Send `op` to a student node, record it in the history, and return (result, node id).

    Raises lin_kv.NodeAnswerError (with the node's id) when it is not a success; the
    cluster lock is released while the program works (HttpNodeHandle.kv). Sent while
    the network is paused, the request also waits up to client_timeout_ms of paused
    time, as a simulated one waits for its quorum in step mode.
    """
    timeout_ms = timeout_ms or reply_timeout_ms(manager.config)
    with manager.lock, manager.history.record(op.f, op.key, op.history_value()) as outcome:
        result, node = _ask(manager, op, coordinator, timeout_ms)
        done = result.outcome()
        outcome.type, outcome.value, outcome.details = done.type, done.value, done.details
    if result.status != 200:
        error = NodeAnswerError(result)
        error.data["node"] = node
        raise error
    return result, node
