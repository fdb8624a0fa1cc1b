"""The wire format: every message kind round-trips through JSON, and bad envelopes are refused in words."""
import json
import unittest
from dataclasses import fields
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from cluster import messages
from cluster.codec import MESSAGE_KINDS, decode, encode, from_text, round_trip, to_text
from cluster.errors import BadMessage, BadRequest
from models import Ballot, Record, Version, json_writer

nodes = st.integers(min_value=0, max_value=200)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12)
versions = st.builds(Version, st.integers(min_value=0, max_value=2 ** 53), nodes)
records = st.builds(Record, st.text(), json_values, versions, st.booleans())
ballots = st.builds(Ballot, st.integers(min_value=0, max_value=10 ** 9), nodes)
op_ids = st.builds(lambda n, i: f"node-{n}:{i}", nodes, st.integers(min_value=1, max_value=10 ** 9))

BY_NAME = {
    "op_id": op_ids,
    "record": st.none() | records, "current": st.none() | records,
    "records": st.lists(records, max_size=4).map(tuple),
    "ballot": st.none() | ballots, "promised": st.none() | ballots,
    "accepted": st.none() | ballots, "committed": st.none() | ballots,
    "version": st.none() | versions,
    "levels": st.lists(st.lists(st.text(max_size=8), max_size=3).map(tuple), max_size=3).map(tuple),
    "entries": st.lists(st.tuples(st.integers(min_value=0, max_value=1023), st.lists(
        st.tuples(st.text(), st.integers(min_value=0), nodes, st.booleans()), max_size=3).map(tuple)),
        max_size=3).map(tuple),
    "keys": st.lists(st.text(), max_size=4).map(tuple),
}
BY_TYPE = {"str": st.text(), "int": st.integers(), "bool": st.booleans(), "Optional[int]": st.none() | nodes}


def message_of(cls):
    """A strategy drawing any message of class `cls`."""
    drawn = {f.name: BY_NAME[f.name] if f.name in BY_NAME else BY_TYPE[str(f.type)] for f in fields(cls)
             if f.name not in ("src", "dst")}
    return st.builds(cls, nodes, nodes, **drawn)


any_message = st.one_of([message_of(cls) for cls in MESSAGE_KINDS.values()])


class CodecTest(unittest.TestCase):
    """encode/decode is exact for every kind, and the only path a simulated message takes."""

    @settings(max_examples=400, deadline=None)
    @given(any_message)
    def test_every_kind_round_trips_through_json_text(self, msg):
        """Any message of any kind, encoded, written as JSON text, read back and decoded, equals the original."""
        text = json.dumps(encode(msg, msg_id=9))
        self.assertEqual(decode(json.loads(text)), msg)

    @settings(max_examples=200, deadline=None)
    @given(any_message)
    def test_the_wire_text_is_compact_standard_json(self, msg):
        """to_text writes what json.dumps writes with compact separators, and from_text reads it back."""
        envelope = encode(msg, msg_id=3)
        text = to_text(envelope)
        self.assertEqual(text, json.dumps(envelope, separators=(",", ":")))
        self.assertEqual(from_text(text), json.loads(text))

    @settings(max_examples=200, deadline=None)
    @given(json_values | st.text(alphabet=st.characters(min_codepoint=0xD7F0, max_codepoint=0xE010)),
           st.booleans(), st.booleans(), st.booleans())
    def test_json_writer_writes_what_json_dumps_writes(self, value, ascii, compact, sort_keys):
        """Every encoder built once by json_writer gives json.dumps's text for the same options."""
        separators = (",", ":") if compact else (", ", ": ")
        self.assertEqual(json_writer(ascii, compact, sort_keys)(value),
                         json.dumps(value, ensure_ascii=ascii, separators=separators, sort_keys=sort_keys))

    def test_json_writer_refuses_what_json_cannot_hold(self):
        """An object JSON has no form for raises TypeError, as json.dumps does."""
        with self.assertRaises(TypeError):
            json_writer()({"when": object()})

    def test_from_text_refuses_anything_but_one_json_value(self):
        """Trailing data and text that is not JSON raise ValueError, as json.loads does."""
        for text in ('{"a":1} x', '{"a":1}{"b":2}', "{'a': 1}", ""):
            with self.subTest(text), self.assertRaises(ValueError):
                from_text(text)

    def test_the_table_names_every_message_class_once(self):
        """MESSAGE_KINDS maps each kind to its class, and every message class has a kind in it."""
        classes = {cls for cls in vars(messages).values()
                   if isinstance(cls, type) and issubclass(cls, messages.Message) and cls is not messages.Message}
        self.assertEqual(set(MESSAGE_KINDS.values()), classes)
        self.assertTrue(all(MESSAGE_KINDS[cls.kind] is cls for cls in classes))

    def test_the_envelope_is_maelstrom_shaped(self):
        """The envelope names nodes as node-N and carries type, msg_id and in_reply_to in its body."""
        msg = messages.Get(2, 3, "node-2:4", "color")
        self.assertEqual(encode(msg, msg_id=17), {"src": "node-2", "dest": "node-3", "body": {
            "type": "get", "msg_id": 17, "in_reply_to": None, "op_id": "node-2:4", "key": "color"}})

    def test_propose_is_named_for_what_it_does(self):
        """The Paxos phase 2a request travels as paxos_propose, not as the misleading paxos_accept."""
        self.assertIs(MESSAGE_KINDS["paxos_propose"], messages.Propose)
        self.assertNotIn("paxos_accept", MESSAGE_KINDS)

    def test_a_decoded_copy_shares_no_value_with_the_original(self):
        """The copy a receiver gets has its own nested lists and objects."""
        msg = messages.Put(0, 1, "node-0:1", Record("k", {"a": [1, {"b": 2}]}, Version(3, 0)))
        copy: Any = round_trip(msg)
        self.assertEqual(copy, msg)
        self.assertIsNot(copy.record.value["a"][1], msg.record.value["a"][1])

    def test_malformed_envelopes_are_refused_with_a_sentence(self):
        """Unknown type, missing field, wrong field type and bad node names raise BadMessage, a BadRequest."""
        good = encode(messages.Get(0, 1, "node-0:1", "k"))
        cases = {
            "not an object": [1, 2],
            "unknown type": {**good, "body": {**good["body"], "type": "gossip"}},
            "type not a string": {**good, "body": {**good["body"], "type": ["get"]}},
            "missing field": {**good, "body": {k: v for k, v in good["body"].items() if k != "key"}},
            "wrong type": {**good, "body": {**good["body"], "key": 5}},
            "bad node": {**good, "src": "node-x"},
            "bad record": encode(messages.Put(0, 1, "node-0:1", Record("k", 1, Version(1, 0))))
            | {"body": {"type": "put", "msg_id": 0, "in_reply_to": None, "op_id": "node-0:1",
                        "record": {"key": "k"}, "hint_for": None, "purpose": "write"}},
        }
        for name, envelope in cases.items():
            with self.subTest(name), self.assertRaises(BadMessage) as caught:
                decode(envelope)
            self.assertIsInstance(caught.exception, BadRequest)
            self.assertTrue(caught.exception.message.endswith((".", ")")), caught.exception.message)


if __name__ == "__main__":
    unittest.main()
