"""The node process's timer thread: due order, cancel, the node's lock, and surviving a failing callback."""
import functools
import threading
import time
import unittest
from typing import List

from realmode.timers import TimerThread


class TimerThreadTest(unittest.TestCase):
    """One thread runs every timer and delivery of a node process."""

    def setUp(self):
        self.lock = threading.RLock()
        self.timers = TimerThread(self.lock)
        self.addCleanup(self.timers.close)
        self.done = threading.Event()

    def test_calls_run_in_due_order_not_in_the_order_asked(self):
        """Calls asked for 60, 20 and 40 ms run in the order 20, 40, 60."""
        ran: List[int] = []
        for delay in (60, 20, 40):
            self.timers.call_later(delay, functools.partial(ran.append, delay))
        self.timers.call_later(80, self.done.set)
        self.assertTrue(self.done.wait(10))
        self.assertEqual(ran, [20, 40, 60])

    def test_equal_due_times_keep_the_order_asked(self):
        """Deliveries queued with no delay run first-come first-served."""
        ran: List[int] = []
        with self.lock:  # hold the thread off until all are queued
            for n in range(50):
                self.timers.call_later(0, functools.partial(ran.append, n))
            self.timers.call_later(0, self.done.set)
        self.assertTrue(self.done.wait(10))
        self.assertEqual(ran, list(range(50)))

    def test_a_failing_callback_does_not_stop_the_thread(self):
        """After a callback raises, the next one still runs."""
        def boom():
            raise RuntimeError("a bug in a handler")
        with self.assertLogs("replicalab", "ERROR"):
            self.timers.call_later(0, boom)
            self.timers.call_later(5, self.done.set)
            self.assertTrue(self.done.wait(10))

    def test_calls_not_under_the_lock_run_while_the_lock_is_held(self):
        """A call asked with under_lock=False (a delayed send) runs even while the node's lock is taken."""
        with self.lock:
            self.timers.call_later(0, self.done.set, under_lock=False)
            self.assertTrue(self.done.wait(10))

    def test_call_soon_runs_on_the_calling_thread_when_the_node_is_idle(self):
        """Idle node: call_soon runs the callback at once, on the caller's thread under the lock, then after_each."""
        seen = []

        def held_elsewhere() -> bool:  # True when another thread cannot take the lock now
            box = []
            probe = threading.Thread(target=lambda: box.append(self.lock.acquire(blocking=False)))
            probe.start()
            probe.join()
            return box == [False]
        self.timers.after_each = lambda: seen.append("after")
        self.timers.call_soon(lambda: seen.append((threading.current_thread().name, held_elsewhere())))
        self.assertEqual(seen, [(threading.current_thread().name, True), "after"])

    def test_call_soon_queues_behind_a_busy_node_and_earlier_deliveries(self):
        """While another thread holds the lock, call_soon queues; the queued calls then run in the order asked."""
        ran: List[str] = []
        holding, release = threading.Event(), threading.Event()

        def hold():
            with self.lock:
                holding.set()
                release.wait(10)
        holder = threading.Thread(target=hold)
        holder.start()
        self.assertTrue(holding.wait(10))
        self.timers.call_soon(lambda: ran.append("first"))
        self.assertEqual(ran, [], "not run while the node was busy")
        release.set()
        holder.join(10)
        self.timers.call_soon(lambda: ran.append("second"))  # "first" is due before it: it queues too
        self.timers.call_later(0, self.done.set)
        self.assertTrue(self.done.wait(10))
        self.assertEqual(ran, ["first", "second"])

    def test_closed_thread_runs_nothing_more(self):
        """After close, calls not yet due never run."""
        ran = []
        self.timers.call_later(50, lambda: ran.append(1))
        self.timers.close()
        time.sleep(0.1)  # past the call's due time
        self.assertEqual(ran, [])


if __name__ == "__main__":
    unittest.main()
