"""Configuration: defaults, environment variables, CLI flags, clear refusals."""
import contextlib
import io
import unittest

import run
from config import Config, ConfigError, build_parser, from_args, from_env


class DefaultsTest(unittest.TestCase):
    """The defaults the issue asks for."""

    def test_defaults(self):
        """5 nodes, RF 3, R 2, W 2, seed 0, 127.0.0.1:5000, ./data, sync durability."""
        c = Config()
        self.assertEqual((c.nodes, c.rf, c.r, c.w, c.seed), (5, 3, 2, 2, 0))
        self.assertEqual((c.host, c.port, c.data_dir, c.durability), ("127.0.0.1", 5000, "./data", "sync"))
        self.assertEqual(c.max_value_bytes, 1024 * 1024)
        c.validate()


class SourcesTest(unittest.TestCase):
    """Settings come from environment variables and CLI flags, flags winning."""

    def test_environment_variables(self):
        """REPLICALAB_<NAME> sets each kind of setting."""
        c = from_env({"REPLICALAB_NODES": "7", "REPLICALAB_DURABILITY": "batch",
                      "REPLICALAB_FRESH": "true", "REPLICALAB_ADMIN_TOKEN": "s3cret"})
        self.assertEqual((c.nodes, c.durability, c.fresh, c.admin_token), (7, "batch", True, "s3cret"))

    def test_flags_override_environment(self):
        """A CLI flag beats the environment variable for the same setting."""
        c = from_args(["--nodes", "6", "--rf", "2", "--r", "1", "--w", "1", "--fresh"],
                      {"REPLICALAB_NODES": "9"})
        self.assertEqual((c.nodes, c.rf, c.r, c.w, c.fresh), (6, 2, 1, 1, True))

    def test_every_setting_has_a_documented_flag(self):
        """--help mentions a flag and its environment variable for every setting."""
        text = build_parser().format_help()
        for name in Config.__dataclass_fields__:
            self.assertIn("--" + name.replace("_", "-"), text)
            self.assertIn("REPLICALAB_" + name.upper(), text)

    def test_bad_environment_value_is_a_config_error(self):
        """A non-number in a numeric variable is a ConfigError naming the setting."""
        with self.assertRaises(ConfigError) as caught:
            from_env({"REPLICALAB_NODES": "five"})
        self.assertIn("nodes", str(caught.exception))


class ValidationTest(unittest.TestCase):
    """Settings that cannot work are refused with one sentence."""

    CASES = [
        (dict(nodes=0), "--nodes must be at least 1"),
        (dict(rf=6), "cannot exceed the number of nodes"),
        (dict(r=4), "--r 4 is larger than --rf 3"),
        (dict(w=5, rf=5, nodes=4), "cannot exceed"),
        (dict(w=0), "--w must be at least 1"),
        (dict(durability="maybe"), "--durability must be one of sync, batch"),
        (dict(latency_min_ms=20, latency_max_ms=5), "Latency"),
        (dict(port=70000), "--port"),
    ]

    def test_invalid_settings_are_refused(self):
        """Each impossible configuration raises ConfigError with an explaining sentence."""
        for changes, expected in self.CASES:
            with self.subTest(changes=changes), self.assertRaises(ConfigError) as caught:
                Config(**changes).validate()
            self.assertIn(expected, str(caught.exception))

    def test_run_refuses_with_one_line_not_a_traceback(self):
        """python run.py --r 5 prints one sentence on stderr and exits 2."""
        err = io.StringIO()
        with contextlib.redirect_stderr(err):
            code = run.main(["--r", "5"])
        self.assertEqual(code, 2)
        self.assertNotIn("Traceback", err.getvalue())
        self.assertEqual(len(err.getvalue().strip().splitlines()), 1)
        self.assertIn("quorum cannot need more answers", err.getvalue())


if __name__ == "__main__":
    unittest.main()
