"""M1 emergency treatment, settlement afterwards, and M2 medical assistance, end to end."""

from __future__ import annotations

from datetime import timedelta

import pytest

from app.domain import clock
from app.domain.errors import ValidationFailed
from app.runtime.sweep import sweep
from tests.helpers import complete, open_case, open_task, runs_of, start, wait_finished

pytestmark = pytest.mark.flows
HOSPITAL = "hospital:women-children"


def test_hospital_treats_first_and_is_paid_after_a_checked_claim(system) -> None:
    case = open_case()
    m1 = start(case, "M1", params={"hospital": HOSPITAL})
    admission = open_task(case, "m1.admission")
    assert admission.owner == HOSPITAL
    assert (admission.due_at - admission.created_at) == timedelta(hours=1)
    complete(admission, outcome="admitted")
    complete(open_task(case, "m1.status"), "mca", confirmed=True)
    today = clock.now().date()
    complete(open_task(case, "m1.discharge"), discharged_on=today.isoformat())

    claim = open_task(case, "m1.claim")
    bad = {"hospital_code": HOSPITAL, "invoice_no": "INV-2026-0042",
           "admission_date": today.isoformat(),
           "discharge_date": (today - timedelta(days=3)).isoformat(), "amount_total": 12800.5}
    with pytest.raises(ValidationFailed) as refused:
        complete(claim, **bad)
    assert {e.field for e in refused.value.errors} == {"discharge_date"}
    wrong_hospital = {**bad, "discharge_date": today.isoformat(), "amount_insurance": 2000,
                      "hospital_code": "hospital:first-people"}
    complete(claim, **wrong_hospital)  # passes the form's checks; the procedure's check refuses
    fix = open_task(case, "m1.claim", key="claim-fix-1")
    assert (fix.owner, fix.title.endswith("(correct the data)")) == (HOSPITAL, True)
    complete(fix, **{**wrong_hospital, "hospital_code": HOSPITAL})

    complete(open_task(case, "m1.payment"), "center", paid_on=today.isoformat(),
             amount_paid=10800.5)
    assert wait_finished(m1).outcome == "settled"


def test_a_refusing_hospital_is_reported_to_health_which_finds_another(system) -> None:
    case = open_case()
    m1 = start(case, "M1")
    complete(open_task(case, "m1.admission"), outcome="refused")
    intervention = open_task(case, "m1.intervention")
    assert intervention.owner == "health"
    complete(intervention, admitted_at=HOSPITAL)
    complete(open_task(case, "m1.status"), "mca", confirmed=False)
    assert wait_finished(m1).outcome == "not_street_child"
    assert runs_of(case, "M1")[0].status == "completed"


def test_an_ill_street_child_starts_m1_at_intake(system) -> None:
    case = open_case()
    start(case, "R2")
    complete(open_task(case, "r2.outreach"), outcome="accepted")
    complete(open_task(case, "r2.intake"), ill_or_injured=True)
    open_task(case, "r2.identity")
    [m1] = runs_of(case, "M1")
    assert open_task(case, "m1.admission").procedure_run_id == m1.id


# --- M2 medical assistance for families ---------------------------------------------------------

APPLICATION = {"hospital_code": HOSPITAL, "treatment_from": "2026-10-01",
               "treatment_to": "2026-10-20", "costs_total": 20000, "insurance_paid": 12000.5}


def test_m2_enrols_checks_the_amounts_approves_within_the_request_and_pays(system) -> None:
    case = open_case()
    m2 = start(case, "M2")
    enrolment = open_task(case, "m2.enrolment")
    assert enrolment.owner == "hrss"
    complete(enrolment, enrolled=True, scheme="resident", fee_waived=True)

    application = open_task(case, "m2.application")
    assert application.owner == "mca"
    with pytest.raises(ValidationFailed) as refused:  # more than the family paid itself
        complete(application, amount_requested=8000, **{**APPLICATION,
                                                        "treatment_to": "2026-09-30"})
    assert {(e.field, e.code) for e in refused.value.errors} == {
        ("amount_requested", "amount_requested.above_out_of_pocket"),
        ("treatment_to", "treatment_to.before_start")}
    complete(application, amount_requested=7000, **APPLICATION)

    approval = open_task(case, "m2.approval")
    with pytest.raises(ValidationFailed) as no_amount:
        complete(approval, outcome="approved")
    assert [e.field for e in no_amount.value.errors] == ["form"]
    complete(approval, outcome="approved", amount_approved=7500)  # above the request
    fix = open_task(case, "m2.approval", key="approval-fix-1")
    assert fix.title.endswith("(correct the data)")
    complete(fix, outcome="approved", amount_approved=7000)

    today = clock.now().date().isoformat()
    complete(open_task(case, "m2.payment"), paid_on=today, amount_paid=7000)
    assert wait_finished(m2).outcome == "paid"


def test_m2_ends_without_insurance_or_when_rejected(system) -> None:
    uninsured, rejected = open_case(), open_case()
    runs = {uninsured: start(uninsured, "M2"), rejected: start(rejected, "M2")}
    complete(open_task(uninsured, "m2.enrolment"), enrolled=False)
    complete(open_task(rejected, "m2.enrolment"), enrolled=True)
    complete(open_task(rejected, "m2.application"), amount_requested=500, **APPLICATION)
    approval = open_task(rejected, "m2.approval")
    report = sweep(now=approval.due_at + timedelta(minutes=1))  # late: mca's supervisor
    assert [(e["rung"], e["to"]) for e in report.escalations
            if e["task_id"] == approval.id] == [(1, "mca/supervisor")]
    complete(approval, outcome="rejected")
    assert wait_finished(runs[uninsured]).outcome == "not_enrolled"
    assert wait_finished(runs[rejected]).outcome == "rejected"
    assert [r.status for r in runs_of(rejected, "M2")] == ["completed"]
