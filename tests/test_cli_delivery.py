"""What a short `protect` command says about the starts and resumes it wrote, and what it
loads to say it (docs/BENCHMARKS.md, "CLI speed").

Each command runs as a user runs it, in a process of its own (`python -m app`). A Prefect
that is up but busy (its SQLite database locked: every answer a 503) is a small HTTP server
answering just that; a Prefect that is down is a port nobody listens on; the running system
is the session's real Prefect server and `protect serve`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from sqlmodel import col, select

from app.adapters.outbox import start_message_key
from app.adapters.store import db
from models import OutboxMessage
from tests.conftest import free_port
from tests.helpers import hotline_report, open_case, open_task, start, wait_for

STILL = "Still processing items"


def protect(*args: str, env: dict[str, str] | None = None, importtime: bool = False
            ) -> subprocess.CompletedProcess[str]:
    """`protect ARGS` in a new process, as a user runs it (with `-X importtime`, its stderr
    lists every module it imported)."""
    proc = subprocess.run([sys.executable, *(["-X", "importtime"] if importtime else []),
                           "-m", "app", *args], capture_output=True, text=True, timeout=180,
                          env={**os.environ, **(env or {})})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert STILL not in proc.stdout + proc.stderr
    return proc


def imported(proc: subprocess.CompletedProcess[str]) -> set[str]:
    """The top-level packages a `-X importtime` run imported."""
    return {line.rsplit("|", 1)[1].strip().split(".")[0]
            for line in proc.stderr.splitlines() if line.startswith("import time:")
            and "|" in line and not line.rstrip().endswith("package")}


@pytest.fixture
def busy_prefect() -> Iterator[tuple[str, list[str]]]:
    """A Prefect that answers every request as Prefect on SQLite does while its database is
    locked by another writer: 503. The URL, and the paths it was asked for."""
    asked: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def _busy(self) -> None:
            asked.append(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            self.rfile.read(length)
            body = b'{"exception_message": "Service Unavailable"}'
            self.send_response(503)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _busy  # noqa: N815

        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True,
                     kwargs={"poll_interval": 0.05}).start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/api", asked
    finally:
        httpd.shutdown()


def _report(tmp_path: Path) -> tuple[Path, dict]:
    report = hotline_report()
    path = tmp_path / "report.json"
    path.write_text(json.dumps(report, ensure_ascii=False), encoding="utf-8")
    return path, report


def _starts_pending(reference: str) -> list[OutboxMessage]:
    from models import HotlineReport, ProcedureRun

    with db() as session:
        report = session.exec(select(HotlineReport).where(
            HotlineReport.reference == reference)).one()
        runs = session.exec(select(ProcedureRun.id).where(
            ProcedureRun.case_id == report.case_id)).all()
        return list(session.exec(select(OutboxMessage).where(
            col(OutboxMessage.dedupe_key).in_([start_message_key(r) for r in runs]))).all())


def test_intake_says_prefect_is_busy_not_unreachable_when_prefect_answers_busy(
        quiet_store: str, tmp_path: Path, busy_prefect: tuple[str, list[str]]) -> None:
    url, asked = busy_prefect
    path, report = _report(tmp_path)
    out = protect("intake", "--file", str(path), env={"PREFECT_API_URL": url}).stdout
    assert "Prefect is busy" in out and "not reachable" not in out, out
    assert asked, "the command asked Prefect (nothing else delivers: no dispatcher runs)"
    starts = _starts_pending(report["reference"])
    assert starts and all(m.status == "pending" for m in starts)  # kept, delivered later
    path2, _ = _report(tmp_path)
    data = json.loads(protect("intake", "--file", str(path2), "--json",
                              env={"PREFECT_API_URL": url}).stdout)
    assert (data["queued"], data["waiting"]) == (True, "busy")


def test_intake_says_prefect_is_not_reachable_when_nothing_answers(
        quiet_store: str, tmp_path: Path) -> None:
    path, report = _report(tmp_path)
    down = {"PREFECT_API_URL": f"http://127.0.0.1:{free_port()}/api"}
    proc = protect("intake", "--file", str(path), "--json", env=down)
    data = json.loads(proc.stdout)
    assert (data["queued"], data["waiting"]) == (True, "unreachable")
    starts = _starts_pending(report["reference"])
    assert len(starts) >= 2 and all(m.status == "pending" for m in starts)
    # Each start was tried, and the failure is said once, not once per start.
    assert all(m.attempts == 1 for m in starts), [m.attempts for m in starts]
    said = [line for line in proc.stderr.splitlines() if "not delivered" in line]
    assert len(said) == 1, proc.stderr


def test_with_the_system_running_the_writes_are_delivered_by_its_dispatcher(
        system, tmp_path: Path) -> None:
    path, report = _report(tmp_path)
    out = protect("intake", "--file", str(path)).stdout
    assert "not reachable" not in out, out
    wait_for(lambda: all(m.status == "delivered"
                         for m in _starts_pending(report["reference"])),
             timeout=60, what="every start of the report delivered")

    case = open_case()
    started = json.loads(protect("start", "R2", "--case", case, "--json").stdout)
    assert started["waiting"] in (None, "delivering", "busy"), started
    task = open_task(case, "r2.outreach")
    form = tmp_path / "outreach.json"
    form.write_text('{"outcome": "accepted"}', encoding="utf-8")
    done = json.loads(protect("complete", str(task.id), "--as", task.owner, "-f", str(form),
                              "--json").stdout)
    assert done["waiting"] in (None, "delivering", "busy"), done
    open_task(case, "r2.intake")  # the procedure went on


@pytest.mark.parametrize("args", [["tasks"], ["procedures"], ["stats"], ["--help"],
                                  ["case", "--help"], ["history", "--help"]])
def test_a_read_imports_neither_prefect_nor_great_expectations_nor_pandas(
        store: str, args: list[str]) -> None:
    proc = protect(*args, importtime=True)
    assert not {"prefect", "great_expectations", "pandas", "alembic"} & imported(proc)


def test_a_case_history_reads_prefect_without_its_client(system) -> None:
    case = open_case()
    run_id = start(case, "R2")
    proc = protect("history", "--case", case, "--json", importtime=True)
    assert "prefect" not in imported(proc)
    data = json.loads(proc.stdout)
    assert "prefect_error" not in data, data
    [run] = data["flow_runs"]
    assert run["name"] == f"{case}-R2-{run_id}" and run["flow"] == "r2-street-child-rescue"
    assert run["state_type"] and case in run["tags"]
    text = protect("history", "--case", case).stdout
    assert f"{case}-R2-{run_id}" in text and "r2-street-child-rescue" in text


def test_opening_a_case_checks_the_form_without_great_expectations(
        store: str, tmp_path: Path) -> None:
    from tests.helpers import intake_form

    form = intake_form()
    form["child"]["sex"] = "boy?"
    path = tmp_path / "intake.json"
    path.write_text(json.dumps(form, ensure_ascii=False), encoding="utf-8")
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "app", "case", "open",
                           "-f", str(path)], capture_output=True, text=True, timeout=180)
    assert proc.returncode == 2 and "child.sex: " in proc.stderr  # the suite's refusal
    assert not {"prefect", "great_expectations", "pandas"} & imported(proc)
    path.write_text(json.dumps(intake_form(), ensure_ascii=False), encoding="utf-8")
    proc = protect("case", "open", "-f", str(path), importtime=True)
    assert "opened case" in proc.stdout
    assert not {"prefect", "great_expectations", "pandas", "alembic"} & imported(proc)
