"""The rescue procedures (R1–R7) end to end on a real Prefect server and runner."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import select

from app import clock
from app.errors import ValidationFailed
from app.store import db
from app.sweep import sweep
from models import HumanTask, OutboxMessage, Timer
from tests.helpers import (
    complete,
    flow_run,
    flow_state,
    open_case,
    open_task,
    protect_json,
    run_row,
    runs_of,
    start,
    wait_finished,
    wait_for,
)

pytestmark = pytest.mark.flows
HOME_STREET = "street:xingqing-fenghuang"


def _pending_timer(run_id: int, key: str) -> Timer | None:
    with db() as session:
        return session.exec(select(Timer).where(Timer.procedure_run_id == run_id,
                                                Timer.key == key,
                                                Timer.status == "pending")).first()


def test_street_child_is_rescued_returned_home_and_visited_for_a_year(system) -> None:
    case = open_case()
    r2 = start(case, "R2")

    task = open_task(case, "r2.outreach")
    fr = flow_run(r2)
    assert case in fr.name and "R2" in fr.name
    assert {case, "R2"} <= set(fr.tags)
    listed = protect_json("tasks", "--case", case)
    assert [(t["id"], t["step"], t["owner"]) for t in listed] == [
        (task.id, "r2.outreach", "center")]
    complete(task, "center", outcome="accepted", location="银川火车站")

    complete(open_task(case, "r2.intake"), "center", ill_or_injured=False)
    complete(open_task(case, "r2.identity"), "psb", outcome="family_found", has_hukou=True,
             origin_district="xingqing")
    assert wait_finished(r2).outcome == "returned_home"

    [r3_row] = runs_of(case, "R3")
    r3 = r3_row.id
    assert r3_row.parent_run_id == r2
    complete(open_task(case, "r3.assessment"), guardian_able=True, home_safe=True,
             home_street=HOME_STREET)
    today = clock.now().date()
    complete(open_task(case, "r3.escort"), handed_over_on=today.isoformat())
    complete(open_task(case, "r3.school_referral"), "edu", enrolled=True)

    for months in (1, 3, 6, 12):
        key = f"visit-{months}m"
        timer = wait_for(lambda key=key: _pending_timer(r3, key), what=f"timer {key}")
        assert (timer.due_at - clock.now()).days >= months * 28 - 2
        wait_for(lambda: flow_state(r3) == "Suspended", what=f"R3 to wait for {key}")
        assert sweep(now=timer.due_at + timedelta(minutes=1)).timers_fired >= 1
        visit = open_task(case, "r3.visit", key=key)
        assert visit.owner == HOME_STREET
        complete(visit, visit_date=(today + timedelta(days=months * 30)).isoformat(),
                 child_seen=True, situation="ok", needs=[])

    complete(open_task(case, "r3.closing"), outcome="closed")
    assert wait_finished(r3).outcome == "closed"
    assert run_row(r2).status == run_row(r3).status == "completed"

    history = protect_json("history", "--case", case)
    assert sorted((r["name"].split("-")[2], r["state"]) for r in history["flow_runs"]) == [
        ("R2", "Completed"), ("R3", "Completed")]
    actions = [e["action"] for e in history["events"]]
    assert actions.count("task.completed") == 11 and actions.count("timer.fired") == 4


def _task(task_id: int) -> HumanTask:
    with db() as session:
        t = session.get(HumanTask, task_id)
        assert t is not None
        return t


def _refused_fields(task: HumanTask, **form) -> set[str]:
    with pytest.raises(ValidationFailed) as refused:
        complete(task, **form)
    return {e.field for e in refused.value.errors}


def _escalate(task: HumanTask) -> HumanTask:
    """One sweep a day after the task's deadline: it climbs one rung."""
    sweep(now=task.due_at + timedelta(days=1))
    return _task(task.id)


# --- R4 guardian intervention ladder ------------------------------------------------------------


def test_the_guardian_ladder_climbs_by_each_rungs_outcome_and_can_be_entered_higher(system
                                                                                    ) -> None:
    today = clock.now().date().isoformat()
    serious = open_case(district="jinfeng")  # no street given: the district's first pilot
    ladder = open_case()
    at_check, at_reprimand, at_penalty = open_case(), open_case(), open_case()
    runs = {
        serious: start(serious, "R4"),
        ladder: start(ladder, "R4", params={"street": HOME_STREET, "reason": "harm_reported"}),
        at_check: start(at_check, "R4", params={"rung": "check", "street": HOME_STREET}),
        at_reprimand: start(at_reprimand, "R4", params={"rung": "reprimand"}),
        at_penalty: start(at_penalty, "R4", params={"rung": "penalty"}),
    }

    admonition = open_task(serious, "r4.admonition")
    assert admonition.owner == "street:jinfeng-mancheng"
    assert _refused_fields(admonition, outcome="serious") == {"acted_on"}  # the suite's check
    assert _refused_fields(admonition, outcome="maybe", acted_on=today) == {"outcome"}
    complete(admonition, outcome="serious", acted_on=today)
    reprimand = open_task(serious, "r4.reprimand")
    assert reprimand.owner == "psb"
    complete(reprimand, outcome="corrected", acted_on=today)
    assert wait_finished(runs[serious]).outcome == "corrected"

    admonition = open_task(ladder, "r4.admonition")
    assert admonition.owner == HOME_STREET
    assert admonition.ladder == [HOME_STREET, "district:xingqing", "mca", "office"]
    assert _escalate(admonition).owner == "district:xingqing"  # a missed deadline climbs
    complete(admonition, HOME_STREET, outcome="stopped", acted_on=today)  # still its file
    check = open_task(ladder, "r4.check")
    assert check.owner == HOME_STREET
    complete(check, outcome="still_failing", acted_on=today)
    complete(open_task(ladder, "r4.reprimand"), outcome="still_failing", acted_on=today)
    complete(open_task(ladder, "r4.penalty"), outcome="crime", acted_on=today)
    prosecution = open_task(ladder, "r4.prosecution")
    assert prosecution.owner == "procuratorate"
    complete(prosecution, outcome="not_prosecuted", acted_on=today)
    assert wait_finished(runs[ladder]).outcome == "not_prosecuted"

    complete(open_task(at_check, "r4.check"), outcome="corrected", acted_on=today)
    complete(open_task(at_reprimand, "r4.reprimand"), outcome="crime", acted_on=today)
    complete(open_task(at_reprimand, "r4.prosecution"), outcome="prosecuted", acted_on=today)
    complete(open_task(at_penalty, "r4.penalty"), outcome="penalised", acted_on=today)
    assert [wait_finished(runs[c]).outcome for c in (at_check, at_reprimand, at_penalty)] == [
        "corrected", "prosecuted", "penalised"]


def test_r3_starts_the_ladder_for_an_unsafe_home_and_r4_r6_from_a_visit(system) -> None:
    unsafe = open_case()
    r3 = start(unsafe, "R3")
    complete(open_task(unsafe, "r3.assessment"), guardian_able=True, home_safe=False,
             home_street=HOME_STREET)
    assert wait_finished(r3).outcome == "home_unsafe"
    [r4] = runs_of(unsafe, "R4")
    assert (r4.parent_run_id, r4.params["reason"]) == (r3, "home_unsafe")
    assert open_task(unsafe, "r4.admonition").owner == HOME_STREET

    case = open_case()
    r3 = start(case, "R3")
    complete(open_task(case, "r3.assessment"), guardian_able=True, home_safe=True,
             home_street=HOME_STREET)
    today = clock.now().date()
    complete(open_task(case, "r3.escort"), handed_over_on=today.isoformat())
    complete(open_task(case, "r3.school_referral"), "edu", enrolled=True)
    timer = wait_for(lambda: _pending_timer(r3, "visit-1m"), what="the first visit's timer")
    wait_for(lambda: flow_state(r3) == "Suspended", what="R3 to wait for its first visit")
    sweep(now=timer.due_at + timedelta(minutes=1))
    complete(open_task(case, "r3.visit", key="visit-1m"),
             visit_date=(today + timedelta(days=31)).isoformat(), child_seen=False,
             situation="ran_away", needs=["R6", "E4"])
    wait_for(lambda: _pending_timer(r3, "visit-3m"), what="R3 to go on to its next visit")
    [r4], [r6] = runs_of(case, "R4"), runs_of(case, "R6")
    assert (r4.params, r6.params) == ({"street": HOME_STREET, "reason": "ran_away"},
                                      {"street": HOME_STREET})
    assert open_task(case, "r4.admonition").owner == HOME_STREET
    assert open_task(case, "r6.eligibility").owner == HOME_STREET
    with db() as session:  # the needs built elsewhere (E4, P1, W1) still notify the center
        note = session.exec(select(OutboxMessage).where(
            OutboxMessage.dedupe_key == f"notify:run:{r3}:visit-1m-need-E4")).one()
    assert (note.payload["agency"], note.payload["event"]) == ("center", "r3.need")
