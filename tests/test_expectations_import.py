"""Importing the Great Expectations runner stays cheap: the library itself is imported only
when a suite is first validated (the suites' own tests: tests/unit/test_expectations.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def test_importing_the_runner_does_not_import_great_expectations() -> None:
    code = "import sys, expectations.runner; print('great_expectations' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True, cwd=Path(__file__).resolve().parents[1])
    assert done.stdout.strip() == "False"
