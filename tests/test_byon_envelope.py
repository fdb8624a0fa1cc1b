"""A node's stdout lines are checked as Maelstrom envelopes, and a bad one is explained."""
import json
import unittest

from byon.envelope import MAX_LINE_BYTES, SHOWN_CHARS, Envelope, MalformedLine, encode_line, parse_line, shown
from cluster import codec
from cluster.errors import BadMessage


def line(obj) -> bytes:
    """An object as one stdout line."""
    return (json.dumps(obj) + "\n").encode()


class EnvelopeTest(unittest.TestCase):
    """parse_line accepts Maelstrom's messages and names what is wrong with anything else."""

    def test_valid_reply_parses(self):
        """A read_ok with msg_id and in_reply_to parses into src, dest, body and type."""
        env = parse_line(line({"src": "n1", "dest": "c1", "body": {"type": "read_ok", "msg_id": 4,
                                                                   "in_reply_to": 3, "value": 7}}))
        self.assertEqual((env.src, env.dest, env.type, env.body["value"]), ("n1", "c1", "read_ok", 7))

    def test_round_trip_through_encode(self):
        """An envelope written by encode_line is one line and parses back to itself."""
        env = Envelope("node-1", "node-2", {"type": "put", "msg_id": 1, "value": "a\nb"})
        data = env.to_line()
        self.assertEqual(data.count(b"\n"), 1)
        self.assertEqual(parse_line(data), env)
        self.assertEqual(encode_line(env.to_dict()), data)

    def assertRefused(self, data: bytes, fragment: str):
        """parse_line refuses `data` with a reason containing `fragment`."""
        with self.assertRaises(MalformedLine) as caught:
            parse_line(data)
        self.assertIn(fragment, caught.exception.why)

    def test_log_line_on_stdout_is_refused_with_a_hint(self):
        """A debug print on stdout is not JSON, and the reason says logs belong on stderr."""
        self.assertRefused(b"starting node...\n", "logs belong on stderr")

    def test_missing_fields_are_named(self):
        """A missing dest, a body that is not an object and a body without type are each named."""
        self.assertRefused(line({"src": "n1", "body": {"type": "x"}}), '"dest"')
        self.assertRefused(line({"src": "n1", "dest": "c1", "body": [1]}), '"body" must be a JSON object')
        self.assertRefused(line({"src": "n1", "dest": "c1", "body": {"msg_id": 1}}), '"type"')
        self.assertRefused(line([1, 2]), "not an object")

    def test_message_ids_must_be_integers(self):
        """msg_id and in_reply_to must be non-negative integers (not strings, booleans or floats)."""
        for bad in ("3", True, 1.5, -1):
            self.assertRefused(line({"src": "n1", "dest": "c1", "body": {"type": "x", "msg_id": bad}}), "msg_id")
        self.assertRefused(line({"src": "n1", "dest": "c1", "body": {"type": "x", "in_reply_to": "1"}}),
                           "in_reply_to")

    def test_non_json_constants_and_bad_bytes(self):
        """NaN, invalid UTF-8 and an empty line are refused with a reason."""
        self.assertRefused(b'{"src":"n1","dest":"c1","body":{"type":"x","v":NaN}}\n', "NaN")
        self.assertRefused(b"\xff\xfe\n", "UTF-8")
        self.assertRefused(b"\n", "empty line")

    def test_a_lone_surrogate_is_refused_on_stdout_and_on_the_wire(self):
        """A "\\ud800" escape (valid JSON, not Unicode) is a malformed line, and a BadMessage where a peer's arrives."""
        with self.assertRaises(MalformedLine) as caught:
            parse_line(b'{"src": "n0", "dest": "n1", "body": {"type": "x", "v": "a\\ud800"}}')
        self.assertIn("lone surrogate (\\ud800)", caught.exception.why)
        envelope = {"src": "node-0", "dest": "node-1", "body": {"type": "passthrough", "msg_id": 1, "op_id": "",
                                                               "payload": {"type": "x", "v": ["\ud800"]}}}
        with self.assertRaises(BadMessage) as refused:
            codec.decode(envelope)
        self.assertIn("lone surrogate", refused.exception.message)

    def test_overlong_line_is_refused(self):
        """A line longer than MAX_LINE_BYTES is refused before any parsing."""
        self.assertRefused(b"x" * (MAX_LINE_BYTES + 1), "bytes long")

    def test_shown_cuts_long_lines(self):
        """A report quotes at most SHOWN_CHARS characters of a line and says how long it was."""
        text = shown(b"y" * 5000 + b"\n")
        self.assertTrue(text.startswith("y" * SHOWN_CHARS))
        self.assertIn("5000 characters", text)
        self.assertLess(len(text), SHOWN_CHARS + 40)


if __name__ == "__main__":
    unittest.main()
