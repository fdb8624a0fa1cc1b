"""lin-kv requests and replies map to ReplicaLab operations and Jepsen's ok / fail / info."""
import os
import re
import unittest

from byon.lin_kv import ERROR_CODES, KvOperation, NodeAnswerError, error_code, interpret, no_reply
from cluster.errors import ReplicaLabError
from tests.helpers import ROOT

DEFINITE = {1, 10, 11, 12, 14, 20, 21, 22, 30}
INDEFINITE = {0, 13}


class RequestTest(unittest.TestCase):
    """Client operations become Maelstrom's lin-kv request bodies."""

    def test_request_bodies(self):
        """read carries key; write key and value; cas key, from and to; each with its msg_id."""
        self.assertEqual(KvOperation("read", "k").request_body(5), {"type": "read", "msg_id": 5, "key": "k"})
        self.assertEqual(KvOperation("write", "k", 3).request_body(6),
                         {"type": "write", "msg_id": 6, "key": "k", "value": 3})
        self.assertEqual(KvOperation("cas", "k", 4, expected=3).request_body(7),
                         {"type": "cas", "msg_id": 7, "key": "k", "from": 3, "to": 4})

    def test_history_values(self):
        """The invocation shows a write's value, a cas's [from, to] and a read's null."""
        self.assertEqual(KvOperation("cas", "k", 4, expected=3).history_value(), [3, 4])
        self.assertEqual(KvOperation("write", "k", 9).history_value(), 9)
        self.assertIsNone(KvOperation("read", "k").history_value())

    def test_unknown_operation_is_refused(self):
        """Only read, write and cas are lin-kv operations."""
        with self.assertRaises(ValueError):
            KvOperation("delete", "k")


class ReplyTest(unittest.TestCase):
    """Replies decide the history line, the HTTP status and the sentence."""

    def test_ok_replies(self):
        """read_ok gives the value; write_ok and cas_ok are ok with status 200."""
        result = interpret(KvOperation("read", "k"), {"type": "read_ok", "value": 7, "in_reply_to": 1}, "n1")
        self.assertEqual((result.type, result.value, result.status), ("ok", 7, 200))
        for op in (KvOperation("write", "k", 1), KvOperation("cas", "k", 2, expected=1)):
            self.assertEqual(interpret(op, {"type": f"{op.f}_ok"}).type, "ok")

    def test_code_table_matches_maelstrom(self):
        """The definite codes are 1, 10, 11, 12, 14, 20, 21, 22, 30; 0 and 13 are indefinite."""
        self.assertEqual({c for c, e in ERROR_CODES.items() if e.definite}, DEFINITE)
        self.assertEqual({c for c, e in ERROR_CODES.items() if not e.definite}, INDEFINITE)
        self.assertFalse(error_code(1234).definite, "a custom code is indefinite")
        self.assertFalse(error_code("11").definite, "a code that is not an integer is unknown")

    def test_definite_errors_fail_and_indefinite_are_info(self):
        """A write answered with a definite code did not happen (fail); an indefinite one is info."""
        op = KvOperation("write", "k", 1)
        for code in DEFINITE:
            self.assertEqual(interpret(op, {"type": "error", "code": code}).type, "fail", code)
        for code in INDEFINITE | {1000}:
            self.assertEqual(interpret(op, {"type": "error", "code": code}).type, "info", code)

    def test_cas_precondition_failed_is_a_fail_with_409(self):
        """cas answered with 22 did not happen: fail, status 409, and the sentence names the code."""
        result = interpret(KvOperation("cas", "k", 2, expected=1),
                           {"type": "error", "code": 22, "text": "expected 1, had 5"}, "n2")
        self.assertEqual((result.type, result.status), ("fail", 409))
        self.assertIn("22 precondition-failed", result.message)
        self.assertIn("expected 1, had 5", result.message)
        self.assertEqual(result.outcome().details["code"], 22)

    def test_read_of_missing_key_happened_and_saw_nothing(self):
        """A read answered with 20 is ok with value null (the register's initial state), status 404."""
        result = interpret(KvOperation("read", "k"), {"type": "error", "code": 20})
        self.assertEqual((result.type, result.value, result.status), ("ok", None, 404))

    def test_any_other_read_error_is_a_fail(self):
        """A read changes nothing, so even an indefinite error on a read is a fail."""
        for code in (0, 11, 13, 1000):
            self.assertEqual(interpret(KvOperation("read", "k"), {"type": "error", "code": code}).type, "fail")

    def test_nonsense_reply_is_explained(self):
        """A write answered with read_ok, or a read_ok without value, is a 502 that says what came back."""
        result = interpret(KvOperation("write", "k", 1), {"type": "read_ok", "value": 1}, "n3")
        self.assertEqual((result.type, result.status), ("info", 502))
        self.assertIn("'read_ok'", result.message)
        self.assertEqual(interpret(KvOperation("read", "k"), {"type": "read_ok"}).type, "fail")

    def test_no_reply(self):
        """No answer in time: a read fails, a cas may still happen; both are 504."""
        self.assertEqual(no_reply(KvOperation("read", "k"), "n1", 500).type, "fail")
        result = no_reply(KvOperation("cas", "k", 2, expected=1), "n1", 500)
        self.assertEqual((result.type, result.status), ("info", 504))
        self.assertIn("500 ms", result.message)

    def test_error_results_raise_a_domain_error(self):
        """An error result raises a ReplicaLabError with its status and a code the JSON answer shows."""
        result = interpret(KvOperation("write", "k", 1), {"type": "error", "code": 11})
        with self.assertRaises(ReplicaLabError) as caught:
            result.raise_if_error()
        self.assertIsInstance(caught.exception, NodeAnswerError)
        self.assertEqual((caught.exception.status, caught.exception.code), (503, "temporarily_unavailable"))
        interpret(KvOperation("write", "k", 1), {"type": "write_ok"}).raise_if_error()  # no error: no raise


class ProtocolDocTest(unittest.TestCase):
    """docs/node-protocol.md tells students the same code table the history uses."""

    def test_error_table_matches_the_code(self):
        """Every row of the doc's error table has the code's name, definiteness and HTTP status."""
        with open(os.path.join(ROOT, "docs", "node-protocol.md"), encoding="utf-8") as handle:
            rows = re.findall(r"^\| +(\d+) \| ([a-z-]+) \| (yes|) *\| (\d{3}) \|$", handle.read(), re.M)
        documented = {int(code): (name, definite == "yes", int(status)) for code, name, definite, status in rows}
        self.assertEqual(documented, {c: (e.name, e.definite, e.status) for c, e in ERROR_CODES.items()})


if __name__ == "__main__":
    unittest.main()
