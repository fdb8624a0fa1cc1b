"""The causal algebra of siblings mode: contexts (version vectors with a dot cloud) and sibling-set merge."""
import unittest

from hypothesis import given, settings
from hypothesis import strategies as st

from cluster import siblings
from cluster import version_vectors as vv
from cluster.siblings import Sibling, SiblingSet

dots = st.tuples(st.integers(0, 3), st.integers(1, 6))
contexts = st.builds(lambda vector, extra: vv.make(vector, extra),
                     st.dictionaries(st.integers(0, 3), st.integers(0, 4)), st.lists(dots, max_size=6))


def history(writes):
    """Replicas' sibling sets from a list of writes: (dot, value, which earlier writes it saw)."""
    made: list = []
    for i, (seen, value) in enumerate(writes):
        ctx = vv.EMPTY
        for j in seen:
            if j < i:
                ctx = vv.add(ctx, made[j].siblings[0].dot)
        dot = (i % 3, i + 1)  # unique dots, as coordinators give them
        made.append(SiblingSet(vv.add(ctx, dot), (Sibling(dot, value, False, i),)))
    return made


sibling_sets = st.lists(st.tuples(st.sets(st.integers(0, 7), max_size=3), st.integers(0, 9)),
                        min_size=1, max_size=8).map(history)


class ContextTest(unittest.TestCase):
    """Contexts are exact sets of dots; join is a lattice join and descends/concurrent agree with it."""

    def test_cloud_keeps_a_gap_exact(self):
        """Seeing node-1's third write but not its second does not claim the second."""
        ctx = vv.make({1: 1}, [(1, 3)])
        self.assertTrue(vv.contains(ctx, (1, 3)))
        self.assertFalse(vv.contains(ctx, (1, 2)))
        self.assertEqual(vv.add(ctx, (1, 2)), vv.make({1: 3}))
        self.assertEqual(vv.readable(vv.make({1: 3, 4: 1})), "{node-1: 3, node-4: 1}")

    @settings(max_examples=200, deadline=None)
    @given(contexts, contexts, contexts)
    def test_join_is_commutative_associative_idempotent(self, a, b, c):
        """join(a, b) == join(b, a), grouping does not matter, and join(a, a) == a."""
        self.assertEqual(vv.join(a, b), vv.join(b, a))
        self.assertEqual(vv.join(vv.join(a, b), c), vv.join(a, vv.join(b, c)))
        self.assertEqual(vv.join(a, a), a)

    @settings(max_examples=200, deadline=None)
    @given(contexts, contexts)
    def test_descends_and_concurrent_are_consistent(self, a, b):
        """The join descends both; a descends b exactly when joining b adds nothing; concurrency is symmetric."""
        joined = vv.join(a, b)
        self.assertTrue(vv.descends(joined, a) and vv.descends(joined, b))
        self.assertEqual(vv.descends(a, b), vv.join(a, b) == a)
        self.assertEqual(vv.concurrent(a, b), vv.concurrent(b, a))
        self.assertFalse(vv.concurrent(a, a))
        if vv.descends(a, b) and vv.descends(b, a):
            self.assertEqual(a, b)

    @settings(max_examples=100, deadline=None)
    @given(contexts)
    def test_json_round_trip(self, ctx):
        """A context survives its JSON form and the opaque client encoding."""
        self.assertEqual(vv.from_json(vv.to_json(ctx)), ctx)
        self.assertEqual(siblings.decode_context(siblings.encode_context(ctx, "k"), 4, "k"), ctx)


class MergeTest(unittest.TestCase):
    """Merging sibling sets is a join: order never matters, and nothing unseen is dropped."""

    @settings(max_examples=200, deadline=None)
    @given(sibling_sets)
    def test_merge_is_commutative_associative_idempotent(self, sets):
        """Every order and grouping of merging the same sets gives the same set."""
        for a in sets:
            self.assertEqual(siblings.merge(a, a), a)
            for b in sets:
                self.assertEqual(siblings.merge(a, b), siblings.merge(b, a))
                for c in sets[:3]:
                    self.assertEqual(siblings.merge(siblings.merge(a, b), c),
                                     siblings.merge(a, siblings.merge(b, c)))

    @settings(max_examples=200, deadline=None)
    @given(sibling_sets)
    def test_survivors_are_exactly_the_unsuperseded_writes(self, sets):
        """After merging all writes, a write stands iff no other write saw it."""
        merged = siblings.merge_all(sets)
        expected = {s.siblings[0].dot for s in sets
                    if not any(s is not t and vv.contains(t.context, s.siblings[0].dot) for t in sets)}
        self.assertEqual({s.dot for s in merged.siblings}, expected)
        self.assertEqual(siblings.of(siblings.to_record("k", merged)), merged)

    def test_digest_is_order_free(self):
        """Replicas holding equal sets have equal digests, whichever order they merged in."""
        a, b, c = history([(set(), "x"), (set(), "y"), ({0}, "z")])
        one = siblings.to_record("k", siblings.merge(siblings.merge(a, b), c))
        two = siblings.to_record("k", siblings.merge(c, siblings.merge(b, a)))
        self.assertEqual(siblings.digest(one), siblings.digest(two))
        self.assertNotEqual(siblings.digest(one), siblings.digest(siblings.to_record("k", a)))


class DecodeContextTest(unittest.TestCase):
    """A context from a client is checked: malformed or forged ones are refused with a sentence."""

    def test_bad_contexts_raise_value_error(self):
        """Not base64, not JSON, wrong shape, unknown node, absurd counter: each a ValueError."""
        import base64
        import json

        def enc(data):
            tagged = {"key": siblings.key_tag("k"), **data} if isinstance(data, dict) else data
            return base64.urlsafe_b64encode(json.dumps(tagged).encode()).decode()
        for bad in ["", "!!!", 7, enc([1]), enc({"vv": {"x": 1}}), enc({"vv": {"9": 1}}),
                    enc({"vv": {"1": 0}}), enc({"vv": {"1": 2 ** 40}}), enc({"cloud": [[1]]}),
                    enc({"vv": {}, "extra": 1}), enc({"vv": {"1": True}})]:
            with self.subTest(bad=bad), self.assertRaises(ValueError):
                siblings.decode_context(bad, 5, "k")


if __name__ == "__main__":
    unittest.main()
