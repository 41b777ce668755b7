"""Procedures: the catalogue, start one for a case, list a case's runs."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter

from app.adapters.store import db
from app.config.vocabulary import Vocabulary
from app.domain.access import Principal
from app.entrypoints.api.deps import CaseRef, DisplayLang, allow
from app.entrypoints.api.schemas import ProcedureOut, RunOut, StartIn, StartOut
from app.services.procedures import list_runs, start_and_dispatch

router = APIRouter(tags=["procedures"])


@router.get("/procedures", response_model=list[ProcedureOut])
def procedures(who: Annotated[Principal, allow("procedures.list")]) -> list[ProcedureOut]:
    """Every procedure of the plan: code, area, title, step names."""
    from app.config.procedures import all_procedures

    return [ProcedureOut(code=p.code, area=p.area, title=p.full_title,
                         steps=[s.name for s in p.steps]) for p in all_procedures().values()]


@router.post("/cases/{case_ref}/procedures", response_model=StartOut, status_code=201)
def start(case_ref: CaseRef, body: StartIn,
          who: Annotated[Principal, allow("procedure.start")]) -> StartOut:
    """Start a procedure for a case; its first step opens within seconds.

    The code is read case-insensitively; an unknown one is a 404 naming the known codes.
    `params` are checked against the procedure's declared parameters (422, field by field).
    A procedure already running on the case is a 409, unless `again` is true and `reason`
    says why a second run is wanted (kept in the audit trail)."""
    started = start_and_dispatch(case_ref=case_ref, code=body.code, actor=who.actor,
                                 params=body.params, again=body.again, reason=body.reason)
    run = started.run
    return StartOut(procedure_run=int(run.id or 0), code=run.code, case=started.case_no,
                    flow_run_id=run.flow_run_id, queued=started.queued)


@router.get("/cases/{case_ref}/procedures", response_model=list[RunOut])
def runs(case_ref: CaseRef, who: Annotated[Principal, allow("procedure.runs")],
         lang: DisplayLang) -> list[RunOut]:
    """The case's procedure runs, oldest first, with their names (`?lang=`)."""
    w = Vocabulary(lang)
    with db() as session:
        case, rows = list_runs(session=session, case_ref=case_ref)
        return [RunOut(procedure_run=int(r.id or 0), code=r.code, case=case.case_no,
                       status=r.status, outcome=r.outcome, flow_run_id=r.flow_run_id,
                       parent_run_id=r.parent_run_id, started_at=r.started_at,
                       ended_at=r.ended_at, procedure_name=w.run(r.code, r.params),
                       status_name=w.status("run", r.status),
                       outcome_name=w.outcome(r.code, r.outcome)) for r in rows]
