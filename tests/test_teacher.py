"""Teacher's mode: answers N, report N, grade FILE (issue 10)."""
import contextlib
import io
import json
import os
import tempfile
import unittest

from labs import runner, teacher
from labs.__main__ import main as labs_main


def lab_report(number: int, settings=None) -> dict:
    """A report of lab `number` recorded from a fresh in-process server with these settings."""
    lab = runner.find(number)
    return teacher.record(lab, runner.InProcessClient(lab.settings if settings is None else settings), "ana")


class AnswersTest(unittest.TestCase):
    """`answers N` prints each step's expected observations and a model answer per question."""

    def test_every_lab_has_one_model_answer_per_question(self):
        """labs/<folder>/answers.md answers exactly the README's questions, for every lab."""
        for lab in runner.discover():
            with self.subTest(lab=lab.number):
                self.assertEqual(len(teacher.model_answers(lab)), len(teacher.readme_questions(lab)))
                self.assertGreater(len(teacher.readme_questions(lab)), 0)

    def test_answers_list_observations_and_model_answers(self):
        """Lab 4's answers show the stored-nowhere observation of step 12 and answer its 5 questions."""
        text = teacher.answers_text(runner.find(4))
        step12 = text.split("Step 12:", 1)[1].split("Step 13:", 1)[0]
        self.assertIn("expect: stored_on is empty", step12)
        for number in range(1, 6):
            self.assertIn(f"\nQ{number}. ", text)
            self.assertIn(f"\nA{number}. ", text)

    def test_cli_answers(self):
        """python -m labs answers 1 prints the lab's observations and exits 0."""
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            self.assertEqual(labs_main(["answers", "1"]), 0)
        self.assertIn("expect: the preference list has RF=3 nodes", out.getvalue())


class ReportAndGradeTest(unittest.TestCase):
    """A report records each step's requests and answers; grade re-checks them."""

    def test_a_good_run_grades_full_marks(self):
        """A report of lab 5 from a server started as the README says grades 12 of 12."""
        data = lab_report(5)
        self.assertEqual(data["missing_flags"], ["--fresh"])  # in-process checks are not started with --fresh
        self.assertTrue(all(step["verdict"] == "ok" for step in data["steps"]))
        ok, text = teacher.grade_text(json.loads(json.dumps(data)))  # as read back from a file
        self.assertTrue(ok, text)
        self.assertIn("12 of 12 steps show what the lab expects", text)

    def test_grade_does_not_trust_the_written_verdicts(self):
        """An answer edited after recording fails its step even if its verdict still says ok."""
        data = json.loads(json.dumps(lab_report(4)))
        data["steps"][11]["answers"][0]["stored_on"] = ["node-4"]  # step 12: the slow write
        ok, text = teacher.grade_text(data)
        self.assertFalse(ok)
        self.assertIn("step 12 FAILED", text)

    def test_a_wrong_server_is_recorded_and_named(self):
        """Lab 6 on a sync server records the missing flags and grades the steps that differ as failed."""
        data = lab_report(6, settings={})
        self.assertIn("--durability batch", data["missing_flags"])
        ok, text = teacher.grade_text(json.loads(json.dumps(data)))
        self.assertFalse(ok)
        self.assertIn("note: the server lacked", text)

    def test_cli_grade_and_bad_files(self):
        """grade FILE exits 0 on a good report, 1 on a failing one, 2 with a sentence on a file that is no report."""
        with tempfile.TemporaryDirectory() as folder:
            good, bad, junk = (os.path.join(folder, name) for name in ("good.json", "bad.json", "junk.json"))
            for path, data in ((good, lab_report(1)), (bad, lab_report(6, settings={})),
                               (junk, {"hello": 1})):
                with open(path, "w", encoding="utf-8") as handle:
                    json.dump(data, handle)
            with contextlib.redirect_stdout(io.StringIO()):
                self.assertEqual(labs_main(["grade", good]), 0)
                self.assertEqual(labs_main(["grade", bad]), 1)
            err = io.StringIO()
            with contextlib.redirect_stderr(err):
                self.assertEqual(labs_main(["grade", junk]), 2)
                self.assertEqual(labs_main(["grade", os.path.join(folder, "missing.json")]), 2)
            self.assertIn("is not a lab report", err.getvalue())


if __name__ == "__main__":
    unittest.main()
