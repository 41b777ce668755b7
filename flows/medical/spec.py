"""M1 as data: emergency treatment first, settlement afterwards (四(五)1)."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import Field

from flows.catalog import BEGIN, Edge, ProcedureSpec, StepSpec
from flows.forms import AgencyCode, Amount, Decision, Notes

DEFAULT_HOSPITAL = "hospital:first-people"


class AdmissionDecision(Decision):
    outcome: Literal["admitted", "refused"]


class AdmissionForm(AdmissionDecision):
    notes: Notes


class InterventionDecision(Decision):
    admitted_at: AgencyCode  # the hospital that admitted the child after health stepped in


class InterventionForm(InterventionDecision):
    notes: Notes


class StatusDecision(Decision):
    confirmed: bool


class StatusForm(StatusDecision):
    notes: Notes


class DischargeDecision(Decision):
    discharged_on: date


class DischargeForm(DischargeDecision):
    notes: Notes


class ClaimDecision(Decision):
    amount_total: Amount = Field(gt=0)


class ClaimForm(ClaimDecision):
    hospital_code: AgencyCode
    invoice_no: str
    admission_date: date
    discharge_date: date
    amount_insurance: Amount | None = None


class PaymentDecision(Decision):
    paid_on: date
    amount_paid: Amount = Field(gt=0)


class PaymentForm(PaymentDecision):
    notes: Notes


M1 = ProcedureSpec(
    code="M1",
    area="medical",
    title="Emergency treatment, settlement afterwards (先救治后结算)",
    flow_name="m1-emergency-treatment",
    entrypoint="flows/medical/m1.py:m1_emergency_treatment",
    steps=(
        StepSpec("m1.admission", "Admit and treat at once, no deposit", "1h",
                 AdmissionDecision, AdmissionForm,
                 owner_rule=f"the designated hospital (parameter hospital, default "
                            f"{DEFAULT_HOSPITAL})"),
        StepSpec("m1.intervention", "Refusal reported: make a hospital admit the child", "1h",
                 InterventionDecision, InterventionForm, owner="health"),
        StepSpec("m1.status", "Confirm street-child status", "3wd",
                 StatusDecision, StatusForm, owner="mca"),
        StepSpec("m1.discharge", "Report the discharge", "60d", DischargeDecision, DischargeForm,
                 rung_deadline="2wd", owner_rule="the admitting hospital"),
        StepSpec("m1.claim", "Submit the settlement claim", "15wd", ClaimDecision, ClaimForm,
                 suite="settlement_claim", owner_rule="the admitting hospital"),
        StepSpec("m1.payment", "Pay the settlement", "20wd", PaymentDecision, PaymentForm,
                 owner="center"),
    ),
    graph=(
        Edge(BEGIN, "m1.admission"),
        Edge("m1.admission", "m1.status", "outcome == admitted"),
        Edge("m1.admission", "notify:m1.admission_refused", "outcome == refused"),
        Edge("notify:m1.admission_refused", "m1.intervention"),
        Edge("m1.intervention", "m1.status"),
        Edge("m1.status", "end:not_street_child", "not confirmed"),
        Edge("m1.status", "m1.discharge", "confirmed"),
        Edge("m1.discharge", "m1.claim"),
        Edge("m1.claim", "m1.claim", "the settlement suite refuses the record: correct it"),
        Edge("m1.claim", "m1.payment", "the record passes the settlement suite"),
        Edge("m1.payment", "end:settled"),
    ),
)
