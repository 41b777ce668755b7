"""P1 counselling and P2 regular visits end to end: every branch, an escalation, a refused form."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlmodel import select

from app.adapters.dispatch import dispatch
from app.adapters.store import db
from app.domain import clock
from app.domain.errors import ValidationFailed
from app.runtime.sweep import sweep
from app.services import cases as services
from models import HumanTask, Timer
from tests.helpers import complete, flow_state, open_case, open_task, start, wait_finished, wait_for

pytestmark = pytest.mark.flows
COMMUNITY = "community:xingqing-fenghuang"


def _today(days: int = 0) -> str:
    return (clock.now().date() + timedelta(days=days)).isoformat()


def _task(task_id: int) -> HumanTask:
    with db() as session:
        t = session.get(HumanTask, task_id)
        assert t is not None
        return t


def _refused_fields(task: HumanTask, **form: Any) -> set[str]:
    with pytest.raises(ValidationFailed) as refused:
        complete(task, **form)
    return {e.field for e in refused.value.errors}


def _pending_timer(run_id: int, key: str) -> Timer | None:
    with db() as session:
        return session.exec(select(Timer).where(Timer.procedure_run_id == run_id,
                                                Timer.key == key,
                                                Timer.status == "pending")).first()


REFERRAL = {"reason": "left_behind", "referred_by": "street:xingqing-fenghuang",
            "referral_date": _today()}
SESSIONS = {"sessions_held": 8, "first_on": _today(5), "last_on": _today(50)}


def test_p1_counselling_closes_after_one_round_and_a_late_round_climbs(system) -> None:
    closed, no_need = open_case(), open_case()
    runs = {c: start(c, "P1") for c in (closed, no_need)}
    for c in (closed, no_need):
        referral = open_task(c, "p1.referral")
        assert referral.owner == "center"
        complete(referral, **REFERRAL)
    complete(open_task(no_need, "p1.assessment"), outcome="no_need", risk="low")
    complete(open_task(closed, "p1.assessment"), outcome="counselling", risk="medium")

    sessions = open_task(closed, "p1.sessions", key="sessions-1")
    assert sessions.owner == "center"
    assert _refused_fields(sessions, **{**SESSIONS, "last_on": _today(1)}) == {"last_on"}
    report = sweep(now=sessions.due_at + timedelta(minutes=1))
    assert [(e["rung"], e["to"]) for e in report.escalations if e["task_id"] == sessions.id] \
        == [(1, "center/supervisor")]
    assert _task(sessions.id).rung == 1
    complete(sessions, **SESSIONS)
    complete(open_task(closed, "p1.review", key="review-1"), outcome="closed")
    assert [wait_finished(runs[c]).outcome for c in (closed, no_need)] == ["closed", "no_need"]


def test_p1_clinical_needs_go_to_health_and_three_rounds_end_unresolved(system) -> None:
    case = open_case()
    p1 = start(case, "P1")
    complete(open_task(case, "p1.referral"), **REFERRAL)
    complete(open_task(case, "p1.assessment"), outcome="clinical", risk="high")
    for round_no in (1, 2, 3):
        sessions = open_task(case, "p1.sessions", key=f"sessions-{round_no}")
        assert sessions.owner == "health"
        complete(sessions, **SESSIONS)
        complete(open_task(case, "p1.review", key=f"review-{round_no}"), outcome="more_sessions")
    assert wait_finished(p1).outcome == "unresolved"


def _visit(**extra: Any) -> dict[str, Any]:
    return {"situation": "ok", "visit_date": _today(), "child_seen": True, "mood": "stable",
            "support": ["listening"], "support_minutes": 45, **extra}


def _next_visit(case: str, run: int, key: str) -> HumanTask:
    timer = wait_for(lambda: _pending_timer(run, key), what=f"timer {key}")
    wait_for(lambda: flow_state(run) == "Suspended", what=f"P2 to wait for {key}")
    assert sweep(now=timer.due_at + timedelta(minutes=1)).timers_fired >= 1
    return open_task(case, "p2.visit", key=key)


def test_p2_monthly_visits_for_a_year_with_a_missed_visit_climbing(system) -> None:
    case = open_case()
    p2 = start(case, "P2")
    plan = open_task(case, "p2.plan")
    assert plan.owner == "center"
    starts = clock.now().date()
    complete(plan, visitor=COMMUNITY, starts_on=starts.isoformat(), group="left_behind")

    first = _next_visit(case, p2, "visit-1m")
    assert first.owner == COMMUNITY
    assert first.ladder == [COMMUNITY, "street:xingqing-fenghuang", "district:xingqing", "mca",
                            "office"]
    assert _refused_fields(first, **_visit(support=[], support_minutes=2)) == {
        "support", "support_minutes"}
    report = sweep(now=first.due_at + timedelta(minutes=1))  # the visit was missed
    assert [(e["rung"], e["to"]) for e in report.escalations if e["task_id"] == first.id] == [
        (1, "street:xingqing-fenghuang")]
    complete(first, **_visit(situation="concern", mood="low"))
    for month in range(2, 13):
        visit = _next_visit(case, p2, f"visit-{month}m")
        complete(visit, **_visit())
    assert wait_finished(p2).outcome == "completed"


def test_p2_visits_end_early_when_no_longer_needed_or_when_the_case_stops_them(system) -> None:
    early, stopped = open_case(), open_case()
    runs = {c: start(c, "P2") for c in (early, stopped)}
    for c in (early, stopped):
        complete(open_task(c, "p2.plan"), visitor="women", starts_on=_today(),
                 group="dropout")
    # Stop one case's visits before any sweep fires its first timer.
    wait_for(lambda: _pending_timer(runs[stopped], "visit-1m"), what="the first visit's timer")
    wait_for(lambda: flow_state(runs[stopped]) == "Suspended", what="P2 to wait")
    with db() as session:
        services.family_found(session=session, case_ref=stopped, actor="test", now=clock.now())
    dispatch(kinds=("resume",))
    assert wait_finished(runs[stopped]).outcome == "stopped"

    visit = _next_visit(early, runs[early], "visit-1m")
    assert visit.owner == "women"
    complete(visit, **_visit(situation="no_longer_needed"))
    assert wait_finished(runs[early]).outcome == "no_longer_needed"
