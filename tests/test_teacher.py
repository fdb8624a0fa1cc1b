"""Teacher's mode: answers N, report N, grade FILE (issues 10 and 22)."""
import contextlib
import io
import json
import os
import tempfile
import unittest
from unittest import mock

from labs import runner, teacher
from labs.__main__ import main as labs_main
from labs.steps import ObservationFailed


def student_run(number: int, settings=None, steps=None):
    """An in-process server on which a student did the first `steps` steps of lab `number` (all by default)."""
    lab = runner.find(number)
    client = runner.InProcessClient(lab.settings if settings is None else settings)
    ctx: dict = {}
    for step in lab.steps[:steps]:
        with contextlib.suppress(ObservationFailed):  # on a wrong server the student still goes on
            runner.run_step(client, step, ctx)
    return client


def lab_report(number: int, settings=None, steps=None, answers=None) -> dict:
    """A report of lab `number` from a server where the student did those steps, as read back from a file."""
    client = student_run(number, settings, steps)
    return json.loads(json.dumps(teacher.record(runner.find(number), client, "ana", answers)))


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
    """A report records what the student did and answered; grade replays it and checks each step."""

    def test_a_full_run_grades_full_marks(self):
        """A student who did every step of lab 5 gets 10 of 10, every step checked on the replay of their run."""
        ok, text = teacher.grade_text(lab_report(5))
        self.assertTrue(ok, text)
        self.assertIn("10 of 10 steps done by the student show what the lab expects", text)

    def test_a_student_who_did_nothing_gets_nothing(self):
        """A report from a server the student never used grades 0 steps done, every recorded step NOT DONE."""
        data = lab_report(4, steps=0)
        self.assertEqual(data["scenario"]["requests"], [])
        ok, text = teacher.grade_text(data)
        self.assertFalse(ok)
        self.assertIn("0 of 11 steps done by the student show what the lab expects", text)
        self.assertIn("step 1 NOT DONE", text)

    def test_report_sends_no_lab_request(self):
        """Recording reads /config and /scenario only: the student's server gets no request of the lab."""
        client = student_run(2, steps=3)
        sent = []
        real = client.request

        def spy(method, path, body=None):
            """Note the request, then send it."""
            sent.append((method, path))
            return real(method, path, body)
        client.request = spy
        teacher.record(runner.find(2), client, "ana")
        self.assertEqual(sent, [("GET", "/config"), ("GET", "/scenario")])

    def test_half_a_lab_grades_half(self):
        """A student who stopped after step 6 of lab 2 has steps 1-6 ok and the rest NOT DONE."""
        ok, text = teacher.grade_text(lab_report(2, steps=6))
        self.assertFalse(ok)
        self.assertIn("step 6 ok", text)
        self.assertIn("step 9 NOT DONE", text)

    def test_answers_to_the_questions_are_recorded_and_shown(self):
        """The student's answers are kept per README question and shown beside the model answers."""
        data = lab_report(1, answers=["three replicas", "", "because of the ring"])
        self.assertEqual([q["answer"] for q in data["questions"]][:3], ["three replicas", None, "because of the ring"])
        self.assertEqual(len(data["questions"]), len(teacher.readme_questions(runner.find(1))))
        _, text = teacher.grade_text(data)
        self.assertIn("student: three replicas", text)
        self.assertIn("student: (no answer)", text)
        self.assertIn("model:", text)

    def test_a_wrong_server_is_recorded_and_named(self):
        """Lab 6 on a sync server records the missing flags and grades the steps that differ as failed."""
        data = lab_report(6, settings={})
        self.assertIn("--durability batch", data["missing_flags"])
        ok, text = teacher.grade_text(data)
        self.assertFalse(ok)
        self.assertIn("note: the server lacked", text)

    def test_a_truncated_report_is_called_incomplete_not_another_version(self):
        """A report cut short (its scenario missing, or the JSON cut) says so, and never blames another version."""
        data = lab_report(1)
        with tempfile.TemporaryDirectory() as folder:
            cut, half = os.path.join(folder, "cut.json"), os.path.join(folder, "half.json")
            with open(cut, "w", encoding="utf-8") as handle:
                json.dump({k: v for k, v in data.items() if k != "scenario"}, handle)
            with open(half, "w", encoding="utf-8") as handle:
                handle.write(json.dumps(data)[:500])
            for path, expected in ((cut, "is incomplete"), (half, "cut short")):
                with self.subTest(path=path), self.assertRaises(teacher.ReportError) as caught:
                    teacher.load_report(path)
                self.assertIn(expected, str(caught.exception))
                self.assertNotIn("another version", str(caught.exception))

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


class ReportFileTest(unittest.TestCase):
    """`labs report` names its file after the student and never silently replaces another's."""

    def report(self, folder, *extra):
        """Run `python -m labs report 1` against a student's in-process server; (exit code, stderr)."""
        client = student_run(1)
        err = io.StringIO()
        with mock.patch.object(runner, "HttpClient", return_value=client), \
                mock.patch.object(runner, "server_mismatch", return_value=None), \
                contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
            cwd = os.getcwd()
            os.chdir(folder)
            try:
                code = labs_main(["report", "1", "--url", "http://127.0.0.1:5000", *extra])
            finally:
                os.chdir(cwd)
        return code, err.getvalue()

    def test_two_students_get_two_files_and_a_clash_is_refused(self):
        """ana and bo get lab1-ana-report.json and lab1-bo-report.json; a second ana is refused unless --force."""
        with tempfile.TemporaryDirectory() as folder:
            self.assertEqual(self.report(folder, "--student", "ana")[0], 0)
            self.assertEqual(self.report(folder, "--student", "bo")[0], 0)
            self.assertEqual(sorted(os.listdir(folder)), ["lab1-ana-report.json", "lab1-bo-report.json"])
            before = os.path.getmtime(os.path.join(folder, "lab1-ana-report.json"))
            code, err = self.report(folder, "--student", "ana")
            self.assertEqual(code, 2)
            self.assertIn("exists already", err)
            self.assertEqual(os.path.getmtime(os.path.join(folder, "lab1-ana-report.json")), before)
            self.assertEqual(self.report(folder, "--student", "ana", "--force")[0], 0)

    def test_answers_come_from_a_file(self):
        """--answers FILE (a numbered list) fills the report's answers in the questions' order."""
        with tempfile.TemporaryDirectory() as folder:
            with open(os.path.join(folder, "mine.md"), "w", encoding="utf-8") as handle:
                handle.write("1. three replicas\n2. the ring\n")
            self.assertEqual(self.report(folder, "--student", "ana", "--answers", "mine.md")[0], 0)
            with open(os.path.join(folder, "lab1-ana-report.json"), encoding="utf-8") as handle:
                data = json.load(handle)
            self.assertEqual([q["answer"] for q in data["questions"]][:2], ["three replicas", "the ring"])


if __name__ == "__main__":
    unittest.main()
