"""Small measuring helpers shared by the benchmarks: resident memory, percentiles, lock holds."""
from __future__ import annotations

import resource
import time
from typing import List, Optional


def rss_mib(pid: Optional[int] = None) -> float:
    """Resident memory of a process (this one by default) in MiB, from /proc when available."""
    try:
        with open(f"/proc/{pid or 'self'}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # peak, in KiB on Linux


def percentile(samples: List[float], fraction: float) -> float:
    """The sample below which `fraction` of the samples fall (nearest rank)."""
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))]


class HoldMeter:
    """A re-entrant lock put in front of the cluster's: counts and times each hold, free to free.

    Only touched while the inner lock is held, so its counters need no lock of their own.
    """

    def __init__(self, inner):
        self.inner = inner
        self.depth = 0
        self.holds = 0  # acquisitions while nobody held the lock: each starts a new hold
        self.longest = 0.0  # seconds, the longest hold so far (wall time: what a waiting request sees)
        self.longest_cpu = 0.0  # the same hold in this thread's CPU time (without other processes' turns)
        self._since = self._since_cpu = 0.0

    def acquire(self, *args, **kwargs) -> bool:
        """Take the lock; a first level starts a hold."""
        got = self.inner.acquire(*args, **kwargs)
        if got:
            self.depth += 1
            if self.depth == 1:
                self.holds += 1
                self._since, self._since_cpu = time.perf_counter(), time.thread_time()
        return got

    def release(self) -> None:
        """Give one level back; the last one ends the hold."""
        self.depth -= 1
        if self.depth == 0:
            self.longest = max(self.longest, time.perf_counter() - self._since)
            self.longest_cpu = max(self.longest_cpu, time.thread_time() - self._since_cpu)
        self.inner.release()

    def reset(self) -> None:
        """Forget the holds counted so far."""
        self.holds, self.longest, self.longest_cpu = 0, 0.0, 0.0

    def __enter__(self) -> bool:
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()


def meter_lock(manager) -> HoldMeter:
    """Put a HoldMeter in front of `manager`'s lock, for every part that takes it."""
    meter = HoldMeter(manager.lock)
    manager.lock = manager.core.lock = meter
    return meter
