"""The linearizability checker: verdicts on hand-made histories, formats, CLI, properties."""
import io
import json
import os
import subprocess
import sys
import tempfile
import unittest
from contextlib import redirect_stderr, redirect_stdout

from checker import HistoryError, check_history, check_text, parse_history
from checker.__main__ import main as cli_main
from checker.edn import EDNError, Keyword, loads
from tests.helpers import ROOT  # noqa: F401  (puts the project on sys.path)


def h(*rows, key=None):
    """Events from (process, type, f, value[, key]) rows, in real-time order."""
    events = []
    for row in rows:
        process, kind, f, value = row[:4]
        events.append({"process": process, "type": kind, "f": f, "value": value,
                       "key": row[4] if len(row) > 4 else key})
    return events


def op(process, f, value, result="ok", out=None, key=None):
    """An invocation immediately followed by its completion (no concurrency)."""
    done = out if f in ("read", "get") else value
    return [(process, "invoke", f, None if f in ("read", "get") else value, key),
            (process, result, f, done, key)]


def seq(*ops):
    """Concatenate op() pairs into one sequential history."""
    return h(*[row for pair_ in ops for row in pair_])


class VerdictTest(unittest.TestCase):
    """Known verdicts on small register and store histories."""

    def assertLinearizable(self, events, model="register"):
        verdict = check_history(events, model)
        self.assertTrue(verdict.linearizable, verdict.to_dict())
        return verdict

    def assertViolation(self, events, model="register"):
        verdict = check_history(events, model)
        self.assertFalse(verdict.linearizable, verdict.to_dict())
        self.assertEqual(verdict.result, "not_linearizable")
        return verdict

    def test_concurrent_read_may_see_either_value(self):
        """A read overlapping a write may return the old or the new value."""
        for seen in (None, 1):
            events = h((0, "invoke", "write", 1), (1, "invoke", "read", None),
                       (1, "ok", "read", seen), (0, "ok", "write", 1))
            self.assertLinearizable(events)

    def test_stale_read_is_a_violation_that_names_the_read(self):
        """A read after a completed overwrite returning the old value cannot be placed."""
        events = seq(op(0, "write", 1), op(1, "write", 2), op(2, "read", None, out=1))
        verdict = self.assertViolation(events)
        violation = verdict.violations[0]
        self.assertEqual([o.f for o in violation.linearizable_prefix], ["write", "write"])
        self.assertEqual(violation.state_after_prefix, 2)
        self.assertEqual((violation.unplaceable[0].process, violation.unplaceable[0].output),
                         (2, 1))
        self.assertIn("read -> 1", violation.message)

    def test_lost_update_with_append(self):
        """Two acknowledged appends of which a later get shows only one are a lost update."""
        events = h((0, "invoke", "append", "a"), (1, "invoke", "append", "b"),
                   (0, "ok", "append", "a"), (1, "ok", "append", "b"),
                   (2, "invoke", "get", None), (2, "ok", "get", "b"), key="x")
        self.assertViolation(events, "kv")
        events[-1]["value"] = "ba"
        self.assertLinearizable(events, "kv")

    def test_cas_cannot_succeed_twice_from_the_same_value(self):
        """Two concurrent cas from 1 that both applied mean one of them saw a stale 1."""
        events = seq(op(0, "write", 1)) + h(
            (1, "invoke", "cas", [1, 2]), (2, "invoke", "cas", [1, 3]),
            (1, "ok", "cas", [1, 2]), (2, "ok", "cas", [1, 3]))
        self.assertViolation(events)
        events[-1]["type"] = "fail"  # the second compare saw 2: fine
        self.assertLinearizable(events)

    def test_info_write_may_have_happened(self):
        """A timed-out write whose value is read later took effect."""
        events = seq(op(0, "write", 1), op(1, "write", 2, "info"), op(2, "read", None, out=2))
        self.assertLinearizable(events)

    def test_info_write_may_never_have_happened(self):
        """A timed-out write that no read ever sees may never have taken effect."""
        events = seq(op(0, "write", 1), op(1, "write", 2, "info"), op(2, "read", None, out=1))
        self.assertLinearizable(events)

    def test_info_write_cannot_happen_before_its_invocation_or_be_undone(self):
        """An info write takes effect once, after it was invoked: not before, not twice."""
        early = seq(op(0, "write", 1), op(2, "read", None, out=2), op(1, "write", 2, "info"))
        self.assertViolation(early)
        flipflop = seq(op(0, "write", 1), op(1, "write", 2, "info"),
                       op(2, "read", None, out=2), op(2, "read", None, out=1))
        self.assertViolation(flipflop)

    def test_info_write_never_completed_counts_as_info(self):
        """An invocation without completion at the end of the history is an info op."""
        events = seq(op(0, "write", 1)) + h((1, "invoke", "write", 2)) \
            + seq(op(2, "read", None, out=2))
        self.assertLinearizable(events)

    def test_failed_cas_did_not_happen(self):
        """A Jepsen :fail cas did not happen and says nothing else, so it constrains nothing."""
        alone = seq(op(0, "write", 1), op(1, "cas", [1, 3], "fail"))
        self.assertLinearizable(alone)
        self.assertEqual(check_history(alone, "register").ops_checked, 1)

    def test_replicalab_409_cas_happened_and_saw_another_value(self):
        """A fail cas carrying `observed` (ReplicaLab's 409) compared and lost: not possible while 1 surely holds."""
        alone = seq(op(0, "write", 1), op(1, "cas", [1, 3], "fail"))
        alone[-1]["observed"] = 1
        self.assertViolation(alone)
        racing = seq(op(0, "write", 1)) + h(
            (2, "invoke", "write", 2), (1, "invoke", "cas", [1, 3]),
            (1, "fail", "cas", [1, 3]), (2, "ok", "write", 2))
        racing[-2]["observed"] = 2
        self.assertLinearizable(racing)

    def test_info_cas_known_only_by_version_may_apply_over_any_value(self):
        """A cas recorded with only its expected version (its coordinator killed) explains a later read of its value."""
        by_version = [{"expected_version": "7@node-0"}, 25]
        events = seq(op(0, "write", 24)) + h((1, "invoke", "cas", by_version), (1, "info", "cas", None)) \
            + seq(op(2, "read", None, out=25))
        self.assertLinearizable(events, "store")
        # With its compared value known, the same cas cannot have applied over 24.
        known = seq(op(0, "write", 24)) + h((1, "invoke", "cas", [23, 25]), (1, "info", "cas", None)) \
            + seq(op(2, "read", None, out=25))
        self.assertViolation(known, "store")
        # It may also never have applied.
        never = seq(op(0, "write", 24)) + h((1, "invoke", "cas", by_version), (1, "info", "cas", None)) \
            + seq(op(2, "read", None, out=24))
        self.assertLinearizable(never, "store")

    def test_failed_write_and_info_read_are_dropped(self):
        """A failed write never happened and an info read constrains nothing."""
        events = seq(op(0, "write", 1), op(1, "write", 5, "fail"),
                     op(2, "read", None, "info", out=5), op(2, "read", None, out=1))
        self.assertLinearizable(events)
        self.assertViolation(seq(op(0, "write", 1), op(1, "write", 5, "fail"),
                                 op(2, "read", None, out=5)))

    def test_store_delete_makes_the_key_absent(self):
        """In the store model absent reads as null before a write and after a delete."""
        events = seq(op(0, "read", None, out=None), op(0, "write", "v"),
                     op(1, "delete", None), op(2, "read", None, out=None))
        self.assertLinearizable(events, "store")
        events[-1]["value"] = "v"
        self.assertViolation(events, "store")

    def test_keys_are_checked_independently(self):
        """Ops on different keys never constrain each other; only the bad key is reported."""
        events = seq(op(0, "write", 1, key="a"), op(1, "write", 2, key="b"),
                     op(2, "read", None, out=1, key="a"))
        verdict = self.assertLinearizable(events, "store")
        self.assertEqual(verdict.keys_checked, 2)
        events += seq(op(2, "read", None, out=7, key="b"))
        verdict = self.assertViolation(events, "store")
        self.assertEqual([v.key for v in verdict.violations], ["b"])

    def test_verdict_dict_is_json(self):
        """to_dict() survives json.dumps and carries the documented fields."""
        verdict = check_history(seq(op(0, "write", 1), op(1, "read", None, out=3)), "store")
        data = json.loads(json.dumps(verdict.to_dict()))
        self.assertEqual(set(data), {"linearizable", "result", "model", "keys_checked",
                                     "ops_checked", "violations", "unknown_keys", "elapsed_ms",
                                     "initial", "unknown_reasons", "explored"})
        self.assertIs(data["linearizable"], False)
        self.assertEqual(set(data["violations"][0]),
                         {"key", "message", "state_after_prefix", "linearizable_prefix",
                          "unplaceable"})

    def test_timeout_gives_unknown(self):
        """A zero timeout on a history that needs many steps yields an 'unknown' verdict."""
        events = seq(*[op(0, "write", i) for i in range(3000)])
        verdict = check_history(events, "register", timeout=0)
        self.assertEqual((verdict.result, verdict.linearizable), ("unknown", None))

    def test_unknown_operation_for_the_model_is_an_error(self):
        """A history using ops the model lacks is rejected with a hint."""
        with self.assertRaisesRegex(HistoryError, "no operation 'append'"):
            check_history(seq(op(0, "append", "x")), "register")


EDN_HISTORY = """\
{:process 0, :type :invoke, :f :write, :value 3}
{:process 1, :type :invoke, :f :read, :value nil}
{:process 0, :type :ok, :f :write, :value 3}
{:process 1, :type :ok, :f :read, :value 3}
{:process 0, :type :invoke, :f :cas, :value [3 4]}
{:process 0, :type :fail, :f :cas, :value [3 4]}
{:process :nemesis, :type :info, :f :start, :value nil}
"""

# the cas from 2 applied while the register surely held 3: no order explains it
BAD_EDN = EDN_HISTORY.replace(":value [3 4]", ":value [2 4]").replace(":fail, :f :cas", ":ok, :f :cas")

LOG_HISTORY = """\
INFO  jepsen.core - Worker 0 starting
INFO  jepsen.util - 3\t:invoke\t:cas\t[1 4]
INFO  jepsen.util - 4\t:invoke\t:write\t1
INFO  jepsen.util - 3\t:fail\t:cas\t[1 4]
INFO  jepsen.util - 4\t:ok\t:write\t1
INFO  jepsen.util - 3\t:invoke\t:read\tnil
INFO  jepsen.util - 3\t:ok\t:read\t1
INFO  jepsen.util - :nemesis\t:info\t:start\tnil
"""


class FormatTest(unittest.TestCase):
    """EDN, jepsen.util log lines and JSON histories read the same way."""

    def test_edn_subset(self):
        """The EDN reader handles the forms Jepsen histories use."""
        value = loads('{:a [1 -2.5 "q\\"\\n\\u0041" nil true] :b #{1 2} '
                      ':c (x) :d #inst "2020" :e 7N ; note\n :f #_ 1 2}')
        self.assertEqual(value, {"a": [1, -2.5, 'q"\nA', None, True], "b": frozenset({1, 2}),
                                 "c": ["x"], "d": "2020", "e": 7, "f": 2})
        self.assertIsInstance(loads(":write"), Keyword)
        for bad in ('{:a', '"open', '{:a}', '[1 2)', "12abc"):
            with self.assertRaises(EDNError, msg=bad):
                loads(bad)

    def test_edn_history(self):
        """EDN maps become events; the :fail cas is dropped as Knossos does, a read of 4 is a violation."""
        events = parse_history(EDN_HISTORY)
        self.assertEqual(len(events), 6)  # the nemesis line is skipped
        self.assertEqual((events[4].f, events[4].value), ("cas", [3, 4]))
        self.assertTrue(check_text(EDN_HISTORY).linearizable)
        self.assertTrue(check_text(EDN_HISTORY.replace(":fail", ":ok")).linearizable)
        self.assertFalse(check_text(EDN_HISTORY.replace(":read, :value 3", ":read, :value 4"))
                         .linearizable)

    def test_edn_history_in_one_vector_with_independent_keys(self):
        """A vector of ops with jepsen.independent [key value] tuples splits per key."""
        text = ("[{:process 0 :type :invoke :f :write :value [\"x\" 1]}\n"
                " {:process 0 :type :ok :f :write :value [\"x\" 1]}\n"
                " {:process 1 :type :invoke :f :read :value [\"y\" nil]}\n"
                " {:process 1 :type :ok :f :read :value [\"y\" 1]}]\n")
        verdict = check_text(text, independent=True)
        self.assertEqual([v.key for v in verdict.violations], ["y"])

    def test_jepsen_log_lines(self):
        """jepsen.util lines: process, type, f, value; other log lines are skipped."""
        events = parse_history(LOG_HISTORY)
        self.assertEqual([(e.process, e.type, e.f) for e in events][:2],
                         [(3, "invoke", "cas"), (4, "invoke", "write")])
        # the cas [1 4] failed concurrently with the write of 1: it may have seen nil
        self.assertTrue(check_text(LOG_HISTORY).linearizable)
        swapped = LOG_HISTORY.replace("3\t:fail\t:cas\t[1 4]\nINFO  jepsen.util - 4\t:ok\t:write\t1",
                                      "4\t:ok\t:write\t1\nINFO  jepsen.util - 3\t:fail\t:cas\t[1 4]")
        self.assertNotEqual(swapped, LOG_HISTORY)
        self.assertTrue(check_text(swapped).linearizable)
        late = LOG_HISTORY.replace("INFO  jepsen.util - 3\t:invoke\t:cas\t[1 4]\n", "").replace(
            "INFO  jepsen.util - 3\t:fail\t:cas\t[1 4]\n", "") + \
            "INFO  jepsen.util - 3\t:invoke\t:cas\t[1 4]\nINFO  jepsen.util - 3\t:fail\t:cas\t[1 4]\n"
        self.assertTrue(check_text(late).linearizable)  # a :fail did not happen, wherever it sits

    def test_json_array_and_json_lines(self):
        """Our export as an array or as JSON lines defaults to the store model."""
        events = seq(op(0, "write", "a", key="k"), op(1, "delete", None, key="k"),
                     op(2, "read", None, out=None, key="k"))
        for text in (json.dumps(events), "\n".join(json.dumps(e) for e in events)):
            verdict = check_text(text)
            self.assertEqual((verdict.model, verdict.linearizable), ("store", True))

    def test_parse_errors_name_the_line(self):
        """Every reader reports the line number and text of the first bad line."""
        cases = {
            "edn": EDN_HISTORY.replace("{:process 0, :type :ok, :f :write, :value 3}",
                                       "{:process 0, :type :ok, :f :write, :value \"3}"),
            "log": LOG_HISTORY.replace("4\t:ok\t:write\t1", "4\t:ok\t:write\t[1"),
            "json": '{"process": 0, "type": "invoke", "f": "read"}\n'
                    '{"process": 0, "type": "ok", "f": "read", "value": 1}\n'
                    '{"process": 0, "type": "ok", "f": "read", value: 1}\n',
            "type": EDN_HISTORY.replace(":type :ok, :f :read", ":type :done, :f :read"),
        }
        lines = {"edn": 3, "log": 5, "json": 3, "type": 4}
        for name, text in cases.items():
            with self.assertRaises(HistoryError, msg=name) as ctx:
                check_text(text)
            self.assertEqual(ctx.exception.line, lines[name], (name, str(ctx.exception)))
            self.assertIn(text.splitlines()[lines[name] - 1].strip(), str(ctx.exception))


class CliTest(unittest.TestCase):
    """python -m checker: exit statuses, --json and error output."""

    def run_cli(self, text, *flags):
        with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as fh:
            fh.write(text)
        self.addCleanup(os.unlink, fh.name)
        out, err = io.StringIO(), io.StringIO()
        with redirect_stdout(out), redirect_stderr(err):
            status = cli_main([fh.name, *flags])
        return status, out.getvalue(), err.getvalue()

    def test_exit_statuses(self):
        """0 linearizable, 1 not, 2 unreadable (the bad line printed), 3 timed out."""
        good = EDN_HISTORY.replace(":fail", ":ok")
        self.assertEqual(self.run_cli(good)[0], 0)
        status, out, _ = self.run_cli(BAD_EDN)
        self.assertEqual(status, 1)
        self.assertIn("cannot be placed", out)
        status, _, err = self.run_cli(EDN_HISTORY.replace(":f :read, :value 3", ":f :read, :value [3"))
        self.assertEqual(status, 2)
        self.assertIn("line 4", err)
        self.assertIn(":f :read, :value [3", err)
        many = "\n".join(f'{{"process": 0, "type": "{t}", "f": "write", "value": {i}}}'
                         for i in range(3000) for t in ("invoke", "ok"))
        self.assertEqual(self.run_cli(many, "--timeout", "0")[0], 3)

    def test_json_output(self):
        """--json prints the verdict dict; --model overrides the format's default."""
        status, out, _ = self.run_cli(BAD_EDN, "--json", "--model", "store")
        data = json.loads(out)
        self.assertEqual((status, data["linearizable"], data["model"]), (1, False, "store"))
        prefix = data["violations"][0]["linearizable_prefix"]
        self.assertEqual([o["f"] for o in prefix], ["write", "read"])
        self.assertEqual(data["violations"][0]["unplaceable"][0]["value"], [2, 4])

    def test_module_entry_point(self):
        """`python -m checker` runs as a module with the same exit status."""
        with tempfile.NamedTemporaryFile("w", suffix=".edn", delete=False) as fh:
            fh.write(BAD_EDN)
        self.addCleanup(os.unlink, fh.name)
        result = subprocess.run([sys.executable, "-m", "checker", fh.name], cwd=ROOT,
                                capture_output=True, text=True, timeout=60)
        self.assertEqual(result.returncode, 1, result.stderr)


if __name__ == "__main__":
    unittest.main()
