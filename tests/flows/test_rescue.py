"""The rescue procedures (R1–R7) end to end on a real Prefect server and runner."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import select

from app.adapters.store import db
from app.domain import clock
from app.domain.errors import ValidationFailed
from app.runtime.sweep import sweep
from models import HumanTask, Timer
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
             situation="ran_away", needs=["R6", "E4", "P1", "W1"])
    wait_for(lambda: _pending_timer(r3, "visit-3m"), what="R3 to go on to its next visit")
    [r4], [r6] = runs_of(case, "R4"), runs_of(case, "R6")
    assert (r4.params, r6.params) == ({"street": HOME_STREET, "reason": "ran_away"},
                                      {"street": HOME_STREET})
    assert open_task(case, "r4.admonition").owner == HOME_STREET
    assert open_task(case, "r6.eligibility").owner == HOME_STREET
    # Each need starts its procedure for the same case, linked to the visit's R3.
    for code in ("E4", "P1", "W1"):
        [run] = wait_for(lambda code=code: runs_of(case, code), what=f"{code} to start")
        assert run.parent_run_id == r3
    assert runs_of(case, "W1")[0].params == {
        "community": HOME_STREET.replace("street:", "community:", 1)}


# --- R1 abandoned infant or orphan placement ----------------------------------------------------


def test_a_found_infant_without_parents_is_placed_enrolled_and_j2_starts(system) -> None:
    today = clock.now().date().isoformat()
    infant, orphan = open_case(district="xixia"), open_case()
    r1, r1_home = start(infant, "R1"), start(orphan, "R1")

    finding = open_task(infant, "r1.finding")
    assert finding.owner == "psb"
    form = {"category": "abandoned_infant", "parent_found": False, "found_on": today,
            "found_district": "beijing", "found_place": "西夏区某小区门口"}
    assert _refused_fields(finding, **form) == {"found_district"}  # the suite refuses it
    complete(finding, **{**form, "found_district": "xixia"})

    acceptance = open_task(infant, "r1.acceptance")
    assert acceptance.owner == "mca"
    escalated = _escalate(acceptance)  # to the bureau's supervisor
    assert (escalated.owner, escalated.owner_role, escalated.rung) == ("mca", "supervisor", 1)
    complete(acceptance, "mca", accepted_on=today)
    admission = open_task(infant, "r1.admission")
    assert admission.owner == "welfare"
    complete(admission, admitted_on=today)
    [j2] = wait_for(lambda: runs_of(infant, "J2"), what="J2 to start")
    assert j2.parent_run_id == r1
    enrolment = open_task(infant, "r1.enrolment")
    assert _refused_fields(enrolment, enrolled_on=today, monthly_allowance=0) == {
        "monthly_allowance"}
    complete(enrolment, enrolled_on=today, monthly_allowance=1510)
    assert wait_finished(r1).outcome == "placed"

    complete(open_task(orphan, "r1.finding"), category="orphan", parent_found=True,
             found_on=today, found_district="xingqing", found_place="兴庆区某街道")
    assert wait_finished(r1_home).outcome == "returned_home"
    assert [r.parent_run_id for r in runs_of(orphan, "R3")] == [r1_home]
    assert runs_of(orphan, "J2") == []


# --- R5 temporary loss of support ---------------------------------------------------------------


def test_a_child_without_support_is_placed_and_a_trafficked_infant_starts_j2(system) -> None:
    today = clock.now().date().isoformat()
    imprisoned, trafficked = open_case(), open_case()
    r5, r5_j2 = start(imprisoned, "R5"), start(trafficked, "R5")

    placement = open_task(imprisoned, "r5.placement")
    assert placement.owner == "mca"
    assert _refused_fields(placement, reason="lost", placed_on="2026-02-30") == {
        "reason", "placed_on"}
    assert _escalate(placement).owner_role == "supervisor"
    complete(placement, "mca", reason="parent_imprisoned", placed_on=today)
    complete(open_task(imprisoned, "r5.admission"), "welfare", admitted_on=today)
    assert wait_finished(r5).outcome == "placed"
    assert runs_of(imprisoned, "J2") == []

    complete(open_task(trafficked, "r5.placement"), reason="trafficked_no_guardian",
             placed_on=today)
    complete(open_task(trafficked, "r5.admission"), admitted_on=today)
    assert wait_finished(r5_j2).outcome == "placed"
    assert [r.parent_run_id for r in runs_of(trafficked, "J2")] == [r5_j2]


# --- R6 living assistance -----------------------------------------------------------------------


def test_living_assistance_follows_the_familys_eligibility(system) -> None:
    today = clock.now().date().isoformat()
    disabled, poor, neither = open_case(), open_case(district="helan"), open_case()
    runs = {c: start(c, "R6") for c in (disabled, poor, neither)}
    family = {"household_size": 4, "income_per_person": 480}

    eligibility = open_task(disabled, "r6.eligibility")
    assert eligibility.owner == "street:xingqing-fenghuang"
    assert _refused_fields(eligibility, dibao_eligible=True, disabled=False,
                           congenital_disability=True, **family) == {"congenital_disability"}
    assert _escalate(eligibility).owner == "district:xingqing"
    complete(eligibility, "street:xingqing-fenghuang", dibao_eligible=True, disabled=True,
             congenital_disability=True, **family)
    dibao = open_task(disabled, "r6.dibao")
    assert _refused_fields(dibao, granted=True, granted_on=today) == {"amount"}
    complete(dibao, granted=True, granted_on=today, amount=660)
    rehabilitation = open_task(disabled, "r6.rehabilitation")
    assert rehabilitation.owner == "dpf"
    complete(rehabilitation, granted=True, granted_on=today, amount=2000)
    medical_aid = open_task(disabled, "r6.medical_aid")
    assert medical_aid.owner == "health"
    complete(medical_aid, granted=False)
    insurance = open_task(disabled, "r6.insurance")
    assert insurance.owner == "hrss"
    complete(insurance, enrolled_on=today)
    assert wait_finished(runs[disabled]).outcome == "assisted"

    eligibility = open_task(poor, "r6.eligibility")  # climbed too, in the sweep above
    assert eligibility.first_owner == "street:helan-xigang"
    complete(eligibility, dibao_eligible=True, disabled=False, **family)
    complete(open_task(poor, "r6.dibao"), granted=False)
    assert wait_finished(runs[poor]).outcome == "not_assisted"

    complete(open_task(neither, "r6.eligibility"), dibao_eligible=False, disabled=False,
             household_size=2, income_per_person=3200)
    assert wait_finished(runs[neither]).outcome == "not_eligible"


# --- R7 charity home visits ---------------------------------------------------------------------


def test_a_charity_visit_pays_a_grant_when_one_is_needed_and_is_recorded(system) -> None:
    today = clock.now().date().isoformat()
    needy, coping = open_case(), open_case()
    r7, r7_none = start(needy, "R7"), start(coping, "R7")

    visit = open_task(needy, "r7.visit")
    assert visit.owner == "charity"
    assert (_escalate(visit).owner, _task(visit.id).owner_role) == ("charity", "supervisor")
    complete(visit, "charity", circumstance="serious_illness", visited_on=today)
    complete(open_task(needy, "r7.assessment"), grant_needed=True, amount=3000)
    payment = open_task(needy, "r7.payment")
    assert _refused_fields(payment, paid_on=today, amount_paid=3000, receipt_no="cf 1") == {
        "receipt_no"}
    complete(payment, paid_on=today, amount_paid=3000, receipt_no="CF-2026-0158")
    complete(open_task(needy, "r7.record"), recorded_on=today)
    assert wait_finished(r7).outcome == "granted"

    complete(open_task(coping, "r7.visit"), circumstance="poverty", visited_on=today)
    complete(open_task(coping, "r7.assessment"), grant_needed=False)
    complete(open_task(coping, "r7.record"), recorded_on=today)
    assert wait_finished(r7_none).outcome == "no_grant"
