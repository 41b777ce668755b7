"""S1 hotline intake and routing: one report in, checked, triaged, routed, procedures started.

`receive_report` is the whole intake, in the caller's transaction: the CLI (`protect intake`)
calls it, and so will the HTTP API. The feedback to the platform (`queue_feedback`) is written
to the outbox by the S1 flow's steps and delivered, signed, by the dispatcher
(app/adapters/dispatch.py).
The report's free text and the reporter's contact stay in `HotlineReport.content`; what leaves
the case store (procedure parameters, feedback) is codes, the platform's reference and dates.
See docs/hotline.md.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError
from sqlmodel import Session, col, select

from app.adapters import audit
from app.adapters.notify import canonical_json
from app.adapters.outbox import enqueue
from app.adapters.validation import _pydantic_errors, typed_text
from app.domain.agencies import STREETS
from app.domain.errors import Conflict, ValidationFailed
from app.domain.triage import Concern, triage
from app.domain.workdays import TZ
from app.services.cases import (
    INTAKE_FIELDS,
    ChildIn,
    new_case,
    open_case,
    typed_child,
)
from app.services.procedures import start_procedure
from models import Agency, Case, Child, HotlineReport, HumanTask, ProcedureRun

SOURCES = ("12355", "12345")
ROUTING = "S1"  # the procedure that each routed agency's acknowledgement and result run in


class ReporterIn(BaseModel):
    """Who called the hotline: personal data, case store only."""

    model_config = ConfigDict(extra="forbid")
    relation: Literal["self", "parent", "relative", "neighbour", "teacher", "passer_by",
                      "official", "anonymous"]
    name: Annotated[str | None, BeforeValidator(typed_text("报告人姓名", name=True))] = Field(
        default=None, max_length=64)
    phone: Annotated[str | None, BeforeValidator(typed_text("电话"))] = Field(
        default=None, max_length=20)


class HotlineReportIn(BaseModel):
    """A report as the hotline platform sends it (suites hotline_report and child_intake)."""

    model_config = ConfigDict(extra="forbid")
    source: Literal["12355", "12345"]
    reference: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9-]{3,63}$")
    received_on: date
    reporter: ReporterIn
    description: Annotated[str, BeforeValidator(typed_text("描述", multiline=True))] = Field(
        min_length=5, max_length=2000)
    concerns: list[Concern] = Field(min_length=1)
    street: str | None = None  # "xingqing-fenghuang": the street office where the child is
    child: ChildIn


# The report's own fields as its suite names them → where they are in the report.
REPORT_FIELDS = {"source": "source", "reference": "reference", "received_on": "received_on",
                 "reporter_relation": "reporter.relation", "reporter_phone": "reporter.phone",
                 "description": "description", "street": "street"}


def _get(data: Any, path: str) -> Any:
    for part in path.split("."):
        data = data.get(part) if isinstance(data, dict) else None
    return data


def _field_error(field: str, code: str, message: str, message_zh: str) -> Any:
    from expectations.runner import FieldError

    return FieldError(field=field, code=code, message=message, message_zh=message_zh)


def check_report(data: Any) -> HotlineReportIn:
    """The report, checked by its suite, the child intake suite and the typed model.

    Raises:
        ValidationFailed: every problem, one per field, never quoting a value.
    """
    from expectations.runner import validate_record

    if not isinstance(data, dict):
        raise ValidationFailed([_field_error("form", "form.not_an_object",
                                             "the report must be a JSON object",
                                             "报告必须是 JSON 对象")])
    errors = [e.model_copy(update={"field": REPORT_FIELDS[e.field]}) for e in validate_record(
        "hotline_report", {k: _get(data, path) for k, path in REPORT_FIELDS.items()})]
    child = typed_child(data.get("child")) if isinstance(data.get("child"), dict) else {}
    child_record = {k: child.get(k) for k in INTAKE_FIELDS}
    child_record["intake_date"] = data.get("received_on")
    rename = {f: f"child.{f}" for f in INTAKE_FIELDS} | {"intake_date": "received_on"}
    seen = {e.field for e in errors}
    for e in validate_record("child_intake", child_record):
        e = e.model_copy(update={"field": rename.get(e.field, e.field)})
        if e.field not in seen:
            errors.append(e)
            seen.add(e.field)
    try:
        report = HotlineReportIn.model_validate(data)
    except ValidationError as exc:
        errors += [e for e in _pydantic_errors(exc) if e.field not in seen]
        raise ValidationFailed(errors) from None
    if errors:
        raise ValidationFailed(errors)
    if report.street is not None and report.street not in {
            f"{report.child.district}-{s}" for s, _, _ in STREETS[report.child.district]}:
        raise ValidationFailed([_field_error(
            "street", "street.unknown",
            "The street must be one of the street offices of the child's district "
            "(see `protect agency list`).", "街道须为儿童所在区县的街道办之一。")])
    return report


@dataclass
class Receipt:
    """What the intake did with a report: codes and ids only (the CLI prints it)."""

    report_id: int
    source: str
    reference: str
    case: str
    case_opened: bool
    categories: list[str]
    routed: list[dict[str, Any]] = field(default_factory=list)  # agency, procedure_run
    started: list[dict[str, Any]] = field(default_factory=list)  # code, procedure_run, new
    created: bool = True  # False: the same report was received before; nothing was written

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def run_ids(self) -> list[int]:
        return [r["procedure_run"] for r in self.routed] + [
            s["procedure_run"] for s in self.started if s["new"]]


def _digest(report: HotlineReportIn) -> str:
    return hashlib.sha256(canonical_json(report.model_dump(mode="json"))).hexdigest()


def _case_for(*, session: Session, report: HotlineReportIn, categories: tuple[str, ...],
              actor: str, now: datetime) -> tuple[Case, bool]:
    """The child's open case, when the child is known by ID number; else a new case.

    The child's categories (保护对象类别) gain those that triage found (`categories`): the
    case page shows them and the dashboard counts the case under them, as for `case open`.
    """
    if report.child.id_number:
        child = session.exec(select(Child).where(
            Child.id_number == report.child.id_number)).first()
        if child is not None:
            child.categories = list(dict.fromkeys([*child.categories, *categories]))
            session.add(child)
            case = session.exec(select(Case).where(Case.child_id == child.id,
                                                   Case.status == "open")
                                .order_by(col(Case.id).desc())).first()
            if case is not None:
                return case, False
            assert child.id is not None
            return new_case(session=session, child_id=child.id, district=report.child.district,
                            source="hotline", actor=actor, now=now), True
    child_in = report.child.model_dump(mode="json")
    child_in["categories"] = list(dict.fromkeys([*child_in["categories"], *categories]))
    intake = {"child": child_in, "guardians": [],
              "intake_date": report.received_on.isoformat(), "source": "hotline"}
    return open_case(session=session, data=intake, actor=actor, now=now), True


def _receipt(session: Session, report: HotlineReport, *, created: bool,
             case_opened: bool) -> Receipt:
    case = session.get(Case, report.case_id)
    assert case is not None and report.id is not None
    runs = session.exec(select(ProcedureRun).where(
        ProcedureRun.case_id == report.case_id,
        col(ProcedureRun.start_key).startswith(f"hotline:{report.id}:"))
        .order_by(col(ProcedureRun.id))).all()
    by_key = {r.start_key: r for r in runs}
    receipt = Receipt(report.id, report.source, report.reference, case.case_no,
                      case_opened and created, list(report.categories), created=created)
    for agency in report.agencies:
        run = by_key[f"hotline:{report.id}:route:{agency}"]
        receipt.routed.append({"agency": agency, "procedure_run": run.id})
    for code in report.procedures:
        run = by_key.get(f"hotline:{report.id}:start:{code}")
        if run is not None:
            receipt.started.append({"code": code, "procedure_run": run.id, "new": True})
        else:  # already running for the case when the report came
            running = _running(session, report.case_id, code)
            receipt.started.append({"code": code, "procedure_run": running.id if running
                                    else None, "new": False})
    return receipt


def _running(session: Session, case_id: int, code: str) -> ProcedureRun | None:
    return session.exec(select(ProcedureRun).where(
        ProcedureRun.case_id == case_id, ProcedureRun.code == code,
        col(ProcedureRun.status).in_(("starting", "running")))).first()


def receive_report(*, session: Session, data: Any, actor: str, now: datetime) -> Receipt:
    """Check a hotline report, triage it, open (or reuse) the child's case, route it to the
    responsible agencies (one S1 run each) and start the procedures its categories call for.

    All in the caller's transaction; the procedure starts are outbox rows that the dispatcher
    delivers. The same report again (same source and reference, same content) returns what the
    first one did and writes nothing; the same reference with other content is a conflict.

    Raises:
        ValidationFailed: the report was refused, field by field; nothing was written.
        Conflict: the reference was received before with other content.
    """
    from app.config.hotline import current

    report = check_report(data)
    digest = _digest(report)
    existing = session.exec(select(HotlineReport).where(
        HotlineReport.source == report.source,
        HotlineReport.reference == report.reference)).first()
    if existing is not None:
        if existing.digest != digest:
            raise Conflict(f"report {report.source}:{report.reference} was received before "
                           f"with other content (report {existing.id}); nothing was changed")
        return _receipt(session, existing, created=False, case_opened=False)

    rules = current()
    decided = triage(report.concerns, rules.categories, rules.fallback,
                     district=report.child.district, street=report.street)
    case, opened = _case_for(session=session, report=report,
                             categories=decided.child_categories, actor=actor, now=now)
    assert case.id is not None
    already = {code for code in decided.procedures if _running(session, case.id, code)}
    row = HotlineReport(source=report.source, reference=report.reference,
                        received_on=report.received_on, case_id=case.id,
                        categories=list(decided.categories), agencies=list(decided.agencies),
                        procedures=list(decided.procedures), digest=digest,
                        content=report.model_dump(mode="json"), created_at=now)
    session.add(row)
    session.flush()
    for agency in decided.agencies:
        start_procedure(session=session, case_id=case.id, code=ROUTING, actor=actor, now=now,
                        params={"report_id": row.id, "agency": agency},
                        start_key=f"hotline:{row.id}:route:{agency}")
    local = ({"street": f"street:{report.street}", "community": f"community:{report.street}"}
             if report.street else {})
    for code in decided.procedures:
        if code not in already:
            start_procedure(session=session, case_id=case.id, code=code, actor=actor, now=now,
                            params={**local, "hotline_report": row.id},
                            start_key=f"hotline:{row.id}:start:{code}")
    audit.record(session=session, at=now, actor=actor, action="hotline.received",
                 case_id=case.id, report_id=row.id, source=report.source,
                 reference=report.reference, categories=list(decided.categories),
                 agencies=list(decided.agencies), procedures=list(decided.procedures),
                 child_categories=list(decided.child_categories),
                 already_running=sorted(already))
    return _receipt(session, row, created=True, case_opened=opened)


# --- feedback to the platform ---------------------------------------------------------------

# The S1 flow's feedback events → the status the platform is told, and the step it reports on.
FEEDBACK = {"s1.acknowledged": ("acknowledged", "acknowledge"),
            "s1.declined": ("declined", "acknowledge"),
            "s1.result": (None, "result")}  # None: the result's own outcome


def feedback_key(report: HotlineReport, agency: str, event: str) -> str:
    """The idempotency key of one feedback: the platform drops a second delivery of it."""
    return f"hotline:{report.source}:{report.reference}:{agency}:{event.removeprefix('s1.')}"


def queue_feedback(*, session: Session, procedure_run_id: int, event: str,
                   now: datetime) -> str:
    """Write the feedback of an S1 run's step to the outbox (once); its idempotency key.

    The payload is what the platform already knows or may know: its reference, the
    categories, the agency (code and name), the status and the dates. Never the report's
    text, the reporter or the child.
    """
    run = session.get(ProcedureRun, procedure_run_id)
    assert run is not None
    report = session.get(HotlineReport, int(run.params["report_id"]))
    assert report is not None
    agency_code = str(run.params["agency"])
    status, step_key = FEEDBACK[event]
    task = session.exec(select(HumanTask).where(HumanTask.procedure_run_id == procedure_run_id,
                                                HumanTask.step_key == step_key)).one()
    assert task.completed_at is not None, f"feedback on {step_key} before it was completed"
    agency = session.get(Agency, agency_code)
    key = feedback_key(report, agency_code, event)
    payload = {
        "idempotency_key": key, "source": report.source, "reference": report.reference,
        "categories": list(report.categories), "agency": agency_code,
        "agency_name": agency.name_zh if agency else agency_code,
        "status": status or str(task.decision["outcome"]),
        "at": task.completed_at.astimezone(TZ).isoformat(timespec="seconds"),
        "due_at": task.due_at.astimezone(TZ).isoformat(timespec="seconds"),
        "escalated": task.rung > 0, "received_on": report.received_on.isoformat(),
    }
    enqueue(session=session, kind="hotline", dedupe_key=key, payload=payload, now=now)
    audit.record(session=session, at=now, actor="system", action="hotline.feedback_queued",
                 case_id=run.case_id, procedure_run_id=procedure_run_id, report_id=report.id,
                 agency=agency_code, status=payload["status"])
    return key

