"""A down node's files, read by the front: records, hints and keys, read-only, never hanging on a lock."""
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest
from types import SimpleNamespace
from unittest import mock

from db import SqliteStorage
from models import Record, Version
from realmode import node_files, node_handle
from realmode.node_handle import HttpNodeHandle


def record(key: str, value, ts: int = 5, deleted: bool = False) -> dict:
    """A record as db.py stores it."""
    return Record(key, value, Version(ts, 1), deleted).to_dict()


class NodeFilesTest(unittest.TestCase):
    """node_files reads node-1's sqlite files the way db.py wrote them."""

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="node-files-")
        self.addCleanup(shutil.rmtree, self.dir, True)
        store = SqliteStorage(os.path.join(self.dir, "node-1.records.sqlite"))
        store.put_many({"user:1": record("user:1", "ada"), "user:2": record("user:2", None, 7, True),
                        "zone": record("zone", 3)})
        store.close()
        hints = SqliteStorage(os.path.join(self.dir, "node-1.hints.sqlite"))
        hints.put_many({"3:user:9": record("user:9", "bob")})
        hints.close()

    def test_records_hints_and_keys_come_from_the_files(self):
        """Records in key order, hints in /nodes' shape, and the key index with versions and tombstones."""
        self.assertEqual([r.key for r in node_files.records(self.dir, 1)], ["user:1", "user:2", "zone"])
        self.assertEqual(node_files.hints(self.dir, 1), [{"for": "node-3", "key": "user:9",
                                                          "version": Version(5, 1).to_dict(), "deleted": False}])
        self.assertEqual(node_files.key_versions(self.dir, 1, "user:"),
                         {"user:1": (Version(5, 1), False), "user:2": (Version(7, 1), True)})

    def test_a_node_without_files_holds_nothing(self):
        """A wiped node (no files) has no records, hints or keys."""
        self.assertEqual((node_files.records(self.dir, 4), node_files.hints(self.dir, 4),
                          node_files.key_versions(self.dir, 4)), ([], [], {}))

    def test_a_stopped_writer_in_a_transaction_does_not_block_the_reader(self):
        """A process SIGSTOPped inside a write transaction: the files still read at once, its write not seen."""
        code = ("import sqlite3, sys, time\n"
                "c = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
                "c.execute('BEGIN IMMEDIATE'); c.execute(\"INSERT INTO records VALUES ('new', '{}')\")\n"
                "print('in', flush=True); time.sleep(60)\n")
        writer = subprocess.Popen([sys.executable, "-c", code, os.path.join(self.dir, "node-1.records.sqlite")],
                                  stdout=subprocess.PIPE, text=True)
        self.addCleanup(writer.wait)
        self.addCleanup(writer.kill)
        self.assertEqual(writer.stdout.readline().strip(), "in")
        os.kill(writer.pid, signal.SIGSTOP)
        began = time.monotonic()
        keys = [r.key for r in node_files.records(self.dir, 1)]
        self.assertLess(time.monotonic() - began, 2)
        self.assertEqual(keys, ["user:1", "user:2", "zone"])

    def test_a_node_that_does_not_answer_in_time_is_shown_from_its_files(self):
        """An up node whose /node/detail times out is listed from its files, saying so, never as holding nothing."""
        silent = socket.socket()
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)  # connects, never answers
        self.addCleanup(silent.close)
        core = SimpleNamespace(config=SimpleNamespace(durability="sync"))
        handle = HttpNodeHandle(1, f"127.0.0.1:{silent.getsockname()[1]}", None, self.dir, core)
        with mock.patch.object(node_handle, "DETAIL_TIMEOUT_S", 0.3):
            detail = handle.detail(True)
        self.assertEqual(([r["key"] for r in detail["records"]], detail["source"]),
                         (["user:1", "user:2", "zone"], "files"))
        self.assertIn("did not answer in time", detail["note"])
        self.assertEqual([h["key"] for h in detail["hints_held"]], ["user:9"])


if __name__ == "__main__":
    unittest.main()
