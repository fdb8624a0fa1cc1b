"""A node process's lives on its data dir, counted on disk: ids it hands out must never repeat after a restart."""
from __future__ import annotations

import os


def next_incarnation(data_dir: str, filename: str) -> int:
    """How many lives a node process had on `data_dir` before this one; counts this one on disk."""
    path = os.path.join(data_dir, filename)
    try:
        with open(path, encoding="ascii") as handle:
            count = int(handle.read().strip() or 0)
    except (OSError, ValueError):
        count = 0
    os.makedirs(data_dir, exist_ok=True)
    with open(path, "w", encoding="ascii") as handle:
        handle.write(str(count + 1))
        handle.flush()
        os.fsync(handle.fileno())
    return count
