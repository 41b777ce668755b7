"""Running the system: up, api, serve, migrate, sweep, dispatch and the cluster's topology."""

from __future__ import annotations

from typing import Annotated

import typer

from app.adapters.store import db
from app.config.settings import get_settings
from app.domain import clock
from app.domain.errors import ProtectError
from app.entrypoints.cli.common import JsonOpt, local_time, out, ready

cluster_cli = typer.Typer(help="The scaled-out topology (docs/operations.md).",
                          no_args_is_help=True)

RunnerOpt = Annotated[str, typer.Option(
    "--runner", help="'in-process' (fast, the default) or 'process' (Prefect's served runner).")]


def up(sweep_interval: int = typer.Option(60, help="Seconds between scheduled sweeps."),
       runner: RunnerOpt = "in-process") -> None:
    """Run the local system: Prefect server on SQLite, every deployment served, data seeded."""
    from app.runtime.local import local_ports, run_local
    from app.runtime.ports import ensure_free

    ensure_free(local_ports())  # a second `protect up` says so before touching anything
    ready(starting=True)
    _first_user_hint()
    run_local(sweep_interval_s=sweep_interval, runner=runner)


def _first_user_hint() -> None:
    from app.services.users import any_user

    with db() as session:
        if any_user(session=session):
            return
    typer.echo("No user yet. Create the first coordinator and a token for the API:\n"
               "  protect user add NAME --agency center --role coordinator\n"
               "  protect user token NAME\n")


def api() -> None:
    """Serve only the REST API (on PROTECT_API_PORT) against the configured case store."""
    import uvicorn

    ready(starting=True)
    _first_user_hint()
    s = get_settings()
    uvicorn.run("app.entrypoints.api:create_app", factory=True, host=s.api_host, port=s.api_port)


def serve(sweep_interval: int = typer.Option(60, help="Seconds between scheduled sweeps; 0: none."),
          runner: RunnerOpt = "in-process") -> None:
    """Serve every deployment against a Prefect server, waiting for it to answer if it is
    starting too."""
    from app.runtime.local import wait_for_prefect
    from deployments.serve import serve_all

    ready(starting=True)
    serve_all(sweep_interval_s=sweep_interval or None, runner=runner,
              when_ready=lambda: wait_for_prefect(get_settings().prefect_api_url, timeout_s=180))


def migrate() -> None:
    """Create or upgrade the case store's tables and seed the agencies."""
    ready()
    typer.echo(f"case store ready: {get_settings().database_url.split('@')[-1]}")


def sweep(now: Annotated[str | None, typer.Option(
        "--now", help="Sweep as of this ISO instant (default: the clock).")] = None,
          as_json: JsonOpt = False) -> None:
    """Fire due timers, escalate overdue tasks one rung, deliver pending messages."""
    from app.domain.workdays import is_provisional
    from app.runtime.sweep import sweep as run_sweep

    report = run_sweep(now=clock.parse_instant(now) if now else None)
    text = [f"as of {report.as_of}: {report.timers_fired} timer(s) fired, "
            f"{report.tasks_escalated} task(s) escalated, {report.delivered} message(s) delivered"
            + (f", {report.delivery_failures} failed" if report.delivery_failures else "")]
    text += [f"  task {e['task_id']} ({e['case_no']} {e['step']}) → {e['to']}, due "
             f"{local_time(clock.parse_instant(e['due_at']))[:16].replace('T', ' ')}"
             + (" (provisional)" if is_provisional(clock.parse_instant(report.as_of),
                                                   clock.parse_instant(e["due_at"])) else "")
             for e in report.escalations]
    if report.calendar_warning:
        text.append(f"  calendar: {report.calendar_warning}")
    out(report.to_dict(), as_json, "\n".join(text))


def dispatch(every: Annotated[float | None, typer.Option(
        help="Keep delivering, polling every this many seconds (the cluster's dispatcher).")
        ] = None) -> None:
    """Deliver pending outbox messages now (or continuously, with --every)."""
    from app.adapters.dispatch import dispatch as run_dispatch
    from app.runtime.dispatcher import run_forever

    if every is not None:
        if every <= 0:
            raise ProtectError("--every: a number of seconds greater than 0")
        run_forever(poll_s=every)
        return
    r = run_dispatch()
    typer.echo(f"{r.delivered} delivered, {r.failed} failed")


ClusterRunnerOpt = Annotated[str, typer.Option(
    "--runner", help="'in-process' (executors, the default) or 'process' (a work pool).")]


@cluster_cli.command("up")
def cluster_up(runner: ClusterRunnerOpt = "in-process", workers: Annotated[int, typer.Option(
        help="Executors (or process workers) to start.")] = 2) -> None:
    """Run the scaled-out topology on this machine (make cluster): docs/operations.md."""
    from app.runtime.cluster import run_cluster

    run_cluster(runner=runner, workers=workers)


@cluster_cli.command("deploy")
def cluster_deploy(runner: ClusterRunnerOpt = "in-process") -> None:
    """Apply every deployment, its schedules and the zombie check: once per release."""
    from app.runtime.cluster import deploy

    deploy(runner)


@cluster_cli.command("executor")
def cluster_executor() -> None:
    """Execute the applied deployments' runs in this process: one executor of the cluster."""
    from deployments.cluster_executor import serve_deployed

    serve_deployed()
