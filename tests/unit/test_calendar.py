"""The working-day calendar beyond the packages' data: the operator's calendar file, years with
no official data (provisional deadlines), `protect calendar check/show`, and the warning a
person sees when the next 90 days reach such a year (start-up, the sweep, the dashboard)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from typer.testing import CliRunner

from app.config import calendar as calendar_settings
from app.config.calendar import load
from app.config.rules_file import RulesFileError
from app.config.settings import SHIPPED_CALENDAR, get_settings
from app.domain.calendar_data import (
    OfficialCalendar,
    library_holidays,
    package_knows,
    parse_calendar,
)
from app.domain.workdays import (
    TZ,
    add_working_days,
    due_after,
    is_provisional,
    is_working_day,
    uncovered_years,
)

FIXTURE = Path(__file__).resolve().parents[1] / "data" / "calendar-2027.toml"  # a MADE-UP 2027


def local(y: int, m: int, d: int, hh: int = 10, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=TZ)


# 1 December 2026: the next 90 days run into 2027, which chinese-calendar 1.11 does not know.
BEFORE_2027 = local(2026, 12, 1)
MID_2026 = local(2026, 6, 1)


def _file(tmp_path: Path, text: str, name: str = "calendar.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


Use = Callable[[Path], None]


@pytest.fixture
def configured(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Use]:
    """Point PROTECT_CALENDAR_FILE at a file (at first: one naming no year, so the packages'
    data only); the process forgets it after the test."""

    def use(path: Path) -> None:
        monkeypatch.setenv("PROTECT_CALENDAR_FILE", str(path))
        get_settings.cache_clear()
        calendar_settings.reset()

    use(_file(tmp_path, "# no year\n", "empty.toml"))
    yield use
    monkeypatch.undo()
    get_settings.cache_clear()
    calendar_settings.reset()


def _cli(*args: str) -> Any:
    from app.entrypoints.cli import cli

    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


# --- the operator's file over the packages -----------------------------------------------------


def test_the_shipped_file_is_valid_and_enters_no_year() -> None:
    # The format and the docs only: the real 2027 arrangement is the State Council's to publish.
    assert load(SHIPPED_CALENDAR).plans == {}
    assert not package_knows(2027)  # if this fails, chinese-calendar now has 2027: adjust


def test_the_example_in_the_docs_is_a_valid_file_that_agrees_with_chinese_calendar() -> None:
    engine_md = (SHIPPED_CALENDAR.parent / "docs" / "engine.md").read_text(encoding="utf-8")
    [example] = re.findall(r"```toml calendar.toml\n(.*?)```", engine_md, re.S)
    from_docs, package = OfficialCalendar(parse_calendar(example)), OfficialCalendar()
    assert from_docs.year(2026).source == "file"
    days = [date(2026, 1, 1) + timedelta(days=n) for n in range(365)]
    assert [d for d in days if from_docs.is_working_day(d) != package.is_working_day(d)] == []


def test_a_2027_file_moves_a_deadline_across_a_made_up_spring_festival(configured: Use) -> None:
    # Without the file, 2027 is provisional: the holidays package puts Spring Festival on
    # Friday 5 to Wednesday 10 February, so Thursday 4 + 1 working day is Thursday 11.
    assert add_working_days(local(2027, 2, 4), 1) == local(2027, 2, 11)
    assert is_provisional(BEFORE_2027, local(2027, 2, 11))
    configured(FIXTURE)  # the made-up notice: off 5 to 11 February, Saturdays 13 and 20 worked
    assert add_working_days(local(2027, 2, 4), 1) == local(2027, 2, 12)
    assert add_working_days(local(2027, 2, 4), 2) == local(2027, 2, 13)  # a make-up Saturday
    assert due_after(local(2027, 2, 4), "3wd") == local(2027, 2, 15)
    assert not is_working_day(date(2027, 2, 11)) and is_working_day(date(2027, 2, 20))
    assert not is_provisional(BEFORE_2027, local(2027, 2, 15))
    assert uncovered_years(BEFORE_2027) == []
    assert uncovered_years(local(2027, 12, 1)) == [2028]


def test_a_year_the_file_names_replaces_chinese_calendars_data_for_that_whole_year() -> None:
    cal = OfficialCalendar(parse_calendar(
        '[2026]\nnotice = "TEST"\nholidays = ["2026-10-01..2026-10-08"]\n'))
    assert not cal.is_working_day(date(2026, 10, 8))  # the file's, not the package's (7th)
    assert cal.is_working_day(date(2026, 2, 17))  # the package's Spring Festival is gone
    assert not cal.is_working_day(date(2026, 2, 14))  # and so is its make-up Saturday
    assert cal.year(2026).source == "file" and cal.year(2026).reference == "TEST"
    assert cal.year(2025).source == "chinese-calendar"
    assert not OfficialCalendar().is_working_day(date(2026, 2, 17))


def test_a_year_without_data_uses_the_librarys_holidays_and_says_so(configured: Use) -> None:
    configured(FIXTURE)  # names 2027 only
    assert not is_working_day(date(2031, 10, 1))  # National Day, from the holidays package
    assert not is_working_day(date(2031, 1, 23))  # Spring Festival 2031
    assert is_working_day(date(2031, 10, 6))  # the Monday after
    assert add_working_days(local(2031, 9, 30), 1) == local(2031, 10, 6)
    assert is_provisional(local(2031, 9, 20), local(2031, 10, 6))
    shown = _cli("calendar", "show", "2031")
    assert shown.exit_code == 0, shown.output
    assert shown.output.startswith("2031: PROVISIONAL, no official data: holidays ")
    assert "2031-10-01..2031-10-03" in shown.output
    data = json.loads(_cli("calendar", "show", "2031", "--json").output)
    assert (data["source"], data["official"]) == ("holidays", False)
    assert "2031-10-01" in data["holidays"] and data["workdays"] == []


def test_the_librarys_holidays_leave_out_days_off_it_cannot_pair_with_a_working_day() -> None:
    # For 2026 the holidays package knows the swaps too: Friday 20 February is a day off
    # "substituted from" the working Saturday 14th, which it does not give as a working day.
    # Without that day, the fallback never loses a working day it cannot give back.
    off = library_holidays(2026)
    assert date(2026, 2, 17) in off and date(2026, 10, 1) in off  # fixed holidays
    assert date(2026, 2, 20) not in off and date(2026, 10, 7) not in off  # swapped days


def test_task_rows_mark_a_deadline_in_a_year_without_data_provisional() -> None:
    from app.entrypoints.api.routers.tasks import _row
    from app.entrypoints.api.schemas import TaskRow
    from app.entrypoints.cli.tasks import _task_row as cli_row
    from app.entrypoints.web.pages import _task_row as page_row

    def task(due: datetime) -> Any:
        return SimpleNamespace(id=1, step="j2.registration", title="t", owner="psb",
                               owner_role="worker", rung=0, status="open", due_at=due,
                               procedure_run_id=1)

    now = local(2030, 12, 20)
    late = task(local(2031, 1, 6))  # runs into 2031: no official data
    soon = task(local(2026, 12, 21))
    for row in (cli_row, page_row, _row):
        assert row(late, "C2026-000001", now)["due_provisional"] is True
        assert row(soon, "C2026-000001", MID_2026)["due_provisional"] is False
    assert TaskRow(**_row(late, "C2026-000001", now)).due_provisional is True


# --- protect calendar check / show -------------------------------------------------------------


def test_calendar_show_2027_gives_the_holidays_the_make_up_days_and_the_source(
        configured: Use) -> None:
    configured(FIXTURE)
    shown = _cli("calendar", "show", "2027")
    assert shown.exit_code == 0, shown.output
    assert shown.output.splitlines() == [
        f"2027: the calendar file {FIXTURE}, notice TEST-2027（测试用，虚构）",
        "  holidays:  2027-01-01, 2027-02-05..2027-02-11",
        "  make-up working days:  2027-02-13 (Sat), 2027-02-20 (Sat)",
    ]
    data = json.loads(_cli("calendar", "show", "2027", "--json").output)
    assert data["source"] == "file" and data["file"] == str(FIXTURE)
    assert data["reference"] == "TEST-2027（测试用，虚构）"
    assert data["workdays"] == ["2027-02-13", "2027-02-20"]
    assert len(data["holidays"]) == 8
    # A year chinese-calendar knows says so.
    assert _cli("calendar", "show", "2026").output.startswith("2026: chinese-calendar 1.11")


def test_calendar_check_lists_the_years_a_valid_file_names() -> None:
    checked = _cli("calendar", "check", str(FIXTURE))
    assert checked.exit_code == 0, checked.output
    assert checked.output.splitlines() == [
        f"{FIXTURE}: valid, 1 year(s)",
        "  2027  TEST-2027（测试用，虚构）: 8 day(s) off, 2 make-up working day(s)"]


@pytest.mark.parametrize(("text", "line", "key", "problem"), [
    ('[2027]\nnotice = "N"\nholidays = [\n  "2027-01-01",\n  "2027-02-30",\n]\n',
     5, "2027.holidays", "'2027-02-30' is not a date"),
    ('[2027]\nnotice = "N"\nholidays = ["2027-01-01"]\nworkdays = ["2027-02-10"]\n',
     4, "2027.workdays", "2027-02-10 is a Wednesday: a make-up working day (调休上班) is a "
                         "Saturday or Sunday"),
    ('[2027]\nnotice = "N"\nholidays = ["2027-02-05..2027-02-14"]\n\nworkdays = [\n'
     '  "2027-02-13",\n]\n', 6, "2027.workdays",
     "2027-02-13 is both a holiday and a make-up working day"),
    ('[2027]\nnotice = "N"\nholidays = ["2026-12-31..2027-01-01"]\n', 3, "2027.holidays",
     "2026-12-31 is not in 2027"),
    ('# c\n[2027]\nholidays = ["2027-01-01"]\n', 2, "2027.notice", "missing"),
    ('[2027]\nnotice = "N"\nholidays = []\n', 3, "2027.holidays", "empty"),
    ('[2027]\nnotice = "N"\nholidays = ["2027-01-01"]\nholiday = ["2027-05-01"]\n', 4,
     "2027.holiday", "unknown key; allowed: notice, holidays, workdays"),
    ('[2027]\nnotice = "N"\nholidays = ["2027-01-01"]\n[twenty-eight]\n', 4, "twenty-eight",
     "not a year"),
    ('[2027]\nnotice = "N"\nholidays = ["2027-01-01" "2027-05-01"]\n', 3, "(file)",
     "not valid TOML"),
    ('[2027]\nnotice = "N"\nholidays = ["2027-01-01",\n', 3, "(file)", "not valid TOML"),
])
def test_an_invalid_file_is_refused_with_the_line_of_its_problem(
        tmp_path: Path, text: str, line: int, key: str, problem: str) -> None:
    path = _file(tmp_path, text)
    with pytest.raises(RulesFileError) as caught:
        load(path)
    assert str(path) in str(caught.value)
    assert [(p.line, p.key) for p in caught.value.problems] == [(line, key)], \
        caught.value.problems
    assert problem in caught.value.problems[0].message
    assert f"line {line}: {key}: " in str(caught.value)


def test_every_problem_of_a_file_is_reported_at_once(tmp_path: Path) -> None:
    path = _file(tmp_path, '[2027]\nnotice = ""\nholidays = ["2027-13-01"]\n'
                           '[2028]\nnotice = "N"\nholidays = ["2028-01-01"]\n'
                           'workdays = ["2028-01-03"]\n')
    with pytest.raises(RulesFileError) as caught:
        load(path)
    assert [(p.line, p.key) for p in caught.value.problems] == [
        (2, "2027.notice"), (3, "2027.holidays"), (7, "2028.workdays")]


def test_a_missing_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(RulesFileError, match="no such file"):
        load(tmp_path / "nowhere.toml")


# --- the warning's words (where a person sees it: tests/test_calendar_in_use.py) ---------------


def test_the_warning_names_the_years_and_the_file_and_is_none_when_covered(
        configured: Use) -> None:
    message = calendar_settings.coverage_warning(local(2029, 12, 1))
    assert message and "for 2029, 2030 within the next 90 days" in message
    assert str(get_settings().calendar_file) in message
    assert calendar_settings.coverage_warning(local(2026, 12, 1), days=20) is None
    assert calendar_settings.coverage_warning(local(2026, 12, 31) + timedelta(days=1)) \
        is not None
