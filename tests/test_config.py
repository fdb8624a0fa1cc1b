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


class StartMessagesTest(unittest.TestCase):
    """Start-up sentences name what the student actually set and where the data lives (issue 10)."""

    def refusal(self, argv, environ):
        """The ConfigError sentence for these flags and variables."""
        with self.assertRaises(ConfigError) as caught:
            from_args(argv, environ=environ)
        return str(caught.exception)

    def test_a_variable_is_named_as_a_variable(self):
        """REPLICALAB_R=5 is reported as REPLICALAB_R=5, and the RF it breaks as the default."""
        message = self.refusal([], {"REPLICALAB_R": "5"})
        self.assertIn("REPLICALAB_R=5 is larger than --rf 3 (the default)", message)
        self.assertNotIn("--r 5", message)

    def test_a_flag_is_named_as_a_flag(self):
        """A flag given on the command line (winning over a variable) is named as the flag."""
        message = self.refusal(["--r", "4"], {"REPLICALAB_R": "5"})
        self.assertIn("--r 4 is larger than --rf 3", message)

    def test_memory_storage_names_no_directory(self):
        """--storage memory is not reported as living in a data directory."""
        text = run.banner(Config(storage="memory", data_dir="/somewhere"))
        self.assertIn("memory storage (nothing on disk", text)
        self.assertNotIn("/somewhere", text)

    def test_restart_banner_says_faults_are_cleared(self):
        """A restart on existing files says nodes come back alive and faults are cleared."""
        self.assertIn("every node starts alive and every fault", run.banner(Config(), restarted=True))
        self.assertNotIn("Restarted", run.banner(Config()))

    def test_replay_notes_the_settings_it_ignores(self):
        """run.py --replay FILE --data-dir D says the directory is not used (it replays in memory)."""
        import json
        import os
        import tempfile
        from unittest import mock

        from tests.helpers import make_app
        app, client = make_app()
        client.post("/write", json={"key": "color", "value": "blue"})
        with tempfile.TemporaryDirectory() as folder:
            path = os.path.join(folder, "run.json")
            with open(path, "w", encoding="utf-8") as handle:
                json.dump(client.get("/scenario").get_json(), handle)
            err = io.StringIO()
            with contextlib.redirect_stderr(err), mock.patch("run.port_problem", return_value="busy"):
                run.main(["--replay", path, "--data-dir", os.path.join(folder, "d"), "--port", "5799"])
        self.assertIn("--data-dir not used", err.getvalue())
