"""The chaos run: what each consistency mode promises under every fault but wipe, and its analysis."""
import io
import json
import unittest
from contextlib import redirect_stdout

from chaos import analysis
from chaos.__main__ import main as chaos_main
from chaos.nemesis import KINDS
from chaos.report import build_report
from chaos.run import ChaosSettings

OPS = 3000  # the 10,000-op run takes seconds by hand; this one keeps the suite quick


def report(consistency, seed=1, ops=OPS):
    """A chaos report for 8 clients."""
    return build_report(ChaosSettings(ops=ops, clients=8, seed=seed, consistency=consistency))


class ChaosPromisesTest(unittest.TestCase):
    """Linearizable keeps its promise under faults; eventual shows and names its anomalies."""

    linearizable: dict  # the report of one run per mode, made once in setUpClass
    eventual: dict

    @classmethod
    def setUpClass(cls):
        """One run per mode, shared by the tests (the runs are deterministic)."""
        cls.linearizable = report("linearizable")
        cls.eventual = report("eventual")

    def test_linearizable_mode_has_no_violation_and_loses_no_acknowledged_write(self):
        """With linearizable and sync durability: 0 violations, 0 lost writes, every replica converged."""
        r = self.linearizable
        self.assertEqual(r["ops"], OPS)
        self.assertEqual((r["violations"], r["lost_acked_writes"], r["stale_reads"]), (0, 0, 0))
        self.assertEqual(r["linearizability"]["result"], "linearizable")
        self.assertTrue(r["converged"])

    def test_the_nemesis_used_every_fault_kind_but_wipe(self):
        """Stop, crash, recover, partition, heal, drop, delay, duplicate, skew and clear all happened."""
        for r in (self.linearizable, self.eventual):
            self.assertEqual(set(r["faults"]), set(KINDS))
            self.assertNotIn("wipe", r["faults"])

    def test_linearizable_mode_really_was_under_fire(self):
        """Some operations were refused or left unknown: the faults reached the clients."""
        outcomes = self.linearizable["outcomes"]
        self.assertGreater(outcomes["write"].get("fail", 0) + outcomes["write"].get("info", 0), 0)
        self.assertGreater(outcomes["read"]["ok"], OPS // 5)

    def test_eventual_mode_shows_anomalies_and_names_their_mechanisms(self):
        """Eventual: violations and stale reads, each named sloppy quorum, LWW with skew or stale replica."""
        r = self.eventual
        self.assertGreater(r["violations"], 0)
        self.assertGreater(r["stale_reads"], 0)
        self.assertTrue(set(r["anomalies_by_mechanism"]) <= {analysis.SLOPPY, analysis.SKEW, analysis.STALE})
        self.assertIn(analysis.SKEW, r["anomalies_by_mechanism"])
        self.assertIn(analysis.SLOPPY, r["anomalies_by_mechanism"])
        first = r["linearizability"]["violations"][0]
        self.assertIn("cannot be placed", first["message"])
        self.assertIn(first["mechanism"], (analysis.SLOPPY, analysis.SKEW, analysis.STALE))
        self.assertTrue(r["converged"], "anti-entropy at the end converges every replica")

    def test_same_seed_same_report(self):
        """The run is deterministic: the same seed gives the same figures."""
        again = report("eventual", ops=300)
        first = report("eventual", ops=300)
        for r in (again, first):
            r.pop("elapsed_s")
            r["linearizability"].pop("elapsed_ms")
        self.assertEqual(again, first)


class ChaosCommandTest(unittest.TestCase):
    """python -m chaos on the command line."""

    def test_json_report_has_the_promised_fields(self):
        """--json prints one object with ops, lost_acked_writes, violations and converged."""
        out = io.StringIO()
        with redirect_stdout(out):
            code = chaos_main(["--ops", "200", "--clients", "4", "--consistency", "linearizable", "--json"])
        data = json.loads(out.getvalue())
        self.assertEqual(code, 0)
        self.assertEqual(data["ops"], 200)
        for field in ("lost_acked_writes", "violations", "converged", "faults", "outcomes"):
            self.assertIn(field, data)

    def test_text_report_names_outcomes_faults_and_verdicts(self):
        """The text report has a line for outcomes, faults, lost writes, the verdict and convergence."""
        out = io.StringIO()
        with redirect_stdout(out):
            chaos_main(["--ops", "200", "--seed", "3"])
        text = out.getvalue()
        for phrase in ("operations by outcome", "faults injected", "acknowledged writes lost",
                       "linearizability", "converged after healing"):
            self.assertIn(phrase, text)


def op(f, value, inv, ret, output=None, type_="ok", key="k", **meta):
    """A hand-made analysed operation."""
    return {"f": f, "key": key, "value": value, "output": output, "type": type_, "inv": inv, "ret": ret,
            "process": 0, **meta}


class AnalysisTest(unittest.TestCase):
    """Lost writes and stale reads on hand-made operations."""

    def test_an_acknowledged_write_beaten_by_an_older_one_is_lost_to_skew(self):
        """Write 2 came after write 1 in real time but the key ends as 1: lost, LWW with skew."""
        ops = [op("write", 1, 0, 5, version=[900, 1]), op("write", 2, 10, 15, version=[100, 2])]
        lost = analysis.lost_writes(ops, {"k": 1})
        self.assertEqual([(w["value"], w["mechanism"]) for w in lost], [(2, analysis.SKEW)])

    def test_a_write_that_something_later_may_overwrite_is_not_lost(self):
        """An unknown (info) write after it may have replaced it, so nothing is reported."""
        ops = [op("write", 1, 0, 5), op("write", 2, 10, float("inf"), type_="info")]
        self.assertEqual(analysis.lost_writes(ops, {"k": 2}), [])

    def test_a_read_behind_a_hinted_write_is_stale_by_sloppy_quorum(self):
        """A read after an acknowledged write returns the older value; the write used stand-ins."""
        ops = [op("write", 1, 0, 5), op("write", 2, 10, 15, stand_ins=1), op("read", None, 20, 25, output=1)]
        stale = analysis.stale_reads(ops)
        self.assertEqual([(s["returned"], s["mechanism"]) for s in stale], [(1, analysis.SLOPPY)])

    def test_a_read_concurrent_with_the_write_is_not_stale(self):
        """A read that overlaps the newer write may return either value."""
        ops = [op("write", 1, 0, 5), op("write", 2, 10, 30), op("read", None, 20, 25, output=1)]
        self.assertEqual(analysis.stale_reads(ops), [])


if __name__ == "__main__":
    unittest.main()


class RemoteClassifyTest(unittest.TestCase):
    """How a run against a real server reads each HTTP answer."""

    def test_statuses_map_to_ok_fail_info(self):
        """200 ok; 404 read ok (absent); 503 write info if stored somewhere else fail; 504 write info."""
        from chaos.remote import classify
        cases = [("write", 200, {"version": {"timestamp": 5, "node": "node-2"}, "hints": [{}]}, "ok"),
                 ("read", 404, {}, "ok"), ("delete", 404, {}, "fail"),
                 ("write", 503, {"acks": [{"node": "node-1"}]}, "info"), ("write", 503, {"acks": []}, "fail"),
                 ("write", 504, {}, "info"), ("read", 503, {}, "fail")]
        for f, status, answer, expected in cases:
            self.assertEqual(classify(f, status, answer)[0].type, expected, (f, status))
        self.assertEqual(classify(*cases[0][:3])[1], {"stand_ins": 1, "version": [5, 2]})
