"""bench/hostile.py: every route, every hostile form, and counts that must all be 0."""
import contextlib
import io
import unittest

from bench import hostile


class HostileBenchTest(unittest.TestCase):
    """The hostile bench finds nothing wrong in-process (the same run a real server gets)."""

    def test_every_route_answers_hostile_requests_cleanly(self):
        """Invented methods, 5,000-digit numbers, odd Hosts and 512 KiB values: 0 5xx, 0 non-JSON, 0 accepted."""
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            status = hostile.main(["--in-process", "--quick", "--methods", "60", "--big", "2"])
        report = printed.getvalue()
        self.assertEqual(status, 0, report)
        self.assertIn("answers 5xx: 0 (", report)
        self.assertIn("answers not strict JSON: 0\n", report)
        self.assertRegex(report, r"foreign Hosts accepted: 0 of [1-9]\d+ sent")
        self.assertIn("lines added by 30 more invented methods: 0", report)


if __name__ == "__main__":
    unittest.main()
