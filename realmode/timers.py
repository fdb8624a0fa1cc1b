"""One thread per node process that runs timers and deliveries in time order, under the node's lock.

A real node must not start a thread per timer or per message: a coordinator
sets a timer for every operation, and a busy node receives hundreds of
messages a second. One heap ordered by due time and one thread popping it keep
the thread count fixed and run the node's code one callback at a time, under
the same lock the control plane takes, as the simulated Network does.

Step mode freezes the thread's clock (`freeze`): what is due now still runs
(a delivery, a node asking itself), a timer set for later waits until
`advance` (POST /tick) or `unfreeze` moves the clock, as the simulated clock
stands still while the network is paused. The frozen interval never counts.
"""
from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from contextlib import nullcontext
from typing import Callable, List, Optional, Tuple

logger = logging.getLogger("replicalab")


class TimerHandle:
    """A pending call; cancel() disarms it (a cancelled entry is skipped when its time comes)."""

    __slots__ = ("callback", "cancelled", "under_lock")

    def __init__(self, callback: Callable[[], None], under_lock: bool):
        self.callback = callback
        self.cancelled = False
        self.under_lock = under_lock

    def cancel(self) -> None:
        """Disarm the call; safe from any thread, and after it ran."""
        self.cancelled = True


class TimerThread:
    """Runs callbacks no earlier than their due time, in due order, on one thread."""

    def __init__(self, lock, name: str = "realmode-timers", clock: Callable[[], float] = time.monotonic):
        self._node_lock = lock
        self._clock = clock
        self._heap: List[Tuple[float, int, TimerHandle]] = []
        self._order = itertools.count()  # equal due times keep the order they were asked in
        self._changed = threading.Condition()
        self._running = True
        self._frozen_at: Optional[float] = None  # the clock's reading while frozen (step mode)
        self._offset = 0.0  # real seconds the clock stood still (frozen intervals) or was advanced
        # Called under the node's lock after each locked callback: a node process wakes the
        # requests waiting for their operation with it (node_process.py).
        self.after_each: Callable[[], None] = lambda: None
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self._thread.start()

    def call_later(self, delay_ms: float, callback: Callable[[], None], under_lock: bool = True) -> TimerHandle:
        """Run `callback` after `delay_ms` (0: as soon as the thread is free), under the node's lock if asked."""
        handle = TimerHandle(callback, under_lock)
        with self._changed:
            due = self._now() + max(0.0, delay_ms) / 1000.0
            heapq.heappush(self._heap, (due, next(self._order), handle))
            self._changed.notify()
        return handle

    def _now(self) -> float:
        """The thread's clock: real time minus the frozen intervals, or the frozen reading (hold _changed)."""
        return self._frozen_at if self._frozen_at is not None else self._clock() - self._offset

    def freeze(self) -> None:
        """Stand the clock still: calls due now still run, later ones wait for advance() or unfreeze()."""
        with self._changed:
            if self._frozen_at is None:
                self._frozen_at = self._now()

    def unfreeze(self) -> None:
        """Follow real time again from where the clock stood (the frozen interval does not count)."""
        with self._changed:
            if self._frozen_at is not None:
                self._offset = self._clock() - self._frozen_at
                self._frozen_at = None
                self._changed.notify()

    def advance(self, ms: float) -> None:
        """Move the clock forward by `ms` (a frozen clock only moves this way); calls now due run."""
        with self._changed:
            if self._frozen_at is not None:
                self._frozen_at += ms / 1000.0
            else:
                self._offset -= ms / 1000.0
            self._changed.notify()

    @property
    def frozen(self) -> bool:
        """True while the clock stands still (step mode)."""
        return self._frozen_at is not None

    def call_soon(self, callback: Callable[[], None]) -> None:
        """Run `callback` under the node's lock: at once on the calling thread when the lock is free and
        nothing is due before it, else on this thread as `call_later(0)` does.

        A message arriving over HTTP is handled on its server thread when the node is idle: a hand-over
        to the timer thread is a thread wake-up in the middle of every message's path, and under load a
        wake-up waits for a CPU. The calling thread must not hold the node's lock (a re-entrant lock
        would let the callback run inside whatever the caller was doing).
        """
        with self._changed:
            due_first = bool(self._heap) and self._heap[0][0] <= self._now()
        if due_first or not self._node_lock.acquire(blocking=False):
            self.call_later(0, callback)
            return
        try:
            callback()
            self.after_each()
        except Exception:  # noqa: BLE001 -- as on the timer thread: one bad callback must not stop the node
            logger.exception("a delivery callback failed")
        finally:
            self._node_lock.release()

    def pending(self) -> int:
        """How many calls wait (cancelled ones included until their time comes)."""
        return len(self._heap)

    def close(self, timeout_s: float = 2.0) -> None:
        """Stop the thread; calls not yet due never run."""
        with self._changed:
            self._running = False
            self._changed.notify()
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout_s)

    def _next_due(self) -> Optional[TimerHandle]:
        """Wait for the earliest call to fall due and pop it; None when closed."""
        with self._changed:
            while self._running:
                while self._heap and self._heap[0][2].cancelled:
                    heapq.heappop(self._heap)
                if not self._heap:
                    self._changed.wait()
                    continue
                wait = self._heap[0][0] - self._now()
                if wait <= 0:
                    return heapq.heappop(self._heap)[2]
                # Woken early by a sooner call, by close, or (frozen: only then) by advance or unfreeze.
                self._changed.wait(None if self._frozen_at is not None else wait)
            return None

    def _loop(self) -> None:
        while (handle := self._next_due()) is not None:
            if handle.cancelled:  # cancelled by another thread after it was popped
                continue
            try:
                with self._node_lock if handle.under_lock else nullcontext():
                    if not handle.cancelled:
                        handle.callback()
                    if handle.under_lock:
                        self.after_each()
            except Exception:  # noqa: BLE001 -- one bad callback must not stop the node's clock
                logger.exception("a timer or delivery callback failed")
