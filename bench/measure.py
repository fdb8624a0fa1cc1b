"""Small measuring helpers shared by the benchmarks: resident memory, percentiles."""
from __future__ import annotations

import resource
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
