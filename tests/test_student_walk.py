"""Defects a student walk through every lab found (issue 22), one test class each."""
from __future__ import annotations

import json
import unittest

from tests.helpers import make_app


class AppsInSiblingsModeTest(unittest.TestCase):
    """The applications say plainly that they need lww, with their own error code."""

    def test_apps_on_an_empty_siblings_store_say_they_need_lww(self):
        """POST /dispatch/drones, /sensors/readings and /alerts/rules answer 409 needs_lww naming --conflicts lww."""
        _, client = make_app(conflicts="siblings")
        requests = [("/dispatch/drones", {"id": "d1", "x": 0, "y": 0}),
                    ("/sensors/readings", {"sensor": "floor-1", "value": 12.5}),
                    ("/alerts/rules", {"sensor": "floor-1", "above": 30})]
        for path, body in requests:
            with self.subTest(path=path):
                response = client.post(path, data=json.dumps(body))
                answer = response.get_json()
                self.assertEqual(response.status_code, 409)
                self.assertEqual(answer["error"], "needs_lww")
                self.assertIn("--conflicts lww", answer["message"])

    def test_apps_still_work_in_lww_mode(self):
        """The same requests succeed on an lww cluster (the default)."""
        _, client = make_app()
        response = client.post("/dispatch/drones", data=json.dumps({"id": "d1", "x": 0, "y": 0}))
        self.assertEqual(response.status_code, 201)


if __name__ == "__main__":
    unittest.main()
