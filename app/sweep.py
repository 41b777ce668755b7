"""The sweep: fire due timers, escalate overdue tasks one rung, deliver the outbox.

Safe to run twice at once: every change is a compare-and-set on the row's state, so each
timer fires once and each rung is taken once. Its cost follows the due items (indexed
queries on status and time), not the open ones.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import update
from sqlmodel import col, select

from app import audit, clock
from app.dispatch import dispatch
from app.engine import split_rung
from app.outbox import enqueue
from app.rules.workdays import due_after
from app.services import pause_key
from app.store import db
from models import Case, HumanTask, ProcedureRun, Timer

log = logging.getLogger("protect.sweep")


@dataclass
class SweepReport:
    as_of: str
    timers_fired: int = 0
    tasks_escalated: int = 0
    delivered: int = 0
    delivery_failures: int = 0
    escalations: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def fire_timers(*, as_of: datetime, limit: int) -> int:
    with db() as session:
        due = session.exec(select(Timer.id).where(
            Timer.status == "pending", col(Timer.due_at) <= as_of
        ).order_by(col(Timer.due_at)).limit(limit)).all()
    fired = 0
    for timer_id in due:
        with db() as session:
            res = session.exec(  # type: ignore[call-overload]
                update(Timer).where(col(Timer.id) == timer_id, col(Timer.status) == "pending")
                .values(status="fired", fired_at=as_of))
            if res.rowcount != 1:
                continue  # another sweep took it
            timer = session.get(Timer, timer_id)
            assert timer is not None
            enqueue(session=session, kind="resume", dedupe_key=f"resume:timer:{timer_id}",
                    payload={"procedure_run_id": timer.procedure_run_id,
                             "pause_key": pause_key("timer", timer.key),
                             "run_input": {"timer_id": timer_id, "outcome": "fired"}},
                    now=clock.now())
            audit.record(session=session, at=as_of, actor="sweep", action="timer.fired",
                         case_id=timer.case_id, procedure_run_id=timer.procedure_run_id,
                         timer=timer.key)
            fired += 1
    return fired


def escalate_tasks(*, as_of: datetime, limit: int) -> list[dict[str, Any]]:
    with db() as session:
        due = session.exec(select(HumanTask.id, HumanTask.rung).where(
            HumanTask.status == "open", col(HumanTask.escalate_at) <= as_of
        ).order_by(col(HumanTask.escalate_at)).limit(limit)).all()
    taken = []
    for task_id, rung in due:
        with db() as session:
            task = session.get(HumanTask, task_id)
            assert task is not None
            new_rung = rung + 1
            if new_rung >= len(task.ladder):
                continue
            owner, role = split_rung(task.ladder[new_rung])
            new_due = due_after(as_of, task.rung_deadline)
            at_top = new_rung == len(task.ladder) - 1
            res = session.exec(  # type: ignore[call-overload]
                update(HumanTask)
                .where(col(HumanTask.id) == task_id, col(HumanTask.rung) == rung,
                       col(HumanTask.status) == "open")
                .values(rung=new_rung, owner=owner, owner_role=role, due_at=new_due,
                        escalate_at=None if at_top else new_due))
            if res.rowcount != 1:
                continue  # completed meanwhile, or another sweep took this rung
            case = session.get(Case, task.case_id)
            run = session.get(ProcedureRun, task.procedure_run_id)
            assert case is not None and run is not None
            info = {"task_id": task_id, "case_no": case.case_no, "procedure": run.code,
                    "step": task.step, "rung": new_rung, "from": task.owner,
                    "to": task.ladder[new_rung], "due_at": new_due.isoformat(),
                    "flow_run_id": run.flow_run_id}
            audit.record(session=session, at=as_of, actor="sweep", action="task.escalated",
                         case_id=task.case_id, procedure_run_id=task.procedure_run_id,
                         task_id=task_id, rung=new_rung, to=task.ladder[new_rung],
                         due_at=new_due.isoformat())
            enqueue(session=session, kind="notify",
                    dedupe_key=f"notify:task:{task_id}:rung:{new_rung}",
                    payload={"agency": owner, "event": "task.escalated",
                             **{k: v for k, v in info.items() if k != "flow_run_id"}},
                    now=clock.now())
        taken.append(info)
    return taken


def emit_escalation_events(escalations: list[dict[str, Any]]) -> None:
    """Tell Prefect (best effort: the audit trail already has it)."""
    if not escalations:
        return
    try:
        from prefect.events import emit_event

        for e in escalations:
            related = []
            if e["flow_run_id"]:
                related.append({"prefect.resource.id": f"prefect.flow-run.{e['flow_run_id']}",
                                "prefect.resource.role": "flow-run"})
            emit_event(
                event="protect.task.escalated",
                resource={"prefect.resource.id": f"protect.task.{e['task_id']}",
                          "prefect.resource.name": f"{e['case_no']} {e['step']}",
                          "protect.case": e["case_no"], "protect.procedure": e["procedure"]},
                related=related,
                payload={k: e[k] for k in ("step", "rung", "from", "to", "due_at")},
            )
    except Exception as exc:  # noqa: BLE001
        log.warning("escalation events not sent to Prefect: %s", type(exc).__name__)


def sweep(*, now: datetime | None = None, limit: int = 1000, deliver: bool = True) -> SweepReport:
    """One pass, as of `now` (default: the clock)."""
    as_of = now or clock.now()
    report = SweepReport(as_of=as_of.isoformat())
    report.timers_fired = fire_timers(as_of=as_of, limit=limit)
    report.escalations = escalate_tasks(as_of=as_of, limit=limit)
    report.tasks_escalated = len(report.escalations)
    emit_escalation_events(report.escalations)
    if deliver:
        d = dispatch(limit=limit)
        report.delivered, report.delivery_failures = d.delivered, d.failed
    return report
