"""Working-day arithmetic on the Chinese official calendar (holidays and 调休 make-up days)."""

from __future__ import annotations

import calendar
import logging
import re
import threading
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import chinese_calendar

TZ = ZoneInfo("Asia/Shanghai")
UNITS = ("wd", "d", "h", "mo", "y")

log = logging.getLogger("protect.calendar")

_SPEC = re.compile(r"^\s*(\d+)\s*(wd|d|h|mo|y)\s*$")
# Years already warned about; the warning fires once per year per process, not once per call,
# because a deadline computation walks many days of the same year.
_warned_years: set[int] = set()
_warned_lock = threading.Lock()


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


def _warn_uncovered(year: int) -> None:
    with _warned_lock:
        if year in _warned_years:
            return
        _warned_years.add(year)
    log.warning(
        "year %d is not covered by the official calendar data; "
        "using weekends only (no public holidays or make-up working days)",
        year,
    )


def is_working_day(day: date) -> bool:
    """Tell whether a date is an official working day in mainland China.

    Public holidays are not working days; make-up working days (调休) on weekends are.
    For years outside the chinese_calendar data, only Saturdays and Sundays are days off,
    and one warning per such year is logged on the "protect.calendar" logger.

    Args:
        day: A calendar date (a datetime is reduced to its own date, so convert to TZ first).

    Returns:
        True if people are expected to work on that day.
    """
    if isinstance(day, datetime):
        day = day.date()
    try:
        return chinese_calendar.is_workday(day)
    except NotImplementedError:
        _warn_uncovered(day.year)
        return day.weekday() < 5


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
