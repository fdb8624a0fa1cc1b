"""python -m labs grade-node: the schedule, the properties, the shrinker, the report's shapes, real runs."""
import io
import json
import os
import shlex
import tempfile
import time
import unittest
import xml.etree.ElementTree as ET
from contextlib import redirect_stderr, redirect_stdout

from chaos.nemesis import GRADER_KINDS, HOLD_S, describe, plan
from config import from_args
from labs.__main__ import main as labs_main
from labs.grade_node import properties, report
from labs.grade_node.cli import parse
from labs.grade_node.run import GradeSettings, RunResult, grade_run
from labs.grade_node.workload import MIXES, Clients, Protocol, classify_lin_kv
from realmode import processes


def op(index, process, f, key, value, start, end, kind="ok", result=None, **extra):
    """An invocation and its completion, as the grader's history records them."""
    done = result if f == "read" else value
    return [{"index": index, "process": process, "type": "invoke", "f": f, "key": key,
             "value": None if f == "read" else value, "time": start},
            {"index": index, "process": process, "type": kind, "f": f, "key": key, "value": done, "time": end,
             **extra}]


def stale_read_history(noise: int = 30) -> list:
    """write 1, then write 2, then a read of 1 (a stale read), buried among unrelated reads and writes."""
    events = []
    events += op(1, "c0", "write", "k0", 1, 0.0, 1.0)
    events += op(2, "c1", "write", "k0", 2, 2.0, 3.0)
    for n in range(noise):  # other keys, and harmless ops of k0 before the writes
        events += op(10 + n, f"n{n}", "write", f"k{1 + n % 3}", 100 + n, 0.1 + n * 0.01, 0.2 + n * 0.01)
    events += op(3, "c2", "read", "k0", None, 4.0, 5.0, result=1)
    return sorted(events, key=lambda e: e["time"])


class ScheduleTest(unittest.TestCase):
    """The nemesis schedule is decided up front from the seed, so a seed replays its faults."""

    def test_same_seed_same_schedule_other_seed_other_schedule(self):
        """plan() is a pure function of seed, nodes, duration and kinds; another seed gives other faults."""
        self.assertEqual(plan(4, 5, 30), plan(4, 5, 30))
        self.assertNotEqual(plan(4, 5, 30), plan(5, 5, 30))
        self.assertTrue(all(0 < s["at_s"] < 30 for s in plan(4, 5, 30)))

    def test_schedule_never_takes_down_a_majority_and_uses_only_the_kinds_asked(self):
        """At most (nodes-1)//2 nodes are down at once, and only the fault kinds allowed appear."""
        for seed in range(1, 20):
            down: set = set()
            for step in plan(seed, 5, 30, kinds=("crash", "recover", "partition", "heal")):
                self.assertIn(step["kind"], ("crash", "recover", "partition", "heal"))
                if step["kind"] == "crash":
                    down.add(step["arg"])
                elif step["kind"] == "recover":
                    down.discard(step["arg"])
                self.assertLessEqual(len(down), 2)

    def test_partitions_cut_off_a_minority_for_longer_than_an_election(self):
        """Every partition leaves a majority together and lasts at least 4 s (or to the end); some isolate one node."""
        sizes = set()
        for seed in range(1, 21):
            steps = plan(seed, 5, 30)
            for number, step in enumerate(steps):
                if step["kind"] != "partition":
                    continue
                minority, majority = sorted(step["arg"], key=len)
                self.assertEqual(sorted(minority + majority), [0, 1, 2, 3, 4])
                self.assertGreaterEqual(len(majority), 3)
                sizes.add(len(minority))
                heal = next((s for s in steps[number:] if s["kind"] == "heal"), None)
                if heal is not None:
                    self.assertGreaterEqual(heal["at_s"] - step["at_s"], HOLD_S["isolate"][0] - 0.01)
        self.assertEqual(sizes, {1, 2})

    def test_kills_are_held_past_an_election_and_some_land_under_message_loss(self):
        """A killed node stays down at least 2.5 s; some kills come while messages are being dropped."""
        lossy_kills = 0
        for seed in range(1, 21):
            dropping, since = False, {}
            for step in plan(seed, 5, 30, kinds=("crash", "recover", "drop", "clear")):
                if step["kind"] == "network":
                    dropping = True
                elif step["kind"] == "clear":
                    dropping = False
                elif step["kind"] == "crash":
                    since[step["arg"]] = step["at_s"]
                    lossy_kills += dropping
                elif step["kind"] == "recover":
                    self.assertGreaterEqual(step["at_s"] - since.pop(step["arg"]), HOLD_S["crash"][0] - 0.01)
        self.assertGreater(lossy_kills, 5)

    def test_clients_write_before_a_kill_and_read_until_it_is_repaired(self):
        """The clients' mix follows the seed's schedule: writes just before a kill, reads while the node is down."""
        schedule = plan(1, 5, 30, kinds=("crash", "recover"))
        kill = next(s for s in schedule if s["kind"] == "crash")
        back = next(s for s in schedule if s["kind"] == "recover")
        clients = Clients("http://127.0.0.1:9", 5, ["k0"], 1, Protocol(True))

        def mix_at(elapsed_s):
            clients.focus(schedule, time.monotonic() - elapsed_s)
            return clients.mix()
        self.assertEqual(mix_at(kill["at_s"] - 0.3), MIXES["before"])
        self.assertEqual(mix_at((kill["at_s"] + back["at_s"]) / 2), MIXES["during"])
        self.assertNotEqual(mix_at(back["at_s"] + 0.05), MIXES["during"])
        self.assertEqual(mix_at(kill["at_s"] - 1.2), MIXES["normal"])
        self.assertGreater(MIXES["before"]["write"], MIXES["before"]["read"])
        self.assertGreater(MIXES["during"]["read"], MIXES["during"]["write"])

    def test_each_fault_has_a_fresh_key_written_before_it_and_read_until_it_is_repaired(self):
        """Around each kill the clients use six keys of its own, which the read-back reads on every node too."""
        schedule = plan(1, 5, 30, kinds=("crash", "recover"))
        kills = sorted({s["at_s"] for s in schedule if s["kind"] == "crash"})
        back = next(s for s in schedule if s["kind"] == "recover")
        clients = Clients("http://127.0.0.1:9", 5, ["k0"], 1, Protocol(True))

        def window_at(elapsed_s):
            clients.focus(schedule, time.monotonic() - elapsed_s)
            return clients.window()
        first, second = tuple(f"fresh-1-{n}" for n in range(1, 7)), tuple(f"fresh-2-{n}" for n in range(1, 7))
        self.assertEqual(window_at(kills[0] - 0.3), ("before", first))
        self.assertEqual(window_at((kills[0] + back["at_s"]) / 2), ("during", first))
        self.assertEqual(window_at(kills[1] - 0.3), ("before", second))
        self.assertNotEqual(window_at(back["at_s"] + 0.05), ("during", first))
        self.assertEqual(window_at(kills[0] - 1.2), ("normal", ()))
        self.assertEqual(len(clients.fresh_keys), 6 * len(kills))
        self.assertEqual(clients.fresh_keys[:12], list(first + second))
        self.assertEqual(clients.read_back(time.monotonic() - 1), {"k0": {}, **{k: {} for k in clients.fresh_keys}})

    def test_clients_write_all_along_the_leaders_late_messages_before_its_kill(self):
        """The write-heavy mix starts when the leader's messages turn late and lost, not a second before its kill."""
        schedule = plan(1, 5, 20, kinds=("crash", "recover", "drop", "delay", "clear"))
        links, kill = schedule[0], schedule[1]
        self.assertEqual((links["kind"], kill["kind"]), ("links", "crash"))
        self.assertGreater(kill["at_s"] - links["at_s"], 1.5)
        clients = Clients("http://127.0.0.1:9", 5, ["k0"], 1, Protocol(True))
        clients.focus(schedule, time.monotonic() - (links["at_s"] + 0.2))
        self.assertEqual(clients.mix(), MIXES["before"])

    def test_no_burst_of_writes_before_a_partition(self):
        """Before a partition the clients keep the normal mix (with its fresh keys), and mostly read while it lasts."""
        schedule = plan(1, 5, 30, kinds=("partition", "heal"))
        cut = next(s for s in schedule if s["kind"] == "partition")
        clients = Clients("http://127.0.0.1:9", 5, ["k0"], 1, Protocol(True))
        clients.focus(schedule, time.monotonic() - (cut["at_s"] - 0.3))
        self.assertEqual(clients.window(), ("normal", tuple(f"fresh-1-{n}" for n in range(1, 7))))
        clients.focus(schedule, time.monotonic() - (cut["at_s"] + 0.3))
        self.assertEqual(clients.mix(), MIXES["during"])

    def test_a_step_in_words(self):
        """describe() says a step as a student reads it: time, fault, nodes."""
        self.assertEqual(describe({"at_s": 2.34, "kind": "partition", "arg": [[0, 2], [1]]}),
                         "at 2.3 s: partition {node-0, node-2} | {node-1}")
        self.assertEqual(describe({"at_s": 1, "kind": "crash", "arg": 3}), "at 1.0 s: kill -9 node-3")

    def test_replay_by_seed_runs_that_seed_only(self):
        """--seed N runs only seed N, and its replay command names the same settings and seed."""
        settings = GradeSettings("python3 n.py", seeds=5, seed=7, time_s=4, nodes=3)
        self.assertEqual(settings.seed_list(), [7])
        self.assertIn("--seed 7", settings.replay_command(7))
        self.assertIn("'python3 n.py'", settings.replay_command(7))
        self.assertEqual(GradeSettings("x", seeds=3).seed_list(), [1, 2, 3])

    def test_the_replay_command_parses_back_to_the_same_schedule(self):
        """The replay command's flags, read by the CLI, plan the very schedule the failing run had."""
        settings = GradeSettings("python3 n.py", time_s=8, nodes=3, keys=1, clients=8, fault_every_s=0.5,
                                 faults=("partition", "crash", "recover"))
        argv = shlex.split(settings.replay_command(4))[4:]  # after "python -m labs grade-node"
        args = parse(argv)
        self.assertEqual((args.node_cmd, args.seed, args.keys, args.clients), ("python3 n.py", 4, 1, 8))
        self.assertEqual(plan(args.seed, args.nodes, args.time, args.faults, args.fault_every),
                         plan(4, 3, 8, settings.faults, 0.5))


class PropertiesTest(unittest.TestCase):
    """The checks say which property failed, and the shrinker keeps only the ops that make it fail."""

    def test_linearizability_failure_names_the_key_and_the_property(self):
        """A stale read makes the lin-kv property fail on its key, with the key's operations as evidence."""
        finding = properties.linearizable(stale_read_history())
        self.assertFalse(finding.ok)
        self.assertEqual((finding.property, finding.key), ("linearizable", "k0"))
        self.assertIn("Not linearizable", finding.message)
        self.assertTrue(all(e["key"] == "k0" for e in finding.evidence))

    def test_shrinker_finds_the_three_operations_of_a_stale_read(self):
        """Shrinking a 33-operation history leaves exactly write 1, write 2 and the stale read."""
        events = stale_read_history()
        small = properties.shrink(events, properties.still_not_linearizable, budget_s=20)
        self.assertEqual(sorted({e["index"] for e in small}), [1, 2, 3])
        self.assertTrue(properties.still_not_linearizable(small))

    def test_shrinker_keeps_the_write_a_successful_cas_compared_with(self):
        """A cas 1->3 that succeeded after write 2 shrinks to write 1, write 2 and the cas, never the cas alone."""
        events = op(1, "c0", "write", "k0", 1, 0.0, 1.0) + op(2, "c1", "write", "k0", 2, 2.0, 3.0)
        events += op(3, "c2", "cas", "k0", [1, 3], 4.0, 5.0)
        for n in range(10):
            events += op(10 + n, f"n{n}", "read", "k0", None, 0.1 + n * 0.01, 0.2 + n * 0.01, result=None)
        small = properties.shrink(sorted(events, key=lambda e: e["time"]), properties.still_not_linearizable)
        self.assertEqual(sorted({e["index"] for e in small}), [1, 2, 3])

    def test_shrinker_returns_the_history_when_nothing_can_go(self):
        """A history whose every operation is needed comes back whole."""
        events = properties.shrink(stale_read_history(0), properties.still_not_linearizable)
        self.assertEqual(len({e["index"] for e in events}), 3)

    def test_cas_refused_with_code_22_is_a_comparison_and_11_is_not(self):
        """lin-kv error 22 (and 20) on a cas means 'compared and differed'; 11 is a plain definite fail."""
        self.assertEqual(classify_lin_kv("cas", 409, {"node_code": 22}).details.get("observed"), True)
        self.assertEqual(classify_lin_kv("cas", 404, {"node_code": 20}).details.get("observed"), True)
        eleven = classify_lin_kv("cas", 503, {"node_code": 11})
        self.assertEqual((eleven.type, eleven.details.get("observed")), ("fail", None))
        self.assertEqual(classify_lin_kv("write", 504, {"node_code": 0}).type, "info")
        self.assertEqual(classify_lin_kv("read", 404, {"node_code": 20}).type, "ok")
        self.assertEqual(classify_lin_kv("read", 503, {"node_code": 11}).type, "fail")

    def test_lost_write_and_divergence_are_named(self):
        """eventual-kv: a final value older than a later acknowledged write is a lost write; unequal nodes diverge."""
        events = op(1, "c0", "write", "k0", 1, 0.0, 1.0) + op(2, "c1", "write", "k0", 2, 2.0, 3.0)
        lost = properties.no_lost_write(events, {"k0": {"node-0": 1, "node-1": 1}})
        self.assertFalse(lost.ok)
        self.assertIn("the write of 2", lost.message)
        self.assertTrue(properties.no_lost_write(events, {"k0": {"node-0": 2}}).ok)
        split = properties.converged({"k0": {"node-0": 1, "node-1": 2}})
        self.assertFalse(split.ok)
        self.assertIn("node-0: 1, node-1: 2", split.message)

    def test_a_cluster_that_never_acknowledges_fails_the_answers_property(self):
        """No ok in the whole run is a failure, even though such a history is trivially linearizable."""
        events = op(1, "c0", "write", "k0", 1, 0.0, 1.0, kind="info", error="no answer within 5 s")
        finding = properties.answers(events, {"k0": {}}, 3)
        self.assertFalse(finding.ok)
        self.assertIn("No operation was acknowledged", finding.message)


def sample_results() -> list:
    """A passing run and a failing one with its evidence, as grade_run builds them."""
    good = RunResult(1, [properties.Finding("linearizable", True, "fine")], plan(1, 3, 5), plan(1, 3, 5),
                     {"ok": 10, "fail": 1, "info": 0}, seconds=3.0)
    bad_finding = properties.linearizable(stale_read_history())
    bad_finding.shrunk_from = 3
    bad = RunResult(2, [properties.Finding("the cluster answers", True, "ok"), bad_finding], plan(2, 3, 5),
                    plan(2, 3, 5), {"ok": 9, "fail": 0, "info": 2}, seconds=4.0)
    return [good, bad]


class ReportTest(unittest.TestCase):
    """JUnit XML, Gradescope JSON, the summary and the failing run's file have the shapes courses read."""

    settings = GradeSettings("python3 my_node.py", seeds=2, time_s=5, nodes=3)

    def test_junit_xml_has_one_case_per_seed_and_a_failure_naming_the_property(self):
        """junit.xml: a testsuite of 2 cases, 1 failure whose message starts with the broken property."""
        root = ET.fromstring(report.junit_xml(self.settings, sample_results()))
        suite = root.find("testsuite")
        self.assertEqual((suite.get("tests"), suite.get("failures"), suite.get("errors")), ("2", "1", "0"))
        cases = suite.findall("testcase")
        self.assertEqual([c.get("name") for c in cases], ["seed 1", "seed 2"])
        self.assertIsNone(cases[0].find("failure"))
        failure = cases[1].find("failure")
        self.assertTrue(failure.get("message").startswith("linearizable: Not linearizable"))
        self.assertIn("--seed 2", failure.text)

    def test_gradescope_json_has_tests_with_scores_and_a_total(self):
        """results.json: tests[] with name, score, max_score, output, status; score is their sum."""
        data = report.gradescope(self.settings, sample_results())
        self.assertEqual((data["score"], data["max_score"]), (1, 2))
        for test in data["tests"]:
            self.assertEqual(set(test), {"name", "score", "max_score", "output", "status"})
        self.assertEqual([t["status"] for t in data["tests"]], ["passed", "failed"])
        self.assertIn("smallest failing history found: 3 operations", data["tests"][1]["output"])

    def test_written_files_include_the_failing_runs_schedule_and_smallest_history(self):
        """write(): summary, junit, results and seed-2.json with its schedule, replay and evidence."""
        with tempfile.TemporaryDirectory() as out:
            paths = report.write(self.settings, sample_results(), out)
            self.assertEqual(sorted(os.path.basename(p) for p in paths),
                             ["junit.xml", "results.json", "seed-2.json", "summary.txt"])
            with open(os.path.join(out, "seed-2.json"), encoding="utf-8") as handle:
                failing = json.load(handle)
            with open(os.path.join(out, "summary.txt"), encoding="utf-8") as handle:
                text = handle.read()
        self.assertEqual(failing["schedule"], plan(2, 3, 5))
        self.assertIn("--seed 2", failing["replay"])
        self.assertTrue(failing["findings"][1]["smallest_failing_history"])
        self.assertIn("seed 2: FAIL", text)
        self.assertIn("FAILED: linearizable", text)
        self.assertIn("Score: 1/2", text)

    def test_cli_refuses_unknown_faults_and_empty_commands(self):
        """Bad flags get a sentence and exit code 2, never a traceback."""
        for argv in (["grade-node", "x", "--faults", "meteor"], ["grade-node", " "]):
            err = io.StringIO()
            with self.assertRaises(SystemExit) as raised, redirect_stdout(io.StringIO()), redirect_stderr(err):
                labs_main(argv)
            self.assertEqual(raised.exception.code, 2)
            self.assertTrue("unknown fault kind meteor" in err.getvalue() or "CMD is empty" in err.getvalue())


    def test_one_or_two_nodes_start_a_cluster_whose_settings_are_valid(self):
        """--nodes 1 and 2 give run.py cluster a replication factor and quorums that fit (the default rf 3 does not)."""
        for nodes in (1, 2, 3):
            for command in ("python3 my_node.py", "replicalab"):
                args = GradeSettings(command, nodes=nodes).cluster_args()
                flags = [a for i, a in enumerate(args) if "--node-cmd" not in args[max(0, i - 1):i + 1]]
                with self.subTest(nodes=nodes, command=command):
                    self.assertEqual(from_args(flags, environ={}).nodes, nodes)

    def test_cli_refuses_numbers_out_of_range_nan_and_infinity(self):
        """nan, inf, a negative --settle or 100,000 nodes exit 2 with the flag's range, no traceback."""
        for flag, value in (("--fault-every", "nan"), ("--time", "inf"), ("--time", "nan"), ("--settle", "-5"),
                            ("--settle", "nan"), ("--nodes", "100000"), ("--clients", "0"), ("--seeds", "-3"),
                            ("--fault-every", "1e-300"), ("--keys", "10000000000")):
            err = io.StringIO()
            with self.subTest(flag=flag, value=value), self.assertRaises(SystemExit) as raised, \
                    redirect_stdout(io.StringIO()), redirect_stderr(err):
                labs_main(["grade-node", "x", flag, value])
            self.assertEqual(raised.exception.code, 2)
            self.assertIn(f"{flag} must be from", err.getvalue())
            self.assertNotIn("Traceback", err.getvalue())

if __name__ == "__main__":
    unittest.main()


class RealRunTest(unittest.TestCase):
    """Short real runs: a cluster of real processes, stopped by PID, graded and reported."""

    def test_replicalab_nodes_pass_a_short_eventual_run_and_leave_no_process(self):
        """ReplicaLab's own nodes pass eventual-kv on a 3 s, 3-node run with seed 3's faults (lab 12 grades lin-kv)."""
        settings = GradeSettings("replicalab", "eventual-kv", seeds=1, seed=3, time_s=3, nodes=3, settle_s=1)
        with tempfile.TemporaryDirectory() as out:
            result = grade_run(settings, 3, out)
        self.assertEqual([f.property for f in result.findings],
                         ["the cluster answers", "no acknowledged write lost", "replicas converged"])
        self.assertTrue(result.passed, [f.message for f in result.findings])
        self.assertEqual(result.schedule, plan(3, 3, 3, GRADER_KINDS))
        self.assertGreater(result.counts["ok"], 0)
        self.assertEqual(len(result.node_pids), 3)  # ReplicaLab's own nodes: no program under them
        self.assertFalse([pid for pid in result.node_pids if processes.is_alive(pid)])

    def test_a_cluster_that_cannot_start_is_an_error_with_a_sentence(self):
        """A cluster that exits at once (here: a refused setting) ends the run at once with the front's words."""
        from labs.grade_node.run import grade_run
        settings = GradeSettings("replicalab", time_s=3, nodes=0, start_timeout_s=20)
        with tempfile.TemporaryDirectory() as out:
            result = grade_run(settings, 1, out)
        self.assertTrue(result.error)
        self.assertFalse(result.passed)
        self.assertIn("The cluster did not start", result.findings[0].message)
        self.assertLess(result.seconds, 20)


BAD_NODES = {0: "python3 -c 'import sys; sys.exit(3)'",
             1: "python3 -c 'import time; time.sleep(600)'",
             2: "sh -c 'while true; do echo garbage; sleep 0.2; done'"}


class BadNodeTest(unittest.TestCase):
    """A node that exits at once, one that never answers and one that writes garbage: a clear verdict, no orphan."""

    def test_bad_nodes_fail_with_sentences_and_leave_no_process(self):
        """One run with the three bad programs: it ends on time, names each problem, and every process is gone."""
        settings = GradeSettings(BAD_NODES[0], seed=1, time_s=2, nodes=3, settle_s=0.5,
                                 node_overrides={1: BAD_NODES[1], 2: BAD_NODES[2]})
        with tempfile.TemporaryDirectory() as out:
            result = grade_run(settings, 1, out)
            paths = report.write(settings, [result], out)
            with open(os.path.join(out, "summary.txt"), encoding="utf-8") as handle:
                summary = handle.read()
        self.assertFalse(result.passed)
        self.assertEqual(result.failed()[0].property, "the cluster answers")
        self.assertIn("No operation was acknowledged", result.failed()[0].message)
        for said in ("exited with code 3 before answering init", "never answered init",
                     "printed a line that is not a valid message"):
            self.assertIn(said, summary)
        self.assertIn("The line: garbage", summary, "the report quotes the bad line: it is the clue")
        self.assertIn("no program started", " ".join(result.problems), "the run stopped at once: nothing to grade")
        self.assertEqual(result.applied, [], "no fault was played on a cluster with no program running")
        self.assertIn("seed-1.json", " ".join(paths))
        self.assertEqual(len(result.node_pids), 6)  # three node processes, three programs
        self.assertFalse([pid for pid in result.node_pids if processes.is_alive(pid)])
        self.assertLess(result.seconds, 60)
