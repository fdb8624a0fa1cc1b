"""Step mode across processes, at the front: one list of every node's held messages, moved one by one.

Each node process holds what it sends while the network is paused
(realmode/step_hold.py); the front never carries a message. `ProcessSteps`
is what the front's network (front.py) does for step mode:

- pause / resume: publish the fault table with `paused` set / cleared. Resume
  first delivers every held message, oldest first, and what those cause, as
  the simulated network delivers "the held messages and everything that
  follows" (then each node posts whatever is left, e.g. on a node that was down);
- the list: every live node's held messages merged into the simulated
  mode's shape, ordered by when they were held. An id is the cluster-wide id
  the sender gave the message (its events and the space-time diagram use it
  too); its holder is node `id % nodes`;
- deliver: the holder POSTs the message now, then the receiver settles (runs
  what is due now) and answers with the events, so the answer's story tells
  what the receiver did; drop, duplicate: the holder does it; step: deliver
  the oldest; tick: move every node's frozen timers (TimerThread.freeze).

`RealStepControl` is cluster/step_mode.py's StepControl with the sentences
and counts of real mode: real time still stamps events (the front's clock
never freezes), the waiting requests are counted by the coordinators.
"""
from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, List, Optional, Tuple

from cluster.errors import Conflict, NotFound
from cluster.faults import down_reason
from cluster.step_mode import StepControl
from models import node_id_of
from wording import plural

if TYPE_CHECKING:
    from realmode.node_handle import HttpNodeHandle

RESUME_DELIVERIES = 2_000  # resume delivers at most this many held messages by hand, then lets the nodes post
RESUME_S = 20.0


class ProcessSteps:
    """The front's step mode over node processes: list, deliver, drop, duplicate, step, tick, drain."""

    def __init__(self, network):
        self.network = network  # FrontNetwork: its handles, its paused flag

    def _live(self) -> List[HttpNodeHandle]:
        return [h for h in self.network.handles if h.failure() is None]

    def _call(self, handle: HttpNodeHandle, path: str, body: Optional[dict] = None, method: str = "POST") -> dict:
        """One control call to a node; the events in its answer go to the front's log first."""
        data = handle._json(method, path, body)
        for batch in data.get("event_batches", ()):
            handle.sink.accept(batch)
        return data

    def _holder(self, msg_id: int) -> HttpNodeHandle:
        handles = self.network.handles
        holder = handles[msg_id % len(handles)] if msg_id > 0 else None
        if holder is None:
            raise NotFound(f"No message {msg_id} is in flight; GET /network/messages lists them.", msg_id=msg_id)
        if holder.failure() is not None:
            raise Conflict(f"Message {msg_id} would be held by {holder.name}, which is down "
                           f"({holder.failure()}): its process cannot move a message until POST /recover/"
                           f"{holder.node_id}.", msg_id=msg_id)
        return holder

    def listing(self) -> Tuple[List[dict], int]:
        """(every held message, oldest first; client requests waiting) from the live node processes.

        Unpaused nothing is held (resume posted it all), so no node is asked: the dashboard
        refreshes this list after events, and real mode has many.
        """
        held, waiting = [], 0
        for handle in self._live() if self.network.paused else ():
            try:
                data = self._call(handle, "/node/held", method="GET")
            except Exception:  # noqa: BLE001 -- died a moment ago: the supervisor is about to say so
                continue
            if data["paused"] != self.network.paused:  # it missed the table (busy, or just back): send it again
                self.network.publish([handle])
            held.extend(data["held"])
            waiting += data["waiting"]
        held.sort(key=lambda entry: (entry[0], entry[1]["id"]))
        self.network.in_flight = len(held)
        return [message for _, message in held], waiting

    def unlisted(self) -> List[str]:
        """Why the held messages of stopped nodes are not listed (a crashed node's were lost, and said so)."""
        if not self.network.paused:
            return []
        return [f"{h.name} is stopped (SIGSTOP): what it holds, and the requests waiting on it, show again "
                f"after POST /recover/{h.node_id}" for h in self.network.handles if h.failure() == "stop"]

    def deliver(self, msg_id: int, by_hand: bool = True, to: Optional[str] = None) -> None:
        """Deliver one held message now; the receiver runs it before this returns.

        By hand, a student's program also gets a moment to answer (its reply belongs to the
        step's story); resume's drain does not wait for that, message after message. `to`,
        the receiver's name from a listing just made, spares asking the holder for it again.
        """
        holder = self._holder(msg_id)
        receiver = self._receiver(holder, msg_id) if to is None else self._named(to)
        if receiver is not None and receiver.failure() is not None:
            # As the simulated network does with a message to a down node: lost, and said why.
            self._call(holder, "/node/held/drop", {"id": msg_id, "reason": down_reason(
                {receiver.node_id}, holder.node_id, receiver.node_id)})
            return
        data = self._call(holder, "/node/held/deliver", {"id": msg_id})
        if data.get("lost") is None and receiver is not None:
            self._call(receiver, "/node/settle?quiet=1" if by_hand else "/node/settle")

    def _receiver(self, holder: HttpNodeHandle, msg_id: int) -> Optional[HttpNodeHandle]:
        """The handle of the node a held message goes to (from the holder's list)."""
        data = self._call(holder, "/node/held", method="GET")
        for _, message in data["held"]:
            if message["id"] == msg_id:
                return self._named(message["to"])
        raise NotFound(f"No message {msg_id} is in flight; GET /network/messages lists them.", msg_id=msg_id)

    def _named(self, name: str) -> Optional[HttpNodeHandle]:
        return next((h for h in self.network.handles if h.name == name), None)

    def drop(self, msg_id: int) -> None:
        """Lose one held message."""
        self._call(self._holder(msg_id), "/node/held/drop", {"id": msg_id})

    def duplicate(self, msg_id: int) -> int:
        """Hold a copy of a held message at its sender; returns the copy's id."""
        return self._call(self._holder(msg_id), "/node/held/duplicate", {"id": msg_id})["copy_id"]

    def step_message(self) -> Optional[int]:
        """Deliver the oldest held message; its id, or None if none is held."""
        messages, _ = self.listing()
        if not messages:
            return None
        self.deliver(messages[0]["id"], to=messages[0]["to"])
        return messages[0]["id"]

    def tick(self, ms: int) -> int:
        """Move every live node's frozen timers forward by `ms`; the timeouts that come due fire."""
        for handle in self._live():
            self._call(handle, "/node/tick", {"ms": ms})
        return 0

    def drain(self) -> int:
        """Deliver held messages, oldest first, and what they cause, until none is held (bounded); how many."""
        delivered = 0
        deadline = time.monotonic() + RESUME_S
        while delivered < RESUME_DELIVERIES and time.monotonic() < deadline:
            messages, _ = self.listing()
            if not messages:
                break
            for message in messages:
                try:
                    self.deliver(message["id"], by_hand=False, to=message["to"])
                except (NotFound, Conflict):
                    continue  # its holder went down meanwhile: it posts what it holds when it recovers
                delivered += 1
        return delivered


def lose_held(handle: HttpNodeHandle) -> int:
    """Narrate each message a node holds as lost: its process is about to be killed (crash, wipe) while paused.

    A held message lives in the sender's memory; the simulated network would keep it,
    a killed process cannot. Asked before the kill, so the story and the space-time
    diagram end each of those arrows with a reason. Returns how many.
    """
    try:
        held = handle._json("GET", "/node/held")["held"]
    except Exception:  # noqa: BLE001 -- not answering: nothing to list, the kill goes on
        return 0
    reason = f"{handle.name}'s process was killed while holding it: it is lost with the process's memory"
    for _, message in held:
        handle.core.events.emit("message_dropped", f"dropped message {message['id']}, {message['from']} -> "
                                f"{message['to']}: {message['summary']} ({reason})",
                                (node_id_of(message["from"]), node_id_of(message["to"])), message["key"],
                                msg_id=message["id"], kind=message["kind"], op_id=message["op_id"], reason=reason,
                                in_story=True)  # the student's kill lost it: the answer tells it
    return len(held)


REAL_PAUSE = ("network paused: every node process holds the messages it sends until you deliver, drop or step "
              "them, and its timers stand still until /tick or /network/resume (events keep real time)")


def student_pause(scale: int) -> str:
    """The pause sentence for student programs: ReplicaLab holds their messages but runs no timer of theirs."""
    clock = (f"their own clocks run {scale} times slower than real time (--time-scale {scale})" if scale > 1 else
             "their own timers keep running (heartbeats pile up, timeouts fire): start the cluster with "
             "--time-scale 100 to slow them while you step")
    return ("network paused: every node process holds the messages its program sends until you deliver, drop or "
            f"step them; {clock}; a client request waits up to client_timeout_ms while paused")


class RealStepControl(StepControl):
    """StepControl over node processes: the front's clock keeps real time; coordinators count waiting requests."""

    @property
    def _processes(self) -> ProcessSteps:
        network: Any = self.core.network  # the FrontNetwork (front.py) stands where the Network stands
        return network.steps

    def pause(self) -> dict:
        """Every node process holds what it sends from now on; its timers stand still."""
        with self.core.lock:
            if self.core.network.paused:
                raise Conflict("The network is already paused.")
            self.core.network.pause()
            scale = getattr(self.core.network, "student_scale", 0)
            self.core.events.emit("network_paused", student_pause(scale) if scale else REAL_PAUSE, ())
            return self.messages_view()

    def resume(self) -> dict:
        """Deliver every held message and what follows, then let each node send and time as usual."""
        with self.core.lock:
            if not self.core.network.paused:
                raise Conflict("The network is not paused.")
            held, _ = self._processes.listing()
            after = ("its program's messages go at once again (its own timers never stopped)"
                     if getattr(self.core.network, "student_scale", 0) else "its timers follow real time")
            self.core.events.emit("network_resumed", f"network resumed: delivering the held "
                                  f"{plural(len(held), 'message')} and everything that follows; then every "
                                  f"node process sends at once again and {after}", ())
            self.core.network.resume()
            self.core.settle()
            return self.messages_view()

    def messages_view(self) -> dict:
        """The held messages of every node process, oldest first, and the requests waiting on them."""
        with self.core.lock:
            messages, waiting = self._processes.listing()
            return {"paused": self.core.network.paused, "time_ms": self.core.clock.elapsed(),
                    "messages": messages, "waiting_requests": waiting, "not_listed": self._processes.unlisted()}

    def tick(self, ms) -> dict:
        """While paused, move the node processes' frozen timers; otherwise real time moves by itself (409)."""
        if not self.core.network.paused:
            raise Conflict(f"In real mode time passes by itself: each node process's timers follow its real "
                           f"clock, so there is nothing to tick. Wait instead (a coordinator gives up on a silent "
                           f"replica after request_timeout_ms = {self.core.config.request_timeout_ms} ms). /tick "
                           "moves the node processes' timers only while the network is paused (POST "
                           "/network/pause), when they stand still.", mode="real")
        if getattr(self.core.network, "programs_only", False):
            raise Conflict("Your programs' timers are their own: /tick cannot move them (it moves ReplicaLab's "
                           "node processes' frozen timers). Their clocks run on while paused, slowed by "
                           "--time-scale; deliver messages by hand, or wait for their timers.", mode="real")
        return super().tick(ms)
