"""The sweep: fire due timers, escalate overdue tasks one rung, deliver the outbox.

Safe to run twice at once: every change is a compare-and-set on the row's state, committed
with its audit event and outbox message (in batches of up to 100 items per transaction), so
each timer fires once and each rung is taken once. Its cost follows the due items (indexed
queries on status and time), not the open ones: see B2 in docs/BENCHMARKS.md.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import update
from sqlmodel import Session, col, select

from app.adapters import audit
from app.adapters.dispatch import dispatch
from app.adapters.outbox import timer_message_key
from app.adapters.robots import robot_messages
from app.adapters.store import db
from app.config.calendar import coverage_warning
from app.domain import clock
from app.domain.workdays import due_after
from app.services.cases import pause_key
from app.services.engine import finish_run, split_rung
from models import Case, HumanTask, OutboxMessage, ProcedureRun, Timer

log = logging.getLogger("protect.sweep")


@dataclass
class SweepReport:
    as_of: str
    timers_fired: int = 0
    tasks_escalated: int = 0
    runs_recovered: int = 0
    delivered: int = 0
    delivery_failures: int = 0
    escalations: list[dict[str, Any]] = field(default_factory=list)
    # Set when the next 90 days reach a year without official calendar data (deadlines
    # there are provisional): in the report only, never logged by each minute's sweep.
    calendar_warning: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# Items per transaction. One transaction per item cost a commit (an fsync on SQLite) and a
# dozen ORM round trips per item; a batch keeps each item's compare-and-set and its audit event
# and outbox message in one transaction, and stays short so other writers barely wait.
BATCH = 100
_TIMER: Any = Timer.__table__
_TASK: Any = HumanTask.__table__


def _batches(items: list[Any], size: int = BATCH) -> Iterator[list[Any]]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


def _enqueue_all(*, session: Session, messages: list[tuple[str, str, dict[str, Any]]],
                 now: datetime) -> None:
    """`outbox.enqueue` for a batch of (kind, dedupe key, payload): one look-up, one flush."""
    if not messages:
        return
    keys = [key for _, key, _ in messages]
    existing = set(session.exec(select(OutboxMessage.dedupe_key).where(
        col(OutboxMessage.dedupe_key).in_(keys))).all())
    session.add_all([OutboxMessage(kind=kind, dedupe_key=key, payload=payload, created_at=now,
                                   next_attempt_at=now)
                     for kind, key, payload in messages if key not in existing])


def _lock(conn: Any, table: Any, ids: list[int]) -> set[int]:
    """Lock these rows for this transaction; the ids this sweep got.

    On PostgreSQL, `SELECT … FOR UPDATE SKIP LOCKED`: rows another sweep is working on are
    skipped at once instead of waited for (that sweep fires or escalates them). SQLite has
    no row locks (one writer at a time): every id, and the compare-and-set decides.
    """
    if conn.dialect.name != "postgresql":
        return set(ids)
    return set(conn.execute(select(table.c.id).where(table.c.id.in_(ids))
                            .with_for_update(skip_locked=True)).scalars())


def fire_timers(*, as_of: datetime, limit: int) -> int:
    with db() as session:
        due = session.exec(select(Timer.id, Timer.key, Timer.case_id, Timer.procedure_run_id)
                           .where(Timer.status == "pending", col(Timer.due_at) <= as_of)
                           .order_by(col(Timer.due_at)).limit(limit)).all()
    fired = 0
    # In id order, so that two sweeps lock rows (PostgreSQL) in the same order: one waits for
    # the other's batch to commit, then its compare-and-set finds the row taken; no deadlock.
    for batch in _batches(sorted(due, key=lambda t: t.id)):
        with db() as session:
            conn = session.connection()
            free = _lock(conn, _TIMER, [t.id for t in batch])
            taken = [t for t in batch if t.id in free and conn.execute(
                update(_TIMER).where(_TIMER.c.id == t.id, _TIMER.c.status == "pending")
                .values(status="fired", fired_at=as_of)).rowcount == 1]
            # A timer another sweep took is skipped: its resume and audit are that sweep's.
            # The instant it fired goes with the resume: the step it leads to counts its
            # deadline from there, also when a sweep "as of" a later day fired it.
            _enqueue_all(session=session, now=clock.now(), messages=[
                ("resume", timer_message_key(t.id),
                 {"procedure_run_id": t.procedure_run_id, "pause_key": pause_key("timer", t.key),
                  "run_input": {"timer_id": t.id, "outcome": "fired",
                                "fired_at": as_of.isoformat()}}) for t in taken])
            for t in taken:
                audit.record(session=session, at=as_of, actor="sweep", action="timer.fired",
                             case_id=t.case_id, procedure_run_id=t.procedure_run_id, timer=t.key)
        fired += len(taken)
    return fired


def escalate_tasks(*, as_of: datetime, limit: int) -> list[dict[str, Any]]:
    with db() as session:
        due = session.exec(select(
            HumanTask.id, HumanTask.rung, HumanTask.ladder, HumanTask.rung_deadline,
            HumanTask.owner, HumanTask.step, HumanTask.case_id, HumanTask.procedure_run_id,
        ).where(HumanTask.status == "open", col(HumanTask.escalate_at) <= as_of)
         .order_by(col(HumanTask.escalate_at)).limit(limit)).all()
        if not due:
            return []
        runs = {r.id: r for r in session.exec(
            select(ProcedureRun.id, ProcedureRun.code, ProcedureRun.flow_run_id, Case.case_no)
            .join(Case, col(Case.id) == ProcedureRun.case_id)
            .where(col(ProcedureRun.id).in_({t.procedure_run_id for t in due}))).all()}
    # Every task due now gets the same deadline for the same rung length: compute each once.
    deadlines: dict[str, datetime] = {}
    taken: list[dict[str, Any]] = []
    for batch in _batches(sorted(due, key=lambda t: t.id)):  # id order: see fire_timers
        with db() as session:
            conn = session.connection()
            free = _lock(conn, _TASK, [t.id for t in batch])
            done = []
            for t in batch:
                if t.id not in free:
                    continue  # another sweep holds it now: that sweep takes this rung
                new_rung = t.rung + 1
                if new_rung >= len(t.ladder):
                    continue
                owner, role = split_rung(t.ladder[new_rung])
                if t.rung_deadline not in deadlines:
                    deadlines[t.rung_deadline] = due_after(as_of, t.rung_deadline)
                new_due = deadlines[t.rung_deadline]
                at_top = new_rung == len(t.ladder) - 1
                res = conn.execute(
                    update(_TASK)
                    .where(_TASK.c.id == t.id, _TASK.c.rung == t.rung, _TASK.c.status == "open")
                    .values(rung=new_rung, owner=owner, owner_role=role, due_at=new_due,
                            escalate_at=None if at_top else new_due))
                if res.rowcount != 1:
                    continue  # completed meanwhile, or another sweep took this rung
                run = runs[t.procedure_run_id]
                done.append((t, owner, {
                    "task_id": t.id, "case_no": run.case_no, "procedure": run.code,
                    "step": t.step, "rung": new_rung, "from": t.owner,
                    "to": t.ladder[new_rung], "due_at": new_due.isoformat(),
                    "flow_run_id": run.flow_run_id}))
            for t, _, info in done:
                audit.record(session=session, at=as_of, actor="sweep", action="task.escalated",
                             case_id=t.case_id, procedure_run_id=t.procedure_run_id,
                             task_id=t.id, rung=info["rung"], to=info["to"],
                             due_at=info["due_at"])
            notices: list[tuple[str, str, dict[str, Any]]] = [
                ("notify", f"notify:task:{t.id}:rung:{info['rung']}",
                 {"agency": owner, "event": "task.escalated",
                  **{k: v for k, v in info.items() if k != "flow_run_id"}})
                for t, owner, info in done]
            # The new rung's agency: its webhook, and its group robot as a message of its own.
            _enqueue_all(session=session, now=clock.now(), messages=notices + robot_messages(
                session=session, messages=notices))
        taken.extend(info for _, _, info in done)
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


RECOVER_MAX = 5  # recoveries of one procedure run; a run that keeps crashing then fails
# A worker moves a run to Pending, then starts its process, which makes it Running within
# seconds. A run Pending for longer was dropped by a worker that failed half-way (e.g. its API
# calls failed during a database restart) and could not mark it crashed: no process has it.
STUCK_PENDING = timedelta(minutes=3)


def recover_crashed_runs(*, limit: int = 200) -> int:
    """Queue a reschedule for each crashed flow run whose procedure is still active.

    A flow run is crashed when its process died: its worker was killed, or Prefect's zombie
    check (app/runtime/cluster.py) saw its heartbeats stop; a run stuck in Pending
    (STUCK_PENDING) is treated alike. The procedure is not over, so the run is scheduled again
    and replays from the top (docs/engine.md). Each crash (Prefect's state id) is queued once; after
    RECOVER_MAX recoveries the procedure is marked failed instead.
    """
    try:
        from prefect.client.schemas.filters import (
            FlowRunFilter,
            FlowRunFilterState,
            FlowRunFilterStateType,
        )
        from prefect.client.schemas.objects import StateType
        from prefect.client.schemas.sorting import FlowRunSort

        from app.adapters.prefect import PREFECT_RETRIES, client_retries, prefect_client

        with client_retries(PREFECT_RETRIES):
            crashed = prefect_client().read_flow_runs(
                flow_run_filter=FlowRunFilter(state=FlowRunFilterState(
                    type=FlowRunFilterStateType(any_=[StateType.CRASHED, StateType.PENDING]))),
                sort=FlowRunSort.EXPECTED_START_TIME_DESC, limit=limit)
    except Exception as exc:  # noqa: BLE001 - Prefect may be down: the next sweep looks again
        log.warning("crashed runs not checked: %s", type(exc).__name__)
        return 0
    stuck_before = clock.now() - STUCK_PENDING
    states = {str(fr.id): str(fr.state.id) for fr in crashed if fr.state is not None
              and (fr.state.is_crashed() or fr.state.timestamp < stuck_before)}
    if not states:
        return 0
    now = clock.now()
    queued, give_up = 0, []
    with db() as session:
        runs = session.exec(select(ProcedureRun).where(
            col(ProcedureRun.flow_run_id).in_(list(states)),
            col(ProcedureRun.status).in_(["starting", "running"]))).all()
        for run in runs:
            prefix = f"recover:{run.id}:"
            key = prefix + states[str(run.flow_run_id)]
            earlier = session.exec(select(OutboxMessage.dedupe_key).where(
                col(OutboxMessage.dedupe_key).startswith(prefix))).all()
            if key in earlier:
                continue
            if len(earlier) >= RECOVER_MAX:
                give_up.append(int(run.id))
                continue
            session.add(OutboxMessage(
                kind="recover", dedupe_key=key, created_at=now, next_attempt_at=now,
                payload={"procedure_run_id": run.id, "flow_run_id": run.flow_run_id,
                         "state_id": states[str(run.flow_run_id)]}))
            audit.record(session=session, at=now, actor="sweep", action="run.recovering",
                         case_id=run.case_id, procedure_run_id=run.id,
                         recovery=len(earlier) + 1)
            queued += 1
    for run_id in give_up:
        log.error("procedure run %s crashed %d times: marked failed", run_id, RECOVER_MAX + 1)
        finish_run(run_id, "crashed", status="failed")
    return queued


def sweep(*, now: datetime | None = None, limit: int = 1000, deliver: bool = True) -> SweepReport:
    """One pass, as of `now` (default: the clock)."""
    as_of = now or clock.now()
    report = SweepReport(as_of=as_of.isoformat(), calendar_warning=coverage_warning(as_of))
    report.runs_recovered = recover_crashed_runs()
    report.timers_fired = fire_timers(as_of=as_of, limit=limit)
    report.escalations = escalate_tasks(as_of=as_of, limit=limit)
    report.tasks_escalated = len(report.escalations)
    emit_escalation_events(report.escalations)
    if deliver:
        d = dispatch(limit=limit)
        report.delivered, report.delivery_failures = d.delivered, d.failed
    return report
