"""Every lab's automated check passes, and the runner works as students use it."""
import io
import unittest

from labs import runner
from labs.__main__ import main as labs_main


class LabChecksTest(unittest.TestCase):
    """The observations each lab README promises still show."""

    def test_every_lab_check_passes(self):
        """python -m labs check all: every step of every lab shows what it should."""
        labs = runner.discover()
        self.assertGreaterEqual([lab.number for lab in labs][:2], [1, 2])
        for lab in labs:
            with self.subTest(lab=lab.number):
                out = io.StringIO()
                self.assertTrue(runner.check(lab, out), out.getvalue())

    def test_every_lab_has_a_readme_with_goal_steps_and_questions(self):
        """Each lab folder has a README with a goal, background, steps and questions."""
        for lab in runner.discover():
            with open(f"{runner.LAB_DIR}/{lab.folder}/README.md", encoding="utf-8") as handle:
                text = handle.read()
            for heading in ("## Goal", "## Background", "## Steps", "## Questions"):
                self.assertIn(heading, text, (lab.folder, heading))
            self.assertIn(f"python -m labs run {lab.number}", text)

    def test_lab2_readme_node_ids_match_the_default_ring(self):
        """Lab 2's README names node-1, node-4, node-0 as color's replicas and node-2 as stand-in."""
        from cluster.ring import Ring
        from config import Config
        config = Config()
        ring = Ring(config.nodes, config.vnodes, config.rf)
        walk = list(ring.walk("color"))
        self.assertEqual(walk[:3], [1, 4, 0])
        self.assertEqual(walk[3], 2)


class RunnerTest(unittest.TestCase):
    """The guided runner prints curl commands, answers and notices; checks catch failures."""

    def test_guided_run_prints_curl_answer_and_notice(self):
        """A guided run shows each step's curl command, the answer and what to notice."""
        lab = runner.find(2)
        out = io.StringIO()
        prompts: list = []
        ok = runner.guided(lab, runner.InProcessClient(lab.settings), pause=True, out=out,
                           ask=prompts.append)
        text = out.getvalue()
        self.assertTrue(ok)
        self.assertIn("$ curl -X POST http://127.0.0.1:5000/write -d", text)
        self.assertIn("HTTP 503", text)
        self.assertIn("Notice: ", text)
        self.assertEqual(len(prompts), len(lab.steps) - 1)  # waits for Enter between steps

    def test_lab9_guided_run_summarises_the_page_and_names_its_clients(self):
        """Lab 9 run against a server URL: the page is summarised with that URL, and steps send X-Client-Id."""
        lab = runner.find(9)
        client = runner.InProcessClient(lab.settings)
        client.url = "http://127.0.0.1:5123"  # the server a --url run would talk to
        out = io.StringIO()
        self.assertTrue(runner.guided(lab, client, pause=False, out=out))
        text = out.getvalue()
        self.assertNotIn("<!doctype", text.lower())
        self.assertIn("an HTML page titled 'Linearizability of the recorded history'", text)
        self.assertIn("Open http://127.0.0.1:5123/check/view?key=color in a browser", text)
        self.assertIn("Notice: open http://127.0.0.1:5123/check/view?key=color", text)
        self.assertNotIn("localhost:5000", text)
        self.assertIn("curl -X POST -H 'X-Client-Id: A' http://127.0.0.1:5123/write", text)
        self.assertIn("curl -H 'X-Client-Id: B' 'http://127.0.0.1:5123/read/color?coordinator=", text)

    def test_a_broken_observation_fails_the_check(self):
        """If the cluster stops showing an observation, check reports the step and fails."""
        lab = runner.find(2)
        broken = runner.Lab(lab.number, lab.title, lab.folder, list(lab.steps),
                            settings={"w": 1})  # with W=1 the 'refused write' is accepted
        out = io.StringIO()
        self.assertFalse(runner.check(broken, out))
        self.assertIn("FAILED", out.getvalue())

    def test_cli_list_and_unknown_lab(self):
        """`list` succeeds; an unknown lab number exits 2 with a sentence."""
        self.assertEqual(labs_main(["list"]), 0)
        self.assertEqual(labs_main(["check", "99"]), 2)

    def test_curl_rendering_quotes_bodies(self):
        """The curl line quotes the JSON body for a POSIX shell."""
        line = runner.curl("http://h:1", "POST", "/write", {"key": "it's"})
        self.assertEqual(line, """curl -X POST http://h:1/write -d '{"key": "it'"'"'s"}'""")


if __name__ == "__main__":
    unittest.main()
