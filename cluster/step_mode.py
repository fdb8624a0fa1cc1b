"""Step mode: pause the network and move its messages one by one.

One part of the cluster (the manager owns it as `steps`). While paused, the
Network holds every message; a student lists them, delivers, drops or
duplicates them, steps to the next one in the network's own order, or moves
simulated time with a tick. Requests waiting for their quorum are woken after
each move (ClusterCore.settle).
"""
from __future__ import annotations

from cluster import siblings
from cluster.core import ClusterCore
from cluster.errors import BadRequest, Conflict
from wording import plural

MAX_TICK_MS = 3_600_000


class StepControl:
    """Pause the network and move its messages one by one."""

    def __init__(self, core: ClusterCore):
        self.core = core

    def pause(self) -> dict:
        """Hold every message from now on; simulated time stands still."""
        with self.core.lock:
            if self.core.network.paused:
                raise Conflict("The network is already paused.")
            self.core.network.pause()
            self.core.clock.freeze()
            self.core.events.emit("network_paused", "network paused: messages are held until you deliver, "
                             "drop or step them; time moves only with /tick and /network/step", ())
            return self.messages_view()

    def resume(self) -> dict:
        """Deliver normally again, starting with every held message."""
        with self.core.lock:
            if not self.core.network.paused:
                raise Conflict("The network is not paused.")
            held = self.core.network.in_flight
            self.core.network.resume()
            self.core.clock.unfreeze()
            self.core.events.emit("network_resumed", f"network resumed: delivering the held "
                             f"{plural(held, 'message')} and everything that follows", ())
            self.core.settle()
            return self.messages_view()

    def messages_view(self) -> dict:
        """The messages in flight, in delivery order."""
        with self.core.lock:
            return {"paused": self.core.network.paused, "time_ms": self.core.clock.elapsed(),
                    "messages": self.core.network.held(self._detail), "waiting_requests": self.core.still_waiting(),
                    "not_listed": self.core.network.unlisted()}

    @property
    def _detail(self):
        """In siblings mode, what each held record carries: its context and siblings."""
        return siblings.message_detail if self.core.config.conflicts == "siblings" else None

    def _move(self, action, msg_id: int):
        with self.core.lock:
            result = action(msg_id)
            self.core.settle()
            return result

    def deliver_message(self, msg_id: int) -> dict:
        """Deliver one held message now."""
        self._move(self.core.network.deliver, msg_id)
        return self.messages_view()

    def drop_message(self, msg_id: int) -> dict:
        """Lose one held message."""
        self._move(self.core.network.drop, msg_id)
        return self.messages_view()

    def duplicate_message(self, msg_id: int) -> dict:
        """Add a copy of a held message; both will be delivered."""
        copy_id = self._move(self.core.network.duplicate, msg_id)
        return {"copy_id": copy_id, **self.messages_view()}

    def step_message(self) -> dict:
        """Deliver the next held message in the network's own order."""
        with self.core.lock:
            msg_id = self.core.network.step_message()
            if msg_id is None:
                raise Conflict("No message is in flight: there is nothing to step.")
            self.core.settle()
            return {"delivered": msg_id, **self.messages_view()}

    def tick(self, ms) -> dict:
        """Advance simulated time by `ms`, firing the timers and deliveries that come due."""
        if isinstance(ms, bool) or not isinstance(ms, int) or not 1 <= ms <= MAX_TICK_MS:
            raise BadRequest(f"\"ms\" must be a whole number from 1 to {MAX_TICK_MS}, not {ms!r}.",
                             field="ms")
        with self.core.lock:
            self.core.events.emit("tick", f"time moves forward {ms} ms", ())
            self.core.network.tick(ms)
            self.core.settle()
            return self.messages_view()
