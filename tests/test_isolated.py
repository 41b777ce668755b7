"""Suite checks in a worker process: the same answers, and no worker left behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from expectations import isolated
from expectations.runner import validate_record

ROOT = Path(__file__).parent.parent


def test_the_worker_finds_what_the_runner_finds() -> None:
    record = {"hospital_code": "hospital:first-people", "invoice_no": "INV-1",
              "admission_date": "2026-11-01", "discharge_date": "2026-10-01",
              "amount_total": 100.0, "admitting_hospital": "hospital:women-children"}
    try:
        got = isolated.problems("settlement_claim", record)
    finally:
        isolated.shutdown()
    assert got == [e.code for e in validate_record("settlement_claim", record)]
    assert got  # a discharge before the admission, and another hospital's claim


def test_the_worker_exits_when_its_parent_is_killed() -> None:
    code = ("from expectations.isolated import problems\n"
            "print(problems('settlement_claim', {}), flush=True)\n"
            "import time; time.sleep(120)\n")
    parent = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, stdout=subprocess.PIPE,
                              text=True)
    try:
        assert "required" in parent.stdout.readline()  # the worker answered
        workers = subprocess.run(["pgrep", "-P", str(parent.pid)], capture_output=True,
                                 text=True).stdout.split()
        assert workers
    finally:
        parent.send_signal(signal.SIGKILL)
        parent.wait()
    deadline = time.monotonic() + 10
    while any(os.path.exists(f"/proc/{w}") for w in workers) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not [w for w in workers if os.path.exists(f"/proc/{w}")]
