"""Working-day arithmetic on the Chinese official calendar (holidays and 调休 make-up days).

Which day is a working day comes from the process's calendar (app/domain/calendar_data.py):
the operator's calendar file for the years it names, then the chinese-calendar package, then
weekends and the `holidays` package's fixed public holidays, provisionally.
"""

from __future__ import annotations

import calendar
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from app.domain.calendar_data import OfficialCalendar

TZ = ZoneInfo("Asia/Shanghai")
UNITS = ("wd", "d", "h", "mo", "y")

_SPEC = re.compile(r"^\s*(\d+)\s*(wd|d|h|mo|y)\s*$")


# Where the calendar comes from. The operator's file is configuration: app/config/calendar.py
# reads it from PROTECT_CALENDAR_FILE and installs itself here when imported (app/config does
# so for every process that reads its settings). Without it: the packages' data only.
_source: Callable[[], OfficialCalendar] = OfficialCalendar
_calendar: OfficialCalendar | None = None
_calendar_lock = threading.Lock()


def calendar_source(source: Callable[[], OfficialCalendar]) -> None:
    """Make `source` what the next `current_calendar()` asks for its calendar."""
    global _source, _calendar
    with _calendar_lock:
        _source, _calendar = source, None


def current_calendar() -> OfficialCalendar:
    """The calendar this process counts with, made on first use."""
    global _calendar
    found = _calendar
    if found is None:
        with _calendar_lock:
            if _calendar is None:
                _calendar = _source()
            found = _calendar
    return found


def use_calendar(calendar: OfficialCalendar | None) -> None:
    """Count with `calendar` from now on; None: make the configured one again on next use."""
    global _calendar
    with _calendar_lock:
        _calendar = calendar


@dataclass(frozen=True)
class Duration:
    """A deadline length such as 5 working days or 1 calendar month.

    Attributes:
        amount: Non-negative number of units.
        unit: One of "wd" (working days), "d" (calendar days), "h" (hours),
            "mo" (calendar months), "y" (calendar years).
    """

    amount: int
    unit: str

    def __post_init__(self) -> None:
        if self.unit not in UNITS:
            raise ValueError(f"unknown duration unit {self.unit!r}; expected one of {UNITS}")
        if self.amount < 0:
            raise ValueError(f"duration amount must be >= 0, got {self.amount}")


def _require_aware(value: datetime, name: str) -> None:
    # A naive datetime is ambiguous about which day it falls on, and the day is all that matters.
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got naive {value.isoformat()}")


def is_working_day(day: date) -> bool:
    """Tell whether a date is an official working day in mainland China.

    Public holidays are not working days; make-up working days (调休) on weekends are.
    For a year without official data (neither the operator's calendar file nor the
    chinese-calendar package has it), Saturdays, Sundays and the `holidays` package's fixed
    public holidays are days off: provisional, see `uncovered_years` and `is_provisional`.

    Args:
        day: A calendar date (a datetime is reduced to its own date, so convert to TZ first).

    Returns:
        True if people are expected to work on that day.
    """
    if isinstance(day, datetime):
        day = day.date()
    return current_calendar().is_working_day(day)


def uncovered_years(start: datetime, days: int = 90) -> list[int]:
    """The years without official data among the `days` days from start's local date.

    Args:
        start: Timezone-aware instant.
        days: How far ahead to look.

    Returns:
        The years, in order; empty when every day up to then has official data.
    """
    _require_aware(start, "start")
    first = start.astimezone(TZ).date()
    return current_calendar().uncovered_years(first, first + timedelta(days=days))


def is_provisional(start: datetime, end: datetime) -> bool:
    """Whether a day between start and end (local dates, both included) falls in a year
    without official data: a deadline counted over it may still move.

    Raises:
        ValueError: If either datetime is naive.
    """
    _require_aware(start, "start")
    _require_aware(end, "end")
    first, last = sorted((start.astimezone(TZ).date(), end.astimezone(TZ).date()))
    return bool(current_calendar().uncovered_years(first, last))


def add_working_days(start: datetime, days: int) -> datetime:
    """Move forward by a number of working days, keeping the local time of day.

    The walk starts from start's local date in Asia/Shanghai and counts only working days,
    so Friday 10:00 plus 1 working day is the next working day (usually Monday) at 10:00.

    Args:
        start: Timezone-aware instant.
        days: Number of working days to add; 0 returns start unchanged (as UTC).

    Returns:
        An aware datetime in UTC.

    Raises:
        ValueError: If start is naive or days is negative.
    """
    _require_aware(start, "start")
    if days < 0:
        raise ValueError(f"days must be >= 0, got {days}")
    local = start.astimezone(TZ)
    day = local.date()
    counted = 0
    while counted < days:
        day += timedelta(days=1)
        if is_working_day(day):
            counted += 1
    result = datetime.combine(day, local.timetz())
    return result.astimezone(UTC)


def working_days_between(start: datetime, end: datetime) -> int:
    """Count working days from start's local date (exclusive) to end's local date (inclusive).

    Args:
        start: Timezone-aware instant.
        end: Timezone-aware instant.

    Returns:
        The count; negative (the count from end to start, negated) when end is before start,
        0 when both fall on the same local date.

    Raises:
        ValueError: If either datetime is naive.
    """
    _require_aware(start, "start")
    _require_aware(end, "end")
    first = start.astimezone(TZ).date()
    last = end.astimezone(TZ).date()
    sign = 1
    if last < first:
        first, last, sign = last, first, -1
    count = 0
    day = first
    while day < last:
        day += timedelta(days=1)
        if is_working_day(day):
            count += 1
    return sign * count


def parse_duration(spec: str) -> Duration:
    """Parse a duration spec such as "5wd", "3d", "24h", "1mo" or "2y".

    Args:
        spec: A non-negative integer followed by a unit: wd, d, h, mo or y.

    Returns:
        The parsed Duration.

    Raises:
        ValueError: If the spec is not in that form; the message names the spec.
    """
    match = _SPEC.match(spec) if isinstance(spec, str) else None
    if match is None:
        raise ValueError(
            f"invalid duration spec {spec!r}: expected an integer followed by one of "
            f"{', '.join(UNITS)} (e.g. '5wd', '3d', '24h', '1mo', '1y')"
        )
    return Duration(amount=int(match.group(1)), unit=match.group(2))


def _add_months(local: datetime, months: int) -> datetime:
    # Clamp to the month's last day: Jan 31 + 1 mo is Feb 28/29, never an overflow into March.
    index = local.year * 12 + (local.month - 1) + months
    year, month = divmod(index, 12)
    month += 1
    day = min(local.day, calendar.monthrange(year, month)[1])
    return local.replace(year=year, month=month, day=day)


def due_after(start: datetime, spec: str) -> datetime:
    """Compute the instant a duration after start.

    Calendar units (d, mo, y) move the local Asia/Shanghai date and keep the local time;
    "h" adds elapsed hours; "wd" uses add_working_days.

    Args:
        start: Timezone-aware instant.
        spec: Duration spec, see parse_duration.

    Returns:
        An aware datetime in UTC.

    Raises:
        ValueError: If start is naive or spec is invalid.
    """
    _require_aware(start, "start")
    duration = parse_duration(spec)
    local = start.astimezone(TZ)
    if duration.unit == "wd":
        return add_working_days(start, duration.amount)
    if duration.unit == "h":
        result = local + timedelta(hours=duration.amount)
    elif duration.unit == "d":
        result = local + timedelta(days=duration.amount)
    elif duration.unit == "mo":
        result = _add_months(local, duration.amount)
    else:  # "y": twelve months, which gives Feb 29 + 1 y = Feb 28 for free
        result = _add_months(local, 12 * duration.amount)
    return result.astimezone(UTC)
