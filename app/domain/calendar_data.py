"""Which days are working days, year by year, and where each year's data comes from.

Three sources, in this order for a year:

1. the operator's calendar file (calendar.toml): the State Council's notice for the years it
   names, entered the day it appears; for such a year it replaces everything else;
2. the chinese-calendar package (2004 to its last release's year);
3. for a year neither knows: weekends plus China's fixed public holidays from the `holidays`
   package. Such a year is *provisional*: the make-up working days (调休) and the exact holiday
   runs are the State Council's to set, so a deadline there may still move.

Pure: the file is given as text (app/config/calendar.py reads it from the configured path).
"""

from __future__ import annotations

import importlib.metadata
import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import cache
from typing import Any, Literal

import chinese_calendar

Source = Literal["file", "chinese-calendar", "holidays"]
KEYS = ("notice", "holidays", "workdays")
_YEAR = re.compile(r"^\d{4}$")
_RANGE = ".."


# --- the operator's file ----------------------------------------------------------------------


@dataclass(frozen=True)
class YearPlan:
    """One year as the State Council's notice arranges it.

    Attributes:
        year: The calendar year.
        notice: The notice's reference, e.g. "国办发明电〔2026〕7号".
        holidays: Every day off of the holiday runs (weekend days inside a run may be listed).
        workdays: The make-up working days (调休上班): Saturdays or Sundays worked.
        line: The line of the year's table in the file (0 when not from a file).
    """

    year: int
    notice: str
    holidays: frozenset[date]
    workdays: frozenset[date] = frozenset()
    line: int = 0


@dataclass(frozen=True)
class Problem:
    """Something wrong in a calendar file: its line (0: unknown), the key and what is wrong."""

    line: int
    key: str
    message: str

    def __str__(self) -> str:
        where = f"line {self.line}: " if self.line else ""
        return f"{where}{self.key}: {self.message}"


class CalendarFileError(ValueError):
    """A calendar file cannot be used; `problems` lists each one with its line."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("; ".join(str(p) for p in problems))


class _Lines:
    """Where a table, a key or a value is written in the file, for the error messages."""

    _TABLE = re.compile(r'^\s*\[\s*(?:"([^"]*)"|\'([^\']*)\'|([^\]\s]+))\s*\]')
    _KEY = re.compile(r'^\s*(?:"([^"]*)"|([A-Za-z0-9_-]+))\s*=')

    def __init__(self, text: str) -> None:
        self.lines = text.splitlines()
        self.tables: dict[str, int] = {}
        self.keys: dict[tuple[str, str], int] = {}
        self.ends: dict[str, int] = {}
        table = ""
        for number, line in enumerate(self.lines, start=1):
            header = self._TABLE.match(line)
            if header and not line.lstrip().startswith("[["):
                if table:
                    self.ends.setdefault(table, number - 1)
                table = next(g for g in header.groups() if g is not None)
                self.tables.setdefault(table, number)
                continue
            key = self._KEY.match(line)
            if key:
                self.keys.setdefault((table, key.group(1) or key.group(2)), number)
        if table:
            self.ends.setdefault(table, len(self.lines))

    def table(self, table: str) -> int:
        return self.tables.get(table, 0)

    def key(self, table: str, key: str) -> int:
        return self.keys.get((table, key), self.table(table))

    def value(self, table: str, key: str, literal: str) -> int:
        """The first line from the key's on (inside its table) where `literal` is written."""
        start = self.key(table, key)
        end = self.ends.get(table, len(self.lines))
        for number in range(max(start, 1), end + 1):
            if literal in self.lines[number - 1].split("#", 1)[0]:
                return number
        return start


_TOML_LINE = re.compile(r"\((?:at line (\d+), column \d+|at end of document)\)")


def _toml(text: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        found = _TOML_LINE.search(message)
        line = 0 if found is None else int(found.group(1) or len(text.splitlines()))
        raise CalendarFileError(
            [Problem(line, "(file)", f"not valid TOML: {_TOML_LINE.sub('', message).strip()}")]
        ) from None


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"{text.strip()!r} is not a date (YYYY-MM-DD)") from None


def _days(item: Any) -> list[date]:
    """One entry of a list: a TOML date, "YYYY-MM-DD" or a range "FIRST..LAST" (inclusive)."""
    if isinstance(item, datetime):
        raise ValueError(f"{item.isoformat()} has a time of day: write the date only")
    if isinstance(item, date):
        return [item]
    if not isinstance(item, str):
        raise ValueError(f"{item!r} is not a date: write \"YYYY-MM-DD\" or "
                         "\"YYYY-MM-DD..YYYY-MM-DD\"")
    if _RANGE in item:
        first_text, _, last_text = item.partition(_RANGE)
        first, last = _day(first_text), _day(last_text)
        if last < first:
            raise ValueError(f"{item!r}: the range ends before it starts")
        return [first + timedelta(days=n) for n in range((last - first).days + 1)]
    return [_day(item)]


def _literal(item: Any) -> str:
    return item.isoformat() if isinstance(item, date) else str(item)


def _year_plan(name: str, table: Any, where: _Lines) -> tuple[YearPlan | None, list[Problem]]:
    problems: list[Problem] = []
    line = where.table(name)

    def problem(key: str, message: str, at: int | None = None) -> None:
        problems.append(Problem(at if at is not None else where.key(name, key),
                                f"{name}.{key}", message))

    if not _YEAR.match(name):
        problems.append(Problem(line, name, "not a year: each table is a year, e.g. [2027]"))
        return None, problems
    if not isinstance(table, Mapping):
        problems.append(Problem(where.key("", name) or line, name,
                                "a year is a table: [2027] with notice, holidays, workdays"))
        return None, problems
    year = int(name)
    for key in table:
        if key not in KEYS:
            problem(key, f"unknown key; allowed: {', '.join(KEYS)}")
    notice = table.get("notice")
    if "notice" not in table:
        problem("notice", "missing: the State Council notice's reference, e.g. "
                          "notice = \"国办发明电〔2026〕N号\"", line)
    elif not isinstance(notice, str) or not notice.strip():
        problem("notice", "the State Council notice's reference, as text, e.g. "
                          "notice = \"国办发明电〔2026〕N号\"")
    days: dict[str, dict[date, Any]] = {}
    for key in ("holidays", "workdays"):
        items = table.get(key, [])
        days[key] = {}
        if not isinstance(items, list):
            problem(key, "a list of dates, e.g. [\"2027-01-01\", \"2027-02-05..2027-02-11\"]")
            continue
        for item in items:
            at = where.value(name, key, _literal(item).partition(_RANGE)[0].strip())
            try:
                listed = _days(item)
            except ValueError as exc:
                problem(key, str(exc), at)
                continue
            for day in listed:
                if day.year != year:
                    problem(key, f"{day.isoformat()} is not in {year}: a year's table lists "
                                 f"its own days (write it under [{day.year}])", at)
                elif key == "workdays" and day.weekday() < 5:
                    problem(key, f"{day.isoformat()} is a {day.strftime('%A')}: a make-up "
                                 "working day (调休上班) is a Saturday or Sunday", at)
                else:
                    days[key].setdefault(day, at)
    if "holidays" not in table:
        problem("holidays", "missing: the notice's days off, e.g. holidays = "
                            "[\"2027-01-01\", \"2027-02-05..2027-02-11\"]", line)
    elif table["holidays"] == []:
        problem("holidays", "empty: a year's notice lists its holidays")
    for day in sorted(set(days["holidays"]) & set(days["workdays"])):
        problem("workdays", f"{day.isoformat()} is both a holiday and a make-up working day",
                days["workdays"][day])
    if problems:
        return None, problems
    return YearPlan(year=year, notice=str(notice).strip(), holidays=frozenset(days["holidays"]),
                    workdays=frozenset(days["workdays"]), line=line), []


def parse_calendar(text: str) -> dict[int, YearPlan]:
    """Read and check a calendar file's text: one table per year.

    ```toml
    [2027]
    notice = "国办发明电〔2026〕N号"
    holidays = ["2027-01-01", "2027-02-05..2027-02-11"]
    workdays = ["2027-02-13"]
    ```

    Returns:
        The years it names, each with its holidays and make-up working days.

    Raises:
        CalendarFileError: with every problem found, each with its line.
    """
    raw = _toml(text)
    where = _Lines(text)
    plans: dict[int, YearPlan] = {}
    problems: list[Problem] = []
    for name, table in raw.items():
        plan, found = _year_plan(name, table, where)
        problems += found
        if plan is not None:
            plans[plan.year] = plan
    if problems:
        raise CalendarFileError(sorted(problems, key=lambda p: (p.line, p.key, p.message)))
    return dict(sorted(plans.items()))


# --- the days of a year -----------------------------------------------------------------------


@cache
def package_knows(year: int) -> bool:
    """Whether chinese-calendar has the State Council's arrangement for `year`."""
    try:
        chinese_calendar.is_workday(date(year, 6, 1))
    except NotImplementedError:
        return False
    return True


@cache
def _version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:  # pragma: no cover - installed with us
        return "?"


def library_holidays(year: int) -> frozenset[date]:
    """China's public holidays in `year` from the `holidays` package: the fixed holidays and
    the package's own weekend shifts ("observed"), never its days off swapped for a make-up
    working day ("substituted"), whose working day it cannot give."""
    import holidays  # only for years beyond the official data: 40 ms to import

    table = holidays.China(years=year, language="en_US")
    return frozenset(d for d, name in table.items()
                     if not all("substituted" in part for part in name.split("; ")))


@dataclass(frozen=True)
class YearDays:
    """A year's days off and make-up days, and where they come from.

    Attributes:
        year: The calendar year.
        source: "file" (the operator's calendar file), "chinese-calendar" or "holidays"
            (weekends and fixed public holidays only: provisional).
        reference: The notice's reference, or the package and its version.
        holidays: The days off besides ordinary weekends (weekend days in a run may be listed).
        workdays: The make-up working days.
    """

    year: int
    source: Source
    reference: str
    holidays: tuple[date, ...]
    workdays: tuple[date, ...]
    working: bytes = field(repr=False, default=b"")  # one flag per day of the year
    start: int = field(repr=False, default=0)  # January 1st's ordinal

    @property
    def official(self) -> bool:
        """Whether the State Council's arrangement is known (not provisional)."""
        return self.source != "holidays"

    def is_working_day(self, day: date) -> bool:
        return bool(self.working[day.toordinal() - self.start])


def _year_days(year: int, source: Source, reference: str, off: Iterable[date],
               on: Iterable[date], working: Any) -> YearDays:
    first = date(year, 1, 1)
    length = (date(year + 1, 1, 1) - first).days
    flags = bytes(working(first + timedelta(days=n)) for n in range(length))
    return YearDays(year, source, reference, tuple(sorted(off)), tuple(sorted(on)), flags,
                    first.toordinal())


class OfficialCalendar:
    """The working days of every year: the operator's plans first, then chinese-calendar,
    then the `holidays` package's fixed holidays (provisional). Each year is worked out once
    and kept, so walking a deadline day by day costs one look-up per day."""

    def __init__(self, plans: Mapping[int, YearPlan] | None = None) -> None:
        self.plans: dict[int, YearPlan] = dict(plans or {})
        self._years: dict[int, YearDays] = {}

    def source(self, year: int) -> Source:
        if year in self.plans:
            return "file"
        return "chinese-calendar" if package_knows(year) else "holidays"

    def is_official(self, year: int) -> bool:
        """Whether `year` has official data (the file or chinese-calendar)."""
        return year in self.plans or package_knows(year)

    def year(self, year: int) -> YearDays:
        """The year's days, worked out on first use."""
        found = self._years.get(year)
        if found is not None:
            return found
        source = self.source(year)
        if source == "file":
            plan = self.plans[year]
            days = _year_days(year, source, plan.notice, plan.holidays, plan.workdays,
                              lambda d: d in plan.workdays or (d.weekday() < 5
                                                               and d not in plan.holidays))
        elif source == "chinese-calendar":
            days = _year_days(year, source, f"chinese-calendar {_version('chinese_calendar')}",
                              (d for d in chinese_calendar.holidays if d.year == year),
                              (d for d in chinese_calendar.workdays if d.year == year),
                              chinese_calendar.is_workday)
        else:
            off = library_holidays(year)
            days = _year_days(year, source, f"holidays {_version('holidays')}: weekends and "
                              "China's fixed public holidays only", off, (),
                              lambda d: d.weekday() < 5 and d not in off)
        self._years[year] = days  # two threads may both work a year out: the same result
        return days

    def is_working_day(self, day: date) -> bool:
        found = self._years.get(day.year)
        return (found or self.year(day.year)).is_working_day(day)

    def uncovered_years(self, first: date, last: date) -> list[int]:
        """The years from `first` to `last` (inclusive) without official data."""
        return [y for y in range(first.year, last.year + 1) if not self.is_official(y)]
