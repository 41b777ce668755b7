"""What every `protect` command shares: Prefect's environment, set before anything imports
Prefect; the --json option and the output; the JSON files read; the start-up checks; how an
error ends a command."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer

from app.config.settings import configure_prefect_env, get_settings

configure_prefect_env()  # before anything imports Prefect

from app.adapters.store import db  # noqa: E402
from app.domain import clock  # noqa: E402
from app.domain.errors import ProtectError  # noqa: E402

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


def out(data: Any, as_json: bool, text: str) -> None:
    typer.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str) if as_json else text)


def read_json(path: Path) -> Any:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ProtectError(f"no file {path}") from None
    except json.JSONDecodeError as exc:
        raise ProtectError(f"{path} is not valid JSON: line {exc.lineno}, column {exc.colno}")\
            from None


def ready(*, starting: bool = False) -> None:
    """Check the operator's files and the case store before a command works; `starting`: a
    long-running process starts (up, serve, api), which also says once whether the next
    90 days have official calendar data."""
    from app.adapters.store import seed_agencies
    from app.config.calendar import current as calendar
    from app.config.hotline import current as hotline_rules
    from app.config.procedures import current
    from app.config.risk import current_rules
    from models.db import migrate

    current()  # the procedure settings: refuse to start on an invalid file
    current_rules()  # and the risk rules of the screening import
    hotline_rules()  # the hotline's triage rules: the same
    calendar()  # the operator's calendar file (holidays, make-up days): the same
    migrate(get_settings().database_url)
    with db() as session:
        seed_agencies(session=session)
    if starting:
        from app.config.calendar import warn_once

        warn_once(clock.now())  # logged once per process, never by a short command


def local_time(moment: Any) -> str:
    """An instant as Beijing time with its offset: what the agencies read."""
    from app.domain.workdays import TZ

    return str(moment.astimezone(TZ).isoformat(timespec="seconds"))


@contextmanager
def errors_reported() -> Iterator[None]:
    """End the command on a known error with one line and an exit code, not a traceback: 1
    when the case store is unreachable, 2 for a ProtectError (as JSON on stdout with --json)."""
    from sqlalchemy.exc import OperationalError

    try:
        yield
    except OperationalError as exc:
        # The case store is down or restarting: say so, without a traceback. Nothing was
        # half-written (one transaction per command); the same command can simply be repeated.
        typer.echo(f"error: the case store is unreachable ({type(exc.orig).__name__}); "
                   "nothing was recorded, try again in a moment", err=True)
        sys.exit(1)
    except ProtectError as exc:
        if "--json" in sys.argv:
            typer.echo(json.dumps(exc.to_dict(), ensure_ascii=False, indent=2), err=False)
        else:
            typer.echo(f"error: {exc}", err=True)
            for f in getattr(exc, "errors", []):
                typer.echo(f"  {f.field}: {f.message}", err=True)
        sys.exit(2)
