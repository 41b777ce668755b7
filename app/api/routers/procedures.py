"""Procedures: the catalogue, start one for a case, list a case's runs."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter

from app import clock, services
from app.access import Principal
from app.api.deps import CaseRef, allow
from app.api.schemas import ProcedureOut, RunOut, StartIn, StartOut
from app.errors import NotFound
from app.outbox import start_message_key
from app.store import db

router = APIRouter(tags=["procedures"])


@router.get("/procedures", response_model=list[ProcedureOut])
def procedures(who: Annotated[Principal, allow("procedures.list")]) -> list[ProcedureOut]:
    """Every procedure of the plan: code, area, title, step names."""
    from flows.catalog import all_procedures

    return [ProcedureOut(code=p.code, area=p.area, title=p.title,
                         steps=[s.name for s in p.steps]) for p in all_procedures().values()]


@router.post("/cases/{case_ref}/procedures", response_model=StartOut, status_code=201)
def start(case_ref: CaseRef, body: StartIn,
          who: Annotated[Principal, allow("procedure.start")]) -> StartOut:
    """Start a procedure for a case; its first step opens within seconds."""
    from app.dispatch import dispatch
    from flows.catalog import procedure

    try:
        procedure(body.code)
    except KeyError as exc:
        raise NotFound(str(exc.args[0])) from None
    with db() as session:
        case = services.get_case(session=session, case_ref=case_ref)
        run = services.start_procedure(session=session, case_id=int(case.id or 0),
                                       code=body.code, actor=who.actor, now=clock.now(),
                                       params=body.params)
        run_id, case_no, code = int(run.id or 0), case.case_no, run.code
    report = dispatch(keys=[start_message_key(run_id)])
    with db() as session:
        _, runs = services.list_runs(session=session, case_ref=case_no)
        flow_run_id = next((r.flow_run_id for r in runs if r.id == run_id), None)
    return StartOut(procedure_run=run_id, code=code, case=case_no, flow_run_id=flow_run_id,
                    queued=report.delivered == 0)


@router.get("/cases/{case_ref}/procedures", response_model=list[RunOut])
def runs(case_ref: CaseRef, who: Annotated[Principal, allow("procedure.runs")]) -> list[RunOut]:
    """The case's procedure runs, oldest first."""
    with db() as session:
        case, rows = services.list_runs(session=session, case_ref=case_ref)
        return [RunOut(procedure_run=int(r.id or 0), code=r.code, case=case.case_no,
                       status=r.status, outcome=r.outcome, flow_run_id=r.flow_run_id,
                       parent_run_id=r.parent_run_id, started_at=r.started_at,
                       ended_at=r.ended_at) for r in rows]
