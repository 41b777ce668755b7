"""Procedures: a start by hand checked against what the procedure declares, a procedure run
recorded with its start queued, a case's runs; and the use cases that start procedures, each
in its own unit of work with its starts delivered at once."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from sqlmodel import Session, col, select

from app.adapters import audit
from app.adapters.outbox import enqueue, start_message_key
from app.adapters.store import db
from app.config.procedures import procedure
from app.domain import clock
from app.domain.agencies import DISTRICTS
from app.domain.errors import Conflict, NotFound, ValidationFailed
from app.domain.text import TextRefused, clean_text
from app.services.cases import get_case
from flows.catalog import ProcedureSpec
from models import Agency, Case, ProcedureRun

if TYPE_CHECKING:
    from app.services.delivery import Outcome


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


def list_runs(*, session: Session, case_ref: str) -> tuple[Case, list[ProcedureRun]]:
    """A case's procedure runs, oldest first."""
    case = get_case(session=session, case_ref=case_ref)
    runs = session.exec(select(ProcedureRun).where(ProcedureRun.case_id == case.id)
                        .order_by(col(ProcedureRun.id))).all()
    return case, list(runs)


def flow_run_ids(*, session: Session, run_ids: set[int]) -> dict[int, str]:
    """Procedure run id → its Prefect flow run id, for the runs that have one."""
    if not run_ids:
        return {}
    rows = session.exec(select(ProcedureRun.id, ProcedureRun.flow_run_id)
                        .where(col(ProcedureRun.id).in_(run_ids))).all()
    return {int(i or 0): f for i, f in rows if f}


# --- the use cases: record the start, commit, deliver it at once ------------------------------

R = TypeVar("R")


@dataclass(frozen=True)
class Starts(Generic[R]):
    """What a write that starts procedures returned, and whether a start waits."""

    result: R
    queued: bool  # Prefect did not take every start at once: the dispatcher (or the sweep)
    # delivers what waits in the outbox
    waiting: Outcome | None = None  # why (app/services/delivery.py); None: all delivered


def commit_and_start(write: Callable[[Session, datetime], R],
                     runs: Callable[[R], Sequence[int]], *, handover: bool = False
                     ) -> Starts[R]:
    """One unit of work that records procedure runs (a start by hand, a hotline report, a
    screening confirmation), committed; then exactly the starts it queued are delivered, so
    the runs begin now rather than at the next sweep.

    `write` does the work in the session, as of the instant it is given; `runs` names the
    procedure runs whose starts the write queued (none: nothing is delivered). `handover`:
    a short command, which leaves the starts to the running system's dispatcher
    (app/services/delivery.py).
    """
    from app.services.delivery import deliver_now

    with db() as session:
        result = write(session, clock.now())
        run_ids = list(runs(result))
    delivery = deliver_now([start_message_key(r) for r in run_ids], handover=handover)
    return Starts(result=result, queued=delivery.waiting is not None, waiting=delivery.waiting)


@dataclass(frozen=True)
class StartedRun:
    """A procedure started by hand: its run as the store holds it after the delivery."""

    run: ProcedureRun  # with its flow run id once Prefect has taken the start
    case_no: str
    queued: bool  # Prefect has not taken the start yet: the dispatcher (or the sweep) will
    waiting: Outcome | None = None  # why (app/services/delivery.py); None: started


def start_and_dispatch(*, case_ref: str, code: str, actor: str,
                       params: dict[str, Any] | None = None, again: bool = False,
                       reason: str | None = None, handover: bool = False) -> StartedRun:
    """Start a procedure by hand for a case (start_procedure) and deliver its start at once
    (`handover`: as commit_and_start).

    An unknown code is refused before the case is looked up.
    """
    procedure(code)

    def write(session: Session, now: datetime) -> tuple[int, str]:
        case = get_case(session=session, case_ref=case_ref)
        run = start_procedure(session=session, case_id=int(case.id or 0), code=code,
                              actor=actor, now=now, params=params, again=again, reason=reason)
        return int(run.id or 0), case.case_no

    started = commit_and_start(write, lambda written: [written[0]], handover=handover)
    run_id, case_no = started.result
    with db() as session:
        run = session.get(ProcedureRun, run_id)
    assert run is not None
    return StartedRun(run=run, case_no=case_no, queued=started.queued, waiting=started.waiting)
