"""The base class of a mixin of tests that TestCase classes share."""
from __future__ import annotations

import unittest
from typing import TYPE_CHECKING

# Type-checked as a TestCase, so the mixin's self.assertEqual and friends are known; at run
# time a plain object, so the mixin is not collected and run as a test case by itself.
if TYPE_CHECKING:
    TestMixin = unittest.TestCase
else:
    TestMixin = object
