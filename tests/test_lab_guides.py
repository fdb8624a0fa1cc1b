"""Lab READMEs and the runner agree, and a guided run against the wrong server says why (issue 10)."""
import io
import os
import re
import unittest

from labs import runner
from labs.__main__ import main as labs_main

STEP_LINE = re.compile(r"^(\d+)\. \*\*(.+?)\*\*")


def readme_steps(lab) -> list:
    """(number, bold title) of each numbered step in the lab README's Steps section."""
    with open(os.path.join(runner.LAB_DIR, lab.folder, "README.md"), encoding="utf-8") as handle:
        text = handle.read()
    section = text.split("## Steps", 1)[1].split("\n## ", 1)[0]
    steps = []
    for line in section.splitlines():
        if re.match(r"^\d+\. ", line):
            match = STEP_LINE.match(line)
            steps.append((int(match.group(1)), match.group(2)) if match else (int(line.split(".")[0]), None))
    return steps


class StepNumberingTest(unittest.TestCase):
    """Every lab README numbers its steps as the runner does, with the same titles."""

    def test_every_readme_step_is_a_runner_step(self):
        """README step N is runner step N, titled alike, for every lab, and none is missing."""
        for lab in runner.discover():
            with self.subTest(lab=lab.number):
                steps = readme_steps(lab)
                self.assertEqual([n for n, _ in steps], list(range(1, len(lab.steps) + 1)),
                                 f"lab {lab.number}: the README numbers {len(steps)} steps, the runner "
                                 f"{len(lab.steps)}")
                self.assertEqual([title for _, title in steps], [step.title for step in lab.steps])

    def test_no_readme_promises_a_lab_that_does_not_exist(self):
        """No README announces "a later lab" (vector clocks are not built)."""
        for lab in runner.discover():
            with open(os.path.join(runner.LAB_DIR, lab.folder, "README.md"), encoding="utf-8") as handle:
                self.assertNotIn("a later lab", handle.read(), f"lab {lab.number}")


class ServerFlagsTest(unittest.TestCase):
    """`python -m labs run N --url` names the flags the server lacks before step 1."""

    def test_missing_flags_are_named(self):
        """Lab 6 on a default server lacks --fresh, --durability batch and --batch-size 100."""
        lab = runner.find(6)
        problem = runner.server_mismatch(lab, runner.InProcessClient({}))
        for flag in ("--fresh", "--durability batch", "--batch-size 100"):
            self.assertIn(flag, problem)
        self.assertIn("python run.py --fresh --durability batch --batch-size 100 --scheduler off", problem)

    def test_a_server_started_as_the_readme_says_fits(self):
        """A server with the lab's settings and --fresh gets no complaint."""
        lab = runner.find(6)
        client = runner.InProcessClient({"fresh": True, **lab.server_settings()})
        self.assertIsNone(runner.server_mismatch(lab, client))

    def test_the_cli_stops_before_step_1(self):
        """run N --url against a wrong server exits 2 with the sentence, having sent no step."""
        client = runner.InProcessClient({})
        err = io.StringIO()
        from unittest import mock
        with mock.patch.object(runner, "HttpClient", return_value=client), \
                mock.patch("sys.stderr", err), mock.patch("sys.stdout", io.StringIO()):
            code = labs_main(["run", "6", "--url", "http://127.0.0.1:5799", "--no-pause"])
        self.assertEqual(code, 2)
        self.assertIn("lacks --fresh", err.getvalue())
        self.assertEqual(client.app.extensions["replicalab"].events.last_seq, 1)  # only cluster_started

    def test_the_hint_comes_once_and_sentences_end_once(self):
        """A guided run on the wrong server gives the start-up hint once, and no message ends in '..'."""
        lab = runner.find(6)
        out = io.StringIO()
        ok = runner.guided(lab, runner.InProcessClient({}), pause=False, out=out)
        self.assertFalse(ok)
        text = out.getvalue()
        self.assertEqual(text.count("Was the server started"), 1)
        self.assertGreater(text.count("(!) this run did not show"), 1)
        self.assertFalse([line for line in text.splitlines() if line.startswith("(!)") and ".." in line])


class PaxosNamesTest(unittest.TestCase):
    """The guides name Paxos messages and events by the kinds the code sends and logs."""

    def test_every_paxos_name_in_the_guides_exists_in_the_code(self):
        """Each paxos_* word in a README, docs/ or static/ is a message or event kind the cluster uses."""
        root = os.path.dirname(runner.LAB_DIR)
        code = ""
        for name in os.listdir(os.path.join(root, "cluster")):
            if name.endswith(".py"):
                with open(os.path.join(root, "cluster", name), encoding="utf-8") as handle:
                    code += handle.read()
        known = set(re.findall(r"[\"'](paxos_[a-z_]+)[\"']", code)) | {"paxos_acceptor"}
        guides = [os.path.join(root, "README.md")]
        for folder in ("docs", "labs", "static"):
            for here, _, files in os.walk(os.path.join(root, folder)):
                guides += [os.path.join(here, f) for f in files if f.endswith((".md", ".js", ".html"))]
        stale = set()
        for path in guides:
            with open(path, encoding="utf-8") as handle:
                stale |= {(os.path.relpath(path, root), word)
                          for word in re.findall(r"\b(paxos_[a-z_]+)\b", handle.read()) if word not in known}
        self.assertEqual(stale, set())


if __name__ == "__main__":
    unittest.main()
