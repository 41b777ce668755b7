"""Working-day rules around the 2026 Spring Festival and National Day, and beyond the data."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, date, datetime

import pytest

from app.domain import workdays
from app.domain.calendar_data import OfficialCalendar
from app.domain.workdays import (
    TZ,
    Duration,
    add_working_days,
    due_after,
    is_provisional,
    is_working_day,
    parse_duration,
    uncovered_years,
    working_days_between,
)


def local(y: int, m: int, d: int, hh: int = 10, mm: int = 0) -> datetime:
    """An aware datetime on the Asia/Shanghai wall clock."""
    return datetime(y, m, d, hh, mm, tzinfo=TZ)


@pytest.fixture
def packages_only() -> Iterator[None]:
    # The packages' data without any operator file, whatever the configured one holds.
    workdays.use_calendar(OfficialCalendar())
    yield
    workdays.use_calendar(None)


# --- the calendar data itself (2026 Spring Festival: off Feb 15-23, make-up Sat 14 and Sat 28)


def test_2026_spring_festival_holiday_runs_from_february_15_to_23() -> None:
    for day in range(15, 24):
        assert not is_working_day(date(2026, 2, day)), day
    assert is_working_day(date(2026, 2, 13))
    assert is_working_day(date(2026, 2, 24))


def test_saturdays_february_14_and_28_2026_are_make_up_working_days() -> None:
    assert date(2026, 2, 14).weekday() == 5 and date(2026, 2, 28).weekday() == 5
    assert is_working_day(date(2026, 2, 14))
    assert is_working_day(date(2026, 2, 28))
    assert not is_working_day(date(2026, 3, 1))  # the Sunday after stays a day off


def test_2026_national_day_holiday_runs_from_october_1_to_7_with_two_make_up_days() -> None:
    for day in range(1, 8):
        assert not is_working_day(date(2026, 10, day)), day
    assert is_working_day(date(2026, 9, 20))  # Sunday, make-up day
    assert is_working_day(date(2026, 10, 10))  # Saturday, make-up day
    assert not is_working_day(date(2026, 10, 11))


def test_2026_mid_autumn_festival_takes_friday_september_25_to_sunday_27() -> None:
    for day in (25, 26, 27):
        assert not is_working_day(date(2026, 9, day)), day
    assert is_working_day(date(2026, 9, 28))


# --- add_working_days


def test_one_working_day_from_friday_february_13_2026_is_the_make_up_saturday() -> None:
    assert add_working_days(local(2026, 2, 13), 1) == local(2026, 2, 14)


def test_two_working_days_from_february_13_2026_skip_the_whole_festival() -> None:
    assert add_working_days(local(2026, 2, 13), 2) == local(2026, 2, 24)


def test_five_working_days_from_february_24_2026_count_the_make_up_saturday() -> None:
    # Tue 24, Wed 25, Thu 26, Fri 27 and the make-up Sat 28 make five.
    assert add_working_days(local(2026, 2, 23, 9), 5) == local(2026, 2, 28, 9)


def test_one_working_day_from_wednesday_september_30_2026_is_thursday_october_8() -> None:
    assert add_working_days(local(2026, 9, 30, 16, 30), 1) == local(2026, 10, 8, 16, 30)


def test_three_working_days_from_october_8_2026_use_the_make_up_saturday_october_10() -> None:
    # Fri 9, make-up Sat 10, then Mon 12 (Sun 11 is off).
    assert add_working_days(local(2026, 10, 8), 2) == local(2026, 10, 10)
    assert add_working_days(local(2026, 10, 8), 3) == local(2026, 10, 12)


def test_one_working_day_from_saturday_september_19_2026_is_the_make_up_sunday() -> None:
    assert add_working_days(local(2026, 9, 19), 1) == local(2026, 9, 20)


def test_an_ordinary_friday_plus_one_working_day_is_the_next_monday_same_time() -> None:
    assert add_working_days(local(2026, 3, 6, 10), 1) == local(2026, 3, 9, 10)


def test_zero_working_days_returns_the_same_instant() -> None:
    start = local(2026, 2, 15, 8)
    assert add_working_days(start, 0) == start


def test_results_are_in_utc() -> None:
    result = add_working_days(local(2026, 3, 6, 10), 1)
    assert result.tzinfo == UTC
    assert result == datetime(2026, 3, 9, 2, 0, tzinfo=UTC)


def test_the_day_is_taken_in_shanghai_not_in_the_callers_timezone() -> None:
    # 2026-02-13 20:00 UTC is already Saturday 14 at 04:00 in Shanghai, a make-up day;
    # one working day later is Tuesday 24 at 04:00 local.
    start = datetime(2026, 2, 13, 20, 0, tzinfo=UTC)
    assert add_working_days(start, 1) == local(2026, 2, 24, 4)


def test_negative_working_days_are_refused() -> None:
    with pytest.raises(ValueError, match="days"):
        add_working_days(local(2026, 3, 6), -1)


# --- beyond the official data: weekends and the holidays package's fixed holidays


def test_2030_counts_weekends_and_the_fixed_public_holidays_without_logging_each_call(
    packages_only: None, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="protect.calendar")
    # Tuesday 2030-01-01 is New Year's Day, though no notice for 2030 exists.
    assert not is_working_day(date(2030, 1, 1))
    assert is_working_day(date(2030, 1, 2))
    # Monday 2030-09-30 + 1 working day: National Day takes Tue 1 to Thu 3, so Friday 4.
    assert add_working_days(local(2030, 9, 30), 1) == local(2030, 10, 4)
    assert not is_working_day(date(2030, 10, 5))  # Saturday: no make-up day is known
    assert working_days_between(local(2030, 1, 1), local(2030, 12, 31)) > 240
    # Whether a person is told is start-up's, the sweep's and the dashboard's business.
    assert [r for r in caplog.records if r.name == "protect.calendar"] == []


def test_the_next_90_days_are_covered_until_they_reach_a_year_without_official_data(
    packages_only: None,
) -> None:
    assert uncovered_years(local(2026, 9, 1)) == []  # up to 30 November 2026
    assert uncovered_years(local(2026, 10, 10)) == [2027]  # up to 8 January 2027
    assert uncovered_years(local(2026, 10, 10), days=30) == []
    assert uncovered_years(local(2029, 12, 1)) == [2029, 2030]


def test_a_deadline_is_provisional_when_a_day_up_to_it_has_no_official_data(
    packages_only: None,
) -> None:
    assert not is_provisional(local(2026, 12, 1), local(2026, 12, 31, 23, 59))
    assert is_provisional(local(2026, 12, 1), local(2027, 1, 4))
    assert is_provisional(local(2027, 1, 4), local(2026, 12, 1))  # either order
    # 2027-01-01 00:30 in Beijing is still 2026 in UTC: the local date decides.
    assert is_provisional(local(2026, 12, 1), datetime(2026, 12, 31, 16, 30, tzinfo=UTC))


# --- working_days_between


def test_working_days_between_excludes_the_start_date_and_includes_the_end_date() -> None:
    assert working_days_between(local(2026, 2, 13), local(2026, 2, 24)) == 2
    assert working_days_between(local(2026, 2, 13), local(2026, 2, 14)) == 1
    assert working_days_between(local(2026, 2, 14), local(2026, 2, 23)) == 0


def test_working_days_between_is_zero_on_the_same_local_date() -> None:
    assert working_days_between(local(2026, 3, 2, 1), local(2026, 3, 2, 23)) == 0


def test_working_days_between_is_negative_when_end_is_before_start() -> None:
    assert working_days_between(local(2026, 2, 24), local(2026, 2, 13)) == -2


def test_working_days_between_agrees_with_add_working_days() -> None:
    start = local(2026, 9, 18)
    for n in range(0, 15):
        assert working_days_between(start, add_working_days(start, n)) == n


def test_working_days_between_around_national_day_2026() -> None:
    # Sep 30 -> Oct 12: Oct 8, 9, 10 (make-up) and 12.
    assert working_days_between(local(2026, 9, 30), local(2026, 10, 12)) == 4


# --- parse_duration and due_after


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("5wd", Duration(5, "wd")),
        ("3d", Duration(3, "d")),
        ("24h", Duration(24, "h")),
        ("1mo", Duration(1, "mo")),
        ("2y", Duration(2, "y")),
        (" 10 wd ", Duration(10, "wd")),
    ],
)
def test_parse_duration_reads_every_supported_unit(spec: str, expected: Duration) -> None:
    assert parse_duration(spec) == expected


@pytest.mark.parametrize("spec", ["", "5", "wd", "90min", "5w", "-3d", "1.5h", "3 days", "5WD x"])
def test_parse_duration_rejects_a_bad_spec_and_names_it(spec: str) -> None:
    with pytest.raises(ValueError) as info:
        parse_duration(spec)
    assert repr(spec) in str(info.value)


def test_duration_is_frozen() -> None:
    duration = Duration(1, "d")
    with pytest.raises(AttributeError):
        duration.amount = 2  # type: ignore[misc]


def test_due_after_in_working_days_uses_the_official_calendar() -> None:
    assert due_after(local(2026, 2, 13), "2wd") == local(2026, 2, 24)


def test_due_after_in_calendar_days_ignores_holidays() -> None:
    assert due_after(local(2026, 2, 13), "3d") == local(2026, 2, 16)


def test_due_after_in_hours_counts_elapsed_time() -> None:
    assert due_after(local(2026, 2, 13, 22), "24h") == local(2026, 2, 14, 22)
    assert due_after(local(2026, 2, 13, 22), "5h") == local(2026, 2, 14, 3)


def test_one_month_after_january_31_is_the_last_day_of_february() -> None:
    assert due_after(local(2026, 1, 31), "1mo") == local(2026, 2, 28)
    assert due_after(local(2028, 1, 31), "1mo") == local(2028, 2, 29)


def test_months_roll_over_the_year_end() -> None:
    assert due_after(local(2026, 11, 30), "3mo") == local(2027, 2, 28)


def test_one_year_after_february_29_is_february_28() -> None:
    assert due_after(local(2028, 2, 29), "1y") == local(2029, 2, 28)
    assert due_after(local(2028, 2, 29), "4y") == local(2032, 2, 29)


def test_due_after_returns_utc() -> None:
    assert due_after(local(2026, 1, 31), "1mo").tzinfo == UTC


# --- naive datetimes


def test_naive_datetimes_are_refused_everywhere() -> None:
    naive = datetime(2026, 2, 13, 10)
    aware = local(2026, 2, 13)
    with pytest.raises(ValueError, match="naive"):
        add_working_days(naive, 1)
    with pytest.raises(ValueError, match="naive"):
        working_days_between(naive, aware)
    with pytest.raises(ValueError, match="naive"):
        working_days_between(aware, naive)
    with pytest.raises(ValueError, match="naive"):
        due_after(naive, "1d")
