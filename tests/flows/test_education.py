"""E1–E6 education protection end to end: main paths, branches, a missed deadline, a refusal."""

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
    flow_state,
    open_case,
    open_task,
    runs_of,
    start,
    wait_finished,
    wait_for,
)

pytestmark = pytest.mark.flows
COMMUNITY = "community:xingqing-fenghuang"


def _today() -> str:
    return clock.now().date().isoformat()


def _climbs_one_rung(task: HumanTask) -> HumanTask:
    """Miss the task's deadline: one sweep just after it moves the task one rung up."""
    sweep(now=task.due_at + timedelta(minutes=1))
    with db() as session:
        climbed = session.get(HumanTask, task.id)
        assert climbed is not None
    assert (climbed.status, climbed.rung) == ("open", 1)
    assert climbed.ladder[1] in (climbed.owner, f"{climbed.owner}/{climbed.owner_role}")
    return climbed


def _refused(task: HumanTask, **form: object) -> set[str]:
    """Submit a form that must be refused; the fields the refusal names."""
    with pytest.raises(ValidationFailed) as refused:
        complete(task, **form)
    return {e.field for e in refused.value.errors}


def _fire(run_id: int, key: str) -> None:
    """Wait for the run's pending timer `key` and fire it with a sweep "as of" its due time."""

    def pending() -> Timer | None:
        with db() as session:
            return session.exec(select(Timer).where(Timer.procedure_run_id == run_id,
                                                    Timer.key == key,
                                                    Timer.status == "pending")).first()

    timer = wait_for(pending, what=f"timer {key}")
    wait_for(lambda: flow_state(run_id) == "Suspended", what=f"the run to wait for {key}")
    assert sweep(now=timer.due_at + timedelta(minutes=1)).timers_fired >= 1


# --- E1 orphan schooling ----------------------------------------------------------------------


def test_e1_an_orphan_is_placed_at_school_and_enrolled(system) -> None:
    case = open_case()
    e1 = start(case, "E1")
    assignment = open_task(case, "e1.assignment")
    assert assignment.owner == "edu"
    climbed = _climbs_one_rung(assignment)
    assert (climbed.owner, climbed.owner_role) == ("edu", "supervisor")
    complete(assignment, outcome="assigned", school="兴庆区第一小学")

    enrolment = open_task(case, "e1.enrolment")
    assert _refused(enrolment, attending=True, school="兴庆区第一小学", grade=12) == {
        "grade", "enrolled_on"}
    complete(enrolment, attending=True, school="兴庆区第一小学", grade=3, enrolled_on=_today())
    assert wait_finished(e1).outcome == "enrolled"


def test_e1_special_needs_go_to_e2_and_a_child_not_attending_to_e3(system) -> None:
    special = open_case()
    e1 = start(special, "E1")
    complete(open_task(special, "e1.assignment"), outcome="needs_special_education")
    assert wait_finished(e1).outcome == "referred_to_e2"
    assert [r.parent_run_id for r in runs_of(special, "E2")] == [e1]

    absent = open_case()
    e1 = start(absent, "E1")
    complete(open_task(absent, "e1.assignment"), outcome="assigned")
    complete(open_task(absent, "e1.enrolment"), attending=False, school="兴庆区第一小学", grade=2)
    assert wait_finished(e1).outcome == "dropout_reported"
    assert open_task(absent, "e3.report").owner == "edu"


# --- E2 disabled child schooling --------------------------------------------------------------

ASSESSMENT = {"assessed_on": "2026-11-20", "disability_category": "hearing",
              "disability_grade": 2}


def test_e2_a_preschool_child_in_difficulty_is_taught_at_home_and_subsidised(system) -> None:
    case = open_case()
    e2 = start(case, "E2")
    assessment = open_task(case, "e2.assessment")
    assert assessment.owner == "dpf"
    assert _refused(assessment, **{**ASSESSMENT, "disability_grade": 5}, stage="preschool",
                    in_difficulty=True) == {"disability_grade"}
    complete(assessment, **ASSESSMENT, stage="preschool", in_difficulty=True)
    complete(open_task(case, "e2.mode"), mode="home_teaching")

    plan = open_task(case, "e2.delivery_plan")
    assert plan.owner == "edu"
    _climbs_one_rung(plan)
    complete(plan, starts_on=_today(), sessions_per_month=4)
    complete(open_task(case, "e2.subsidy"), paid_on=_today(), amount_paid=1500)
    assert wait_finished(e2).outcome == "subsidised"


def test_e2_community_education_is_planned_by_the_district_without_a_subsidy(system) -> None:
    case = open_case(district="jinfeng")
    e2 = start(case, "E2")
    complete(open_task(case, "e2.assessment"), **ASSESSMENT, stage="compulsory",
             in_difficulty=True)
    complete(open_task(case, "e2.mode"), mode="community_education")
    plan = open_task(case, "e2.delivery_plan")
    assert plan.owner == "district:jinfeng"
    complete(plan, starts_on=_today(), sessions_per_month=8)
    assert wait_finished(e2).outcome == "plan_in_place"


# --- E3 dropout notification and return to school ---------------------------------------------


def _report_and_notify(case: str) -> None:
    complete(open_task(case, "e3.report"), reason="family_hardship", last_attended_on=_today(),
             reported_on=_today(), grade=7)
    complete(open_task(case, "e3.guardian_notice"), notified_on=_today(), method="visit")


def test_e3_a_dropout_is_reported_persuaded_back_and_attends_30_days_later(system) -> None:
    case = open_case()
    e3 = start(case, "E3")
    report = open_task(case, "e3.report")
    assert (report.owner, report.deadline) == ("edu", "2wd")
    later = (clock.now().date() + timedelta(days=3)).isoformat()
    assert _refused(report, reason="work", last_attended_on=later, reported_on=_today(),
                    grade=8) == {"last_attended_on"}
    _climbs_one_rung(report)
    complete(report, reason="work", last_attended_on=_today(), reported_on=_today(), grade=8)
    complete(open_task(case, "e3.guardian_notice"), notified_on=_today(), method="phone")

    persuasion = open_task(case, "e3.persuasion")
    assert persuasion.deadline == "15wd"
    assert _refused(persuasion, outcome="returned", visits=2) == {"returned_on"}
    complete(persuasion, outcome="returned", returned_on=_today(), visits=2)

    _fire(e3, "attendance")
    complete(open_task(case, "e3.attendance"), attending=True)
    assert wait_finished(e3).outcome == "returned"


def test_e3_bad_habits_get_a_plan_and_a_child_not_returned_goes_to_district_then_bureau(
        system) -> None:
    case = open_case()
    e3 = start(case, "E3")
    _report_and_notify(case)
    complete(open_task(case, "e3.persuasion"), outcome="not_returned", bad_habits=True,
             visits=3)
    complete(open_task(case, "e3.education_plan"), starts_on=_today())

    district = open_task(case, "e3.district_office")
    assert district.owner == "district:xingqing"
    climbed = _climbs_one_rung(district)
    assert climbed.owner == "edu"  # the bureau above the district's education office
    complete(district, outcome="not_returned", visits=2)
    complete(open_task(case, "e3.bureau_action"), outcome="not_returned", visits=1)
    assert wait_finished(e3).outcome == "not_returned"


def test_e3_a_child_gone_again_at_the_attendance_check_starts_a_new_e3(system) -> None:
    case = open_case()
    e3 = start(case, "E3")
    _report_and_notify(case)
    complete(open_task(case, "e3.persuasion"), outcome="not_returned", visits=3)
    complete(open_task(case, "e3.district_office"), outcome="not_returned", visits=2)
    complete(open_task(case, "e3.bureau_action"), outcome="returned", returned_on=_today(),
             visits=1)
    _fire(e3, "attendance")
    complete(open_task(case, "e3.attendance"), attending=False, days_absent=10)
    assert wait_finished(e3).outcome == "dropped_out_again"
    again = [r for r in runs_of(case, "E3") if r.id != e3]
    assert [r.parent_run_id for r in again] == [e3]


# --- E4 education aid -------------------------------------------------------------------------

APPLICATION = {"aid": "senior_high", "school": "银川一中", "academic_year": "2026-2027",
               "amount_requested": 2000}


def test_e4_aid_is_applied_for_verified_and_paid(system) -> None:
    case = open_case()
    e4 = start(case, "E4")
    application = open_task(case, "e4.application")
    assert _refused(application, **{**APPLICATION, "academic_year": "2026-2028"},
                    family_status="none") == {"family_status", "academic_year"}
    complete(application, **APPLICATION, family_status="dibao")

    verification = open_task(case, "e4.verification")
    assert verification.owner == "mca"
    climbed = _climbs_one_rung(verification)
    assert (climbed.owner, climbed.owner_role) == ("mca", "supervisor")
    complete(verification, eligible=True, amount_approved=2000)
    complete(open_task(case, "e4.payment"), paid_on=_today(), amount_paid=2000)
    assert wait_finished(e4).outcome == "paid"


def test_e4_a_family_found_not_eligible_is_not_paid(system) -> None:
    case = open_case()
    e4 = start(case, "E4")
    complete(open_task(case, "e4.application"), **{**APPLICATION, "aid": "nutrition_lunch"},
             family_status="near_dibao")
    complete(open_task(case, "e4.verification"), eligible=False)
    assert wait_finished(e4).outcome == "not_eligible"


# --- E5 migrant workers' children enrolment ---------------------------------------------------

PLACE = {"stage": "primary", "applied_on": "2026-08-01", "residence_district": "jinfeng",
         "residence_months": 14, "parent_employed": True}


def test_e5_a_migrant_workers_child_gets_a_nearby_place(system) -> None:
    case = open_case()
    e5 = start(case, "E5", params={"district": "jinfeng"})
    application = open_task(case, "e5.application")
    assert application.owner == "district:jinfeng"
    assert _refused(application, **{**PLACE, "residence_months": -1}) == {"residence_months"}
    complete(application, **PLACE)

    placement = open_task(case, "e5.placement")
    assert placement.owner == "district:jinfeng"
    assert _climbs_one_rung(placement).owner == "edu"
    complete(placement, outcome="placed", starts_on="2026-09-01", school="金凤区第三小学")
    assert wait_finished(e5).outcome == "placed"


def test_e5_without_a_nearby_place_the_bureau_finds_one(system) -> None:
    case = open_case()
    e5 = start(case, "E5")
    complete(open_task(case, "e5.application"), **{**PLACE, "residence_district": "xingqing"})
    complete(open_task(case, "e5.placement"), outcome="no_place_nearby")
    coordination = open_task(case, "e5.coordination")
    assert coordination.owner == "edu"
    complete(coordination, starts_on="2026-09-07", school="兴庆区第五小学")
    assert wait_finished(e5).outcome == "placed_by_bureau"


# --- E6 proxy mothers for left-behind children ------------------------------------------------

PAIRING = {"volunteer_code": "V000123", "guardian_consent": True}


def _paired(case: str, **params: str) -> int:
    e6 = start(case, "E6", params=params or None)
    complete(open_task(case, "e6.identification"), left_behind=True, caregiver="grandparent")
    complete(open_task(case, "e6.matching"), matched=True)
    return e6


def test_e6_a_proxy_mother_is_paired_and_records_a_contact_every_month(system) -> None:
    case = open_case()
    e6 = start(case, "E6", params={"community": COMMUNITY})
    assert open_task(case, "e6.identification").owner == COMMUNITY
    complete(open_task(case, "e6.identification"), left_behind=True, caregiver="grandparent")
    complete(open_task(case, "e6.matching"), matched=True)
    pairing = open_task(case, "e6.pairing")
    assert _refused(pairing, agreed_on=_today(), volunteer_code="V12",
                    guardian_consent=False) == {"volunteer_code", "guardian_consent"}
    complete(pairing, agreed_on=_today(), **PAIRING)

    for month in range(1, 13):
        key = f"contact-{month}m"
        _fire(e6, key)
        contact = open_task(case, "e6.contact", key=key)
        assert contact.owner == "women"
        if month == 2:  # a missed month climbs the ladder
            climbed = _climbs_one_rung(contact)
            assert (climbed.owner, climbed.owner_role) == ("women", "supervisor")
        complete(contact, contact_date=_today(), mode="visit", concern=month == 3)
    assert wait_finished(e6).outcome == "completed"


def test_e6_no_left_behind_child_no_volunteer_or_an_early_end(system) -> None:
    not_left = open_case(district="helan")
    e6 = start(not_left, "E6")
    identification = open_task(not_left, "e6.identification")
    assert identification.owner == "district:helan"
    complete(identification, left_behind=False)
    assert wait_finished(e6).outcome == "not_left_behind"

    no_volunteer = open_case()
    e6 = start(no_volunteer, "E6")
    complete(open_task(no_volunteer, "e6.identification"), left_behind=True)
    complete(open_task(no_volunteer, "e6.matching"), matched=False)
    assert wait_finished(e6).outcome == "no_volunteer"

    ended = open_case()
    e6 = _paired(ended)
    complete(open_task(ended, "e6.pairing"), agreed_on=_today(), **PAIRING)
    _fire(e6, "contact-1m")
    complete(open_task(ended, "e6.contact", key="contact-1m"), contact_date=_today(),
             mode="phone", pairing="ended")
    assert wait_finished(e6).outcome == "ended_early"
