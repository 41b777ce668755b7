"""What every `protect` command shares: Prefect's environment, set before anything imports
Prefect; the --json option and the output; the JSON files read; the start-up checks; how an
error ends a command.

A command imports what it needs when it runs, not at start-up: every `protect` call is a
new process, and Great Expectations (about 4 s of CPU), Prefect (about 1.3 s) and pandas
would otherwise be paid by commands that never use them (docs/BENCHMARKS.md, "CLI speed").
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer

from app.config.settings import configure_prefect_env, get_settings

configure_prefect_env()  # before anything imports Prefect

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
    90 days have official calendar data.

    A long-running process always brings the case store to the newest migration and seeds
    the reference agencies. A short command only checks that it is there already (the
    schema's version and the agencies' codes, two small reads) and migrates and seeds only
    when it is not: running Alembic on every command cost about 0.2 s of CPU.
    """
    from app.config.calendar import current as calendar
    from app.config.hotline import current as hotline_rules
    from app.config.procedures import current
    from app.config.risk import current_rules

    current()  # the procedure settings: refuse to start on an invalid file
    current_rules()  # and the risk rules of the screening import
    hotline_rules()  # the hotline's triage rules: the same
    calendar()  # the operator's calendar file (holidays, make-up days): the same
    url = get_settings().database_url
    if starting or not _store_current(url):
        from app.adapters.store import db, seed_agencies
        from models.db import migrate

        migrate(url)
        with db() as session:
            seed_agencies(session=session)
    if starting:
        from app.config.calendar import warn_once

        warn_once(clock.now())  # logged once per process, never by a short command


_REVISION = re.compile(r"^(down_revision|revision)\s*=\s*(None|'[^']*'|\"[^\"]*\")\s*$",
                       re.M)


def _head_revision() -> str | None:
    """The newest migration's revision, read from the migration files' `revision` and
    `down_revision` lines; None when they do not make one line of revisions (let Alembic
    decide)."""
    from models.db import MIGRATIONS

    revisions, parents = set(), set()
    for path in (MIGRATIONS / "versions").glob("*.py"):
        found = dict((k, v.strip("'\"")) for k, v in _REVISION.findall(path.read_text("utf-8")))
        if "revision" not in found:
            return None
        revisions.add(found["revision"])
        parents.add(found.get("down_revision"))
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 else None


def _store_current(url: str) -> bool:
    """Whether the case store is at the newest migration and holds every reference agency."""
    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError

    from app.adapters.store import db
    from app.domain.agencies import reference_agencies

    head = _head_revision()
    if head is None:
        return False
    try:
        with db() as session:
            connection = session.connection()
            versions = connection.execute(text("SELECT version_num FROM alembic_version")).all()
            codes = set(connection.execute(text("SELECT code FROM agency")).scalars())
    except DBAPIError:  # no tables yet (a new store), or not reachable: migrate says which
        return False
    return [v for (v,) in versions] == [head] and {a.code for a in reference_agencies()} <= codes


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
