"""The orjson path of pretty_json lays answers out exactly as the pure-Python renderer does."""
import json
import unittest

from hypothesis import given, settings
from hypothesis import strategies as st

from api import pretty

# Floats whose shortest text has no exponent: orjson writes 1e16 where Python writes 1e+16.
plain_floats = st.floats(allow_nan=False, allow_infinity=False).filter(lambda f: "e" not in repr(f))
scalars = st.none() | st.booleans() | st.integers(-2 ** 63, 2 ** 63 - 1) | plain_floats | st.text(max_size=30)
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=6)
                      | st.dictionaries(st.text(max_size=12), inner, max_size=6), max_leaves=40)


def python_layout(value, width=pretty.WIDTH):
    """The pure-Python renderer's text, the reference."""
    return pretty._render(value, 0, 2, width, False)


class FastLayoutTest(unittest.TestCase):
    """orjson's indented text, folded, is the same text as the reference renderer's."""

    @settings(max_examples=300, deadline=None)
    @given(values, st.sampled_from([20, 40, 100]))
    def test_same_text_as_the_python_renderer(self, value, width):
        """Any JSON value (strings with newlines and brackets included) renders byte for byte the same."""
        self.assertEqual(pretty._fast(value, 2, width), python_layout(value, width))

    def test_small_containers_stay_on_one_line(self):
        """A short object is one line; a long list is one item per line."""
        text = pretty.pretty_json({"version": {"timestamp": 1, "node": "node-2"}, "keys": ["k" * 30] * 4})
        self.assertEqual(text.splitlines()[1], '  "version": {"timestamp": 1, "node": "node-2"},')
        self.assertEqual(text.splitlines()[2], '  "keys": [')
        self.assertEqual(json.loads(text)["keys"], ["k" * 30] * 4)

    def test_nan_and_surrogates_take_the_strict_path(self):
        """orjson would write NaN as null: pretty_json still names it, and escapes a lone surrogate."""
        self.assertEqual(json.loads(pretty.pretty_json({"n": float("nan")})), {"n": "NaN"})
        self.assertIn("\\ud800", pretty.pretty_json({"t": "\ud800"}))
        self.assertEqual(json.loads(pretty.pretty_json({"big": 2 ** 70})), {"big": 2 ** 70})


if __name__ == "__main__":
    unittest.main()
