"""HintStore: the writes one node keeps on behalf of others (hinted handoff).

A stand-in node keeps a hinted record apart from its own records, keyed by the
owner it stands in for, and on disk so a crash does not lose it. handoff.py
sends the hints home when the owner is back.
"""
from __future__ import annotations

from typing import Dict, List, Tuple

from models import Record, node_name


class HintStore:
    """Hints one node holds for others: (owner, key) -> record, kept on disk too."""

    def __init__(self, backend):
        self.backend = backend
        self._hints: Dict[Tuple[int, str], Record] = {}
        self.reload()

    def reload(self) -> None:
        """Rebuild the in-memory hints from disk (hints are committed as they arrive)."""
        self._hints = {}
        for stored_key, data in self.backend.items():
            owner, key = stored_key.split(":", 1)
            self._hints[(int(owner), key)] = Record.from_dict(data)

    def first_names(self, limit: int) -> List[str]:
        """Up to `limit` hints as "key for node-N", in order (bounded: to name what a wipe loses)."""
        return [f"{key} for {node_name(owner)}" for owner, key in sorted(self._hints)[:limit]]

    def wipe(self) -> int:
        """Lose every hint, on disk too; returns how many there were."""
        count = len(self._hints)
        self._hints = {}
        self.backend.clear()
        return count

    def version_for(self, owner: int, key: str):
        """The version of the hint held for (owner, key), or None."""
        current = self._hints.get((owner, key))
        return current.version if current else None

    def get(self, owner: int, key: str):
        """The hint held for (owner, key), or None."""
        return self._hints.get((owner, key))

    def add(self, owner: int, record: Record) -> None:
        """Keep `record` for `owner` (the caller checked it is newer), on disk too."""
        self._hints[(owner, record.key)] = record
        self.backend.put_many({f"{owner}:{record.key}": record.to_dict()})

    def remove(self, owner: int, record: Record) -> bool:
        """Drop the hint for (owner, key) if it is still exactly `record`; True if dropped."""
        if self._hints.get((owner, record.key)) != record:
            return False  # a newer hint arrived meanwhile: it still has to be handed back
        del self._hints[(owner, record.key)]
        self.backend.delete(f"{owner}:{record.key}")
        return True

    def for_owner(self, owner: int) -> List[Record]:
        """Every hinted record held for `owner`, sorted by key."""
        return [rec for (o, _), rec in sorted(self._hints.items(), key=lambda kv: kv[0][1]) if o == owner]

    def for_key(self, key: str) -> List[Record]:
        """Every hinted record held for `key`, whatever its owner."""
        return [rec for (_, k), rec in self._hints.items() if k == key]

    def owners(self) -> List[int]:
        """Owners this node holds hints for, sorted."""
        return sorted({owner for owner, _ in self._hints})

    def describe(self) -> List[dict]:
        """Hints as /nodes/<id> shows them."""
        return [{"for": node_name(o), "key": k, "version": r.version.to_dict(), "deleted": r.deleted}
                for (o, k), r in sorted(self._hints.items(), key=lambda kv: (kv[0][0], kv[0][1]))]

    def __len__(self) -> int:
        return len(self._hints)

    def close(self) -> None:
        """Close the backend."""
        self.backend.close()
