"""The repository tracks sources only: nothing that a build or an install regenerates."""
import os
import shutil
import subprocess
import unittest

from tests.helpers import ROOT


def git(*args: str) -> subprocess.CompletedProcess:
    """Run git in the repository root and capture its output."""
    return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=60)


@unittest.skipUnless(shutil.which("git") and os.path.exists(os.path.join(ROOT, ".git")),
                     "needs a git checkout of the project")
class GeneratedFilesTest(unittest.TestCase):
    """pip install -e . must leave git status clean."""

    def test_egg_info_is_not_tracked(self):
        """No file under replicalab.egg-info/ is in the repository."""
        self.assertEqual(git("ls-files", "replicalab.egg-info").stdout, "")

    def test_egg_info_is_ignored(self):
        """git ignores replicalab.egg-info/, which every editable install rewrites."""
        checked = git("check-ignore", "-q", "--no-index", "replicalab.egg-info/PKG-INFO")
        self.assertEqual(checked.returncode, 0, checked.stderr)


if __name__ == "__main__":
    unittest.main()
