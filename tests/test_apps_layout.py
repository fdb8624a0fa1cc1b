"""The applications stay out of the store: apps/ uses only the client interface and domain errors."""
import unittest

from tests.test_layout import ModuleMap


class AppsLayoutTest(ModuleMap, unittest.TestCase):
    """What docs/architecture.md says about apps/ is true of the code (on the layout test's module map)."""

    def test_apps_import_only_each_other_and_the_domain_errors(self):
        """An application reaches the store through apps/client.py, never through cluster internals."""
        for module, deps in self.graph.items():
            if module.startswith("apps"):
                allowed = ("cluster.errors", "wording")  # wording.py only counts words
                wrong = sorted(d for d in deps if not d.startswith("apps") and d not in allowed)
                self.assertEqual(wrong, [], f"{module} imports {wrong}")

    def test_the_store_knows_nothing_about_the_applications(self):
        """No module of cluster/, nor the manager, imports apps/."""
        for module, deps in self.graph.items():
            if module.startswith("cluster") or module == "replication":
                self.assertEqual(sorted(d for d in deps if d.startswith("apps")), [], module)

    def test_only_the_client_calls_the_manager(self):
        """Besides client.py, no application module touches the manager the client wraps."""
        for module, path in self.modules.items():
            if module.startswith("apps") and module not in ("apps.client", "apps.registry"):
                with open(path, encoding="utf-8") as handle:
                    self.assertNotIn(".manager", handle.read(), path)


if __name__ == "__main__":
    unittest.main()
