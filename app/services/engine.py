"""Case-store operations that the flows' tasks perform. Ids and codes in, ids and codes out."""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any

from sqlmodel import Session, col, select

from app.adapters import audit
from app.adapters.outbox import enqueue, resume_message_key, start_message_key, timer_message_key
from app.adapters.robots import enqueue_robot
from app.adapters.store import db
from app.config.procedures import step_ladder, step_spec
from app.domain import clock
from app.domain.ladder import AgencyNode
from app.domain.workdays import TZ, due_after
from app.services.procedures import start_procedure
from models import (
    Agency,
    Case,
    Child,
    HumanTask,
    OutboxMessage,
    ProcedureRun,
    SealedRecord,
    StepJournal,
    Timer,
)


def _run_and_case(session: Session, procedure_run_id: int) -> tuple[ProcedureRun, Case]:
    run = session.get(ProcedureRun, procedure_run_id)
    if run is None:
        raise LookupError(f"no procedure run {procedure_run_id}")
    case = session.get(Case, run.case_id)
    assert case is not None
    return run, case


def agency_nodes(*, session: Session) -> dict[str, AgencyNode]:
    return {a.code: AgencyNode(a.level, a.parent_code, a.bureau)
            for a in session.exec(select(Agency)).all()}


def split_rung(rung: str) -> tuple[str, str]:
    """"psb/supervisor" → ("psb", "supervisor"); "psb" → ("psb", "worker")."""
    agency, _, role = rung.partition("/")
    return agency, role or "worker"


def _run_info(run: ProcedureRun, case: Case) -> dict[str, Any]:
    """What a flow may know of its run: ids, codes and its parameters (no personal data)."""
    return {"case_id": run.case_id, "case_no": case.case_no, "code": run.code,
            "district": case.district, "params": dict(run.params)}


def begin_run(procedure_run_id: int, flow_run_id: str) -> dict[str, Any]:
    """Mark the run as running in this flow run; return what the flow may know of it."""
    with db() as session:
        run, case = _run_and_case(session, procedure_run_id)
        if run.status == "starting":
            run.status = "running"
        run.flow_run_id = flow_run_id
        session.add(run)
        return _run_info(run, case)


def replay_state(procedure_run_id: int) -> dict[str, Any]:
    """What a flow run replaying this procedure needs to know, read in one go.

    - `info`: as `begin_run` returns it; `flow_run_id`: the flow run recorded as running it;
    - `journal`: every finished step's result, by (op, key);
    - `resumed`: the decision (or timer outcome) of every suspension whose resume Prefect
      has accepted, by pause key. Only delivered resumes count: a step completed in the case
      store but not yet delivered is still waited for through Prefect.
    """
    with db() as session:
        run, case = _run_and_case(session, procedure_run_id)
        # A task's decision is read from the task (its resume carries only the task's id);
        # a timer's outcome from its resume.
        decided = {resume_message_key(int(i)): decision for i, decision in session.exec(
            select(HumanTask.id, HumanTask.decision).where(
                HumanTask.procedure_run_id == procedure_run_id, HumanTask.status == "done"))}
        ended = session.exec(select(Timer.id).where(
            Timer.procedure_run_id == procedure_run_id,
            col(Timer.status).in_(("fired", "cancelled")))).all()
        keys = [*decided, *(timer_message_key(int(i)) for i in ended)]
        resumed = {
            str(payload["pause_key"]): decided.get(key, payload.get("run_input"))
            for key, payload in (session.exec(
                select(OutboxMessage.dedupe_key, OutboxMessage.payload).where(
                    col(OutboxMessage.dedupe_key).in_(keys),
                    OutboxMessage.status == "delivered")).all() if keys else [])
        }
        journal = {(j.op, j.key): j.result for j in session.exec(
            select(StepJournal).where(StepJournal.procedure_run_id == procedure_run_id))}
        return {"info": _run_info(run, case), "flow_run_id": run.flow_run_id, "status": run.status,
                "journal": journal, "resumed": resumed}


def task_decision(procedure_run_id: int, task_id: int) -> dict[str, Any]:
    """The decision of a done task of this run, as the flow reads it after its resume."""
    with db() as session:
        task = session.get(HumanTask, task_id)
        if task is None or task.procedure_run_id != procedure_run_id or task.status != "done":
            raise LookupError(f"task {task_id} of procedure run {procedure_run_id} is not done")
        return dict(task.decision or {})


def journal_put(procedure_run_id: int, op: str, key: str, result: Any) -> None:
    """Keep a finished step's result for the run's replays (once; a repeat is ignored)."""
    from sqlalchemy.exc import IntegrityError

    try:
        with db() as session:
            if session.exec(select(StepJournal.id).where(
                    StepJournal.procedure_run_id == procedure_run_id, StepJournal.op == op,
                    StepJournal.key == key)).first() is None:
                session.add(StepJournal(procedure_run_id=procedure_run_id, op=op, key=key,
                                        result=result, created_at=clock.now()))
    except IntegrityError:
        pass  # written by an earlier attempt of the same step: the same result


def open_task(procedure_run_id: int, step: str, step_key: str, owner: str | None = None,
              correction: bool = False) -> int:
    """Open the human step's task, or return the one already open for this run and key.

    A `correction` task asks the same owner to submit the step's form again, corrected.
    """
    return _open_task(procedure_run_id, step, step_key, owner, correction, clock.now())


def open_task_after_timer(procedure_run_id: int, step: str, step_key: str, owner: str | None,
                          correction: bool, fired_at: datetime) -> int:
    """`open_task` for the step that follows a timer: opened when the timer fired, if that is
    later than now — a sweep "as of" a later day (`protect sweep --now`) fired it — so that
    its deadline counts from that day and a long scenario can be driven from the command
    line. Never earlier than now: a task is not opened in the past."""
    return _open_task(procedure_run_id, step, step_key, owner, correction,
                      max(fired_at, clock.now()))


def _open_task(procedure_run_id: int, step: str, step_key: str, owner: str | None,
               correction: bool, now: datetime) -> int:
    spec = step_spec(step)
    with db() as session:
        existing = session.exec(select(HumanTask).where(
            HumanTask.procedure_run_id == procedure_run_id,
            HumanTask.step_key == step_key)).first()
        if existing is not None:
            return int(existing.id)  # type: ignore[arg-type]
        run = session.get(ProcedureRun, procedure_run_id)
        assert run is not None
        first = owner or spec.owner
        if first is None:
            raise ValueError(f"step {step} needs an owner")
        ladder = step_ladder(spec, first, agency_nodes(session=session))
        task = HumanTask(
            procedure_run_id=procedure_run_id, case_id=run.case_id, step_key=step_key,
            step=step, title=spec.title + (" (correct the data)" if correction else ""),
            owner=first, first_owner=first, ladder=ladder, rung=0,
            deadline=spec.deadline, rung_deadline=spec.rung_deadline or spec.deadline,
            created_at=now, due_at=due_after(now, spec.deadline),
        )
        task.escalate_at = task.due_at if len(ladder) > 1 else None
        session.add(task)
        session.flush()
        audit.record(session=session, at=now, actor="system", action="task.opened",
                     case_id=run.case_id, procedure_run_id=procedure_run_id, task_id=task.id,
                     step=step, owner=first, due_at=task.due_at.isoformat())
        key = f"notify:task:{task.id}:opened"
        payload = {"agency": first, "event": "task.opened", "task_id": task.id, "step": step,
                   "due_at": task.due_at.isoformat()}
        # Delivered on the real clock, whenever the task opened: to the agency's webhook, and
        # as a message of its own to its group robot, if it has one (app/adapters/robots.py).
        enqueue(session=session, kind="notify", dedupe_key=key, payload=payload, now=clock.now())
        enqueue_robot(session=session, notify_key=key, payload=payload, now=clock.now())
        return int(task.id)  # type: ignore[arg-type]


def check_record(procedure_run_id: int, step_key: str, context: dict[str, Any]) -> list[str]:
    """Check a completed step's record again, with what the procedure knows (e.g. which
    hospital admitted the child); return the codes of the problems found, [] when none."""
    from expectations.isolated import problems as suite_problems

    with db() as session:
        task = session.exec(select(HumanTask).where(
            HumanTask.procedure_run_id == procedure_run_id,
            HumanTask.step_key == step_key)).one()
        spec = step_spec(task.step)
        if spec.suite is None:
            raise ValueError(f"step {task.step} has no suite to check its record with")
        # In a worker process: the serving process, which runs this, stays free of GE.
        problems = suite_problems(spec.suite, {**task.record, **context})
        if problems:
            audit.record(session=session, at=clock.now(), actor="system",
                         action="record.refused", case_id=task.case_id,
                         procedure_run_id=procedure_run_id, task_id=task.id, problems=problems)
        return problems


def open_timer(procedure_run_id: int, key: str, due_at: datetime) -> int:
    """Create the durable timer, or return the existing one for this run and key."""
    now = clock.now()
    with db() as session:
        existing = session.exec(select(Timer).where(
            Timer.procedure_run_id == procedure_run_id, Timer.key == key)).first()
        if existing is not None:
            return int(existing.id)  # type: ignore[arg-type]
        run = session.get(ProcedureRun, procedure_run_id)
        assert run is not None
        timer = Timer(procedure_run_id=procedure_run_id, case_id=run.case_id, key=key,
                      due_at=due_at)
        session.add(timer)
        session.flush()
        audit.record(session=session, at=now, actor="system", action="timer.set",
                     case_id=run.case_id, procedure_run_id=procedure_run_id, timer=key,
                     due_at=due_at.isoformat())
        return int(timer.id)  # type: ignore[arg-type]


def local_morning(day: date) -> datetime:
    """09:00 Beijing time on `day`: when a dated step (a visit, a clock) becomes due."""
    return datetime.combine(day, time(9, 0), tzinfo=TZ)


def finish_run(procedure_run_id: int, outcome: str, status: str = "completed") -> None:
    now = clock.now()
    with db() as session:
        run = session.get(ProcedureRun, procedure_run_id)
        assert run is not None
        if run.status in ("completed", "failed"):
            return
        run.status, run.outcome, run.ended_at = status, outcome, now
        session.add(run)
        if status == "failed":
            # Nobody should work on, or be chased for, a step of a procedure that has failed.
            for t in session.exec(select(HumanTask).where(
                    HumanTask.procedure_run_id == procedure_run_id, HumanTask.status == "open")):
                t.status, t.escalate_at = "cancelled", None
                session.add(t)
            for tm in session.exec(select(Timer).where(
                    Timer.procedure_run_id == procedure_run_id, Timer.status == "pending")):
                tm.status = "cancelled"
                session.add(tm)
        audit.record(session=session, at=now, actor="system", action="procedure.finished",
                     case_id=run.case_id, procedure_run_id=procedure_run_id, outcome=outcome)


def start_child(parent_run_id: int, code: str, key: str,
                params: dict[str, Any] | None = None) -> int:
    """Start another procedure for the same case, once per (parent run, key)."""
    from app.adapters.dispatch import dispatch

    with db() as session:
        parent = session.get(ProcedureRun, parent_run_id)
        assert parent is not None
        run = start_procedure(session=session, case_id=parent.case_id, code=code,
                              actor=f"procedure:{parent.code}", now=clock.now(), params=params,
                              parent_run_id=parent_run_id,
                              start_key=f"run:{parent_run_id}:{key}")
        run_id = int(run.id)  # type: ignore[arg-type]
    dispatch(keys=[start_message_key(run_id)])
    return run_id


def notify(procedure_run_id: int, agency: str, event: str, key: str, **data: Any) -> None:
    """Queue a notification to an agency: codes and ids only."""
    now = clock.now()
    with db() as session:
        run = session.get(ProcedureRun, procedure_run_id)
        assert run is not None
        enqueue(session=session, kind="notify", dedupe_key=f"notify:run:{procedure_run_id}:{key}",
                payload={"agency": agency, "event": event, "procedure_run_id": procedure_run_id,
                         **data}, now=now)
        audit.record(session=session, at=now, actor="system", action="notification.queued",
                     case_id=run.case_id, procedure_run_id=procedure_run_id, agency=agency,
                     event=event)


def set_placement(procedure_run_id: int, placed_on: date) -> None:
    """Record the placement date: J2's two-year clock starts there."""
    with db() as session:
        _, case = _run_and_case(session, procedure_run_id)
        case.placed_at = placed_on
        session.add(case)
        audit.record(session=session, at=clock.now(), actor="system", action="case.placed",
                     case_id=case.id, procedure_run_id=procedure_run_id,
                     placed_on=placed_on.isoformat())


def placement_date(procedure_run_id: int) -> date | None:
    with db() as session:
        _, case = _run_and_case(session, procedure_run_id)
        return case.placed_at


def family_was_found(procedure_run_id: int) -> bool:
    """Whether the case's family is found already: J1 can find it before J2's run, started
    earlier, sets its clock, and a found family cancels only the clocks already set."""
    with db() as session:
        _, case = _run_and_case(session, procedure_run_id)
        return case.family_found_at is not None


def is_school_age(procedure_run_id: int, on: date, ages: tuple[int, int]) -> bool:
    """Whether the child is of compulsory school age on `on` (no age leaves this function)."""
    from app.domain.idcard import age_on

    with db() as session:
        _, case = _run_and_case(session, procedure_run_id)
        child = session.get(Child, case.child_id)
        assert child is not None
        return ages[0] <= age_on(child.birth_date, on) <= ages[1]


def case_is_open(procedure_run_id: int, key: str) -> bool:
    """Whether the run's case is still open; `key` names the moment asked (one answer each)."""
    with db() as session:
        _, case = _run_and_case(session, procedure_run_id)
        return case.status == "open"


def seal_record(procedure_run_id: int, step_key: str) -> int:
    """Seal the run's criminal record (J3): move the records of its steps into a sealed record.

    The sealing step's form names the record; the records of every step of the run (the
    investigation, the handling, the judgment, the sealing) leave their tasks, which keep only
    the sealed record's id, so that from now on the record is read only through
    `services.read_sealed_record`. Once per run.
    """
    with db() as session:
        existing = session.exec(select(SealedRecord.id).where(
            SealedRecord.procedure_run_id == procedure_run_id)).first()
        if existing is not None:
            return int(existing)
        run = session.get(ProcedureRun, procedure_run_id)
        assert run is not None
        tasks = session.exec(select(HumanTask).where(
            HumanTask.procedure_run_id == procedure_run_id, HumanTask.status == "done")).all()
        form = next(t.record for t in tasks if t.step_key == step_key)
        sealed = SealedRecord(
            case_id=run.case_id, procedure_run_id=procedure_run_id, record_no=form["record_no"],
            authority=form["authority"], sealed_on=date.fromisoformat(form["sealed_on"]),
            content={t.step_key: t.record for t in tasks}, created_at=clock.now())
        session.add(sealed)
        session.flush()
        for t in tasks:
            t.record = {"sealed_record_id": sealed.id}
            session.add(t)
        audit.record(session=session, at=clock.now(), actor="system", action="record.sealed",
                     case_id=run.case_id, procedure_run_id=procedure_run_id,
                     sealed_record_id=sealed.id, authority=sealed.authority)
        return int(sealed.id)  # type: ignore[arg-type]


def family_found(procedure_run_id: int) -> list[int]:
    """The family is found (J1): record it on the case and stop its waiting clocks (J2's two
    years); returns the cancelled timers. The serving process delivers their resumes."""
    from app.services.cases import family_found as found

    with db() as session:
        run, case = _run_and_case(session, procedure_run_id)
        return found(session=session, case_ref=case.case_no, actor=f"procedure:{run.code}",
                     now=clock.now())


def hotline_feedback(procedure_run_id: int, event: str) -> str:
    """Queue an S1 run's feedback to the hotline platform and try it at once; its key.

    A platform that is down gets it later: the outbox retries with back-off, and every sweep
    delivers what is due. The key makes a second delivery recognisable to the platform.
    """
    from app.adapters.dispatch import dispatch
    from app.services.hotline import queue_feedback

    with db() as session:
        key = queue_feedback(session=session, procedure_run_id=procedure_run_id, event=event,
                             now=clock.now())
    dispatch(keys=[key])
    return key
