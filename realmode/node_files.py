"""A down node's sqlite files, read by the front without its process: read-only, never waiting on a lock.

In simulated mode `/nodes/<id>` and `/keys` still show what a crashed or
stopped node holds (its disk after a crash, its memory while stopped). In
real mode that node's process cannot answer, so the front opens the node's
files itself (db.py's layout: `node-N.records.sqlite` and `node-N.hints.sqlite`,
one sqlitedict table of JSON objects each), read-only (`mode=ro`) with a short
busy timeout: a process frozen by SIGSTOP in the middle of a commit may hold
a lock, and the answer then says the files could not be read rather than
hang. What the files cannot show is said too: a stopped process's memory
(batch-mode writes not yet committed).
"""
from __future__ import annotations

import json
import os
import sqlite3
from typing import Dict, List, Tuple
from urllib.parse import quote

from models import Record, Version, node_name

BUSY_TIMEOUT_S = 0.25
TABLE = "records"  # db.SqliteStorage's table name in every node file


class FilesUnreadable(Exception):
    """The node's files exist but could not be read now (locked, damaged): `reason` says why."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def _rows(path: str, where: str = "", args: Tuple = ()) -> List[Tuple[str, dict]]:
    """(key, object) rows of one node file in key order; none when the file does not exist."""
    if not os.path.exists(path):
        return []
    try:
        connection = sqlite3.connect(f"file:{quote(path)}?mode=ro", uri=True, timeout=BUSY_TIMEOUT_S)
        try:
            rows = connection.execute(f'SELECT key, value FROM "{TABLE}" {where} ORDER BY key', args).fetchall()
        finally:
            connection.close()
    except sqlite3.Error as error:
        if "no such table" in str(error):
            return []  # created, never written
        raise FilesUnreadable(f"{os.path.basename(path)} could not be read now ({error})") from None
    return [(key, json.loads(value)) for key, value in rows]


def _path(data_dir: str, node_id: int, table: str) -> str:
    return os.path.join(data_dir, f"{node_name(node_id)}.{table}.sqlite")


def records(data_dir: str, node_id: int) -> List[Record]:
    """Every record in the node's committed store, in key order."""
    return [Record.from_dict(data) for _, data in _rows(_path(data_dir, node_id, "records"))]


def key_versions(data_dir: str, node_id: int, prefix: str = "") -> Dict[str, Tuple[Version, bool]]:
    """key -> (version, tombstone) for the committed keys (only those under `prefix` when given)."""
    where, args = ("WHERE key >= ? AND key < ?", (prefix, prefix + "\U0010ffff")) if prefix else ("", ())
    found = {}
    for key, data in _rows(_path(data_dir, node_id, "records"), where, args):
        record = Record.from_dict(data)
        found[key] = (record.version, record.deleted)
    return found


def hints(data_dir: str, node_id: int) -> List[dict]:
    """The hints the node keeps for others, as /nodes/<id> lists them (HintStore.describe's shape)."""
    held = []
    for stored_key, data in _rows(_path(data_dir, node_id, "hints")):
        owner, key = stored_key.split(":", 1)
        record = Record.from_dict(data)
        held.append((int(owner), key, record))
    return [{"for": node_name(owner), "key": key, "version": record.version.to_dict(), "deleted": record.deleted}
            for owner, key, record in sorted(held, key=lambda row: (row[0], row[1]))]
