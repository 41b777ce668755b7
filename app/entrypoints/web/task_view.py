"""What a task's page shows besides its form, and what the inbox says after a submit: the case
as the viewer may see it, the earlier steps' decisions, S1's hotline report, the escalation
ladder, and what the flow does next, each in words (app/config/vocabulary.py).

Reads only, under the access rules the service layer applied to the task (`read_task`,
`visible_task`); the one extra read of personal data, a hotline report's text, is audited.
Nothing here is logged or sent to Prefect.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlmodel import Session, col, select

from app.adapters import audit
from app.config.vocabulary import (
    SEALED,
    agency_name,
    category_name,
    concern_name,
    district_name,
    field_label,
    join,
    option_label,
    outcome_name,
    procedure_name,
    relation_name,
    sex_name,
    source_name,
    status_name,
    step_name,
    value_name,
    yes_no,
)
from app.domain import access, sealing
from app.domain.access import Principal
from app.domain.errors import Forbidden, NotFound
from app.services import tasks
from app.services.cases import allowed_agencies, sealed_runs, shown_task
from models import HotlineReport, HumanTask, ProcedureRun

Translate = Callable[..., str]
# How long after a submit the inbox keeps waiting for the next task before it stops saying so.
WAIT_FOR_NEXT = timedelta(seconds=20)


# --- the case, as the viewer may see it ------------------------------------------------------

SUMMARY_ORDER = ("case", "district", "status", "age_years", "categories", "source",
                 "opened_at", "family_found_at")


def case_rows(view: dict[str, Any], lang: str, t: Translate,
              when: Callable[[Any], str]) -> list[tuple[str, str, str]]:
    """The case fields `view` holds (read_task shaped them by the access rules) as
    (field key, label, value in words)."""
    rows: list[tuple[str, str, str]] = []
    for key in SUMMARY_ORDER:
        value = view.get(key)
        if value is None or value == []:
            continue
        if key == "district":
            text = district_name(value, lang)
        elif key == "status":
            text = status_name("case", value, lang)
        elif key == "age_years":
            text = t("value.age", n=value)
        elif key == "categories":
            text = join((category_name(c, lang) for c in value), lang)
        elif key == "source":
            text = source_name(value, lang)
        elif key in ("opened_at", "family_found_at"):
            text = when(value)
        else:
            text = str(value)
        rows.append((key, t(f"field.{key}"), text))
    for key, value in (view.get("child") or {}).items():
        if value is None:
            continue
        if key == "sex":
            text = sex_name(value, lang)
        elif key == "has_hukou":
            text = yes_no(value, lang)
        elif key == "hukou_district":
            text = option_label("r2.identity", value, lang) if value == "other" else (
                district_name(value, lang))
        elif isinstance(value, date):
            text = value.isoformat()
        else:
            text = str(value)
        rows.append((f"child.{key}", t(f"field.child.{key}"), text))
    guardians = view.get("guardians")
    if guardians:
        text = "\n".join(" · ".join(str(x) for x in (
            f"{g['name']}（{relation_name(g['relation'], lang)}）" if lang != "en"
            else f"{g['name']} ({relation_name(g['relation'], lang)})",
            g.get("phone"), g.get("address")) if x) for g in guardians)
        rows.append(("guardians", t("field.guardians"), text))
    return rows


# --- the escalation ladder -------------------------------------------------------------------


def ladder(task: HumanTask, lang: str) -> dict[str, Any]:
    """The task's rungs by name, where it stands, and whom it climbs to next (None: the top)."""
    rungs = list(task.ladder) or [task.owner]
    current = min(task.rung, len(rungs) - 1)
    return {"rungs": [{"name": agency_name(r, lang), "current": i == current,
                       "past": i < current} for i, r in enumerate(rungs)],
            "number": current + 1, "total": len(rungs),
            "next": agency_name(rungs[current + 1], lang) if current + 1 < len(rungs) else None}


def duration_words(spec: str, t: Translate) -> str:
    """"3wd" → 3 个工作日, "24h" → 24 小时 (app/domain/workdays.py parse_duration)."""
    from app.domain.workdays import parse_duration

    try:
        d = parse_duration(spec)
    except ValueError:
        return spec
    return t(f"duration.{d.unit}", n=d.amount)


# --- the earlier steps' decisions ------------------------------------------------------------


@dataclass
class Earlier:
    """One completed step of the case, in words."""

    task_id: int
    headline: str  # "身份核查与寻亲：已找到家庭"
    procedure: str
    agency: str
    completed_at: datetime | None
    fields: list[tuple[str, str]] = field(default_factory=list)  # (label, value)
    sealed: bool = False  # a step of a sealed run, for a reader who is not judicial


def _lineage(session: Session, run_id: int) -> list[int]:
    """The run and the runs that started it, up to the first."""
    ids: list[int] = []
    run = session.get(ProcedureRun, run_id)
    while run is not None and run.id is not None and run.id not in ids:
        ids.append(run.id)
        run = session.get(ProcedureRun, run.parent_run_id) if run.parent_run_id else None
    return ids


def earlier_steps(session: Session, who: Principal, task: HumanTask, lang: str
                  ) -> list[Earlier]:
    """The decisions of the case's completed steps, oldest first, in words.

    Coordinators see every step of the case; an agency's workers and supervisors the steps of
    the task's own procedure run and of the runs that started it (R3's assessment sees R2's
    identity check). Decisions only — codes, dates and amounts, what Prefect sees too — never
    a form's free text. A step of a sealed run (J3) says "sealed" in place of its decision
    unless the viewer is a judicial reader (app/domain/sealing.py).
    """
    from app.config.procedures import step_spec

    stmt = select(HumanTask).where(HumanTask.case_id == task.case_id,
                                   HumanTask.status == "done", HumanTask.id != task.id)
    if not who.has(*access.UNRESTRICTED):
        stmt = stmt.where(col(HumanTask.procedure_run_id).in_(
            _lineage(session, task.procedure_run_id)))
    done = session.exec(stmt.order_by(col(HumanTask.completed_at), col(HumanTask.id))).all()
    sealed = sealed_runs(session, case_id=task.case_id)
    out = []
    for d in done:
        try:
            step_spec(d.step)
        except (KeyError, NotFound):
            continue  # a step no longer defined: nothing to name it by
        decision = dict(shown_task(d, sealed, who).decision or {})
        name = step_name(d.step, lang)
        if sealing.is_marker(decision):
            out.append(Earlier(
                task_id=int(d.id or 0), headline=f"{name}{'：' if lang != 'en' else ': '}"
                + SEALED.in_(lang),
                procedure=procedure_name(d.step.split(".", 1)[0], lang),
                agency=agency_name(d.completed_by or d.owner, lang),
                completed_at=d.completed_at, sealed=True))
            continue
        headline = name
        if "outcome" in decision:
            headline = f"{name}{'：' if lang != 'en' else ': '}" + value_name(
                d.step, "outcome", decision.pop("outcome"), lang)
        out.append(Earlier(
            task_id=int(d.id or 0), headline=headline,
            procedure=procedure_name(d.step.split(".", 1)[0], lang),
            agency=agency_name(d.completed_by or d.owner, lang), completed_at=d.completed_at,
            fields=[(field_label(d.step, k, lang), value_name(d.step, k, v, lang) or "—")
                    for k, v in decision.items() if v is not None]))
    return out


# --- S1: the hotline report ------------------------------------------------------------------


def hotline_report(session: Session, who: Principal, task: HumanTask, now: datetime,
                   lang: str) -> dict[str, Any] | None:
    """The report an S1 task is about, for those who act on it: the agency it was routed to
    (and the rungs its task climbed to), and coordinators. What was seen, where, when, the
    concerns in words; never the reporter. The read is audited."""
    if not task.step.startswith("s1."):
        return None
    if not (who.has(*access.UNRESTRICTED) or (
            who.has("worker", "supervisor") and who.agency in allowed_agencies(task))):
        return None
    run = session.get(ProcedureRun, task.procedure_run_id)
    report_id = (run.params or {}).get("report_id") if run is not None else None
    report = session.get(HotlineReport, int(report_id)) if report_id is not None else None
    if report is None:
        return None
    content = report.content or {}
    child = content.get("child") or {}
    where = [district_name(str(child["district"]), lang)] if child.get("district") else []
    if content.get("street"):
        where.append(agency_name(f"street:{content['street']}", lang))
    audit.record(session=session, at=now, actor=who.actor, action="hotline_report.read",
                 case_id=task.case_id, procedure_run_id=task.procedure_run_id, task_id=task.id,
                 report_id=report.id, agency=who.agency)
    return {"reference": report.reference, "source": report.source,
            "received_on": report.received_on.isoformat(),
            "where": " ".join(where), "concerns": [concern_name(c, lang)
                                                   for c in content.get("concerns") or []],
            "description": str(content.get("description") or "")}


# --- what happens next -----------------------------------------------------------------------


def _holds(when: str, decision: dict[str, Any]) -> tuple[bool, bool] | None:
    """Whether a graph condition holds for a decision, and whether prose follows it (then a
    person decides what it means); None when the condition is prose (it cannot be told)."""
    from flows.catalog import CONDITION_ATOM, condition_code

    code = condition_code(when)
    held = False
    for part in code.split(" or "):
        value = True
        for atom in part.split(" and "):
            m = CONDITION_ATOM.fullmatch(atom.strip())
            if m is None or m["field"] not in decision:
                return None
            v = decision[m["field"]]
            if m["op"] == "==":
                r = str(v) == m["value"]
            elif m["op"] == "!=":
                r = str(v) != m["value"]
            elif m["values"] is not None:
                r = str(v) in {x.strip() for x in m["values"].split(",")}
            else:
                r = bool(v)
            value = value and (not r if m["neg"] else r)
        held = held or value
    return held, code != when


def _next_node(spec: Any, node: str, decision: dict[str, Any]) -> str | None:
    """The node the graph leads to from a step for a decision, when the graph alone says."""
    definite, maybe = set(), set()
    for e in spec.graph:
        if e.source != node:
            continue
        if e.when is None:
            definite.add(e.target)
            continue
        r = _holds(e.when, decision)
        if r is None or r[1]:
            if r is None or r[0]:
                maybe.add(e.target)
        elif r[0]:
            definite.add(e.target)
    if len(definite) == 1:
        return definite.pop()
    if not definite and len(maybe) == 1:
        return maybe.pop()
    return None


@dataclass
class Next:
    """What the flow does after a step, as far as its graph tells."""

    kind: str  # step|start|wait|end
    text: str


def predict(step: str, decision: dict[str, Any], lang: str, t: Translate) -> Next | None:
    """What follows `step` for `decision` in its procedure's graph, in words; None when the
    graph leaves it to something a person or the calendar decides."""
    from app.config.procedures import procedure
    from flows.catalog import BEGIN, node_kind

    try:
        spec = procedure(step.split(".", 1)[0])
    except NotFound:
        return None
    node = _next_node(spec, step, decision)
    for _ in range(4):  # through notifications, which lead on by themselves
        if node is None or node_kind(node) != "notify":
            break
        targets = {e.target for e in spec.graph if e.source == node}
        node = targets.pop() if len(targets) == 1 else None
    if node is None:
        return None
    kind = node_kind(node)
    if kind == "step":
        return Next("step", _step_sentence(spec, node, lang, t, "submitted.next_step"))
    if kind == "end":
        return Next("end", t("submitted.end", outcome=outcome_name(spec.code, node[4:], lang)))
    if kind == "wait":
        try:
            wait = spec.wait(node[5:])
        except KeyError:
            return None
        title = wait.title_zh if lang != "en" and wait.title_zh else wait.title
        return Next("wait", t("submitted.wait", wait=title))
    if kind == "start":
        code = node[6:]
        text = t("submitted.start", procedure=procedure_name(code, lang))
        try:
            started = procedure(code)
        except NotFound:
            return Next("start", text)
        first = _next_node(started, BEGIN, {})
        after = _next_node(spec, node, {})  # the procedure itself may go on beside it
        if first is not None and node_kind(first) == "step":
            text += _step_sentence(started, first, lang, t, "submitted.then")
        elif after is not None and node_kind(after) == "step":
            text += _step_sentence(spec, after, lang, t, "submitted.and_next")
        return Next("start", text)
    return None


def _step_sentence(spec: Any, name: str, lang: str, t: Translate, key: str) -> str:
    step = spec.step(name)
    if step.owner:
        return t(key, step=step_name(name, lang), agency=agency_name(step.owner, lang))
    return t(f"{key}_any", step=step_name(name, lang))


def after_submit(session: Session, who: Principal, task_id: int, now: datetime, lang: str,
                 t: Translate, queued: bool = False) -> dict[str, Any] | None:
    """What the inbox says after the viewer completed `task_id`: what the flow does next, and
    the next task of the case once it has opened (its step and owner, a link when the viewer
    may work it). `waiting`: it has not opened yet and should within seconds."""
    try:
        done = tasks.visible_task(session=session, task_id=task_id, viewer=who)
    except (Forbidden, NotFound):
        return None
    if done.status != "done" or done.completed_at is None:
        return None
    runs = [done.procedure_run_id, *session.exec(select(ProcedureRun.id).where(
        ProcedureRun.parent_run_id == done.procedure_run_id)).all()]
    opened = session.exec(select(HumanTask).where(
        col(HumanTask.procedure_run_id).in_(runs), HumanTask.status == "open",
        col(HumanTask.created_at) >= done.completed_at).order_by(col(HumanTask.id))).all()
    decision = dict(shown_task(done, sealed_runs(session, case_id=done.case_id), who).decision
                    or {})
    guess = predict(done.step, {} if sealing.is_marker(decision) else decision, lang, t)
    items = [{"id": x.id, "step": step_name(x.step, lang), "agency": agency_name(
        x.owner + ("/supervisor" if x.owner_role == "supervisor" else ""), lang),
        "link": who.has(*access.UNRESTRICTED) or x.owner == who.agency} for x in opened]
    # Queued: Prefect did not take the resume at once (down, or the run not suspended yet);
    # the dispatcher delivers it, often within the second, so the page waits all the same.
    waiting = (not items and (guess is None or guess.kind in ("step", "start"))
               and now - done.completed_at < WAIT_FOR_NEXT)
    text = t("submitted.queued" if queued else "submitted.done")
    if guess is not None:
        text += guess.text
    elif not queued:
        text += t("submitted.goes_on")
    return {"task": task_id, "text": text, "opened": items, "waiting": waiting}
