"""W1–W4 as data: employment protection for children's families and disabled minors (四(四)).

The plan names these measures and their agencies but no steps or days. Each is drawn as a short
procedure: an application (or referral) recorded where the family makes first contact → the
responsible agency decides → what was delivered is recorded. Every deadline here is *(default)*,
ours, and a setting in procedures.toml:

- the application: 5 working days for the community workstation (or the district government)
  to record it and pass it on;
- a bureau's decision: 10 working days (W3's business registration 5, as registration is a
  same-week matter; a start-up loan 15, as it goes through a guarantee check);
- the delivery: W1's training record 90 calendar days (a course runs for weeks), W2's job 20
  working days, W4's enrolment 30 working days (a school term may have to begin), then 5 working
  days per rung once missed.

Who records the application: the community workstation the coordinator names when starting the
procedure (parameter `community`, e.g. community:xingqing-fenghuang), else the government of the
case's district. Either climbs its local ladder up to the procedure's bureau, then the office.
"""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import Field

from flows.catalog import BEGIN, Edge, ProcedureSpec, StepSpec
from flows.forms import Amount, Decision, Notes

APPLICATION_OWNER = ("the community workstation named by the parameter community, else the "
                     "government of the case's district")
Relation = Literal["mother", "father", "grandparent", "sibling", "guardian", "other"]


def application_owner(params: dict[str, object], district: str) -> str:
    """Where the family's application is recorded (see the module docstring)."""
    community = params.get("community")
    return str(community) if community else f"district:{district}"


# --- shared forms -----------------------------------------------------------------------------


class ApplicationDecision(Decision):
    outcome: Literal["submitted", "withdrawn"]


class ApplicationForm(ApplicationDecision):
    """A family member's application (suite family_application)."""

    application_date: date
    applicant_relation: Relation
    applicant_age: int = Field(ge=16, le=65)
    notes: Notes


class ApprovalDecision(Decision):
    outcome: Literal["approved", "rejected"]


class ApprovalForm(ApprovalDecision):
    notes: Notes


class DeliveryDecision(Decision):
    delivered: bool


class DeliveryForm(DeliveryDecision):
    """What was delivered (suite service_delivery): dates, an amount in yuan, hours."""

    started_on: date | None = None
    ended_on: date | None = None
    amount: Amount | None = None
    hours: int | None = Field(default=None, ge=0, le=2000)
    notes: Notes


# --- W1 free skills training for able family members (hrss) -----------------------------------

Trade = Literal["cooking", "housekeeping", "elderly_care", "electrician", "welding",
                "auto_repair", "farming", "e_commerce", "other"]


class TrainingApplicationForm(ApplicationForm):
    trade: Trade


class TrainingApprovalDecision(ApprovalDecision):
    course_starts_on: date | None = None


class TrainingApprovalForm(TrainingApprovalDecision):
    course_code: str | None = Field(default=None, pattern=r"^[A-Z0-9-]{2,32}$")
    notes: Notes


class TrainingRecordDecision(DeliveryDecision):
    certificate: bool = False


class TrainingRecordForm(DeliveryForm, TrainingRecordDecision):
    pass


W1 = ProcedureSpec(
    code="W1",
    area="employment",
    title="Free skills training for able family members (免费技能培训)",
    flow_name="w1-skills-training",
    entrypoint="flows/employment/w1.py:w1_skills_training",
    steps=(
        StepSpec("w1.application", "Record the family member's application for training", "5wd",
                 ApplicationDecision, TrainingApplicationForm, bureau="hrss",
                 suite="family_application", owner_rule=APPLICATION_OWNER),
        StepSpec("w1.approval", "Approve free training and assign a course", "10wd",
                 TrainingApprovalDecision, TrainingApprovalForm, owner="hrss"),
        StepSpec("w1.delivery", "Record the training attended", "90d",
                 TrainingRecordDecision, TrainingRecordForm, owner="hrss",
                 suite="service_delivery", rung_deadline="5wd"),
    ),
    graph=(
        Edge(BEGIN, "w1.application"),
        Edge("w1.application", "end:withdrawn", "outcome == withdrawn"),
        Edge("w1.application", "w1.approval", "outcome == submitted"),
        Edge("w1.approval", "end:rejected", "outcome == rejected"),
        Edge("w1.approval", "w1.delivery", "outcome == approved"),
        Edge("w1.delivery", "end:trained", "delivered"),
        Edge("w1.delivery", "end:not_trained", "not delivered"),
    ),
)

# --- W2 public-welfare jobs (community and elderly services; hrss) ----------------------------

JobKind = Literal["community_service", "elderly_service"]


class JobApplicationForm(ApplicationForm):
    job_kind: JobKind


class JobApprovalDecision(ApprovalDecision):
    job_kind: JobKind | None = None


class JobApprovalForm(JobApprovalDecision):
    notes: Notes


class JobPlacementForm(DeliveryForm):
    """delivered: the job was taken up; amount: the monthly wage; hours: hours a week."""


W2 = ProcedureSpec(
    code="W2",
    area="employment",
    title="Public-welfare jobs (公益性岗位)",
    flow_name="w2-public-welfare-job",
    entrypoint="flows/employment/w2.py:w2_public_welfare_job",
    steps=(
        StepSpec("w2.application", "Record the family member's application for a job", "5wd",
                 ApplicationDecision, JobApplicationForm, bureau="hrss",
                 suite="family_application", owner_rule=APPLICATION_OWNER),
        StepSpec("w2.approval", "Decide on a public-welfare job (community or elderly service)",
                 "10wd", JobApprovalDecision, JobApprovalForm, owner="hrss"),
        StepSpec("w2.placement", "Record the job taken up", "20wd",
                 DeliveryDecision, JobPlacementForm, owner="hrss", suite="service_delivery",
                 rung_deadline="5wd"),
    ),
    graph=(
        Edge(BEGIN, "w2.application"),
        Edge("w2.application", "end:withdrawn", "outcome == withdrawn"),
        Edge("w2.application", "w2.approval", "outcome == submitted"),
        Edge("w2.approval", "end:rejected", "outcome == rejected"),
        Edge("w2.approval", "w2.placement", "outcome == approved"),
        Edge("w2.placement", "end:employed", "delivered"),
        Edge("w2.placement", "end:not_taken_up", "not delivered"),
    ),
)

# --- W3 start-up support: business registration (market), tax relief (tax), loan (hrss) -------

BusinessKind = Literal["retail", "catering", "services", "farming", "manufacturing", "other"]


class StartupApplicationDecision(ApplicationDecision):
    wants_loan: bool = False


class StartupApplicationForm(ApplicationForm, StartupApplicationDecision):
    business_kind: BusinessKind
    loan_requested: Amount | None = Field(default=None, le=300000)


class RegistrationDecision(Decision):
    outcome: Literal["registered", "refused"]
    registered_on: date | None = None


class RegistrationForm(RegistrationDecision):
    credit_code: str | None = Field(default=None, pattern=r"^[0-9A-Z]{18}$")  # 统一社会信用代码
    notes: Notes


class TaxReliefDecision(Decision):
    outcome: Literal["granted", "refused"]
    annual_relief: Amount | None = None


class TaxReliefForm(TaxReliefDecision):
    notes: Notes


class LoanForm(DeliveryForm):
    """delivered: the loan was paid out; amount: the loan; started_on: the day it was paid."""

    term_months: int | None = Field(default=None, ge=1, le=36)


W3 = ProcedureSpec(
    code="W3",
    area="employment",
    title="Start-up support: registration, tax relief, loans (创业扶持)",
    flow_name="w3-startup-support",
    entrypoint="flows/employment/w3.py:w3_startup_support",
    steps=(
        StepSpec("w3.application", "Record the family member's start-up application", "5wd",
                 StartupApplicationDecision, StartupApplicationForm, bureau="hrss",
                 suite="family_application", owner_rule=APPLICATION_OWNER),
        StepSpec("w3.registration", "Register the business", "5wd",
                 RegistrationDecision, RegistrationForm, owner="market"),
        StepSpec("w3.tax_relief", "Decide the start-up tax relief", "10wd",
                 TaxReliefDecision, TaxReliefForm, owner="tax"),
        # Start-up guaranteed loans (创业担保贷款) go through the employment service of hrss.
        StepSpec("w3.loan", "Decide and pay the start-up loan", "15wd",
                 DeliveryDecision, LoanForm, owner="hrss", suite="service_delivery"),
    ),
    graph=(
        Edge(BEGIN, "w3.application"),
        Edge("w3.application", "end:withdrawn", "outcome == withdrawn"),
        Edge("w3.application", "w3.registration", "outcome == submitted"),
        Edge("w3.registration", "end:not_registered", "outcome == refused"),
        Edge("w3.registration", "w3.tax_relief", "outcome == registered"),
        Edge("w3.tax_relief", "w3.loan", "the application asked for a loan (wants_loan)"),
        Edge("w3.tax_relief", "end:supported", "no loan asked for"),
        Edge("w3.loan", "end:supported"),
    ),
)

# --- W4 vocational education and training for disabled minors (dpf) --------------------------

DisabilityKind = Literal["visual", "hearing", "speech", "physical", "intellectual", "mental",
                         "multiple"]


class ReferralDecision(Decision):
    outcome: Literal["referred", "withdrawn"]


class ReferralForm(ReferralDecision):
    """A disabled minor referred for vocational education (suite vocational_referral)."""

    referral_date: date
    disability_kind: DisabilityKind
    disability_grade: int = Field(ge=1, le=4)
    age: int = Field(ge=14, le=17)
    notes: Notes


class VocationalAssessmentDecision(Decision):
    outcome: Literal["vocational_school", "training_course", "not_suitable"]


class VocationalAssessmentForm(VocationalAssessmentDecision):
    notes: Notes


class EnrolmentForm(DeliveryForm):
    """delivered: the child took up the place; amount: the subsidy granted, in yuan."""


W4 = ProcedureSpec(
    code="W4",
    area="employment",
    title="Vocational education and training for disabled minors (残疾未成年人职业教育培训)",
    flow_name="w4-vocational-training",
    entrypoint="flows/employment/w4.py:w4_vocational_training",
    steps=(
        StepSpec("w4.referral", "Refer the disabled child for vocational education", "5wd",
                 ReferralDecision, ReferralForm, bureau="dpf", suite="vocational_referral",
                 owner_rule=APPLICATION_OWNER),
        StepSpec("w4.assessment", "Assess the child and choose the programme", "10wd",
                 VocationalAssessmentDecision, VocationalAssessmentForm, owner="dpf"),
        StepSpec("w4.enrolment", "Record the place taken up", "30wd",
                 DeliveryDecision, EnrolmentForm, suite="service_delivery", rung_deadline="5wd",
                 owner_rule="edu for a vocational school, dpf for a training course"),
    ),
    graph=(
        Edge(BEGIN, "w4.referral"),
        Edge("w4.referral", "end:withdrawn", "outcome == withdrawn"),
        Edge("w4.referral", "w4.assessment", "outcome == referred"),
        Edge("w4.assessment", "end:not_suitable", "outcome == not_suitable"),
        Edge("w4.assessment", "w4.enrolment", "outcome in {vocational_school, training_course}"),
        Edge("w4.enrolment", "end:enrolled", "delivered"),
        Edge("w4.enrolment", "end:not_enrolled", "not delivered"),
    ),
)
