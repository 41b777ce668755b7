"""The medical procedures as data (四(五)): M1 emergency treatment first, settlement
afterwards; M2 medical assistance for families."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import Field, model_validator

from app.domain.errors import refusal
from flows.catalog import BEGIN, Edge, ParamSpec, ProcedureSpec, StepSpec
from flows.forms import AgencyCode, Amount, Decision, Notes
from flows.words import Words

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
    title="Emergency treatment, settlement afterwards",
    title_zh="先救治后结算",
    flow_name="m1-emergency-treatment",
    entrypoint="flows/medical/m1.py:m1_emergency_treatment",
    params=(ParamSpec("hospital", "hospital", "收治医院",
                      "the hospital that admits the child (default: the designated one)"),),
    steps=(
        StepSpec("m1.admission", "Admit and treat at once, no deposit", "1h",
                 AdmissionDecision, AdmissionForm,
                 owner_rule=f"the designated hospital (parameter hospital, default "
                            f"{DEFAULT_HOSPITAL})",
                 title_zh="立即收治，不收押金"),
        StepSpec("m1.intervention", "Refusal reported: make a hospital admit the child", "1h",
                 InterventionDecision, InterventionForm, owner="health",
                 title_zh="督促医院接收救治"),
        StepSpec("m1.status", "Confirm street-child status", "3wd",
                 StatusDecision, StatusForm, owner="mca", title_zh="确认流浪未成年人身份"),
        StepSpec("m1.discharge", "Report the discharge", "60d", DischargeDecision, DischargeForm,
                 rung_deadline="2wd", owner_rule="the admitting hospital",
                 title_zh="报告出院情况"),
        StepSpec("m1.claim", "Submit the settlement claim", "15wd", ClaimDecision, ClaimForm,
                 suite="settlement_claim", owner_rule="the admitting hospital",
                 title_zh="提交救治费用结算申请"),
        StepSpec("m1.payment", "Pay the settlement", "20wd", PaymentDecision, PaymentForm,
                 owner="center", title_zh="支付救治费用"),
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
    outcome_words={
        "not_street_child": Words("经确认不属于流浪未成年人", "Not confirmed as a street child"),
        "settled": Words("救治费用已结算", "Treatment costs settled"),
    },
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
            raise refusal("approval_without_amount",
                          "an approval needs amount_approved greater than 0",
                          "批准时须填写大于 0 的“核准金额（元）”。")
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
    title="Medical assistance for families",
    title_zh="医疗救助",
    flow_name="m2-medical-assistance",
    entrypoint="flows/medical/m2.py:m2_medical_assistance",
    steps=(
        # No deadlines in PROCEDURES.md: 10 working days to enrol and to receive the
        # application, 20 to approve and 20 to pay (defaults, as M1's payment).
        StepSpec("m2.enrolment", "Enrol the child in medical insurance", "10wd",
                 EnrolmentDecision, EnrolmentForm, owner="hrss", title_zh="办理医疗保险参保"),
        StepSpec("m2.application", "Receive the medical assistance application", "10wd",
                 ApplicationDecision, ApplicationForm, owner="mca",
                 suite="medical_assistance", title_zh="受理医疗救助申请"),
        StepSpec("m2.approval", "Approve the medical assistance", "20wd",
                 ApprovalDecision, ApprovalForm, owner="mca", suite="assistance_approval",
                 title_zh="审批医疗救助"),
        StepSpec("m2.payment", "Pay the medical assistance", "20wd",
                 AssistancePaymentDecision, AssistancePaymentForm, owner="mca",
                 title_zh="发放医疗救助金"),
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
    outcome_words={
        "not_enrolled": Words("未能参保", "Not enrolled in medical insurance"),
        "rejected": Words("不予救助", "Assistance refused"),
        "paid": Words("医疗救助金已发放", "Assistance paid"),
    },
)

# --- the words of the forms' fields and choices (flows/words.py) ------------------------------

FIELDS: dict[str, Words] = {
    # M1
    "admitted_at": Words("收治医院", "Admitting hospital",
                         "经卫生计生部门协调后实际收治儿童的医院。",
                         "The hospital that admitted the child after the health commission "
                         "stepped in."),
    "confirmed": Words("确认为流浪未成年人", "Confirmed as a street child"),
    "discharged_on": Words("出院日期", "Discharge date"),
    "amount_total": Words("救治费用总额（元）", "Total cost of treatment (yuan)"),
    "hospital_code": Words("就诊医院", "Hospital", "为儿童提供治疗的医院。",
                           "The hospital that treated the child."),
    "invoice_no": Words("票据号码", "Invoice number", "医疗收费票据上的号码。",
                        "The number on the hospital's invoice."),
    "admission_date": Words("入院日期", "Admission date"),
    "discharge_date": Words("出院日期", "Discharge date"),
    "amount_insurance": Words("医保支付金额（元）", "Paid by insurance (yuan)",
                              "基本医疗保险已支付的部分；没有的不填。",
                              "What medical insurance paid; leave empty if nothing."),
    # M2
    "enrolled": Words("已参加医疗保险", "Enrolled in medical insurance"),
    "scheme": Words("参保险种", "Insurance scheme"),
    "fee_waived": Words("免缴个人参保费", "Contribution waived",
                        "先天性残疾儿童免费参加城乡居民基本医疗保险。",
                        "Congenitally disabled children are enrolled free."),
    "treatment_from": Words("治疗起始日期", "Treatment from"),
    "treatment_to": Words("治疗截止日期", "Treatment to"),
    "costs_total": Words("医疗费用总额（元）", "Total medical costs (yuan)"),
    "insurance_paid": Words("医保报销金额（元）", "Paid by insurance (yuan)",
                            "基本医疗保险已报销的金额；没有的填0。",
                            "What medical insurance has paid; 0 if nothing."),
}

OPTIONS: dict[str, Words] = {
    # M1: the hospital's answer (approved, rejected: flows/words.py)
    "admitted": Words("已收治", "Admitted"),
    "refused": Words("拒绝收治", "Refused"),
    # M2: the medical insurance schemes
    "resident": Words("城乡居民基本医疗保险", "Resident medical insurance"),
    "employee": Words("职工基本医疗保险", "Employee medical insurance"),
}
