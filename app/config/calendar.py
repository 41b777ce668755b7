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
from functools import lru_cache
from pathlib import Path
from typing import Any

from app.domain import workdays
from app.domain.calendar_data import CalendarFileError, OfficialCalendar, Problem, parse_calendar
from app.domain.errors import ProtectError

log = logging.getLogger("protect.calendar")
# How far ahead official data must reach before a person is told (start-up, sweep, dashboard).
AHEAD_DAYS = 90


class CalendarSettingsError(ProtectError):
    """The calendar file cannot be used: each problem names its line."""

    code = "invalid_calendar"

    def __init__(self, path: Path | str, problems: list[Problem]) -> None:
        self.path, self.problems = str(path), problems
        lines = "\n".join(f"  {p}" for p in problems)
        super().__init__(f"calendar file {path} is invalid ({len(problems)} problem(s)):\n"
                         f"{lines}")

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "file": self.path,
                "problems": [{"line": p.line, "key": p.key, "problem": p.message}
                             for p in self.problems]}


def load(path: Path | None) -> OfficialCalendar:
    """Read and check the calendar file at `path` (None: the packages' data only).

    Raises:
        CalendarSettingsError: the file is missing, not TOML, or a year in it is invalid.
    """
    if path is None:
        return OfficialCalendar()
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (FileNotFoundError, IsADirectoryError):
        raise CalendarSettingsError(path, [Problem(0, "(file)", "no such file")]) from None
    except UnicodeDecodeError as exc:
        raise CalendarSettingsError(path, [Problem(0, "(file)", f"not UTF-8 text: {exc}")]) \
            from None
    try:
        return OfficialCalendar(parse_calendar(text))
    except CalendarFileError as exc:
        raise CalendarSettingsError(path, exc.problems) from None


@lru_cache
def _load_once(path: Path | None) -> OfficialCalendar:
    return load(path)


def current() -> OfficialCalendar:
    """The calendar of this process: read once, at the first use (start-up checks it)."""
    from app.config.settings import get_settings

    return _load_once(get_settings().calendar_file)


workdays.calendar_source(current)  # the operator's file, once this module is imported


def reset() -> None:
    """Forget the file read so far (tests; a process reads it once)."""
    global _warned
    _load_once.cache_clear()
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
