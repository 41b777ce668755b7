"""W1–W4 employment protection end to end: every branch, an escalation, a refused form."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from app.adapters.store import db
from app.domain import clock
from app.domain.errors import ValidationFailed
from app.runtime.sweep import sweep
from models import HumanTask
from tests.helpers import complete, open_case, open_task, start, wait_finished

pytestmark = pytest.mark.flows
COMMUNITY = "community:xingqing-fenghuang"


def _today(days: int = 0) -> str:
    return (clock.now().date() + timedelta(days=days)).isoformat()


def _application(**extra: Any) -> dict[str, Any]:
    return {"outcome": "submitted", "application_date": _today(), "applicant_relation": "mother",
            "applicant_age": 38, **extra}


def _delivered(**extra: Any) -> dict[str, Any]:
    return {"delivered": True, "started_on": _today(10), "ended_on": _today(50), **extra}


def _task(task_id: int) -> HumanTask:
    with db() as session:
        t = session.get(HumanTask, task_id)
        assert t is not None
        return t


def _climbs_one_rung(task: HumanTask, to: str) -> None:
    """A missed deadline moves the task one rung up its ladder, to `to`."""
    report = sweep(now=task.due_at + timedelta(minutes=1))
    assert [(e["rung"], e["to"]) for e in report.escalations if e["task_id"] == task.id] == [
        (1, to)]
    climbed = _task(task.id)
    assert climbed.rung == 1
    # A bureau's own supervisor takes the file (owner "hrss", role "supervisor").
    assert (climbed.owner if "/" not in to else f"{climbed.owner}/{climbed.owner_role}") == to


def _refused_fields(task: HumanTask, **form: Any) -> set[str]:
    with pytest.raises(ValidationFailed) as refused:
        complete(task, **form)
    return {e.field for e in refused.value.errors}


def test_w1_family_member_applies_is_trained_and_a_late_application_climbs(system) -> None:
    case = open_case(district="xingqing")
    w1 = start(case, "W1", params={"community": COMMUNITY})
    application = open_task(case, "w1.application")
    assert application.owner == COMMUNITY
    assert application.ladder == [COMMUNITY, "street:xingqing-fenghuang", "district:xingqing",
                                  "hrss", "office"]
    assert _refused_fields(application, **_application(applicant_age=15, trade="rocketry")) == {
        "applicant_age", "trade"}
    _climbs_one_rung(application, "street:xingqing-fenghuang")
    complete(application, **_application(trade="housekeeping"))  # the first owner still may
    approval = open_task(case, "w1.approval")
    assert approval.owner == "hrss"
    complete(approval, outcome="approved", course_starts_on=_today(10), course_code="JZ-2026")
    delivery = open_task(case, "w1.delivery")
    assert _refused_fields(delivery, **_delivered(ended_on=_today(5))) == {"ended_on"}
    complete(delivery, **_delivered(hours=120, certificate=True))
    assert wait_finished(w1).outcome == "trained"


def test_w1_ends_withdrawn_rejected_or_not_trained(system) -> None:
    withdrawn, rejected, dropped = open_case(), open_case(), open_case(district="jinfeng")
    runs = {c: start(c, "W1") for c in (withdrawn, rejected, dropped)}
    assert open_task(dropped, "w1.application").owner == "district:jinfeng"
    complete(open_task(withdrawn, "w1.application"),
             **_application(outcome="withdrawn", trade="cooking"))
    for c in (rejected, dropped):
        complete(open_task(c, "w1.application"), **_application(trade="welding"))
    complete(open_task(rejected, "w1.approval"), outcome="rejected")
    complete(open_task(dropped, "w1.approval"), outcome="approved")
    complete(open_task(dropped, "w1.delivery"), delivered=False)
    assert [wait_finished(runs[c]).outcome for c in (withdrawn, rejected, dropped)] == [
        "withdrawn", "rejected", "not_trained"]


def test_w2_public_welfare_job_every_branch_and_an_escalation(system) -> None:
    employed, withdrawn, rejected, declined = (open_case() for _ in range(4))
    runs = {c: start(c, "W2") for c in (employed, withdrawn, rejected, declined)}
    application = open_task(employed, "w2.application")
    assert _refused_fields(application, **_application(applicant_relation="boss",
                                                       job_kind="elderly_service")) == {
        "applicant_relation"}
    complete(application, **_application(job_kind="elderly_service"))
    complete(open_task(withdrawn, "w2.application"),
             **_application(outcome="withdrawn", job_kind="community_service"))
    for c in (rejected, declined):
        complete(open_task(c, "w2.application"), **_application(job_kind="community_service"))

    approval = open_task(employed, "w2.approval")
    _climbs_one_rung(approval, "hrss/supervisor")
    complete(approval, outcome="approved", job_kind="elderly_service")
    complete(open_task(rejected, "w2.approval"), outcome="rejected")
    complete(open_task(declined, "w2.approval"), outcome="approved", job_kind="community_service")

    placement = open_task(employed, "w2.placement")
    assert _refused_fields(placement, delivered=True, amount=1950) == {"started_on"}
    complete(placement, delivered=True, started_on=_today(7), amount=1950, hours=40)
    complete(open_task(declined, "w2.placement"), delivered=False)
    assert [wait_finished(runs[c]).outcome for c in (employed, withdrawn, rejected, declined)] \
        == ["employed", "withdrawn", "rejected", "not_taken_up"]


def test_w3_start_up_registration_tax_relief_and_loan(system) -> None:
    loan, no_loan, withdrawn, refused = (open_case() for _ in range(4))
    runs = {c: start(c, "W3", params={"community": COMMUNITY})
            for c in (loan, no_loan, withdrawn, refused)}
    application = open_task(loan, "w3.application")
    assert _refused_fields(application, **_application(
        wants_loan=True, business_kind="catering", loan_requested=500000)) == {"loan_requested"}
    complete(application, **_application(wants_loan=True, business_kind="catering",
                                         loan_requested=100000))
    complete(open_task(no_loan, "w3.application"), **_application(business_kind="retail"))
    complete(open_task(withdrawn, "w3.application"),
             **_application(outcome="withdrawn", business_kind="retail"))
    complete(open_task(refused, "w3.application"), **_application(business_kind="other"))

    registration = open_task(loan, "w3.registration")
    assert registration.owner == "market"
    _climbs_one_rung(registration, "market/supervisor")
    complete(registration, outcome="registered", registered_on=_today(),
             credit_code="92640104MA7XYZ1234")
    complete(open_task(no_loan, "w3.registration"), outcome="registered", registered_on=_today())
    complete(open_task(refused, "w3.registration"), outcome="refused")
    for c in (loan, no_loan):
        relief = open_task(c, "w3.tax_relief")
        assert relief.owner == "tax"
        complete(relief, outcome="granted", annual_relief=14400)
    payout = open_task(loan, "w3.loan")
    assert payout.owner == "hrss"
    complete(payout, delivered=True, started_on=_today(20), amount=100000, term_months=24)
    assert [wait_finished(runs[c]).outcome for c in (loan, no_loan, withdrawn, refused)] == [
        "supported", "supported", "withdrawn", "not_registered"]


def test_w4_disabled_minor_referred_assessed_and_placed(system) -> None:
    school, course, withdrawn, unsuitable = (open_case() for _ in range(4))
    runs = {c: start(c, "W4") for c in (school, course, withdrawn, unsuitable)}
    referral = {"outcome": "referred", "referral_date": _today(), "disability_kind": "hearing",
                "disability_grade": 3, "age": 15}
    first = open_task(school, "w4.referral")
    assert first.ladder[-2:] == ["dpf", "office"]
    assert _refused_fields(first, **{**referral, "age": 12}) == {"age"}
    complete(first, **referral)
    complete(open_task(course, "w4.referral"), **referral)
    complete(open_task(unsuitable, "w4.referral"), **referral)
    complete(open_task(withdrawn, "w4.referral"), **{**referral, "outcome": "withdrawn"})

    assessment = open_task(school, "w4.assessment")
    _climbs_one_rung(assessment, "dpf/supervisor")
    complete(assessment, outcome="vocational_school")
    complete(open_task(course, "w4.assessment"), outcome="training_course")
    complete(open_task(unsuitable, "w4.assessment"), outcome="not_suitable")

    enrolment = open_task(school, "w4.enrolment")
    assert enrolment.owner == "edu"
    complete(enrolment, delivered=True, started_on=_today(30), amount=2000)
    training = open_task(course, "w4.enrolment")
    assert training.owner == "dpf"
    complete(training, delivered=False)
    assert [wait_finished(runs[c]).outcome for c in (school, course, withdrawn, unsuitable)] == [
        "enrolled", "not_enrolled", "withdrawn", "not_suitable"]
