"""The `protect` command: run the local system, open cases, start procedures, work tasks."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from app.config.settings import configure_prefect_env, get_settings

configure_prefect_env()  # before anything imports Prefect

from app.adapters.store import db  # noqa: E402
from app.domain import clock  # noqa: E402
from app.domain.errors import NotFound, ProtectError  # noqa: E402
from app.services import cases  # noqa: E402

cli = typer.Typer(help="Child protection procedures as workflows.", no_args_is_help=True,
                  add_completion=False, pretty_exceptions_enable=False)
case_cli = typer.Typer(help="Open and look after cases.", no_args_is_help=True)
agency_cli = typer.Typer(help="Agencies, their webhooks and group robots.",
                         no_args_is_help=True)
user_cli = typer.Typer(help="Users of the API and their tokens.", no_args_is_help=True)
procedures_cli = typer.Typer(
    help="The procedures: list them (no command), show one, draw the docs, check the settings.")
screening_cli = typer.Typer(
    help="Screening lists (S2): duplicates to resolve, risk proposals to confirm.",
    no_args_is_help=True)
cli.add_typer(case_cli, name="case")
cli.add_typer(screening_cli, name="screening")
cli.add_typer(agency_cli, name="agency")
cli.add_typer(procedures_cli, name="procedures")
cli.add_typer(user_cli, name="user")
hotline_cli = typer.Typer(help="The hotline's triage rules.", no_args_is_help=True)
cli.add_typer(hotline_cli, name="hotline")
cluster_cli = typer.Typer(help="The scaled-out topology (docs/operations.md).",
                          no_args_is_help=True)
cli.add_typer(cluster_cli, name="cluster")
calendar_cli = typer.Typer(help="The working-day calendar: the operator's file, a year's days.",
                           no_args_is_help=True)
cli.add_typer(calendar_cli, name="calendar")

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


def _out(data: Any, as_json: bool, text: str) -> None:
    typer.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str) if as_json else text)


def _read_json(path: Path) -> Any:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ProtectError(f"no file {path}") from None
    except json.JSONDecodeError as exc:
        raise ProtectError(f"{path} is not valid JSON: line {exc.lineno}, column {exc.colno}")\
            from None


def _ready(*, starting: bool = False) -> None:
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


def _local(moment: Any) -> str:
    """An instant as Beijing time with its offset: what the agencies read."""
    from app.domain.workdays import TZ

    return str(moment.astimezone(TZ).isoformat(timespec="seconds"))


def _task_row(t: Any, case_no: str, now: Any) -> dict[str, Any]:
    """A task for the tables: its codes, and the names a person reads (app/config/vocabulary.py)."""
    from app.config.vocabulary import owner_name, task_name
    from app.domain.workdays import is_provisional, working_days_between

    return {"id": t.id, "case": case_no, "step": t.step, "title": t.title, "owner": t.owner,
            "owner_role": t.owner_role, "rung": t.rung, "status": t.status,
            "step_name": task_name(t.step, t.title),
            "owner_name": owner_name(t.owner, t.owner_role),
            "due_at": _local(t.due_at), "working_days_left": working_days_between(now, t.due_at),
            "due_provisional": is_provisional(now, t.due_at),
            "overdue": t.status == "open" and t.due_at <= now}


def _cell(text: str, width: int) -> str:
    """`text` padded to `width` terminal columns (a Chinese character takes two)."""
    import unicodedata

    used = sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)
    return text + " " * max(0, width - used)


# --- the local system ----------------------------------------------------------------------


@cli.command()
def up(sweep_interval: int = typer.Option(60, help="Seconds between scheduled sweeps."),
       runner: RunnerOpt = "in-process") -> None:
    """Run the local system: Prefect server on SQLite, every deployment served, data seeded."""
    from app.runtime.local import run_local

    _ready(starting=True)
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


@cli.command()
def api() -> None:
    """Serve only the REST API (on PROTECT_API_PORT) against the configured case store."""
    import uvicorn

    _ready(starting=True)
    _first_user_hint()
    s = get_settings()
    uvicorn.run("app.entrypoints.api:create_app", factory=True, host=s.api_host, port=s.api_port)


RunnerOpt = Annotated[str, typer.Option(
    "--runner", help="'in-process' (fast, the default) or 'process' (Prefect's served runner).")]


@cli.command()
def serve(sweep_interval: int = typer.Option(60, help="Seconds between scheduled sweeps; 0: none."),
          runner: RunnerOpt = "in-process") -> None:
    """Serve every deployment against an already running Prefect server."""
    from deployments.serve import serve_all

    _ready(starting=True)
    serve_all(sweep_interval_s=sweep_interval or None, runner=runner)


@cli.command()
def migrate() -> None:
    """Create or upgrade the case store's tables and seed the agencies."""
    _ready()
    typer.echo(f"case store ready: {get_settings().database_url.split('@')[-1]}")


# --- cases ---------------------------------------------------------------------------------


@case_cli.command("open")
def case_open(file: Annotated[Path, typer.Option("--file", "-f", help="Intake form (JSON).")],
              as_json: JsonOpt = False) -> None:
    """Open a case for a child from an intake form."""
    _ready()
    with db() as session:
        case = cases.open_case(session=session, data=_read_json(file), actor="coordinator",
                               now=clock.now())
        data = {"case": case.case_no, "id": case.id, "district": case.district}
    _out(data, as_json, f"opened case {data['case']}")


@case_cli.command("family-found")
def case_family_found(case: str, as_json: JsonOpt = False) -> None:
    """Record that the child's family is found: waiting clocks (J2) stop."""
    cancelled = cases.family_found_and_resume(case_ref=case, actor="coordinator").timers_cancelled
    _out({"case": case, "timers_cancelled": cancelled}, as_json,
         f"family found for {case}; {len(cancelled)} timer(s) cancelled")


@case_cli.command("sealed-record")
def case_sealed_record(
    record_id: int,
    agency: Annotated[str, typer.Option("--agency", help="The reader's agency: court, "
                                                         "procuratorate or psb.")],
    role: Annotated[str, typer.Option("--role", help="The reader's role: court, procuratorate "
                                                     "or police.")],
    actor: Annotated[str, typer.Option("--actor", help="Who reads (for the audit trail).")],
    as_json: JsonOpt = False,
) -> None:
    """Read a sealed criminal record (J3): judicial roles only; every read is audited."""
    with db() as session:
        record = cases.read_sealed_record(session=session, record_id=record_id, agency=agency,
                                          role=role, actor=actor, now=clock.now())
        data = {"id": record.id, "case_id": record.case_id, "record_no": record.record_no,
                "authority": record.authority, "sealed_on": record.sealed_on.isoformat(),
                "content": record.content}
    _out(data, as_json, json.dumps(data, ensure_ascii=False, indent=2))


@cli.command()
def start(code: str, case: Annotated[str, typer.Option("--case", help="Case number or id.")],
          param: Annotated[list[str] | None, typer.Option(
              "--param", help="KEY=VALUE for the procedure (codes and dates only; "
                              "`protect procedures show CODE` lists what it takes).")] = None,
          again: Annotated[bool, typer.Option(
              "--again", help="Start it although it already runs on the case (needs --reason)."
          )] = False,
          reason: Annotated[str | None, typer.Option(
              "--reason", help="Why a second run is wanted: kept in the audit trail.")] = None,
          as_json: JsonOpt = False) -> None:
    """Start a procedure (R2, R3, M1, J2…; "r2" is R2) for a case."""
    from app.config.procedures import procedure
    from app.domain.errors import ValidationFailed
    from app.services.procedures import start_and_dispatch
    from expectations.runner import FieldError

    procedure(code)  # an unknown code: one line naming the known ones, exit 2
    params: dict[str, str] = {}
    for p in param or []:
        key, sep, value = p.partition("=")
        if not sep or not key or key in params:
            raise ValidationFailed([FieldError(
                field="params", code="params.format",
                message="each --param is KEY=VALUE, each key once",
                message_zh="每个 --param 须为 KEY=VALUE，每个键只能出现一次")])
        params[key] = value
    started = start_and_dispatch(case_ref=case, code=code, actor="coordinator", params=params,
                                 again=again, reason=reason)
    run, case_no = started.run, started.case_no
    data = {"procedure_run": run.id, "code": run.code, "case": case_no,
            "flow_run_id": run.flow_run_id, "queued": started.queued}
    msg = (f"started {run.code} for {case_no} (procedure run {run.id}, flow run "
           f"{run.flow_run_id})" if run.flow_run_id else
           f"queued {run.code} for {case_no}: Prefect is not reachable; the sweep will "
           "start it")
    _out(data, as_json, msg)


# --- hotline reports (S1) ------------------------------------------------------------------


@cli.command()
def intake(file: Annotated[Path, typer.Option("--file", "-f", help="The hotline report (JSON).")],
           as_json: JsonOpt = False) -> None:
    """Take in a hotline report: check, triage, route to the agencies, start procedures."""
    from app.services.hotline import receive_report
    from app.services.procedures import commit_and_start

    _ready()
    data = _read_json(file)
    starts = commit_and_start(
        lambda session, now: receive_report(session=session, data=data, actor="hotline",
                                            now=now),
        lambda receipt: receipt.run_ids if receipt.created else [])
    queued = starts.queued
    r = {**starts.result.to_dict(), "queued": queued}
    lines = [f"report {r['source']}:{r['reference']} "
             + ("received" if r["created"] else "was received before: nothing new")
             + f"; case {r['case']}" + (" (opened)" if r["case_opened"] else ""),
             f"  categories: {', '.join(r['categories'])}",
             "  routed to:  " + ", ".join(f"{x['agency']} (run {x['procedure_run']})"
                                         for x in r["routed"])]
    if r["started"]:
        lines.append("  started:    " + ", ".join(
            f"{x['code']} (run {x['procedure_run']}"
            + ("" if x["new"] else ", already running") + ")" for x in r["started"]))
    if queued:
        lines.append("  (Prefect is not reachable: the starts are queued; the sweep delivers them)")
    _out(r, as_json, "\n".join(lines))


@hotline_cli.command("check")
def hotline_check(file: Annotated[Path | None, typer.Argument(
        help="A rules file; default: the one in effect (PROTECT_HOTLINE_FILE).")] = None,
                  as_json: JsonOpt = False) -> None:
    """Check a hotline rules file; exit 2 with every problem when it is invalid."""
    from app.config.hotline import load

    path = file or get_settings().hotline_file
    rules = load(path)
    data = {"file": str(path), "valid": True, "categories": list(rules.categories),
            "fallback": rules.fallback}
    _out(data, as_json, f"{path}: valid ({len(rules.categories)} categories)")


@hotline_cli.command("rules")
def hotline_rules_show(as_json: JsonOpt = False) -> None:
    """The triage rules in effect: each category's concerns, agencies and procedures."""
    from dataclasses import asdict

    from app.config.hotline import current

    rules = current()
    rows = [asdict(c) for c in rules.categories.values()]
    lines = [f"{r['name']:<16} {' '.join(r['concerns']) or '-':<40} → "
             f"{', '.join(r['route_to'])}" + (f"; starts {', '.join(r['start'])}"
                                               if r["start"] else "") for r in rows]
    lines.append(f"(no concern matched: {rules.fallback})")
    _out({"file": str(rules.path), "fallback": rules.fallback, "categories": rows}, as_json,
         "\n".join(lines))


# --- tasks ---------------------------------------------------------------------------------


@cli.command()
def tasks(case: Annotated[str | None, typer.Option("--case")] = None,
          agency: Annotated[str | None, typer.Option("--agency")] = None,
          overdue: Annotated[bool, typer.Option("--overdue")] = False,
          as_json: JsonOpt = False) -> None:
    """Open human tasks, overdue first."""
    from app.services.tasks import list_tasks

    now = clock.now()
    with db() as session:
        rows = [_task_row(t, no, now) for t, no in list_tasks(
            session=session, now=now, case_ref=case, agency=agency, overdue=overdue)]
    for r in rows:
        r["assignee"] = r["owner"] + ("" if r["owner_role"] == "worker" else f"/{r['owner_role']}")
    lines = [f"{r['id']:>6}  {r['case']:<14} {_cell(r['step_name'], 32)} "
             f"{_cell(r['owner_name'], 26)} due {r['due_at'][:16].replace('T', ' ')}"
             f"{' (provisional)' if r['due_provisional'] else ''}"
             f"{'  OVERDUE' if r['overdue'] else ''}"
             for r in rows]
    _out(rows, as_json, "\n".join(lines) or "no open tasks")


@cli.command()
def complete(task: int,
             agency: Annotated[str, typer.Option("--as", help="The agency completing it.")],
             file: Annotated[Path, typer.Option("--file", "-f", help="The form (JSON).")],
             as_json: JsonOpt = False) -> None:
    """Complete a human task with its form; the procedure resumes."""
    from app.services.tasks import complete_task_and_resume

    form = _read_json(file)
    done = complete_task_and_resume(task_id=task, agency=agency, form=form,
                                    actor=f"agency:{agency}")
    data = {"task": task, "status": "done", "resumed": done.resumed}
    _out(data, as_json, f"task {task} completed" + (
        "; the procedure resumes" if data["resumed"] else
        "; the procedure will resume when Prefect has it (next sweep)"))


@cli.command()
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
             f"{_local(clock.parse_instant(e['due_at']))[:16].replace('T', ' ')}"
             + (" (provisional)" if is_provisional(clock.parse_instant(report.as_of),
                                                   clock.parse_instant(e["due_at"])) else "")
             for e in report.escalations]
    if report.calendar_warning:
        text.append(f"  calendar: {report.calendar_warning}")
    _out(report.to_dict(), as_json, "\n".join(text))


@cli.command()
def history(case: Annotated[str, typer.Option("--case")], as_json: JsonOpt = False) -> None:
    """A case's flow runs (from Prefect) and its audit events."""
    from app.services.history import case_history

    data = case_history(case)
    lines = [f"case {data['case']}", "flow runs:"]
    lines += [f"  {r['name']:<28} {r['state']:<12} {r['flow']}" for r in data["flow_runs"]]
    if data.get("prefect_error"):
        lines.append(f"  (Prefect not reachable: {data['prefect_error']})")
    lines.append("events:")  # each as a sentence in Beijing time; --json keeps the codes
    lines += [f"  {e['sentence']}" for e in data["events"]]
    _out(data, as_json, "\n".join(lines))


@cli.command()
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


@cluster_cli.command("up")
def cluster_up() -> None:
    """Run the scaled-out topology on this machine (make cluster): docs/operations.md."""
    from app.runtime.cluster import run_cluster

    run_cluster()


# --- indicators (S3) -----------------------------------------------------------------------


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


@cli.command()
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

    _ready()
    try:
        scope = Scope.make(now=clock.now(), since=_date_opt("--since", since),
                           until=_date_opt("--until", until), district=_district_opt(district))
    except ValueError as exc:
        raise ProtectError(f"--since/--until: {exc}") from None
    ind = figures(scope)
    _out(ind.model_dump(mode="json"), as_json, text(ind))


@cli.command()
def report(month: Annotated[str | None, typer.Option(
               "--month", help="The month (YYYY-MM); default: the previous month.")] = None,
           district: Annotated[str | None, typer.Option(
               "--district", help="One district's report only.")] = None,
           as_json: JsonOpt = False) -> None:
    """Write the monthly report (HTML and CSV) under the reports folder, as the flow does."""
    from app.services.indicators import parse_month, previous_month
    from app.services.report import write_report

    _ready()
    now = clock.now()
    try:
        month = month or previous_month(now)
        parse_month(month)
    except ValueError as exc:
        raise ProtectError(f"--month: {exc}") from None
    files = write_report(month=month, now=now, district=_district_opt(district))
    data = {"month": month, "html": str(files.html), "csv": str(files.csv),
            "figures": files.figures.model_dump(mode="json")}
    _out(data, as_json, f"report for {month}: {files.html}, {files.csv}")


# --- agencies ------------------------------------------------------------------------------


@agency_cli.command("list")
def agency_list(as_json: JsonOpt = False) -> None:
    """Every agency with its code, webhook and the kind of its group robot (never its URL)."""
    from sqlmodel import select

    from app.adapters.robots import robot_kinds
    from models import Agency

    _ready()
    with db() as session:
        robots = robot_kinds(session=session)
        rows = [{**a.model_dump(), "robot": robots.get(a.code)}
                for a in session.exec(select(Agency).order_by(Agency.code))]
    _out(rows, as_json, "\n".join(
        f"{r['code']:<30} {r['name_zh']}  {r['webhook_url'] or ''}"
        + (f"  robot: {r['robot']}" if r["robot"] else "") for r in rows))


@agency_cli.command("set-webhook")
def agency_set_webhook(code: str, url: str) -> None:
    """Send this agency's notifications to URL (signed; see docs)."""
    from models import Agency

    with db() as session:
        agency = session.get(Agency, code)
        if agency is None:
            raise NotFound(f"no agency {code}")
        agency.webhook_url = url or None
        session.add(agency)
    typer.echo(f"{code} → {url}")


@agency_cli.command("set-robot")
def agency_set_robot(
    code: str,
    kind: Annotated[str, typer.Option("--kind", help="wecom (企业微信) or dingtalk (钉钉).")],
    url: Annotated[str, typer.Option("--url", help="The group robot's webhook URL, with its "
                                                   "key or access token.")],
    secret: Annotated[str | None, typer.Option(
        "--secret", help="DingTalk's 加签 secret (SEC…); '-' reads it from stdin.")] = None,
) -> None:
    """Also post this agency's new and escalated tasks to a WeCom or DingTalk group robot.

    In Chinese, without the child's personal data (docs/operations.md, "Group robots")."""
    from app.adapters.robots import set_robot

    if secret == "-":
        secret = sys.stdin.readline().rstrip("\r\n")
    _ready()
    with db() as session:
        set_robot(session=session, code=code, kind=kind, url=url, secret=secret,
                  actor="cli", now=clock.now())
    # Neither the URL (it holds the robot's key) nor the secret is ever printed.
    typer.echo(f"{code}: {kind} robot set" + (", signed" if secret is not None else ""))


@agency_cli.command("clear-robot")
def agency_clear_robot(code: str) -> None:
    """Stop sending this agency's tasks to its group robot."""
    from app.adapters.robots import clear_robot

    _ready()
    with db() as session:
        cleared = clear_robot(session=session, code=code, actor="cli", now=clock.now())
    typer.echo(f"{code}: robot cleared" if cleared else f"{code}: had no robot")


# --- users ---------------------------------------------------------------------------------


def _password() -> str | None:
    """The new password: typed twice at a terminal, else the first line of stdin."""
    if sys.stdin.isatty():
        typed = typer.prompt("Password (empty: API tokens only)", default="", hide_input=True,
                             confirmation_prompt=True, show_default=False)
        return str(typed) or None
    line = sys.stdin.readline().rstrip("\r\n")
    return line or None


@user_cli.command("add")
def user_add(
    username: str,
    agency: Annotated[str, typer.Option("--agency", help="The user's agency code.")],
    role: Annotated[list[str], typer.Option(
        "--role", help="coordinator, worker, supervisor, manager or judicial; repeat for more.")],
    password: Annotated[bool, typer.Option(
        "--password/--no-password", help="Ask for a password (prompt, or stdin's first line); "
                                         "without one the user logs in with tokens only.")] = True,
    as_json: JsonOpt = False,
) -> None:
    """Create a user of an agency with roles; the password is stored as an argon2id hash."""
    from app.services.users import add_user

    _ready()
    secret = _password() if password else None
    with db() as session:
        user = add_user(session=session, username=username, agency=agency, roles=role,
                        password=secret, actor="cli", now=clock.now())
        data = {"id": user.id, "username": user.username, "agency": user.agency_code,
                "roles": user.roles, "password": secret is not None}
    _out(data, as_json, f"user {username} ({agency}: {', '.join(data['roles'])}) created")


@user_cli.command("token")
def user_token(username: str, name: Annotated[str, typer.Option(
        "--name", help="What the token is for.")] = "cli", as_json: JsonOpt = False) -> None:
    """Issue a new API token for a user and print it once (only its hash is kept)."""
    from app.services.users import find_user, issue_token

    _ready()
    with db() as session:
        user = find_user(session=session, username=username)
        row, token = issue_token(session=session, user=user, name=name, actor="cli",
                                 now=clock.now())
        data = {"username": username, "token_id": row.id, "token": token}
    _out(data, as_json, token)


@user_cli.command("list")
def user_list(as_json: JsonOpt = False) -> None:
    """Every user: agency, roles, active, tokens in use."""
    from sqlmodel import col, select

    from models import ApiToken, User

    _ready()
    with db() as session:
        rows = []
        for u in session.exec(select(User).order_by(col(User.username))):
            tokens = session.exec(select(ApiToken).where(ApiToken.user_id == u.id,
                                                         col(ApiToken.revoked_at).is_(None)))
            rows.append({"username": u.username, "agency": u.agency_code, "roles": u.roles,
                         "active": u.active, "tokens": len(list(tokens))})
    _out(rows, as_json, "\n".join(
        f"{r['username']:<24} {r['agency']:<28} {','.join(r['roles']):<24} "
        f"{'active' if r['active'] else 'inactive'}  {r['tokens']} token(s)" for r in rows)
        or "no users")


# --- procedures ----------------------------------------------------------------------------


@procedures_cli.callback(invoke_without_command=True)
def procedures(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """Every procedure: code, area, title."""
    from app.config.procedures import all_procedures
    from app.services.procedure_docs import list_text, listing

    if ctx.invoked_subcommand is None:
        procs = all_procedures()
        _out(listing(procs), as_json, list_text(procs))


@procedures_cli.command("show")
def procedures_show(code: str, as_json: JsonOpt = False) -> None:
    """A procedure's steps, owners, deadlines, ladders and step graph (Mermaid)."""
    from app.config.procedures import procedure
    from app.services.procedure_docs import describe, show_text

    try:
        spec = procedure(code)
    except KeyError as exc:
        raise NotFound(exc.args[0]) from None
    _out(describe(spec), as_json, show_text(spec))


@procedures_cli.command("docs")
def procedures_docs() -> None:
    """Print docs/procedures.md: every procedure's steps and graph, from the definitions."""
    from app.config.procedures import all_procedures
    from app.services.procedure_docs import render_docs

    typer.echo(render_docs(all_procedures()), nl=False)


@procedures_cli.command("settings")
def procedures_settings(defaults: Annotated[bool, typer.Option(
        "--defaults", help="The code's defaults: what procedures.toml ships.")] = False) -> None:
    """Print the procedure settings in effect, as a settings file (TOML)."""
    from app.config.procedures import current, render_settings
    from flows.catalog import base_procedures

    if defaults:
        typer.echo(render_settings(base_procedures()), nl=False)
    else:
        loaded = current()
        typer.echo(render_settings(loaded.procedures, loaded.escalation,
                                   source=f"`protect procedures settings` from {loaded.path}"),
                   nl=False)


@procedures_cli.command("check")
def procedures_check(file: Annotated[Path | None, typer.Argument(
        help="A settings file; default: the one in effect (PROTECT_PROCEDURES_FILE).")] = None,
                     as_json: JsonOpt = False) -> None:
    """Check a procedure settings file; exit 2 with every problem when it is invalid."""
    from app.config.procedures import load

    path = file or get_settings().procedures_file
    loaded = load(path)
    data = {"file": str(path) if path else None, "valid": True,
            "procedures": sorted(loaded.procedures)}
    _out(data, as_json, f"{path or 'no settings file'}: valid")


# --- the working-day calendar --------------------------------------------------------------


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
    _out({"file": str(path), "valid": True, "years": years}, as_json, "\n".join(lines))


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
    _out(data, as_json, "\n".join(lines))


# --- screening (S2) ------------------------------------------------------------------------


def _progress(enabled: bool) -> Any:
    """A progress bar on stderr for a long import, or nothing (--json, not a terminal)."""
    from contextlib import nullcontext

    if not enabled or not sys.stderr.isatty():
        return nullcontext(None)
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    console=Console(stderr=True), transient=True)


def _write_atomically(path: Path, data: bytes) -> None:
    import os

    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


@cli.command("import")
def import_(file: Annotated[Path, typer.Argument(help="The screening list: .csv or .xlsx.")],
            community: Annotated[str, typer.Option(
                "--community", help="The community that sent it, e.g. "
                                    "community:xingqing-fenghuang.")],
            rejects: Annotated[Path | None, typer.Option(
                "--rejects", help="Where to write the rejected rows (default: beside FILE, "
                                  "as NAME.rejects.csv / .xlsx).")] = None,
            actor: Annotated[str, typer.Option("--actor", help="Who imports (audit trail).")]
            = "coordinator",
            as_json: JsonOpt = False) -> None:
    """Import a community's screening list: check, find duplicates, build dossiers, propose."""
    from app.services.screening import import_screening

    try:
        data = Path(file).read_bytes()
    except (FileNotFoundError, IsADirectoryError):
        raise ProtectError(f"no file {file}") from None
    _ready()
    with _progress(not as_json) as bar:
        tasks: dict[str, Any] = {}

        def report(phase: str, done: int, total: int) -> None:
            if bar is None:
                return
            if phase not in tasks:
                tasks[phase] = bar.add_task(phase, total=total)
            bar.update(tasks[phase], completed=done, total=total)

        with db() as session:
            result = import_screening(session=session, data=data, file_name=file.name,
                                      community=community, actor=actor, now=clock.now(),
                                      progress=report)
    rejects_path = None
    if result.rejects is not None:
        rejects_path = rejects or file.with_name(f"{file.stem}.rejects{file.suffix or '.csv'}")
        _write_atomically(rejects_path, result.rejects)
    out = {**result.to_dict(), "rejects_file": str(rejects_path) if rejects_path else None}
    text = (f"{'already imported' if result.already_imported else 'imported'} {result.file} "
            f"from {result.community} (batch {result.batch}): {result.rows} row(s), "
            f"{result.accepted} accepted ({result.created} new with a dossier, "
            f"{result.duplicates} possible duplicate(s) to resolve, {result.unchanged} already "
            f"on file), {result.rejected} rejected"
            + (f" → {rejects_path}" if rejects_path else "")
            + f"; {result.proposals} procedure(s) proposed")
    _out(out, as_json, text)


@screening_cli.command("duplicates")
def screening_duplicates(status: Annotated[str, typer.Option(
        "--status", help="pending (default), merged or kept_apart.")] = "pending",
                         as_json: JsonOpt = False) -> None:
    """Rows that may be a child already on file, beside that child: merge or keep apart."""
    from app.services.screening import list_duplicates

    with db() as session:
        rows = list_duplicates(session=session, actor="coordinator", now=clock.now(),
                               status=status)
    lines = []
    for r in rows:
        row, ex = r["row_data"], r["existing"]
        lines.append(f"{r['id']:>6}  batch {r['batch']} row {r['row']}  same {r['reason']}")
        lines.append(f"        row:   {row['name']}  {row['sex']}  {row['birth_date']}  "
                     f"{row['id_number'] or '-'}  {row['district']}  {','.join(row['categories'])}")
        lines.append(f"        child {ex['child_id']}: {ex['name']}  {ex['sex']}  "
                     f"{ex['birth_date']}  {ex['id_number'] or '-'}  {ex['district']}  "
                     f"{','.join(ex['categories'])}")
    _out(rows, as_json, "\n".join(lines) or f"no {status} duplicates")


@screening_cli.command("resolve")
def screening_resolve(candidate: int,
                      merge: Annotated[bool, typer.Option(
                          "--merge", help="The row is the child on file.")] = False,
                      keep_apart: Annotated[bool, typer.Option(
                          "--keep-apart", help="The row is another child.")] = False,
                      as_json: JsonOpt = False) -> None:
    """Resolve a duplicate candidate: --merge or --keep-apart (audited)."""
    from app.services.screening import resolve_duplicate

    if merge == keep_apart:
        raise ProtectError("say --merge or --keep-apart (one of them)")
    with db() as session:
        data = resolve_duplicate(session=session, candidate_id=candidate, merge=merge,
                                 actor="coordinator", now=clock.now())
    _out(data, as_json, f"candidate {candidate} {data['status'].replace('_', ' ')}: child "
                        f"{data['child_id']}, dossier {data['dossier']}, "
                        f"{data['new_proposals']} new proposal(s)")


@screening_cli.command("proposals")
def screening_proposals(dossier: Annotated[int | None, typer.Option("--dossier")] = None,
                        all_: Annotated[bool, typer.Option(
                            "--all", help="Confirmed ones too.")] = False,
                        as_json: JsonOpt = False) -> None:
    """Procedures the risk rules propose, by dossier, waiting for a coordinator."""
    from app.services.screening import list_proposals

    with db() as session:
        rows = list_proposals(session=session, dossier_id=dossier,
                              status=None if all_ else "proposed")
    lines = [f"dossier {r['dossier']:>6}  {r['code']:<4} {r['status']:<10} rule {r['rule']}"
             + (f"  (procedure run {r['procedure_run']})" if r["procedure_run"] else "")
             for r in rows]
    _out(rows, as_json, "\n".join(lines) or "no proposals")


@screening_cli.command("confirm")
def screening_confirm(dossier: int,
                      codes: Annotated[list[str] | None, typer.Argument(
                          help="The procedures to start (default: every one proposed).")] = None,
                      as_json: JsonOpt = False) -> None:
    """Confirm a dossier's proposals: open a case if needed and start the procedures."""
    from app.services.procedures import commit_and_start
    from app.services.screening import confirm

    _ready()
    started = commit_and_start(
        lambda session, now: confirm(session=session, dossier_id=dossier, codes=codes or [],
                                     actor="coordinator", now=now),
        lambda confirmed: [s["procedure_run"] for s in confirmed]).result
    lines = [f"started {s['code']} for {s['case']} (procedure run {s['procedure_run']})"
             for s in started]
    _out(started, as_json, "\n".join(lines) or f"nothing proposed for dossier {dossier}")


@screening_cli.command("rules")
def screening_rules(as_json: JsonOpt = False) -> None:
    """The risk rules in effect (PROTECT_RISK_FILE, default risk.toml)."""
    from app.config.risk import current_rules

    rules = [r.model_dump() for r in current_rules()]
    _out(rules, as_json, "\n".join(
        f"{r['name']:<22} {'+'.join(r['propose']):<8} categories {','.join(r['categories']) or '-'}"
        f"; risks {','.join(r['risks']) or '-'}; age {r['min_age']}-{r['max_age']}"
        for r in rules))


def main() -> None:
    from sqlalchemy.exc import OperationalError

    try:
        cli()
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
