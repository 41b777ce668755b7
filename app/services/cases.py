"""The service layer: what coordinators and agencies do, each in one transaction."""

from __future__ import annotations

import re
import uuid
from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field
from sqlalchemy import update
from sqlmodel import Session, col, select

from app.adapters import audit
from app.adapters.outbox import enqueue, resume_message_key, start_message_key, timer_message_key
from app.adapters.validation import check, checked_id_number, id_number_typed, typed_text
from app.config.procedures import procedure, step_spec
from app.domain import access
from app.domain.access import Principal
from app.domain.agencies import DISTRICTS
from app.domain.errors import Conflict, Forbidden, NotFound, ValidationFailed
from app.domain.idcard import normalize_id_number
from app.domain.screening import Category
from app.domain.text import TextRefused, clean_text
from app.domain.workdays import TZ
from flows.catalog import ProcedureSpec
from flows.forms import District
from models import (
    Agency,
    AuditEvent,
    Case,
    Child,
    Dossier,
    Guardian,
    HumanTask,
    ProcedureRun,
    SealedRecord,
    Timer,
)

# Typed text (app/domain/text.py): invisible characters stripped, control characters refused,
# and a name may not begin like a spreadsheet formula. ID numbers: a final lower-case x is
# upper-cased; a guardian's is checked as the child_intake suite checks the child's.
PersonName = Annotated[str, BeforeValidator(typed_text("姓名", name=True))]
Address = Annotated[str | None, BeforeValidator(typed_text("地址", multiline=True))]
IdNumber = Annotated[str | None, BeforeValidator(id_number_typed)]


class ChildIn(BaseModel):
    """The child as the coordinator records them at intake."""

    model_config = ConfigDict(extra="forbid")
    name: PersonName = Field(min_length=1, max_length=64)
    sex: Literal["M", "F"]
    birth_date: date
    id_number: IdNumber = None  # checked by the child_intake suite
    has_hukou: bool = False
    hukou_district: District | Literal["other"] | None = None
    district: District
    address: Address = Field(default=None, max_length=200)
    categories: list[Category] = Field(default_factory=list)


class GuardianIn(BaseModel):
    """A guardian as recorded at intake."""

    model_config = ConfigDict(extra="forbid")
    name: PersonName = Field(min_length=1, max_length=64)
    relation: Annotated[str, BeforeValidator(typed_text("关系"))] = Field(min_length=1,
                                                                          max_length=32)
    phone: Annotated[str | None, BeforeValidator(typed_text("电话"))] = Field(default=None,
                                                                            max_length=32)
    address: Address = Field(default=None, max_length=200)
    id_number: Annotated[IdNumber, AfterValidator(checked_id_number)] = None


class CaseOpen(BaseModel):
    """The intake form that opens a case."""

    model_config = ConfigDict(extra="forbid")
    child: ChildIn
    guardians: list[GuardianIn] = Field(default_factory=list)
    intake_date: date
    source: Literal["hotline", "community", "patrol", "coordinator", "hospital"] = "coordinator"


INTAKE_FIELDS = ("name", "sex", "birth_date", "id_number", "district", "hukou_district")


def pause_key(kind: str, key: str) -> str:
    """The suspension key for a task or timer (Prefect allows lowercase, digits and dashes)."""
    return f"{kind}-{key}".lower().replace("_", "-").replace(".", "-")


def typed_child(child: Any) -> Any:
    """The child's fields that the child_intake suite checks, as the model keeps them: the ID
    number normalised, the name without invisible characters. The suite then judges what is
    kept; a name the model refuses is left as it came, for the model to refuse."""
    if not isinstance(child, dict):
        return child
    typed = dict(child)
    if isinstance(typed.get("id_number"), str):
        typed["id_number"] = normalize_id_number(typed["id_number"])
    if isinstance(typed.get("name"), str):
        try:
            typed["name"] = clean_text(typed["name"], name=True)
        except TextRefused:
            pass
    return typed


def _intake_record(data: Any) -> dict[str, Any]:
    child = typed_child(data.get("child")) if isinstance(data, dict) else None
    child = child if isinstance(child, dict) else {}
    record = {k: child.get(k) for k in INTAKE_FIELDS}
    record["intake_date"] = data.get("intake_date") if isinstance(data, dict) else None
    return record


def check_intake(data: Any) -> CaseOpen:
    """The intake form, checked by the child_intake suite and the typed model."""
    form = check(CaseOpen, data, suite="child_intake", suite_record=_intake_record(data),
                 suite_fields={f: f"child.{f}" for f in INTAKE_FIELDS})
    assert isinstance(form, CaseOpen)
    return form


def open_case(*, session: Session, data: Any, actor: str, now: datetime) -> Case:
    """Check the intake form and open a case for the child; refuse with field errors otherwise."""
    form = check_intake(data)
    if form.child.id_number:
        existing = session.exec(
            select(Child).where(Child.id_number == form.child.id_number)).first()
        if existing is not None:
            raise Conflict(f"a child with this ID number is already recorded (child {existing.id});"
                           " a person must decide whether it is the same child")
    child = Child(**form.child.model_dump())
    session.add(child)
    session.flush()
    for g in form.guardians:
        session.add(Guardian(child_id=child.id, **g.model_dump()))
    assert child.id is not None
    return new_case(session=session, child_id=child.id, district=form.child.district,
                    source=form.source, actor=actor, now=now)


def new_case(*, session: Session, child_id: int, district: str, source: str, actor: str,
             now: datetime) -> Case:
    """A new case for a child already recorded, numbered C<year>-<id>."""
    # The number needs the row's id; a unique placeholder holds its place until the flush.
    case = Case(case_no=f"tmp-{uuid.uuid4().hex[:24]}", child_id=child_id, district=district,
                source=source, opened_at=now)
    session.add(case)
    session.flush()
    case.case_no = f"C{now.astimezone(TZ).year}-{case.id:06d}"
    audit.record(session=session, at=now, actor=actor, action="case.opened", case_id=case.id,
                 source=source)
    return case


def open_case_for_child(*, session: Session, child_id: int, source: str, actor: str,
                        now: datetime, case_id: int | None = None) -> Case:
    """The child's open case (`case_id` if it is still open, else its newest), or a new one."""
    if case_id is not None:
        known = session.get(Case, case_id)
        if known is not None and known.status == "open":
            return known
    case = session.exec(select(Case).where(Case.child_id == child_id, Case.status == "open")
                        .order_by(col(Case.id).desc())).first()
    if case is not None:
        return case
    child = session.get(Child, child_id)
    if child is None:
        raise NotFound(f"no child {child_id}")
    return new_case(session=session, child_id=child_id, district=child.district, source=source,
                    actor=actor, now=now)


def get_case(*, session: Session, case_ref: str | int) -> Case:
    """A case by number ("C2026-000001") or id."""
    ref = str(case_ref)
    if ref.isdigit() and len(ref) > 12:  # past any id the store holds (and its integer type)
        raise NotFound(f"no case {ref}")
    stmt = select(Case).where(Case.id == int(ref)) if ref.isdigit() else select(Case).where(
        Case.case_no == ref)
    case = session.exec(stmt).first()
    if case is None:
        raise NotFound(f"no case {ref}")
    return case


def _field_error(field: str, code: str, message: str, message_zh: str) -> Any:
    from expectations.runner import FieldError

    return FieldError(field=field, code=code, message=message, message_zh=message_zh)


_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
# The agency level each kind of agency parameter names.
_PARAM_LEVELS = {"street": "street", "community": "community", "hospital": "hospital"}


def check_start_params(*, session: Session, spec: ProcedureSpec, params: dict[str, Any]
                       ) -> dict[str, str]:
    """A start by hand's parameters, checked against those the procedure declares
    (`ProcedureSpec.params`): no other key, a real ISO date, an agency code of the reference
    data of the right level, a district of the six, one of a choice's values.

    Raises:
        ValidationFailed: every problem, field `params.<name>`, never quoting a value.
    """
    declared = {p.name: p for p in spec.params}
    known = ", ".join(declared) or "none"
    agencies: dict[str, str] | None = None
    errors = []
    for name, value in params.items():
        field = f"params.{name}"
        p = declared.get(name)
        if p is None:
            errors.append(_field_error(
                field, "params.unknown",
                f"{spec.code} takes no parameter of this name; it takes: {known}.",
                f"{spec.code} 没有此参数；可用参数：{known}。"))
            continue
        if not isinstance(value, str) or not value:
            errors.append(_field_error(field, f"{name}.not_text", "The value must be text.",
                                       f"{p.title_zh}须为文本。"))
            continue
        if p.kind == "date":
            try:
                ok = bool(_ISO_DATE.fullmatch(value)) and date.fromisoformat(value) is not None
            except ValueError:
                ok = False
            if not ok:
                errors.append(_field_error(
                    field, f"{name}.date", "The value must be a real date, YYYY-MM-DD.",
                    f"{p.title_zh}须为有效日期（YYYY-MM-DD）。"))
        elif p.kind == "district":
            if value not in DISTRICTS:
                errors.append(_field_error(
                    field, f"{name}.district",
                    f"The value must be one of the districts: {', '.join(DISTRICTS)}.",
                    f"{p.title_zh}须为以下区县之一：{', '.join(DISTRICTS)}。"))
        elif p.kind == "choice":
            if value not in p.choices:
                errors.append(_field_error(
                    field, f"{name}.choice", f"The value must be one of: {', '.join(p.choices)}.",
                    f"{p.title_zh}须为以下之一：{', '.join(p.choices)}。"))
        else:  # an agency code, of a level for street / community / hospital
            if agencies is None:
                agencies = {a.code: a.level for a in session.exec(select(Agency)).all()}
            level = _PARAM_LEVELS.get(p.kind)
            if value not in agencies or (level is not None and agencies[value] != level):
                what = f"a {level} agency" if level else "an agency"
                errors.append(_field_error(
                    field, f"{name}.agency",
                    f"The value must be the code of {what} (see `protect agency list`).",
                    f"{p.title_zh}须为机构代码（见 protect agency list）。"))
    if errors:
        raise ValidationFailed(errors)
    return {k: str(v) for k, v in params.items()}


REASON_MAX = 200
ACTIVE = ("starting", "running")  # a procedure run's states while it is not over


def _reason(reason: str | None) -> str | None:
    """The reason a person gave, as typed text; None when empty."""
    if reason is None:
        return None
    try:
        cleaned = clean_text(reason)  # refuses control characters only (not a name)
    except TextRefused as exc:
        raise ValidationFailed([_field_error(
            "reason", "reason.control_character", f"The text {exc}.",
            f"原因{exc.reason_zh}。")]) from None
    if len(cleaned) > REASON_MAX:
        raise ValidationFailed([_field_error(
            "reason", "reason.length", f"The reason must be at most {REASON_MAX} characters.",
            f"原因不能超过 {REASON_MAX} 个字符。")])
    return cleaned or None


def start_procedure(
    *,
    session: Session,
    case_id: int,
    code: str,
    actor: str,
    now: datetime,
    params: dict[str, Any] | None = None,
    parent_run_id: int | None = None,
    start_key: str | None = None,
    again: bool = False,
    reason: str | None = None,
) -> ProcedureRun:
    """Record a new procedure run and queue its start in Prefect (delivered by the dispatcher).

    With a `start_key`, starting twice returns the first run: flows, the hotline intake and
    screening use this under replay, with parameters of their own. Without one it is a start
    by hand: the code is read case-insensitively, the parameters must be those the procedure
    declares, and a procedure already running on the case is not started a second time
    unless `again`, with a `reason` that the audit trail keeps.

    Raises:
        UnknownProcedure: no such code. NotFound: no such case. ValidationFailed: the
        parameters or the reason, field by field. Conflict: the case is not open, or the
        procedure already runs on it.
    """
    spec = procedure(code)
    case = session.get(Case, case_id)
    if case is None:
        raise NotFound(f"no case {case_id}")
    if case.status != "open":
        raise Conflict(f"case {case.case_no} is {case.status}")
    why = _reason(reason)
    if start_key is None:
        if not spec.by_hand:
            raise ValidationFailed([_field_error(
                "code", "code.not_by_hand",
                f"{spec.code} is started by the system, not by hand.",
                f"{spec.code} 由系统启动，不能手动启动。")])
        params = check_start_params(session=session, spec=spec, params=params or {})
        if again and why is None:
            raise ValidationFailed([_field_error(
                "reason", "reason.required",
                "A second run of a procedure already running needs a reason.",
                "再次启动正在进行的程序须说明原因。")])
        running = session.exec(select(ProcedureRun.id).where(
            ProcedureRun.case_id == case_id, ProcedureRun.code == spec.code,
            col(ProcedureRun.status).in_(ACTIVE)).order_by(col(ProcedureRun.id))).first()
        if running is not None and not again:
            raise Conflict(f"{spec.code} is already running on case {case.case_no} (procedure "
                           f"run {running}); to start a second one on purpose, say so "
                           "(`--again --reason \"…\"`; in the API: again and reason)")
    key = start_key or f"manual:{uuid.uuid4().hex}"
    existing = session.exec(select(ProcedureRun).where(
        ProcedureRun.case_id == case_id, ProcedureRun.start_key == key)).first()
    if existing is not None:
        return existing
    run = ProcedureRun(case_id=case_id, code=spec.code, start_key=key, parent_run_id=parent_run_id,
                       params=params or {}, started_at=now)
    session.add(run)
    session.flush()
    enqueue(session=session, kind="start", dedupe_key=start_message_key(run.id),
            payload={"procedure_run_id": run.id}, now=now)
    extra = {"reason": why, "again": again} if why is not None else {}
    audit.record(session=session, at=now, actor=actor, action="procedure.started", case_id=case_id,
                 procedure_run_id=run.id, code=spec.code, parent_run_id=parent_run_id, **extra)
    return run


def allowed_agencies(task: HumanTask) -> set[str]:
    """The agencies that may complete a task: every rung it has reached so far."""
    return {rung.split("/", 1)[0] for rung in task.ladder[: task.rung + 1]} | {task.first_owner}


def complete_task(
    *, session: Session, task_id: int, agency: str, form: Any, actor: str, now: datetime
) -> HumanTask:
    """Validate the form, close the task, keep the record, and queue the flow's resume.

    All in the caller's transaction: if it commits, the agency's work is kept even when
    Prefect is unreachable; the dispatcher resumes the run later.
    """
    task = session.get(HumanTask, task_id)
    if task is None:
        raise NotFound(f"no task {task_id}")
    if task.status != "open":
        raise Conflict(f"task {task_id} is already {task.status}"
                       + (f" (by {task.completed_by})" if task.completed_by else ""))
    if agency not in allowed_agencies(task):
        raise Forbidden(f"task {task_id} belongs to {task.owner}, not to {agency}")
    spec = step_spec(task.step)
    parsed = check(spec.form, form, suite=spec.suite)
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
                     "run_input": decision}, now=now)
    session.refresh(task)
    return task


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


def family_found(*, session: Session, case_ref: str, actor: str, now: datetime) -> list[int]:
    """The family is found: stop the case's waiting clocks (J2's two years); returns timer ids."""
    case = get_case(session=session, case_ref=case_ref)
    case.family_found_at = now
    session.add(case)
    timers = session.exec(select(Timer).where(Timer.case_id == case.id,
                                              Timer.status == "pending")).all()
    cancelled = []
    for timer in timers:
        res = session.exec(  # type: ignore[call-overload]
            update(Timer).where(col(Timer.id) == timer.id, col(Timer.status) == "pending")
            .values(status="cancelled", fired_at=now))
        if res.rowcount != 1:
            continue
        cancelled.append(timer.id)
        enqueue(session=session, kind="resume", dedupe_key=timer_message_key(timer.id),
                payload={"procedure_run_id": timer.procedure_run_id,
                         "pause_key": pause_key("timer", timer.key),
                         "run_input": {"timer_id": timer.id, "outcome": "cancelled"}}, now=now)
        audit.record(session=session, at=now, actor=actor, action="timer.cancelled",
                     case_id=case.id, procedure_run_id=timer.procedure_run_id, timer=timer.key)
    audit.record(session=session, at=now, actor=actor, action="case.family_found",
                 case_id=case.id)
    return cancelled


# Who may read a sealed record (J3): the judicial roles, each in its own agency.
JUDICIAL_READERS: dict[str, str] = {"court": "court", "procuratorate": "procuratorate",
                                    "police": "psb"}
# The reader role of each judicial agency, for a user of that agency.
READER_ROLE: dict[str, str] = {agency: role for role, agency in JUDICIAL_READERS.items()}


def read_sealed_record(*, session: Session, record_id: int, agency: str, role: str, actor: str,
                       now: datetime) -> SealedRecord:
    """A sealed criminal record, for a court, procuratorate or police reader only.

    Every read is audited, allowed or refused. A refused read is committed before Forbidden
    is raised, so the caller's rollback cannot take the attempt out of the audit trail.
    There is no user and role system yet: the reader's agency code and role are parameters.
    """
    record = session.get(SealedRecord, record_id)
    if record is None:
        raise NotFound(f"no sealed record {record_id}")
    allowed = JUDICIAL_READERS.get(role) == agency
    audit.record(session=session, at=now, actor=actor, action="sealed_record.read",
                 case_id=record.case_id, procedure_run_id=record.procedure_run_id,
                 sealed_record_id=record_id, agency=agency, role=role, allowed=allowed)
    if not allowed:
        session.commit()
        raise Forbidden(f"sealed record {record_id} is open to the court, procuratorate and "
                        f"police roles only, not to {role} at {agency}")
    return record


# --- reads under the access rules (app/domain/access.py): the API, the CLI and the web pages ------


def visible_task(*, session: Session, task_id: int, viewer: Principal) -> HumanTask:
    """A task the viewer may see: coordinators any, an agency's workers and supervisors those
    their agency holds or held on the task's ladder (allowed_agencies); Forbidden otherwise."""
    task = session.get(HumanTask, task_id)
    if task is None:
        raise NotFound(f"no task {task_id}")
    if viewer.has(*access.UNRESTRICTED):
        return task
    if viewer.has("worker", "supervisor") and viewer.agency in allowed_agencies(task):
        return task
    raise Forbidden(f"task {task_id} is not one of {viewer.agency}'s tasks")


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


def _full_case(session: Session, case: Case, today: date) -> dict[str, Any]:
    child = session.get(Child, case.child_id)
    assert child is not None
    guardians = session.exec(select(Guardian).where(Guardian.child_id == child.id)
                             .order_by(col(Guardian.id))).all()
    return {
        "case": case.case_no, "id": case.id, "district": case.district, "status": case.status,
        "source": case.source, "opened_at": case.opened_at,
        "family_found_at": case.family_found_at,
        "age_years": access.age_years(child.birth_date, today),
        "categories": list(child.categories),
        "child": {"name": child.name, "sex": child.sex, "birth_date": child.birth_date,
                  "id_number": child.id_number, "has_hukou": child.has_hukou,
                  "hukou_district": child.hukou_district, "address": child.address},
        "guardians": [{"name": g.name, "relation": g.relation, "phone": g.phone,
                       "address": g.address, "id_number": g.id_number} for g in guardians],
    }


def case_fields_for(*, session: Session, case: Case, viewer: Principal) -> frozenset[str]:
    """The case fields a viewer may read: all for coordinators, the summary for managers,
    for an agency the fields its tasks on the case need; Forbidden when none."""
    fields: frozenset[str] = frozenset()
    if viewer.has(*access.UNRESTRICTED):
        return access.ALL_CASE_FIELDS
    if viewer.has(*access.NO_PERSONAL_DATA):
        fields |= access.SUMMARY_FIELDS | {"id", "opened_at", "source"}
    if viewer.has("worker", "supervisor"):
        tasks = session.exec(select(HumanTask).where(HumanTask.case_id == case.id)).all()
        for t in tasks:
            if viewer.agency in allowed_agencies(t):
                fields |= access.step_case_fields(t.step) | {"id"}
    if not fields:
        raise Forbidden(f"case {case.case_no} has no task of {viewer.agency}")
    return fields


def read_case(*, session: Session, case_ref: str, viewer: Principal, now: datetime
              ) -> dict[str, Any]:
    """A case as the viewer may see it; a read of personal data is audited."""
    case = get_case(session=session, case_ref=case_ref)
    fields = case_fields_for(session=session, case=case, viewer=viewer)
    view = access.shape_case(_full_case(session, case, now.astimezone(TZ).date()), fields)
    if access.personal(fields):
        audit.record(session=session, at=now, actor=viewer.actor, action="case.read",
                     case_id=case.id, agency=viewer.agency, fields=sorted(fields))
    return view


def read_task(*, session: Session, task_id: int, viewer: Principal, now: datetime
              ) -> tuple[HumanTask, str, dict[str, Any]]:
    """A task, its case number and the case fields its step needs; audited when they, or the
    task's record, hold personal data."""
    task = visible_task(session=session, task_id=task_id, viewer=viewer)
    case = session.get(Case, task.case_id)
    assert case is not None
    fields = access.step_case_fields(task.step)
    if viewer.has(*access.UNRESTRICTED):
        fields = access.ALL_CASE_FIELDS
    view = access.shape_case(_full_case(session, case, now.astimezone(TZ).date()), fields)
    if access.personal(fields) or task.record:
        audit.record(session=session, at=now, actor=viewer.actor, action="task.read",
                     case_id=case.id, procedure_run_id=task.procedure_run_id, task_id=task.id,
                     agency=viewer.agency, fields=sorted(fields))
    return task, case.case_no, view


def list_cases(*, session: Session, limit: int = 50, offset: int = 0,
               status: str | None = None, district: str | None = None) -> list[Case]:
    """Cases, newest first: numbers, districts and states only (no personal data)."""
    stmt = select(Case)
    if status:
        stmt = stmt.where(Case.status == status)
    if district:
        stmt = stmt.where(Case.district == district)
    return list(session.exec(stmt.order_by(col(Case.id).desc()).limit(limit).offset(offset)))


def list_runs(*, session: Session, case_ref: str) -> tuple[Case, list[ProcedureRun]]:
    """A case's procedure runs, oldest first."""
    case = get_case(session=session, case_ref=case_ref)
    runs = session.exec(select(ProcedureRun).where(ProcedureRun.case_id == case.id)
                        .order_by(col(ProcedureRun.id))).all()
    return case, list(runs)


def case_timeline(*, session: Session, case_ref: str) -> dict[str, Any]:
    """What happened on a case, from the store: its dossier (codes only), procedure runs,
    human steps (no records) and audit events, each oldest first. No personal data: the
    caller reads the child's fields through read_case, which audits them."""
    case = get_case(session=session, case_ref=case_ref)
    runs = session.exec(select(ProcedureRun).where(ProcedureRun.case_id == case.id)
                        .order_by(col(ProcedureRun.id))).all()
    tasks = session.exec(select(HumanTask).where(HumanTask.case_id == case.id)
                         .order_by(col(HumanTask.created_at), col(HumanTask.id))).all()
    events = session.exec(select(AuditEvent).where(AuditEvent.case_id == case.id)
                          .order_by(col(AuditEvent.at), col(AuditEvent.id))).all()
    dossier = session.exec(select(Dossier).where(Dossier.child_id == case.child_id)).first()
    return {"case": case, "runs": list(runs), "tasks": list(tasks), "events": list(events),
            "dossier": dossier}


def flow_run_ids(*, session: Session, run_ids: set[int]) -> dict[int, str]:
    """Procedure run id → its Prefect flow run id, for the runs that have one."""
    if not run_ids:
        return {}
    rows = session.exec(select(ProcedureRun.id, ProcedureRun.flow_run_id)
                        .where(col(ProcedureRun.id).in_(run_ids))).all()
    return {int(i or 0): f for i, f in rows if f}
