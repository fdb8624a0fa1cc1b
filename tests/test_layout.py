"""The layout keeps its promises: no import cycle, no sys.path edits, one file per mechanism."""
import ast
import os
import unittest
from typing import Dict, Set

from tests.helpers import ROOT

SKIP_DIRS = {".git", ".venv", "venv", "__pycache__", "data", "node_modules"}


def project_modules() -> dict:
    """Every project module name -> its path (tests included)."""
    found: Dict[str, str] = {}
    for folder, dirs, files in os.walk(ROOT):
        dirs[:] = [d for d in dirs if d not in SKIP_DIRS and not d.startswith(".")]
        for name in files:
            if name.endswith(".py"):
                path = os.path.join(folder, name)
                module = os.path.relpath(path, ROOT)[:-3].replace(os.sep, ".")
                found[module.removesuffix(".__init__")] = path
    return found


def runtime_imports(module: str, path: str, modules: dict) -> set:
    """Project modules imported by `module` when it runs (imports for type checkers left out)."""
    with open(path, encoding="utf-8") as handle:
        tree = ast.parse(handle.read())
    package = module if path.endswith("__init__.py") else module.rpartition(".")[0]
    found: Set[str] = set()

    def visit(body):
        for node in body:
            if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING":
                continue
            if isinstance(node, ast.Import):
                found.update(a.name for a in node.names if a.name in modules)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parent = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                    base = f"{parent}.{base}".strip(".")
                for alias in node.names:
                    candidate = f"{base}.{alias.name}"
                    found.add(candidate if candidate in modules else base)
            for field in ("body", "orelse", "finalbody", "handlers"):
                if not isinstance(node, (ast.Import, ast.ImportFrom)) and hasattr(node, field):
                    visit(getattr(node, field))

    visit(tree.body)
    return {m for m in found if m in modules and m != module}


class ModuleMap:
    """Mixed into a TestCase: the project's modules and import graph, built once for the class."""

    modules: Dict[str, str]  # module name -> path
    graph: Dict[str, Set[str]]  # module name -> the project modules it imports at run time

    @classmethod
    def setUpClass(cls) -> None:
        cls.modules = project_modules()
        cls.graph = {m: runtime_imports(m, p, cls.modules) for m, p in cls.modules.items()}


class LayoutTest(ModuleMap, unittest.TestCase):
    """What docs/architecture.md says about the layout is true of the code."""

    def test_no_import_cycle(self):
        """No module imports itself back through others, not even through a late import."""
        state: Dict[str, str] = {}

        def visit(module, trail):
            state[module] = "open"
            for dep in sorted(self.graph[module]):
                if state.get(dep) == "open":
                    self.fail("import cycle: " + " -> ".join(trail[trail.index(dep):] + [dep]))
                if dep not in state:
                    visit(dep, trail + [dep])
            state[module] = "done"

        for module in sorted(self.graph):
            if module not in state:
                visit(module, [module])

    def test_cluster_never_imports_the_layers_above_it(self):
        """cluster/ does not import the HTTP layer, the app or the manager that composes it."""
        above = ("api", "app", "replication", "labs", "run", "scheduler")
        for module, deps in self.graph.items():
            if module.startswith("cluster"):
                wrong = sorted(d for d in deps if d.split(".")[0] in above)
                self.assertEqual(wrong, [], f"{module} imports {wrong}")

    def test_no_file_edits_sys_path(self):
        """The project is installed (pyproject.toml), so no file needs to edit sys.path."""
        for module, path in self.modules.items():
            if module == "tests.test_layout":
                continue
            with open(path, encoding="utf-8") as handle:
                self.assertNotIn("sys.path.insert", handle.read(), path)

    def test_every_mechanism_file_is_on_the_map(self):
        """docs/architecture.md names every file of cluster/, so a newcomer finds each mechanism."""
        with open(os.path.join(ROOT, "docs", "architecture.md"), encoding="utf-8") as handle:
            text = handle.read()
        for name in sorted(os.listdir(os.path.join(ROOT, "cluster"))):
            if name.endswith(".py") and name != "__init__.py":
                self.assertIn(f"`cluster/{name}`", text, f"cluster/{name} is not on the map")

    def test_modules_stay_small(self):
        """No source module grows past about 400 lines; split it by responsibility first."""
        for module, path in self.modules.items():
            if module.startswith("tests"):
                continue
            with open(path, encoding="utf-8") as handle:
                lines = sum(1 for _ in handle)
            self.assertLessEqual(lines, 420, f"{path} has {lines} lines")


if __name__ == "__main__":
    unittest.main()
