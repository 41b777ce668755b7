"""The `protect` command: run the local system, open cases, start procedures, work tasks.

Each group of commands has its module; this one assembles them into the root app `cli`, in
the order `protect --help` lists them."""

from __future__ import annotations

import sys

import typer

from app.entrypoints.cli.common import errors_reported  # first: it sets Prefect's environment

# isort: split
from app.entrypoints.cli import (
    agencies,
    calendar,
    cases,
    hotline,
    procedures,
    reports,
    screening,
    system,
    tasks,
    users,
)

cli = typer.Typer(help="Child protection procedures as workflows.", no_args_is_help=True,
                  add_completion=False, pretty_exceptions_enable=False)

for command in (system.up, system.api, system.serve, system.migrate, cases.start,
                hotline.intake, tasks.tasks, tasks.complete, system.sweep, cases.history,
                system.dispatch, reports.stats, reports.report):
    cli.command()(command)
cli.command("import")(screening.import_)

cli.add_typer(cases.case_cli, name="case")
cli.add_typer(screening.screening_cli, name="screening")
cli.add_typer(agencies.agency_cli, name="agency")
cli.add_typer(procedures.procedures_cli, name="procedures")
cli.add_typer(users.user_cli, name="user")
cli.add_typer(hotline.hotline_cli, name="hotline")
cli.add_typer(system.cluster_cli, name="cluster")
cli.add_typer(calendar.calendar_cli, name="calendar")


# The commands that keep running (a server, a serving or dispatching process): they check
# records with Great Expectations, imported once, like every long-running process.
LONG_RUNNING = frozenset({"up", "api", "serve", "cluster", "dispatch"})


def main() -> None:
    """The `protect` command. A short command checks records against the suites without
    importing Great Expectations (expectations/plain.py: the same suites and answers), whose
    import alone costs more than the whole command."""
    from expectations.runner import without_great_expectations

    with errors_reported():
        if LONG_RUNNING.intersection(sys.argv[1:2]):
            cli()
        else:
            with without_great_expectations():
                cli()
