"""Tasks: an agency's inbox, one task with the case fields it needs, complete it."""

from __future__ import annotations

import functools
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Query
from pydantic import BaseModel

from app.adapters.form_schema import form_schema
from app.adapters.store import db
from app.adapters.validation import body_problems, check, field_namer, refuse_with
from app.config.procedures import step_spec
from app.config.vocabulary import Vocabulary
from app.domain import clock
from app.domain.access import Principal
from app.entrypoints.api.deps import DisplayLang, TaskId, allow, no_nul
from app.entrypoints.api.schemas import CaseView, Completed, Documented, TaskDetail, TaskRow
from app.services import tasks
from expectations.runner import without_great_expectations
from flows.forms import AgencyCode
from models import HumanTask

router = APIRouter(prefix="/tasks", tags=["tasks"])


def _row(t: HumanTask, case_no: str, now: datetime, lang: str = "zh") -> dict[str, Any]:
    from app.domain.workdays import is_provisional, working_days_between

    w = Vocabulary(lang)
    return {"id": t.id, "case": case_no, "step": t.step, "title": t.title, "owner": t.owner,
            "owner_role": t.owner_role, "rung": t.rung, "status": t.status, "due_at": t.due_at,
            "step_name": w.task(t.step, t.title),
            "procedure_name": w.procedure(t.step.split(".", 1)[0]),
            "owner_name": w.owner(t.owner, t.owner_role), "rung_name": w.rung(t.rung),
            "status_name": w.status("task", t.status),
            "working_days_left": working_days_between(now, t.due_at),
            "due_provisional": is_provisional(now, t.due_at),
            "overdue": t.status == "open" and t.due_at <= now}


@router.get("", response_model=list[TaskRow])
def inbox(who: Annotated[Principal, allow("task.inbox")],
          case: Annotated[str | None, Query(pattern=r"^(C\d{4}-\d{6,12}|\d{1,12})$")] = None,
          agency: AgencyCode | None = None,
          overdue: bool = False,
          status: Literal["open", "done", "cancelled"] = "open",
          limit: Annotated[int, Query(ge=1, le=500)] = 100,
          offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
          lang: DisplayLang = "zh") -> list[TaskRow]:
    """Tasks, overdue first then by due time: an agency's own; every agency's for
    coordinators and managers (optionally one `agency`). Each with its step's, procedure's,
    owner's, rung's and status's names beside the codes (`?lang=` or Accept-Language)."""
    now = clock.now()
    with db() as session:
        rows = tasks.inbox(session=session, viewer=who, now=now, case_ref=case, agency=agency,
                           overdue=overdue, status=status, limit=limit, offset=offset)
        return [TaskRow(**_row(t, no, now, lang)) for t, no in rows]


@router.get("/{task_id}", response_model=TaskDetail, response_model_exclude_unset=True)
def read_task(task_id: TaskId, who: Annotated[Principal, allow("task.read")],
              lang: DisplayLang) -> TaskDetail:
    """A task, the case fields its step needs, and its form's JSON schema. Audited."""
    now = clock.now()
    with db() as session:
        task, case_no, view = tasks.read_task(session=session, task_id=task_id, viewer=who,
                                              now=now)
        return TaskDetail(
            **_row(task, case_no, now, lang), ladder=list(task.ladder),
            completed_at=task.completed_at, completed_by=task.completed_by,
            decision=dict(task.decision), record=dict(task.record),
            form_schema=described_form(task.step),
            case_view=CaseView.model_validate(view))


def step_forms() -> tuple[list[type[BaseModel]], dict[type[BaseModel], str | None],
                         dict[type[BaseModel], str]]:
    """Every step's form, with its suite, and the steps it is the form of (for `Documented`,
    when the document is made)."""
    from flows.catalog import base_procedures

    steps: dict[type[BaseModel], list[Any]] = {}
    for procedure in base_procedures().values():
        for step in procedure.steps:
            steps.setdefault(step.form, []).append(step)
    notes = {form: "The form of " + ", ".join(f"`{s.name}` ({s.title_zh})" for s in those) + "."
             for form, those in steps.items()}
    return list(steps), {form: those[0].suite for form, those in steps.items()}, notes


@functools.cache
def described_form(step: str) -> dict[str, Any]:
    """A step's form as its gate checks it (form_schema.describe), self-contained."""
    spec = step_spec(step)
    return form_schema(spec.form, suite=spec.suite)


@router.post("/{task_id}/complete", response_model=Completed)
def complete(task_id: TaskId, who: Annotated[Principal, allow("task.complete")],
             form: Annotated[dict[str, Any], Body(), Documented(lazy=step_forms)]
             ) -> Completed:
    """Complete a task as the caller's agency; the procedure resumes.

    The body is the form of the task's step: one of the forms below, the one `GET
    /tasks/{task_id}` gives as `form_schema` (docs/examples/ has one per step). Another
    step's form is refused (422) field by field, as the task's own form would refuse it."""
    no_nul(form)

    def gate(step: str) -> dict[str, Any]:  # the task's step, once the task is known
        spec = step_spec(step)
        refuse_with(body_problems(described_form(step), form, field_namer(spec.form)),
                    lambda: check(spec.form, form, suite=spec.suite))
        return form

    with without_great_expectations():  # a suite in plain Python: no 4 s import of GE
        done = tasks.complete_task_and_resume(task_id=task_id, agency=who.agency, form=gate,
                                              actor=who.actor, viewer=who)
    return Completed(task=task_id, status="done", resumed=done.resumed)
