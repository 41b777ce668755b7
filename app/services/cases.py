"""Cases: a child's intake and the case it opens, a case read under the access rules, its
timeline, the family found, sealed records (tasks: app/services/tasks.py; procedure starts:
app/services/procedures.py).

Each function works in the caller's transaction, except the use cases the entry points call
(family_found_and_resume here): those open their own unit of work, commit it, then deliver
the messages it wrote.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field
from sqlalchemy import update
from sqlmodel import Session, col, select

from app.adapters import audit
from app.adapters.outbox import enqueue, timer_message_key
from app.adapters.store import db
from app.adapters.validation import check, checked_id_number, id_number_typed, typed_text
from app.domain import access, clock, sealing
from app.domain.access import Principal
from app.domain.errors import Conflict, Forbidden, NotFound
from app.domain.idcard import normalize_id_number
from app.domain.screening import Category
from app.domain.text import TextRefused, clean_text
from app.domain.workdays import TZ
from flows.forms import District
from models import (
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


def pause_key(kind: str, key: str) -> str:
    """The suspension key for a task or timer (Prefect allows lowercase, digits and dashes)."""
    return f"{kind}-{key}".lower().replace("_", "-").replace(".", "-")


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


@dataclass(frozen=True)
class FamilyFound:
    """The waiting clocks a found family stopped, and whether a resume waits."""

    timers_cancelled: list[int]
    queued: bool  # Prefect did not take every cancelled timer's resume at once: the
    # dispatcher (or the sweep) delivers what waits in the outbox


def family_found_and_resume(*, case_ref: str, actor: str) -> FamilyFound:
    """The family is found, in its own unit of work (family_found), committed; then the
    resumes of the cancelled timers are delivered, so the runs waiting on them end now."""
    from app.adapters.dispatch import dispatch

    with db() as session:
        cancelled = family_found(session=session, case_ref=case_ref, actor=actor,
                                 now=clock.now())
    delivered = (dispatch(keys=[timer_message_key(t) for t in cancelled]).delivered
                 if cancelled else 0)
    return FamilyFound(timers_cancelled=cancelled, queued=delivered < len(cancelled))


# Who may read a sealed record (J3): the judicial roles, each in its own agency
# (app/domain/sealing.py); reader role → agency, and agency → reader role.
JUDICIAL_READERS = sealing.JUDICIAL_READERS
READER_ROLE = sealing.READER_ROLE


def read_sealed_record(*, session: Session, record_id: int, agency: str, role: str, actor: str,
                       now: datetime, roles: list[str] | None = None,
                       allowed: bool | None = None) -> SealedRecord:
    """A sealed criminal record, for a court, procuratorate or police reader only.

    Every read is audited, allowed or refused. A refused read is committed before Forbidden
    is raised, so the caller's rollback cannot take the attempt out of the audit trail.
    The command line names the reader's agency code and role; a signed-in user reads through
    read_sealed_record_as, which decides `allowed` by the user's roles and agency (`roles`:
    theirs, for the trail). A refused read of a record that does not exist is audited too
    and refused the same way, so that a refusal tells nothing of which records exist.
    """
    record = session.get(SealedRecord, record_id)
    if allowed is None:
        allowed = sealing.allowed_reader(agency, role)
    if record is None and allowed:
        raise NotFound(f"no sealed record {record_id}")
    extra = {"roles": roles} if roles is not None else {}
    audit.record(session=session, at=now, actor=actor, action="sealed_record.read",
                 case_id=record.case_id if record else None,
                 procedure_run_id=record.procedure_run_id if record else None,
                 sealed_record_id=record_id, agency=agency, role=role, allowed=allowed, **extra)
    if not allowed or record is None:
        session.commit()
        raise Forbidden(f"sealed record {record_id} is open to the court, procuratorate and "
                        f"police roles only, not to {role} at {agency}")
    return record


def read_sealed_record_as(*, session: Session, record_id: int, viewer: Principal,
                          now: datetime) -> SealedRecord:
    """A sealed record for a signed-in user (the API, the pages): allowed for the judicial
    role at the court, the procuratorate or the police (sealing.may_read); every read,
    allowed or refused — a coordinator's, a worker's, a manager's too — audited."""
    return read_sealed_record(session=session, record_id=record_id, agency=viewer.agency,
                              role=sealing.reader_role(viewer.agency), actor=viewer.actor,
                              now=now, roles=sorted(viewer.roles),
                              allowed=sealing.may_read(viewer))


def sealed_runs(session: Session, *, case_id: int) -> dict[int, int]:
    """The case's procedure runs whose record is sealed, each with its sealed record's id."""
    return {int(run): int(rec or 0) for run, rec in session.exec(
        select(SealedRecord.procedure_run_id, SealedRecord.id)
        .where(SealedRecord.case_id == case_id)).all()}


def shown_task(task: HumanTask, sealed: dict[int, int], viewer: Principal | None) -> HumanTask:
    """The task as the viewer may see it (sealing.shown_step): itself, or for a run that is
    sealed and a reader who is not judicial, a detached copy with the sealed marker in place
    of its decision and record. Never add the copy to a session."""
    record_id = sealed.get(task.procedure_run_id)
    if record_id is None or sealing.may_read(viewer):
        return task
    decision, record = sealing.shown_step(task.decision, task.record,
                                          sealed_record_id=record_id, viewer=viewer)
    return HumanTask(**{**task.model_dump(), "decision": decision, "record": record})


def shown_event(event: AuditEvent, sealed: dict[int, int], sealed_tasks: dict[int, int],
                viewer: Principal | None) -> AuditEvent:
    """An audit event as the viewer may see it (sealing.shown_detail): itself, or for an
    event of a sealed run (or of one of its tasks) and a reader who is not judicial, a
    detached copy with its content details replaced by the sealed marker."""
    record_id = sealed.get(event.procedure_run_id or 0) or sealed_tasks.get(event.task_id or 0)
    if record_id is None or sealing.may_read(viewer):
        return event
    return AuditEvent(**{**event.model_dump(), "detail": sealing.shown_detail(
        event.detail, sealed_record_id=record_id, viewer=viewer)})


# --- reads under the access rules (app/domain/access.py): the API, the CLI and the web pages ------


def full_case(session: Session, case: Case, today: date) -> dict[str, Any]:
    """The case and its child's and guardians' data, before the access rules shape it."""
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


def allowed_agencies(task: HumanTask) -> set[str]:
    """The agencies that may complete a task: every rung it has reached so far."""
    return {rung.split("/", 1)[0] for rung in task.ladder[: task.rung + 1]} | {task.first_owner}


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
    view = access.shape_case(full_case(session, case, now.astimezone(TZ).date()), fields)
    if access.personal(fields):
        audit.record(session=session, at=now, actor=viewer.actor, action="case.read",
                     case_id=case.id, agency=viewer.agency, fields=sorted(fields))
    return view


def list_cases(*, session: Session, limit: int = 50, offset: int = 0,
               status: str | None = None, district: str | None = None) -> list[Case]:
    """Cases, newest first: numbers, districts and states only (no personal data)."""
    stmt = select(Case)
    if status:
        stmt = stmt.where(Case.status == status)
    if district:
        stmt = stmt.where(Case.district == district)
    return list(session.exec(stmt.order_by(col(Case.id).desc()).limit(limit).offset(offset)))


def case_timeline(*, session: Session, case_ref: str, viewer: Principal | None = None
                  ) -> dict[str, Any]:
    """What happened on a case, from the store: its dossier (codes only), procedure runs,
    human steps (no records) and audit events, each oldest first. No personal data: the
    caller reads the child's fields through read_case, which audits them. The steps and
    events of a sealed run hold the sealed marker in place of their content unless the
    `viewer` is a judicial reader (app/domain/sealing.py; no viewer: the marker)."""
    case = get_case(session=session, case_ref=case_ref)
    runs = session.exec(select(ProcedureRun).where(ProcedureRun.case_id == case.id)
                        .order_by(col(ProcedureRun.id))).all()
    tasks = session.exec(select(HumanTask).where(HumanTask.case_id == case.id)
                         .order_by(col(HumanTask.created_at), col(HumanTask.id))).all()
    events = session.exec(select(AuditEvent).where(AuditEvent.case_id == case.id)
                          .order_by(col(AuditEvent.at), col(AuditEvent.id))).all()
    dossier = session.exec(select(Dossier).where(Dossier.child_id == case.child_id)).first()
    sealed = sealed_runs(session, case_id=int(case.id or 0))
    sealed_tasks = {int(t.id or 0): sealed[t.procedure_run_id] for t in tasks
                    if t.procedure_run_id in sealed}
    return {"case": case, "runs": list(runs),
            "tasks": [shown_task(t, sealed, viewer) for t in tasks],
            "events": [shown_event(e, sealed, sealed_tasks, viewer) for e in events],
            "dossier": dossier}
