"""`protect calendar …`: the working-day calendar, the operator's file and a year's days."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from app.config.settings import get_settings
from app.domain.errors import ProtectError
from app.entrypoints.cli.common import JsonOpt, out

calendar_cli = typer.Typer(help="The working-day calendar: the operator's file, a year's days.",
                           no_args_is_help=True)


def _day_runs(days: Any) -> list[str]:
    """Dates as runs: 2027-02-05..2027-02-11 for consecutive days, else each date."""
    from datetime import timedelta

    runs: list[list[Any]] = []
    for day in sorted(days):
        if runs and day - runs[-1][1] == timedelta(days=1):
            runs[-1][1] = day
        else:
            runs.append([day, day])
    return [a.isoformat() if a == b else f"{a.isoformat()}..{b.isoformat()}" for a, b in runs]


@calendar_cli.command("check")
def calendar_check(file: Annotated[Path | None, typer.Argument(
        help="A calendar file; default: the one in effect (PROTECT_CALENDAR_FILE).")] = None,
                   as_json: JsonOpt = False) -> None:
    """Check a calendar file; exit 2 with every problem and its line when it is invalid."""
    from app.config.calendar import load
    from app.domain.calendar_data import package_knows

    path = file or get_settings().calendar_file
    if path is None:
        raise ProtectError("no calendar file: name one, or set PROTECT_CALENDAR_FILE")
    plans = load(path).plans
    years = [{"year": y, "notice": p.notice, "holidays": len(p.holidays),
              "workdays": len(p.workdays), "replaces_chinese_calendar": package_knows(y)}
             for y, p in plans.items()]
    lines = [f"{path}: valid, " + (f"{len(years)} year(s)" if years else "no year entered")]
    lines += [f"  {y['year']}  {y['notice']}: {y['holidays']} day(s) off, {y['workdays']} "
              "make-up working day(s)"
              + ("; replaces chinese-calendar's data" if y["replaces_chinese_calendar"] else "")
              for y in years]
    out({"file": str(path), "valid": True, "years": years}, as_json, "\n".join(lines))


@calendar_cli.command("show")
def calendar_show(year: int,
                  file: Annotated[Path | None, typer.Option(
                      "--file", help="Read this calendar file instead of the one in effect.")]
                  = None,
                  as_json: JsonOpt = False) -> None:
    """A year's holidays and make-up working days, and where they come from."""
    from app.config.calendar import current, load

    if not 1900 <= year <= 9998:
        raise ProtectError(f"{year} is not a year this calendar can show (1900-9998)")
    path = file or get_settings().calendar_file
    days = (load(file) if file else current()).year(year)
    data = {"year": year, "source": days.source, "official": days.official,
            "reference": days.reference, "file": str(path) if days.source == "file" else None,
            "holidays": [d.isoformat() for d in days.holidays],
            "workdays": [d.isoformat() for d in days.workdays]}
    source = {"file": f"the calendar file {path}, notice {days.reference}",
              "chinese-calendar": days.reference,
              "holidays": f"PROVISIONAL, no official data: {days.reference}"}[days.source]
    lines = [f"{year}: {source}",
             f"  holidays:  {', '.join(_day_runs(days.holidays)) or '-'}",
             f"  make-up working days:  "
             f"{', '.join(f'{d:%Y-%m-%d} ({d:%a})' for d in days.workdays) or '-'}"]
    out(data, as_json, "\n".join(lines))
