"""The working-day calendar at work: the system refuses to start on an invalid calendar file,
and the warning a person sees when the next 90 days lack official data (start-up, the sweep,
the dashboard and a task page). The file and the calendar themselves are tested in
tests/unit/test_calendar.py, whose fixture `configured` points this process at a file."""

from __future__ import annotations

import json
import logging
import os
import re
import secrets
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC
from pathlib import Path
from typing import Any

import pytest

from app.adapters.store import db
from app.domain import clock
from app.services import users as auth
from tests.pg import own_store
from tests.unit import test_calendar as calendar_file

configured = calendar_file.configured
Use, FIXTURE, local, _file, _cli = (calendar_file.Use, calendar_file.FIXTURE, calendar_file.local,
                                    calendar_file._file, calendar_file._cli)
BEFORE_2027, MID_2026 = calendar_file.BEFORE_2027, calendar_file.MID_2026


def _protect(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "app", *args], capture_output=True, text=True,
                          timeout=120, env={**os.environ, **(env or {})})


def test_the_system_refuses_to_start_on_an_invalid_calendar_file_naming_its_line(
        tmp_path: Path) -> None:
    bad = _file(tmp_path, '[2027]\nnotice = "N"\nholidays = [\n  "2027-01-01",\n'
                          '  "2027-02-30",\n]\n')
    env = {"PROTECT_CALENDAR_FILE": str(bad)}
    for args in (["migrate"], ["serve", "--sweep-interval", "0"], ["calendar", "check"],
                 ["calendar", "check", str(bad)], ["calendar", "show", "2027"]):
        out = _protect(*args, env=env)
        assert out.returncode == 2, (args, out.stdout, out.stderr)
        assert out.stderr.startswith(f"error: calendar file {bad} is invalid"), out.stderr
        assert "line 5: 2027.holidays: '2027-02-30' is not a date" in out.stderr
    as_json = _protect("calendar", "check", str(bad), "--json")
    assert as_json.returncode == 2
    assert json.loads(as_json.stdout)["problems"] == [
        {"line": 5, "key": "2027.holidays", "problem": "'2027-02-30' is not a date (YYYY-MM-DD)"}]


# --- the warning a person sees -----------------------------------------------------------------


def _records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "protect.calendar"]


def test_start_up_says_once_that_the_next_90_days_lack_official_data_and_commands_never(
        store: str, configured: Use, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    from app.entrypoints.cli.common import ready

    caplog.set_level(logging.INFO, logger="protect.calendar")
    monkeypatch.setattr(clock, "now", lambda: BEFORE_2027.astimezone(UTC))
    ready()  # what a short command (case open, stats…) does: nothing said
    assert _records(caplog) == []
    ready(starting=True)  # protect up / serve / api
    ready(starting=True)
    records = _records(caplog)
    assert len(records) == 1 and records[0].levelno == logging.WARNING
    assert "no official working-day calendar for 2027 within the next 90 days" in \
        records[0].getMessage()
    assert "provisional" in records[0].getMessage()
    caplog.clear()
    configured(FIXTURE)  # the notice is entered: a restart says nothing
    ready(starting=True)
    assert _records(caplog) == []


@pytest.fixture(params=["sqlite", "postgres"])
def fresh_store(request: pytest.FixtureRequest, tmp_path: Path,
                monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """An empty, migrated case store of each kind, made the configured one."""
    with own_store(request.param, tmp_path, "protect_calendar", monkeypatch) as url:
        yield url


def test_the_sweep_report_and_its_summary_say_when_the_next_90_days_lack_official_data(
        fresh_store: str, configured: Use, caplog: pytest.LogCaptureFixture,
        monkeypatch: pytest.MonkeyPatch) -> None:
    from app.runtime.sweep import sweep

    # No Prefect server here: skip asking it for crashed runs (seconds of retries per sweep).
    monkeypatch.setattr("app.runtime.sweep.recover_crashed_runs", lambda **_: 0)
    caplog.set_level(logging.INFO, logger="protect.calendar")
    warning = sweep(now=BEFORE_2027, deliver=False).calendar_warning
    assert warning and warning.startswith("no official working-day calendar for 2027 within")
    assert sweep(now=MID_2026, deliver=False).calendar_warning is None
    assert _records(caplog) == []  # every minute's sweep: in the report only, never logged
    summary = _cli("sweep", "--now", BEFORE_2027.isoformat())
    assert summary.exit_code == 0, summary.output
    assert "\n  calendar: no official working-day calendar for 2027" in summary.output
    as_json = json.loads(_cli("sweep", "--now", BEFORE_2027.isoformat(), "--json").output)
    assert "2027" in as_json["calendar_warning"]
    configured(FIXTURE)
    assert sweep(now=BEFORE_2027, deliver=False).calendar_warning is None
    assert "calendar:" not in _cli("sweep", "--now", BEFORE_2027.isoformat()).output


def _user(agency: str, role: str) -> tuple[str, str]:
    name, password = f"cal-{role}-{secrets.token_hex(4)}", secrets.token_urlsafe(12)
    with db() as session:
        auth.add_user(session=session, username=name, agency=agency, roles=[role],
                      password=password, actor="test", now=clock.now())
    return name, password


def _sign_in(client: Any, who: tuple[str, str]) -> None:
    name, password = who
    client.cookies.clear()
    form = client.get("/login").text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', form)
    assert csrf, form[:300]
    signed = client.post("/login", data={"username": name, "password": password,
                                         "csrf_token": csrf.group(1), "next": "/"},
                         follow_redirects=False)
    assert signed.status_code == 303, signed.text[:300]


def test_the_managers_dashboard_and_a_task_page_show_the_calendar_warning(
        store: str, configured: Use, monkeypatch: pytest.MonkeyPatch) -> None:
    from fastapi.testclient import TestClient

    from app.entrypoints.api import create_app
    from models import HumanTask
    from tests.api.conftest import add_task
    from tests.helpers import open_case

    monkeypatch.setattr(clock, "now", lambda: BEFORE_2027.astimezone(UTC))
    task_id = add_task(open_case(), owner="psb")
    with db() as session:  # the registration step due on a working day of 2027
        task = session.get(HumanTask, task_id)
        task.due_at = task.escalate_at = local(2027, 1, 4)
        session.add(task)
    manager, coordinator = _user("office", "manager"), _user("center", "coordinator")
    with TestClient(create_app()) as client:
        _sign_in(client, manager)
        zh = client.get("/dashboard").text
        warning = re.search(r'<p class="problem" id="calendar-warning">([^<]*)</p>', zh)
        assert warning, zh[:2000]
        assert "未来 90 天内的 2027 年尚无官方节假日安排" in warning.group(1)
        en = client.get("/dashboard?lang=en").text
        assert "No official holiday arrangement (the State Council&#39;s notice) for 2027 " \
               "within the next 90 days" in en
        _sign_in(client, coordinator)
        page = client.get(f"/tasks/{task_id}?lang=en").text
        assert '<span class="provisional"' in page and "(provisional)" in page
        monkeypatch.setattr(clock, "now", lambda: MID_2026.astimezone(UTC))
        _sign_in(client, manager)
        assert 'id="calendar-warning"' not in client.get("/dashboard").text
        monkeypatch.setattr(clock, "now", lambda: BEFORE_2027.astimezone(UTC))
        configured(FIXTURE)  # the operator enters the notice: the warning goes
        _sign_in(client, manager)
        assert 'id="calendar-warning"' not in client.get("/dashboard").text
        _sign_in(client, coordinator)
        assert '<span class="provisional"' not in client.get(f"/tasks/{task_id}").text
