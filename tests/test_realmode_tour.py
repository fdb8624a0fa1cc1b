"""The README's curl tour answers the same fields in real mode as in simulated mode (fields, not timings)."""
import unittest

from tests.real_cluster import RealCluster

TOUR = [("POST", "/write", {"key": "color", "value": "blue"}),
        ("GET", "/read/color", None),
        ("GET", "/nodes", None),
        ("POST", "/fail/1", None),
        ("POST", "/write", {"key": "color", "value": "green"}),
        ("POST", "/recover/1", None),
        ("GET", "/nodes/1", None)]
PROCESS_ONLY = {"pid", "address"}  # a node process's identity: real mode adds it to each node's entry


def run_tour(cluster: RealCluster) -> list:
    """Each step of the tour: (status code, answer JSON)."""
    answers = []
    for method, path, body in TOUR:
        answer = cluster.post(path, body) if method == "POST" else cluster.get(path)
        answers.append((answer.status_code, answer.json()))
    return answers


def shape(value):
    """The field names of an answer, recursively (lists by their first item), without the values."""
    if isinstance(value, dict):
        return {k: shape(v) for k, v in value.items() if k not in PROCESS_ONLY}
    if isinstance(value, list):
        return [shape(value[0])] if value else []
    return type(value).__name__ if value is not None else None


class TourInBothModesTest(unittest.TestCase):
    """The same tour against `run.py` and `run.py cluster`, five nodes each."""

    answers: dict

    @classmethod
    def setUpClass(cls):
        cls.answers = {}
        for real in (False, True):
            # A replica slower than the request timeout gets a stand-in: on a loaded machine 100 real ms
            # is short, and this test compares fields, not how a busy machine schedules processes.
            cluster = RealCluster(nodes=5, real=real, request_timeout_ms=1000)
            try:
                cls.answers[real] = run_tour(cluster)
            finally:
                survivors = cluster.stop()
            assert not survivors, f"processes outlived the front: {survivors}"

    def test_every_step_answers_the_same_status_and_fields(self):
        """Each tour step has the same status code and the same answer fields in both modes."""
        for step, (simulated, real) in enumerate(zip(self.answers[False], self.answers[True])):
            with self.subTest(step=TOUR[step][:2]):
                self.assertEqual(simulated[0], real[0])
                self.assertEqual(set(simulated[1]), set(real[1]))

    def test_the_tour_tells_the_same_outcome_in_both_modes(self):
        """Same coordinator and replicas, the hint for node-1, what node 1 holds at the end, mode named."""
        for real in (False, True):
            write, read, nodes, failed, hinted, recovered, node1 = (a for _, a in self.answers[real])
            with self.subTest(real=real):
                self.assertEqual(nodes["mode"], "real" if real else "simulated")
                self.assertEqual(read["value"], "blue")
                self.assertTrue(failed["message"].startswith("node-1 is down (stop)"), failed["message"])
                self.assertIn("node-1", [h["for"] for h in hinted["hints"]])
                self.assertIn("color", recovered["hints_received"])
                self.assertEqual([(r["key"], r["value"]) for r in node1["records"]], [("color", "green")])
        for step in (0, 4):
            sim, real = self.answers[False][step][1], self.answers[True][step][1]
            self.assertEqual((sim["coordinator"], sim["replicas"]), (real["coordinator"], real["replicas"]))
