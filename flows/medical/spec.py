"""The medical procedures as data (四(五)): M1 emergency treatment first, settlement
afterwards; M2 medical assistance for families."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import Field, model_validator

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

# --- M2 medical assistance for families (四(五)2) ---------------------------------------------


class EnrolmentDecision(Decision):
    enrolled: bool


class EnrolmentForm(EnrolmentDecision):
    scheme: Literal["resident", "employee"] | None = None
    fee_waived: bool = False  # congenitally disabled children are enrolled free (R6)
    notes: Notes


class ApplicationDecision(Decision):
    amount_requested: Amount = Field(gt=0)


class ApplicationForm(ApplicationDecision):
    hospital_code: AgencyCode
    treatment_from: date
    treatment_to: date
    costs_total: Amount = Field(gt=0)
    insurance_paid: Amount
    notes: Notes


class ApprovalDecision(Decision):
    outcome: Literal["approved", "rejected"]
    amount_approved: Amount | None = None

    @model_validator(mode="after")
    def _approved_with_an_amount(self) -> ApprovalDecision:
        if self.outcome == "approved" and not self.amount_approved:
            raise ValueError("an approval needs amount_approved greater than 0")
        return self


class ApprovalForm(ApprovalDecision):
    notes: Notes


class AssistancePaymentDecision(Decision):
    paid_on: date
    amount_paid: Amount = Field(gt=0)


class AssistancePaymentForm(AssistancePaymentDecision):
    notes: Notes


M2 = ProcedureSpec(
    code="M2",
    area="medical",
    title="Medical assistance for families (医疗救助)",
    flow_name="m2-medical-assistance",
    entrypoint="flows/medical/m2.py:m2_medical_assistance",
    steps=(
        # No deadlines in PROCEDURES.md: 10 working days to enrol and to receive the
        # application, 20 to approve and 20 to pay (defaults, as M1's payment).
        StepSpec("m2.enrolment", "Enrol the child in medical insurance", "10wd",
                 EnrolmentDecision, EnrolmentForm, owner="hrss"),
        StepSpec("m2.application", "Receive the medical assistance application", "10wd",
                 ApplicationDecision, ApplicationForm, owner="mca",
                 suite="medical_assistance"),
        StepSpec("m2.approval", "Approve the medical assistance", "20wd",
                 ApprovalDecision, ApprovalForm, owner="mca", suite="assistance_approval"),
        StepSpec("m2.payment", "Pay the medical assistance", "20wd",
                 AssistancePaymentDecision, AssistancePaymentForm, owner="mca"),
    ),
    graph=(
        Edge(BEGIN, "m2.enrolment"),
        Edge("m2.enrolment", "m2.application", "enrolled"),
        Edge("m2.enrolment", "end:not_enrolled", "not enrolled"),
        Edge("m2.application", "m2.approval"),
        Edge("m2.approval", "m2.approval",
             "the approval suite refuses more than was requested: correct it"),
        Edge("m2.approval", "m2.payment", "outcome == approved"),
        Edge("m2.approval", "end:rejected", "outcome == rejected"),
        Edge("m2.payment", "end:paid"),
    ),
)
