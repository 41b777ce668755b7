"""A case's history: its flow runs read from Prefect, and its audit events from the store."""

from __future__ import annotations

from typing import Any

from sqlmodel import col, select

from app.adapters.store import db
from app.domain.access import Principal
from app.services.cases import get_case, sealed_runs, shown_event
from models import AuditEvent, HumanTask, ProcedureRun


def flow_runs_for(case_no: str) -> list[dict[str, Any]]:
    """Every flow run tagged with the case number, oldest first."""
    from app.adapters.prefect import flow_runs_tagged

    return [{"id": r["id"], "name": r["name"], "flow": r["flow_name"],
             "state": (r.get("state") or {}).get("name") or "", "tags": sorted(r["tags"]),
             "state_type": (r.get("state") or {}).get("type") or ""}
            for r in flow_runs_tagged(case_no)]


def case_history(case_ref: str, lang: str = "zh", viewer: Principal | None = None
                 ) -> dict[str, Any]:
    """The case's runs and audit events, codes and ids, each with the words a person reads
    (`procedure_name`, …; an event's `sentence`) in `lang`.

    The events of a sealed run (J3) hold the sealed marker in place of their content — in
    `detail` and so in the `sentence` — unless the `viewer` is a judicial reader
    (app/domain/sealing.py); without a viewer (the command line), the marker."""
    from app.config.vocabulary import Vocabulary

    w = Vocabulary(lang)
    with db() as session:
        case = get_case(session=session, case_ref=case_ref)
        runs = session.exec(select(ProcedureRun).where(ProcedureRun.case_id == case.id)
                            .order_by(col(ProcedureRun.id))).all()
        steps_runs = session.exec(select(HumanTask.id, HumanTask.step,
                                         HumanTask.procedure_run_id)
                                  .where(HumanTask.case_id == case.id)).all()
        steps = {int(i or 0): s for i, s, _ in steps_runs}
        sealed = sealed_runs(session, case_id=int(case.id or 0))
        sealed_tasks = {int(i or 0): sealed[r] for i, _, r in steps_runs if r in sealed}
        events = [shown_event(e, sealed, sealed_tasks, viewer) for e in session.exec(
            select(AuditEvent).where(AuditEvent.case_id == case.id)
            .order_by(col(AuditEvent.at), col(AuditEvent.id))).all()]
        by_id = {int(r.id or 0): r for r in runs}
        data: dict[str, Any] = {
            "case": case.case_no,
            "status": case.status,
            "procedures": [{"id": r.id, "code": r.code, "status": r.status,
                            "outcome": r.outcome, "flow_run_id": r.flow_run_id,
                            "procedure_name": w.run(r.code, r.params),
                            "status_name": w.status("run", r.status),
                            "outcome_name": w.outcome(r.code, r.outcome)} for r in runs],
            "events": [{"at": e.at.isoformat(), "actor": e.actor, "action": e.action,
                        "procedure_run_id": e.procedure_run_id, "task_id": e.task_id,
                        "detail": e.detail,
                        "sentence": w.sentence(e, steps=steps, runs=by_id)} for e in events],
        }
    try:
        data["flow_runs"] = flow_runs_for(data["case"])
    except Exception as exc:  # noqa: BLE001 - the store's half of the history still answers
        data["flow_runs"], data["prefect_error"] = [], type(exc).__name__
    return data
