"""E1–E6 as data: their steps, owners, deadlines and forms (四(二)1–6).

The plan gives numbers only for E3 (the school's report and its notice to the guardian, 2 days
each; persuasion visits, 15 days; attendance confirmed 30 days after the return). Every other
deadline here is ours (*default* in PROCEDURES.md's sense), chosen to be plausible, and, like
every value here, a setting in procedures.toml. Deadlines count working days.

Owners: `edu` stands for the education bureau *and its schools* (PROCEDURES.md's agency table);
the agency table names no district education office, so the district government
(`district:<d>`) stands for it, with `edu` as the bureau above it on the ladder.
"""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import Field

from flows.catalog import BEGIN, Edge, ProcedureSpec, StepSpec, WaitSpec
from flows.forms import Amount, Decision, District, Notes

School = str | None  # the school's name: recorded in the case store, never a decision

# --- E1 orphan schooling ----------------------------------------------------------------------


class AssignmentDecision(Decision):
    outcome: Literal["assigned", "needs_special_education"]


class AssignmentForm(AssignmentDecision):
    school: School = Field(default=None, max_length=200)
    notes: Notes


class EnrolmentDecision(Decision):
    attending: bool


class EnrolmentForm(EnrolmentDecision):
    school: str = Field(max_length=200)
    grade: int = Field(ge=1, le=9)
    enrolled_on: date | None = None
    notes: Notes


E1 = ProcedureSpec(
    code="E1",
    area="education",
    title="Orphan schooling (孤儿就学)",
    flow_name="e1-orphan-schooling",
    entrypoint="flows/education/e1.py:e1_orphan_schooling",
    steps=(
        # 10 working days each: our default (the plan gives none).
        StepSpec("e1.assignment", "Place the orphan at the nearest suitable school", "10wd",
                 AssignmentDecision, AssignmentForm, owner="edu"),
        StepSpec("e1.enrolment", "Confirm the orphan is enrolled and attending", "10wd",
                 EnrolmentDecision, EnrolmentForm, owner="edu", suite="school_enrolment"),
    ),
    graph=(
        Edge(BEGIN, "e1.assignment"),
        Edge("e1.assignment", "e1.enrolment", "outcome == assigned"),
        Edge("e1.assignment", "start:E2", "outcome == needs_special_education"),
        Edge("start:E2", "end:referred_to_e2"),
        Edge("e1.enrolment", "end:enrolled", "attending"),
        Edge("e1.enrolment", "start:E3", "not attending"),
        Edge("start:E3", "end:dropout_reported"),
    ),
)

# --- E2 disabled child schooling --------------------------------------------------------------

Mode = Literal["regular_class", "special_school", "community_education", "home_teaching"]


class DisabilityAssessmentDecision(Decision):
    stage: Literal["preschool", "compulsory"]
    in_difficulty: bool  # a family in difficulty (dibao, near-dibao, orphan…): preschool subsidy


class DisabilityAssessmentForm(DisabilityAssessmentDecision):
    assessed_on: date
    disability_category: Literal["visual", "hearing", "speech", "physical", "intellectual",
                                 "mental", "multiple"]
    disability_grade: int = Field(ge=1, le=4)
    notes: Notes


class ModeDecision(Decision):
    mode: Mode


class ModeForm(ModeDecision):
    school: School = Field(default=None, max_length=200)
    notes: Notes


class DeliveryPlanDecision(Decision):
    starts_on: date


class DeliveryPlanForm(DeliveryPlanDecision):
    sessions_per_month: int = Field(ge=1, le=100)
    notes: Notes


class SubsidyDecision(Decision):
    paid_on: date
    amount_paid: Amount = Field(gt=0)


class SubsidyForm(SubsidyDecision):
    notes: Notes


E2 = ProcedureSpec(
    code="E2",
    area="education",
    title="Disabled child schooling (残疾儿童就学)",
    flow_name="e2-disabled-child-schooling",
    entrypoint="flows/education/e2.py:e2_disabled_child_schooling",
    steps=(
        # Deadlines are our defaults (the plan gives none).
        StepSpec("e2.assessment", "Assess the disabled child for schooling", "15wd",
                 DisabilityAssessmentDecision, DisabilityAssessmentForm, owner="dpf",
                 suite="disability_assessment"),
        StepSpec("e2.mode", "Choose the mode of schooling", "10wd", ModeDecision, ModeForm,
                 owner="edu"),
        StepSpec("e2.delivery_plan", "Draw up and start the delivery plan", "10wd",
                 DeliveryPlanDecision, DeliveryPlanForm, bureau="edu",
                 owner_rule="community education: the district government of the case (edu "
                            "above it); every other mode: edu and its schools"),
        StepSpec("e2.subsidy", "Pay the preschool subsidy for a disabled child in difficulty",
                 "20wd", SubsidyDecision, SubsidyForm, owner="edu"),
    ),
    graph=(
        Edge(BEGIN, "e2.assessment"),
        Edge("e2.assessment", "e2.mode"),
        Edge("e2.mode", "e2.delivery_plan",
             "mode in {regular_class, special_school, home_teaching}, by edu"),
        Edge("e2.mode", "e2.delivery_plan",
             "mode == community_education, by the district government"),
        Edge("e2.delivery_plan", "e2.subsidy",
             "the assessment found a preschool child in difficulty"),
        Edge("e2.delivery_plan", "end:plan_in_place", "otherwise"),
        Edge("e2.subsidy", "end:subsidised"),
    ),
)

# --- E3 dropout notification and return to school ---------------------------------------------

DropoutReason = Literal["family_hardship", "learning_difficulty", "bad_habits", "work",
                        "illness", "other"]


class DropoutReportDecision(Decision):
    reason: DropoutReason


class DropoutReportForm(DropoutReportDecision):
    last_attended_on: date
    reported_on: date
    grade: int = Field(ge=1, le=9)
    notes: Notes


class GuardianNoticeDecision(Decision):
    notified_on: date


class GuardianNoticeForm(GuardianNoticeDecision):
    method: Literal["visit", "phone", "letter"]
    notes: Notes


class ReturnDecision(Decision):
    outcome: Literal["returned", "not_returned"]
    returned_on: date | None = None  # required when returned (the return_effort suite)


class ReturnForm(ReturnDecision):
    visits: int = Field(ge=1, le=60)
    notes: Notes


class PersuasionDecision(ReturnDecision):
    bad_habits: bool = False  # bad habits found: a moral and legal education plan


class PersuasionForm(PersuasionDecision):
    visits: int = Field(ge=1, le=60)
    notes: Notes


class EducationPlanDecision(Decision):
    starts_on: date


class EducationPlanForm(EducationPlanDecision):
    notes: Notes


class AttendanceDecision(Decision):
    attending: bool


class AttendanceForm(AttendanceDecision):
    days_absent: int = Field(default=0, ge=0, le=60)
    notes: Notes


E3 = ProcedureSpec(
    code="E3",
    area="education",
    title="Dropout notification and return to school (辍学报告与劝返)",
    flow_name="e3-dropout-return",
    entrypoint="flows/education/e3.py:e3_dropout_return",
    steps=(
        StepSpec("e3.report", "The school reports the dropout", "2wd",
                 DropoutReportDecision, DropoutReportForm, owner="edu", suite="dropout_report"),
        StepSpec("e3.guardian_notice", "The school notifies the parent or guardian", "2wd",
                 GuardianNoticeDecision, GuardianNoticeForm, owner="edu"),
        StepSpec("e3.persuasion", "School and family persuade the child back (visits)", "15wd",
                 PersuasionDecision, PersuasionForm, owner="edu", suite="return_effort"),
        # 10 working days: our default.
        StepSpec("e3.education_plan", "Moral and legal education plan for bad habits", "10wd",
                 EducationPlanDecision, EducationPlanForm, owner="edu"),
        StepSpec("e3.district_office", "Not returned: the district education office acts",
                 "10wd", ReturnDecision, ReturnForm, bureau="edu", suite="return_effort",
                 owner_rule="the district government of the case (standing for its education "
                            "office), with edu above it"),
        StepSpec("e3.bureau_action", "Still not returned: the education bureau acts", "10wd",
                 ReturnDecision, ReturnForm, owner="edu", suite="return_effort"),
        StepSpec("e3.attendance", "Confirm the child still attends school", "5wd",
                 AttendanceDecision, AttendanceForm, owner="edu"),
    ),
    waits=(
        # "After 30 days": counted in working days, as every duration of the plan is unless it
        # says calendar days.
        WaitSpec("attendance", "Attendance is confirmed after the return", "30wd",
                 since="the return to school"),
    ),
    graph=(
        Edge(BEGIN, "e3.report"),
        Edge("e3.report", "e3.guardian_notice"),
        Edge("e3.guardian_notice", "e3.persuasion"),
        Edge("e3.persuasion", "e3.education_plan", "bad_habits"),
        Edge("e3.persuasion", "wait:attendance", "outcome == returned and not bad_habits"),
        Edge("e3.persuasion", "e3.district_office",
             "outcome == not_returned and not bad_habits"),
        Edge("e3.education_plan", "wait:attendance", "the child has returned"),
        Edge("e3.education_plan", "e3.district_office", "the child has not returned"),
        Edge("e3.district_office", "wait:attendance", "outcome == returned"),
        Edge("e3.district_office", "e3.bureau_action", "outcome == not_returned"),
        Edge("e3.bureau_action", "wait:attendance", "outcome == returned"),
        Edge("e3.bureau_action", "notify:e3.not_returned", "outcome == not_returned"),
        Edge("notify:e3.not_returned", "end:not_returned"),
        Edge("wait:attendance", "e3.attendance", "fired"),
        Edge("e3.attendance", "end:returned", "attending"),
        Edge("e3.attendance", "start:E3", "not attending, a new dropout report"),
        Edge("start:E3", "end:dropped_out_again"),
    ),
)

# --- E4 education aid -------------------------------------------------------------------------

Aid = Literal["preschool", "senior_high", "nutrition_lunch"]


class AidApplicationDecision(Decision):
    aid: Aid
    family_status: Literal["dibao", "near_dibao"]


class AidApplicationForm(AidApplicationDecision):
    school: str = Field(max_length=200)
    academic_year: str = Field(pattern=r"^20[0-9]{2}-20[0-9]{2}$")
    amount_requested: Amount = Field(gt=0)
    notes: Notes


class AidVerificationDecision(Decision):
    eligible: bool
    amount_approved: Amount | None = None


class AidVerificationForm(AidVerificationDecision):
    notes: Notes


class AidPaymentDecision(Decision):
    paid_on: date
    amount_paid: Amount = Field(gt=0)


class AidPaymentForm(AidPaymentDecision):
    notes: Notes


E4 = ProcedureSpec(
    code="E4",
    area="education",
    title="Education aid for dibao and near-dibao families (教育资助)",
    flow_name="e4-education-aid",
    entrypoint="flows/education/e4.py:e4_education_aid",
    steps=(
        # Deadlines are our defaults. The school takes the application (edu); civil affairs
        # verifies the family's dibao or near-dibao status (mca); edu pays.
        StepSpec("e4.application", "Take the education aid application", "5wd",
                 AidApplicationDecision, AidApplicationForm, owner="edu",
                 suite="education_aid_application"),
        StepSpec("e4.verification", "Verify the family's dibao or near-dibao status", "10wd",
                 AidVerificationDecision, AidVerificationForm, owner="mca"),
        StepSpec("e4.payment", "Pay the aid", "20wd", AidPaymentDecision, AidPaymentForm,
                 owner="edu"),
    ),
    graph=(
        Edge(BEGIN, "e4.application"),
        Edge("e4.application", "e4.verification"),
        Edge("e4.verification", "e4.payment", "eligible"),
        Edge("e4.verification", "notify:e4.not_eligible", "not eligible"),
        Edge("notify:e4.not_eligible", "end:not_eligible"),
        Edge("e4.payment", "end:paid"),
    ),
)

# --- E5 migrant workers' children enrolment ---------------------------------------------------


class PlaceApplicationDecision(Decision):
    stage: Literal["primary", "junior_secondary"]


class PlaceApplicationForm(PlaceApplicationDecision):
    applied_on: date
    residence_district: District
    residence_months: int = Field(ge=0, le=600)
    parent_employed: bool
    notes: Notes


class PlacementDecision(Decision):
    outcome: Literal["placed", "no_place_nearby"]
    starts_on: date | None = None


class PlacementForm(PlacementDecision):
    school: School = Field(default=None, max_length=200)
    notes: Notes


class CoordinationDecision(Decision):
    starts_on: date


class CoordinationForm(CoordinationDecision):
    school: str = Field(max_length=200)
    notes: Notes


E5 = ProcedureSpec(
    code="E5",
    area="education",
    title="Migrant workers' children enrolment (随迁子女入学)",
    flow_name="e5-migrant-children-enrolment",
    entrypoint="flows/education/e5.py:e5_migrant_children_enrolment",
    steps=(
        # Deadlines are our defaults. "Zero barrier": a missing document never refuses the
        # application; the district finds a nearby place, and the bureau one elsewhere.
        StepSpec("e5.application", "Take the enrolment application", "5wd",
                 PlaceApplicationDecision, PlaceApplicationForm, bureau="edu",
                 suite="school_place_application",
                 owner_rule="the district government where the family lives (parameter "
                            "district, else the case's), with edu above it"),
        StepSpec("e5.placement", "Give a place at a nearby school", "10wd",
                 PlacementDecision, PlacementForm, bureau="edu",
                 owner_rule="the same district government as the application"),
        StepSpec("e5.coordination", "No nearby place: the bureau finds a school place",
                 "10wd", CoordinationDecision, CoordinationForm, owner="edu"),
    ),
    graph=(
        Edge(BEGIN, "e5.application"),
        Edge("e5.application", "e5.placement"),
        Edge("e5.placement", "end:placed", "outcome == placed"),
        Edge("e5.placement", "e5.coordination", "outcome == no_place_nearby"),
        Edge("e5.coordination", "end:placed_by_bureau"),
    ),
)

# --- E6 proxy mothers for left-behind children ------------------------------------------------


class IdentificationDecision(Decision):
    left_behind: bool


class IdentificationForm(IdentificationDecision):
    caregiver: Literal["grandparent", "relative", "other", "none"] | None = None
    notes: Notes


class MatchingDecision(Decision):
    matched: bool


class MatchingForm(MatchingDecision):
    notes: Notes


class PairingDecision(Decision):
    agreed_on: date


class PairingForm(PairingDecision):
    volunteer_code: str = Field(pattern=r"^V[0-9]{6}$")
    guardian_consent: bool
    notes: Notes


class ContactDecision(Decision):
    concern: bool = False  # the proxy mother is worried about the child: the center is told
    pairing: Literal["continue", "ended"] = "continue"


class ContactForm(ContactDecision):
    contact_date: date
    mode: Literal["visit", "phone", "video"]
    notes: Notes


E6 = ProcedureSpec(
    code="E6",
    area="education",
    title="Proxy mothers for left-behind children (代理妈妈)",
    flow_name="e6-proxy-mothers",
    entrypoint="flows/education/e6.py:e6_proxy_mothers",
    steps=(
        # Deadlines are our defaults; a contact is due within 5 working days of its month.
        StepSpec("e6.identification", "Identify the left-behind child", "10wd",
                 IdentificationDecision, IdentificationForm, bureau="women",
                 owner_rule="the community named by the parameter community, else the "
                            "district government of the case (women above it)"),
        StepSpec("e6.matching", "Match a volunteer proxy mother", "10wd",
                 MatchingDecision, MatchingForm, owner="women"),
        StepSpec("e6.pairing", "Agree the one-to-one pairing", "10wd", PairingDecision,
                 PairingForm, owner="women", suite="proxy_pairing"),
        StepSpec("e6.contact", "Record the month's contact", "5wd", ContactDecision,
                 ContactForm, owner="women", suite="proxy_contact"),
    ),
    waits=(
        # A year of monthly contacts: our default.
        WaitSpec("contacts", "A month's contact falls due",
                 tuple(f"{m}mo" for m in range(1, 13)), since="the pairing"),
    ),
    graph=(
        Edge(BEGIN, "e6.identification"),
        Edge("e6.identification", "e6.matching", "left_behind"),
        Edge("e6.identification", "end:not_left_behind", "not left_behind"),
        Edge("e6.matching", "e6.pairing", "matched"),
        Edge("e6.matching", "notify:e6.no_volunteer", "not matched"),
        Edge("notify:e6.no_volunteer", "end:no_volunteer"),
        Edge("e6.pairing", "wait:contacts"),
        Edge("wait:contacts", "e6.contact", "fired"),
        Edge("e6.contact", "notify:e6.concern", "concern"),
        Edge("e6.contact", "wait:contacts", "pairing == continue, more months to come"),
        Edge("e6.contact", "end:completed", "pairing == continue, after the last month"),
        Edge("e6.contact", "end:ended_early", "pairing == ended"),
    ),
)


def month_key(after: str) -> str:
    """A month's step and timer key: "1mo" → "contact-1m" (independent of the settings)."""
    return f"contact-{after.removesuffix('o') if after.endswith('mo') else after}"

