"""Tasks: an agency's inbox, a task read under the access rules, a task completed with its
form; and the use case that completes a task and resumes its procedure at once."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import update
from sqlmodel import Session, col, select

from app.adapters import audit
from app.adapters.outbox import enqueue, resume_message_key
from app.adapters.store import db
from app.adapters.validation import check
from app.config.procedures import step_spec
from app.domain import access, clock
from app.domain.access import Principal
from app.domain.errors import Conflict, Forbidden, NotFound
from app.domain.workdays import TZ
from app.services.cases import (
    allowed_agencies,
    full_case,
    get_case,
    pause_key,
    sealed_runs,
    shown_task,
)
from models import Case, HumanTask

if TYPE_CHECKING:
    from app.services.delivery import Outcome


def _may_see(task: HumanTask, viewer: Principal) -> None:
    """Forbidden unless the viewer may see the task (visible_task)."""
    if viewer.has(*access.UNRESTRICTED):
        return
    if viewer.has("worker", "supervisor") and viewer.agency in allowed_agencies(task):
        return
    raise Forbidden(f"task {task.id} is not one of {viewer.agency}'s tasks")


def visible_task(*, session: Session, task_id: int, viewer: Principal) -> HumanTask:
    """A task the viewer may see: coordinators any, an agency's workers and supervisors those
    their agency holds or held on the task's ladder (allowed_agencies); Forbidden otherwise."""
    task = session.get(HumanTask, task_id)
    if task is None:
        raise NotFound(f"no task {task_id}")
    _may_see(task, viewer)
    return task


def complete_task(
    *, session: Session, task_id: int, agency: str, form: Any | Callable[[str], Any],
    actor: str, now: datetime, viewer: Principal | None = None
) -> HumanTask:
    """Validate the form, close the task, keep the record, and queue the flow's resume.

    `form` is the step's form, or a function of the step that gives it (a page reads its
    inputs by the step's fields). With a `viewer` (the API, the pages), the task must first
    be one the viewer may see, as visible_task says.

    All in the caller's transaction: if it commits, the agency's work is kept even when
    Prefect is unreachable; the dispatcher resumes the run later.
    """
    task = session.get(HumanTask, task_id)
    if task is None:
        raise NotFound(f"no task {task_id}")
    if viewer is not None:
        _may_see(task, viewer)
    if task.status != "open":
        raise Conflict(f"task {task_id} is already {task.status}"
                       + (f" (by {task.completed_by})" if task.completed_by else ""))
    if agency not in allowed_agencies(task):
        raise Forbidden(f"task {task_id} belongs to {task.owner}, not to {agency}")
    spec = step_spec(task.step)
    parsed = check(spec.form, form(task.step) if callable(form) else form, suite=spec.suite)
    decision = spec.decision.model_validate(
        parsed.model_dump(include=set(spec.decision.model_fields))).model_dump(mode="json")
    done = session.exec(  # type: ignore[call-overload]
        update(HumanTask)
        .where(col(HumanTask.id) == task_id, col(HumanTask.status) == "open")
        .values(status="done", completed_at=now, completed_by=agency, decision=decision,
                record=parsed.model_dump(mode="json"))
    )
    if done.rowcount != 1:
        raise Conflict(f"task {task_id} was completed by someone else just now")
    audit.record(session=session, at=now, actor=actor, action="task.completed",
                 case_id=task.case_id, procedure_run_id=task.procedure_run_id, task_id=task_id,
                 step=task.step, agency=agency, decision=decision)
    enqueue(session=session, kind="resume", dedupe_key=resume_message_key(task_id),
            payload={"procedure_run_id": task.procedure_run_id,
                     "pause_key": pause_key("task", task.step_key),
                     "run_input": {"task_id": task_id}}, now=now)
    session.refresh(task)
    return task


@dataclass(frozen=True)
class Completion:
    """A task completed, and whether its procedure took the resume at once."""

    task: HumanTask
    resumed: bool  # False: Prefect did not take it now; the dispatcher delivers it (next sweep)
    waiting: Outcome | None = None  # why not (app/services/delivery.py); None: resumed


def complete_task_and_resume(*, task_id: int, agency: str, form: Any | Callable[[str], Any],
                             actor: str, viewer: Principal | None = None,
                             handover: bool = False) -> Completion:
    """Complete a task in its own unit of work (complete_task, with the same `form` and
    `viewer`), committed; then deliver the resume it queued, so the procedure goes on now
    (`handover`: a short command, which leaves it to the running system's dispatcher,
    app/services/delivery.py).

    The agency's work is kept even when Prefect is unreachable: the resume then waits in
    the outbox.
    """
    from app.services.delivery import deliver_now

    with db() as session:
        task = complete_task(session=session, task_id=task_id, agency=agency, form=form,
                             actor=actor, now=clock.now(), viewer=viewer)
    delivery = deliver_now([resume_message_key(task_id)], handover=handover)
    return Completion(task=task, resumed=delivery.waiting is None, waiting=delivery.waiting)


def list_tasks(
    *,
    session: Session,
    now: datetime,
    case_ref: str | None = None,
    agency: str | None = None,
    overdue: bool = False,
    status: str = "open",
    limit: int | None = None,
    offset: int | None = None,
    escalated: bool = False,
) -> list[tuple[HumanTask, str]]:
    """Tasks with their case numbers, overdue first then by due time (`escalated`: only
    those past their first rung).

    `limit` and `offset` page through them (default: all): a busy agency has thousands of
    open tasks, and its first page comes straight off the (owner, status, due_at) index.
    """
    stmt = select(HumanTask, Case.case_no).join(Case, col(Case.id) == HumanTask.case_id)
    stmt = stmt.where(HumanTask.status == status)
    if case_ref:
        stmt = stmt.where(Case.id == get_case(session=session, case_ref=case_ref).id)
    if agency:
        stmt = stmt.where(HumanTask.owner == agency)
    if overdue:
        stmt = stmt.where(col(HumanTask.due_at) <= now)
    if escalated:
        stmt = stmt.where(col(HumanTask.rung) > 0)
    stmt = stmt.order_by(col(HumanTask.due_at), col(HumanTask.id)).limit(limit).offset(offset)
    return [(t, no) for t, no in session.exec(stmt).all()]


# --- reads under the access rules (app/domain/access.py): the API, the CLI and the web pages ------


def inbox(*, session: Session, viewer: Principal, now: datetime, case_ref: str | None = None,
          agency: str | None = None, overdue: bool = False, status: str = "open",
          limit: int | None = None, offset: int | None = None, escalated: bool = False
          ) -> list[tuple[HumanTask, str]]:
    """The tasks a viewer may list: an agency's own (current owner) unless the viewer's roles
    see every agency's (coordinators, and managers, whose lists hold no personal data)."""
    if not viewer.has(*access.UNRESTRICTED, *access.NO_PERSONAL_DATA):
        if agency is not None and agency != viewer.agency:
            raise Forbidden(f"{viewer.agency} may list its own tasks only, not {agency}'s")
        agency = viewer.agency
    return list_tasks(session=session, now=now, case_ref=case_ref, agency=agency,
                      overdue=overdue, status=status, limit=limit, offset=offset,
                      escalated=escalated)


def read_task(*, session: Session, task_id: int, viewer: Principal, now: datetime
              ) -> tuple[HumanTask, str, dict[str, Any]]:
    """A task, its case number and the case fields its step needs; audited when they, or the
    task's record, hold personal data.

    A task of a sealed run (J3) comes back, for a reader who is not judicial, as a detached
    copy with the sealed marker in place of its decision and record (app/domain/sealing.py);
    the event of a judicial reader's read names the sealed record."""
    task = visible_task(session=session, task_id=task_id, viewer=viewer)
    case = session.get(Case, task.case_id)
    assert case is not None
    fields = access.step_case_fields(task.step)
    if viewer.has(*access.UNRESTRICTED):
        fields = access.ALL_CASE_FIELDS
    view = access.shape_case(full_case(session, case, now.astimezone(TZ).date()), fields)
    sealed = sealed_runs(session, case_id=case.id or 0)
    shown = shown_task(task, sealed, viewer)
    if access.personal(fields) or task.record:
        extra = ({"sealed_record_id": sealed[task.procedure_run_id], "sealed_shown": True}
                 if task.procedure_run_id in sealed and shown is task else {})
        audit.record(session=session, at=now, actor=viewer.actor, action="task.read",
                     case_id=case.id, procedure_run_id=task.procedure_run_id, task_id=task.id,
                     agency=viewer.agency, fields=sorted(fields), **extra)
    return shown, case.case_no, view
