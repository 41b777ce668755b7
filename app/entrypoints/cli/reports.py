"""Indicators (S3): the figures now, and the monthly report."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from app.adapters.store import db
from app.domain import clock
from app.domain.errors import ProtectError
from app.entrypoints.cli.common import JsonOpt, out, ready


def _date_opt(name: str, value: str | None) -> Any:
    from datetime import date

    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ProtectError(f"{name}: {value!r} is not a date (YYYY-MM-DD)") from None


def _district_opt(value: str | None) -> str | None:
    from models import Agency

    if value is None:
        return None
    with db() as session:
        if session.get(Agency, f"district:{value}") is None:
            from app.domain.agencies import DISTRICTS

            raise ProtectError(f"--district: no district {value!r}; known: "
                               f"{', '.join(DISTRICTS)}")
    return value


def stats(since: Annotated[str | None, typer.Option(
              "--since", help="First day counted (YYYY-MM-DD, Beijing time); default: all.")]
          = None,
          until: Annotated[str | None, typer.Option(
              "--until", help="Last day counted (YYYY-MM-DD, included); default: today.")]
          = None,
          district: Annotated[str | None, typer.Option(
              "--district", help="One district's cases only (e.g. xixia).")] = None,
          as_json: JsonOpt = False) -> None:
    """The S3 indicators: cases, procedures, steps by agency, time to close."""
    from app.services.indicators import Scope
    from app.services.report import figures, text

    ready()
    try:
        scope = Scope.make(now=clock.now(), since=_date_opt("--since", since),
                           until=_date_opt("--until", until), district=_district_opt(district))
    except ValueError as exc:
        raise ProtectError(f"--since/--until: {exc}") from None
    ind = figures(scope)
    out(ind.model_dump(mode="json"), as_json, text(ind))


def report(month: Annotated[str | None, typer.Option(
               "--month", help="The month (YYYY-MM); default: the previous month.")] = None,
           district: Annotated[str | None, typer.Option(
               "--district", help="One district's report only.")] = None,
           as_json: JsonOpt = False) -> None:
    """Write the monthly report (HTML and CSV) under the reports folder, as the flow does."""
    from app.services.indicators import parse_month, previous_month
    from app.services.report import write_report

    ready()
    now = clock.now()
    try:
        month = month or previous_month(now)
        parse_month(month)
    except ValueError as exc:
        raise ProtectError(f"--month: {exc}") from None
    files = write_report(month=month, now=now, district=_district_opt(district))
    data = {"month": month, "html": str(files.html), "csv": str(files.csv),
            "figures": files.figures.model_dump(mode="json")}
    out(data, as_json, f"report for {month}: {files.html}, {files.csv}")
