"""Cases: `protect case …`, starting a procedure on a case and a case's history."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from app.adapters.store import db
from app.domain import clock
from app.entrypoints.cli.common import JsonOpt, out, read_json, ready

case_cli = typer.Typer(help="Open and look after cases.", no_args_is_help=True)


@case_cli.command("open")
def case_open(file: Annotated[Path, typer.Option("--file", "-f", help="Intake form (JSON).")],
              as_json: JsonOpt = False) -> None:
    """Open a case for a child from an intake form."""
    from app.services import cases

    ready()
    with db() as session:
        case = cases.open_case(session=session, data=read_json(file), actor="coordinator",
                               now=clock.now())
        data = {"case": case.case_no, "id": case.id, "district": case.district}
    out(data, as_json, f"opened case {data['case']}")


@case_cli.command("family-found")
def case_family_found(case: str, as_json: JsonOpt = False) -> None:
    """Record that the child's family is found: waiting clocks (J2) stop."""
    from app.services import cases

    cancelled = cases.family_found_and_resume(case_ref=case, actor="coordinator").timers_cancelled
    out({"case": case, "timers_cancelled": cancelled}, as_json,
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
    from app.services import cases

    with db() as session:
        record = cases.read_sealed_record(session=session, record_id=record_id, agency=agency,
                                          role=role, actor=actor, now=clock.now())
        data = {"id": record.id, "case_id": record.case_id, "record_no": record.record_no,
                "authority": record.authority, "sealed_on": record.sealed_on.isoformat(),
                "content": record.content}
    out(data, as_json, json.dumps(data, ensure_ascii=False, indent=2))


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
                                 again=again, reason=reason, handover=True)
    run, case_no = started.run, started.case_no
    data = {"procedure_run": run.id, "code": run.code, "case": case_no,
            "flow_run_id": run.flow_run_id, "queued": started.queued,
            "waiting": started.waiting}
    said = {
        None: f"started {run.code} for {case_no} (procedure run {run.id}, flow run "
              f"{run.flow_run_id})",
        "delivering": f"starting {run.code} for {case_no} (procedure run {run.id}): the "
                      "running system is creating its flow run",
        "busy": f"queued {run.code} for {case_no} (procedure run {run.id}): Prefect is busy; "
                "the running system starts it in a moment",
        "unreachable": f"queued {run.code} for {case_no} (procedure run {run.id}): Prefect "
                       "is not reachable; the sweep will start it",
    }
    out(data, as_json, said[started.waiting])


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
    out(data, as_json, "\n".join(lines))
