"""A case as issue 17 saw it, for the pages' tests: a hotline report, S1 for five agencies, R2,
R4 and E6, with completed steps, feedback to the platform and an escalation."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from sqlmodel import col, select

from app.adapters.store import db
from app.domain import clock
from app.services import tasks
from models import Case, HumanTask, OutboxMessage, ProcedureRun
from tests.helpers import hotline_report


def _complete(task_id: int, agency: str, form: dict[str, Any], actor: str) -> None:
    from app.adapters.outbox import resume_message_key

    with db() as session:
        tasks.complete_task(session=session, task_id=task_id, agency=agency, form=form,
                            actor=actor, now=clock.now())
        # The test plays the flow's part: no Prefect run is there to resume.
        for m in session.exec(select(OutboxMessage).where(
                OutboxMessage.dedupe_key == resume_message_key(task_id))):
            m.status = "delivered"
            session.add(m)


def hotline_case(person: Any) -> dict[str, Any]:
    """A street child reported to the hotline, neglected and left behind too: S1 for the
    center, the police, the street office, the women's federation and the community
    workstation, R2, R4 and E6, driven as the flows would (engine functions, no Prefect):
    steps completed, a feedback to the platform, an S1 declined and one resolved, the police's
    identity check overdue and escalated by the sweep."""
    from app.adapters.outbox import start_message_key
    from app.runtime.sweep import sweep
    from app.services import engine
    from app.services.hotline import queue_feedback, receive_report

    users = {"center": person("center", "worker"), "psb": person("psb", "worker"),
             "street": person("street:xingqing-fenghuang", "worker"),
             "supervisor": person("psb", "supervisor")}
    with db() as session:
        receipt = receive_report(session=session, data=hotline_report(
            concerns=["living_on_street", "neglect", "left_behind"]), actor="hotline",
            now=clock.now())
        case_no = receipt.case
        runs = session.exec(select(ProcedureRun).join(Case, col(Case.id) == ProcedureRun.case_id)
                            .where(Case.case_no == case_no)).all()
        # The test plays the flows' part: nothing is to start them in Prefect.
        for m in session.exec(select(OutboxMessage).where(col(OutboxMessage.dedupe_key).in_(
                [start_message_key(int(r.id or 0)) for r in runs]))):
            m.status = "delivered"
            session.add(m)
        by = {(r.code, r.params.get("agency")): int(r.id or 0) for r in runs}
    for run_id in by.values():
        engine.begin_run(run_id, str(uuid.uuid4()))

    def actor(who: str) -> str:
        return f"user:{users[who][0]}"

    s1_psb, s1_center = by[("S1", "psb")], by[("S1", "center")]
    s1_street = by[("S1", "street:xingqing-fenghuang")]
    task = engine.open_task(s1_psb, "s1.acknowledge", "acknowledge", "psb")
    _complete(task, "psb", {"outcome": "accepted"}, actor("psb"))
    with db() as session:
        queue_feedback(session=session, procedure_run_id=s1_psb, event="s1.acknowledged",
                       now=clock.now())
    engine.open_task(s1_psb, "s1.result", "result", "psb")
    task = engine.open_task(s1_center, "s1.acknowledge", "acknowledge", "center")
    _complete(task, "center", {"outcome": "accepted"}, actor("center"))
    task = engine.open_task(s1_center, "s1.result", "result", "center")
    _complete(task, "center", {"outcome": "resolved", "acted_on": clock.now().date().isoformat(),
                               "notes": "已接回站内"}, actor("center"))
    engine.finish_run(s1_center, "resolved")
    task = engine.open_task(s1_street, "s1.acknowledge", "acknowledge",
                            "street:xingqing-fenghuang")
    _complete(task, "street:xingqing-fenghuang", {"outcome": "not_responsible"}, actor("street"))
    engine.finish_run(s1_street, "declined")
    # The community workstation's step: the agency with the longest English name.
    engine.open_task(by[("S1", "community:xingqing-fenghuang")], "s1.acknowledge",
                     "acknowledge", "community:xingqing-fenghuang")

    r2, r4 = by[("R2", None)], by[("R4", None)]
    task = engine.open_task(r2, "r2.outreach", "outreach", "center")
    _complete(task, "center", {"outcome": "accepted", "location": "桥下"}, actor("center"))
    task = engine.open_task(r2, "r2.intake", "intake", "center")
    _complete(task, "center", {"ill_or_injured": False}, actor("center"))
    identity = engine.open_task(r2, "r2.identity", "identity", "psb")
    engine.open_task(r4, "r4.admonition", "admonition", "street:xingqing-fenghuang")
    with db() as session:  # the police's deadline passed a minute ago
        t = session.get(HumanTask, identity)
        t.due_at = t.escalate_at = clock.now() - timedelta(minutes=1)
        session.add(t)
    sweep(now=clock.now(), deliver=False)
    with db() as session:
        t = session.get(HumanTask, identity)
        assert t.rung == 1
        # Due in three days at the supervisor's rung: near the top of an inbox that other
        # tests have filled with tasks due in a week.
        t.due_at = t.escalate_at = clock.now() + timedelta(days=3)
        session.add(t)
    return {"case": case_no, "identity": identity, "users": users,
            "reference": receipt.reference}
