"""The operator's calendar file: the State Council's holiday arrangements, year by year.

`calendar.toml` at the project root ships the format and no year; `PROTECT_CALENDAR_FILE`
names another file. For every year it names, its holidays and make-up working days replace the
chinese-calendar package's; a year neither knows counts weekends and the fixed public holidays
of the `holidays` package, and deadlines over it are provisional. Read and checked once per
process, at start-up, like procedures.toml: an invalid file stops the system with its line.
See docs/engine.md, "Working days and the calendar file".
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime
from pathlib import Path

from app.config.rules_file import Invalid, RulesFile
from app.domain import workdays
from app.domain.calendar_data import CalendarFileError, OfficialCalendar, parse_calendar

log = logging.getLogger("protect.calendar")
# How far ahead official data must reach before a person is told (start-up, sweep, dashboard).
AHEAD_DAYS = 90


def _parse(text: str, _path: Path) -> OfficialCalendar:
    """The calendar file's text, checked (app/domain/calendar_data.py): each problem has its
    line."""
    try:
        return OfficialCalendar(parse_calendar(text))
    except CalendarFileError as exc:
        raise Invalid(exc.problems) from None


FILE = RulesFile("calendar file {path} is invalid", code="invalid_calendar",
                 setting="calendar_file", parse=_parse, default=OfficialCalendar, by_line=True)
check, load, current = FILE.check, FILE.load, FILE.current
workdays.calendar_source(current)  # the operator's file, once this module is imported


def reset() -> None:
    """Forget the file read so far, the calendar in use and the warning given (tests; a process
    reads it once)."""
    global _warned
    FILE.reset()
    workdays.use_calendar(None)
    _warned = False


def coverage_warning(now: datetime, days: int = AHEAD_DAYS) -> str | None:
    """What to tell a person when the next `days` days are not all covered by official data
    (the calendar file or chinese-calendar), else None."""
    years = workdays.uncovered_years(now, days)
    if not years:
        return None
    from app.config.settings import get_settings

    where = get_settings().calendar_file or "a calendar file (PROTECT_CALENDAR_FILE)"
    return (f"no official working-day calendar for {', '.join(map(str, years))} within the "
            f"next {days} days: deadlines there count weekends and the fixed public holidays "
            f"only and are provisional; enter the State Council's notice in {where} "
            "(docs/engine.md, \"Working days and the calendar file\")")


_warned = False
_warned_lock = threading.Lock()


def warn_once(now: datetime) -> str | None:
    """Log the coverage warning on "protect.calendar", once per process (start-up)."""
    global _warned
    message = coverage_warning(now)
    if message is None:
        return None
    with _warned_lock:
        if _warned:
            return message
        _warned = True
    log.warning("%s", message)
    return message
