"""The rescue procedures R1–R7 as data: their steps, owners, deadlines and forms (四(一))."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import Field

from flows.catalog import BEGIN, Edge, ProcedureSpec, StepSpec, WaitSpec
from flows.forms import AgencyCode, Amount, Decision, District, Notes

MAX_OUTREACH = 3  # attempts to persuade the child before the case is handed back

# --- R2 street child rescue -------------------------------------------------------------------


class OutreachDecision(Decision):
    outcome: Literal["accepted", "refused", "not_found"]


class OutreachForm(OutreachDecision):
    location: str | None = Field(default=None, max_length=200)
    notes: Notes


class IntakeDecision(Decision):
    ill_or_injured: bool


class IntakeForm(IntakeDecision):
    health_notes: Notes


class IdentityDecision(Decision):
    outcome: Literal["family_found", "family_not_found"]
    has_hukou: bool = False
    origin_district: District | Literal["other"] | None = None
    infant_or_parent_imprisoned: bool = False


class IdentityForm(IdentityDecision):
    notes: Notes


class PlacementDecision(Decision):
    placed_with: Literal["center", "welfare", "foster"]
    placed_on: date


class PlacementForm(PlacementDecision):
    notes: Notes


R2 = ProcedureSpec(
    code="R2",
    area="rescue",
    title="Street child rescue (流浪儿童救助)",
    flow_name="r2-street-child-rescue",
    entrypoint="flows/rescue/r2.py:r2_street_child_rescue",
    steps=(
        StepSpec("r2.outreach", "Find the child and persuade them to accept help", "24h",
                 OutreachDecision, OutreachForm, owner="center"),
        StepSpec("r2.intake", "Intake at the rescue station with a health check", "1wd",
                 IntakeDecision, IntakeForm, owner="center"),
        StepSpec("r2.identity", "Identity check and family tracing", "5wd",
                 IdentityDecision, IdentityForm, owner="psb"),
        StepSpec("r2.placement", "Place the child without family", "5wd",
                 PlacementDecision, PlacementForm, bureau="mca",
                 owner_rule="welfare for an infant or a child of imprisoned parents; with hukou "
                            "the district of origin (mca when outside the city); without "
                            "hukou the district where the child was found"),
    ),
    graph=(
        Edge(BEGIN, "r2.outreach"),
        Edge("r2.outreach", "r2.intake", "outcome == accepted"),
        Edge("r2.outreach", "r2.outreach", "outcome != accepted, another attempt"),
        Edge("r2.outreach", "end:not_reached",
             f"outcome != accepted, attempt {MAX_OUTREACH} of {MAX_OUTREACH}"),
        Edge("r2.intake", "start:M1", "ill_or_injured"),
        Edge("r2.intake", "r2.identity", "not ill_or_injured"),
        Edge("start:M1", "r2.identity"),
        Edge("r2.identity", "start:R3", "outcome == family_found"),
        Edge("start:R3", "end:returned_home"),
        Edge("r2.identity", "r2.placement", "outcome == family_not_found"),
        Edge("r2.placement", "start:J1", "the search for the family goes on"),
        Edge("start:J1", "start:J2"),
        Edge("start:J2", "end:placed"),
    ),
)

# --- R3 return home and follow-up visits ------------------------------------------------------


class AssessmentDecision(Decision):
    guardian_able: bool
    home_safe: bool
    home_street: AgencyCode  # the street office of the home place, e.g. street:xingqing-fenghuang


class AssessmentForm(AssessmentDecision):
    notes: Notes


class EscortDecision(Decision):
    handed_over_on: date


class EscortForm(EscortDecision):
    notes: Notes


class SchoolReferralDecision(Decision):
    enrolled: bool


class SchoolReferralForm(SchoolReferralDecision):
    school: str | None = Field(default=None, max_length=200)
    notes: Notes


Situation = Literal["ok", "concern", "ran_away", "guardian_failing"]
Need = Literal["R6", "E4", "P1", "W1"]


class VisitDecision(Decision):
    situation: Situation
    needs: list[Need] = Field(default_factory=list)


class VisitForm(VisitDecision):
    visit_date: date
    child_seen: bool
    notes: Notes


class ClosingDecision(Decision):
    outcome: Literal["closed", "keep_open"]


class ClosingForm(ClosingDecision):
    notes: Notes


R3_NEEDS = {"R6": "living assistance", "E4": "education aid", "P1": "counselling",
            "W1": "skills training"}


def _needs_edges() -> list[Edge]:
    """R3's visit → the procedures its needs start, each after the ones before it."""
    edges = []
    before = ["r3.visit", "start:R4"]
    for code, what in R3_NEEDS.items():
        edges += [Edge(b, f"start:{code}", f"a need for {what} ({code})") for b in before]
        edges += [Edge(f"start:{code}", "wait:visits", "more visits to come"),
                  Edge(f"start:{code}", "r3.closing", "after the last visit")]
        before.append(f"start:{code}")
    return [*edges, Edge("start:R4", "wait:visits", "more visits to come"),
            Edge("start:R4", "r3.closing", "after the last visit")]


R3 = ProcedureSpec(
    code="R3",
    area="rescue",
    title="Return home and follow-up visits (送返与回访)",
    flow_name="r3-return-home",
    entrypoint="flows/rescue/r3.py:r3_return_home",
    steps=(
        StepSpec("r3.assessment", "Assess the family: guardian able and willing, home safe", "3wd",
                 AssessmentDecision, AssessmentForm, owner="center"),
        StepSpec("r3.escort", "Escort home and hand over to the home street office", "5wd",
                 EscortDecision, EscortForm, owner="center"),
        StepSpec("r3.school_referral", "Return-to-school referral", "5wd",
                 SchoolReferralDecision, SchoolReferralForm, owner="edu"),
        StepSpec("r3.visit", "Follow-up visit", "5wd", VisitDecision, VisitForm,
                 bureau="mca", suite="followup_visit",
                 owner_rule="the street office of the home place, named by the assessment"),
        StepSpec("r3.closing", "Closing review", "5wd", ClosingDecision, ClosingForm,
                 owner="center"),
    ),
    waits=(
        WaitSpec("visits", "Follow-up visits fall due", ("1mo", "3mo", "6mo", "12mo"),
                 since="the hand-over"),
    ),
    graph=(
        Edge(BEGIN, "r3.assessment"),
        Edge("r3.assessment", "r3.escort", "guardian_able and home_safe"),
        Edge("r3.assessment", "notify:r3.home_unsafe", "not guardian_able or not home_safe"),
        Edge("notify:r3.home_unsafe", "start:R4"),
        Edge("start:R4", "end:home_unsafe", "from the assessment"),
        Edge("r3.escort", "r3.school_referral", "the child is of compulsory school age"),
        Edge("r3.escort", "wait:visits", "the child is not of school age"),
        Edge("r3.school_referral", "wait:visits"),
        Edge("wait:visits", "r3.visit"),
        Edge("r3.visit", "notify:r3.ran_away", "situation == ran_away"),
        Edge("r3.visit", "notify:r3.guardian_failing", "situation == guardian_failing"),
        Edge("notify:r3.ran_away", "start:R4"),
        Edge("notify:r3.guardian_failing", "start:R4"),
        # A visit's situation and needs start other procedures, in this order.
        *_needs_edges(),
        Edge("r3.visit", "wait:visits", "more visits to come"),
        Edge("r3.visit", "r3.closing", "after the last visit"),
        Edge("r3.closing", "end:closed", "outcome == closed"),
        Edge("r3.closing", "end:kept_open", "outcome == keep_open"),
    ),
)

SCHOOL_AGE = (6, 15)  # compulsory education: ages 6 to 15 inclusive


def visit_key(after: str) -> str:
    """The visit's step and timer key: "1mo" → "visit-1m" (the keys R3 has always used)."""
    return f"visit-{after.removesuffix('o') if after.endswith('mo') else after}"


def default_street(district: str) -> str:
    """The first pilot street office of a district: the owner when the starter names none."""
    from app.agencies import STREETS  # reference data, no database

    return f"street:{district}-{STREETS[district][0][0]}"


# --- R1 abandoned infant or orphan placement (四(一)1) -----------------------------------------
# Deadlines: the finding (1wd) is the plan's default, the admission (2wd) and the enrolment
# (10wd) are the plan's; the plan gives none for civil affairs' acceptance: 2wd is ours.


class FindingDecision(Decision):
    category: Literal["abandoned_infant", "orphan"]
    parent_found: bool


class FindingForm(FindingDecision):
    found_on: date
    found_district: District
    found_place: str = Field(max_length=200)
    notes: Notes


class AcceptanceDecision(Decision):
    accepted_on: date


class AcceptanceForm(AcceptanceDecision):
    notes: Notes


class AdmissionDecision(Decision):
    admitted_on: date


class AdmissionForm(AdmissionDecision):
    notes: Notes


class EnrolmentDecision(Decision):
    enrolled_on: date
    monthly_allowance: Amount = Field(gt=0)


class EnrolmentForm(EnrolmentDecision):
    notes: Notes


R1 = ProcedureSpec(
    code="R1",
    area="rescue",
    title="Abandoned infant or orphan placement (弃婴孤儿安置)",
    flow_name="r1-infant-orphan-placement",
    entrypoint="flows/rescue/r1.py:r1_infant_orphan_placement",
    steps=(
        StepSpec("r1.finding", "Record the finding and check identity", "1wd",
                 FindingDecision, FindingForm, owner="psb", suite="infant_finding"),
        StepSpec("r1.acceptance", "Accept the child into civil affairs' care", "2wd",
                 AcceptanceDecision, AcceptanceForm, owner="mca"),
        StepSpec("r1.admission", "Admit the child to the welfare institution", "2wd",
                 AdmissionDecision, AdmissionForm, owner="welfare"),
        StepSpec("r1.enrolment", "Enrol the child in orphan social security", "10wd",
                 EnrolmentDecision, EnrolmentForm, owner="mca", suite="orphan_allowance"),
    ),
    graph=(
        Edge(BEGIN, "r1.finding"),
        Edge("r1.finding", "start:R3", "parent_found"),
        Edge("start:R3", "end:returned_home"),
        Edge("r1.finding", "r1.acceptance", "not parent_found"),
        Edge("r1.acceptance", "r1.admission"),
        Edge("r1.admission", "start:J2", "the placement starts J2's clock"),
        Edge("start:J2", "r1.enrolment"),
        Edge("r1.enrolment", "end:placed"),
    ),
)

# --- R4 guardian intervention ladder (四(一)3) -------------------------------------------------
# Deadlines: admonition (3wd) and follow-up check (10wd) are the plan's; the police reprimand
# (5wd), the administrative penalty (10wd) and the prosecution decision (20wd) are ours.

RUNGS = ("admonition", "check", "reprimand", "penalty", "prosecution")
R4_REASONS = ("guardian_failing", "ran_away", "home_unsafe", "harm_reported")


class AdmonitionDecision(Decision):
    outcome: Literal["stopped", "serious"]


class CheckDecision(Decision):
    outcome: Literal["corrected", "still_failing"]


class ReprimandDecision(Decision):
    outcome: Literal["corrected", "still_failing", "crime"]


class PenaltyDecision(Decision):
    outcome: Literal["penalised", "crime"]


class ProsecutionDecision(Decision):
    outcome: Literal["prosecuted", "not_prosecuted"]


class AdmonitionForm(AdmonitionDecision):
    acted_on: date  # the day the street office admonished the guardian
    notes: Notes


class CheckForm(CheckDecision):
    acted_on: date
    notes: Notes


class ReprimandForm(ReprimandDecision):
    acted_on: date
    notes: Notes


class PenaltyForm(PenaltyDecision):
    acted_on: date
    notes: Notes


class ProsecutionForm(ProsecutionDecision):
    acted_on: date
    notes: Notes


_STREET_RULE = ("the street office named by the start parameter street (R3 passes the home "
                "street); without one, the first pilot street office of the case's district")

R4 = ProcedureSpec(
    code="R4",
    area="rescue",
    title="Guardian intervention ladder (监护干预)",
    flow_name="r4-guardian-intervention",
    entrypoint="flows/rescue/r4.py:r4_guardian_intervention",
    steps=(
        StepSpec("r4.admonition", "Admonish the guardian and stop the harm", "3wd",
                 AdmonitionDecision, AdmonitionForm, bureau="mca",
                 suite="guardian_intervention", owner_rule=_STREET_RULE),
        StepSpec("r4.check", "Follow-up check on the guardian", "10wd",
                 CheckDecision, CheckForm, bureau="mca", suite="guardian_intervention",
                 owner_rule=_STREET_RULE),
        StepSpec("r4.reprimand", "Police reprimand and order to correct", "5wd",
                 ReprimandDecision, ReprimandForm, owner="psb", suite="guardian_intervention"),
        StepSpec("r4.penalty", "Administrative penalty under public-security law", "10wd",
                 PenaltyDecision, PenaltyForm, owner="psb", suite="guardian_intervention"),
        StepSpec("r4.prosecution", "Criminal prosecution", "20wd",
                 ProsecutionDecision, ProsecutionForm, owner="procuratorate",
                 suite="guardian_intervention"),
    ),
    graph=(
        Edge(BEGIN, "r4.admonition", "by default (start parameter rung=admonition)"),
        Edge(BEGIN, "r4.check", "entered at rung=check"),
        Edge(BEGIN, "r4.reprimand", "a serious report: rung=reprimand"),
        Edge(BEGIN, "r4.penalty", "entered at rung=penalty"),
        Edge(BEGIN, "r4.prosecution", "a crime reported: rung=prosecution"),
        Edge("r4.admonition", "r4.check", "outcome == stopped"),
        Edge("r4.admonition", "r4.reprimand", "outcome == serious"),
        Edge("r4.check", "end:corrected", "outcome == corrected"),
        Edge("r4.check", "r4.reprimand", "outcome == still_failing"),
        Edge("r4.reprimand", "end:corrected", "outcome == corrected"),
        Edge("r4.reprimand", "r4.penalty", "outcome == still_failing"),
        Edge("r4.reprimand", "r4.prosecution", "outcome == crime"),
        Edge("r4.penalty", "end:penalised", "outcome == penalised"),
        Edge("r4.penalty", "r4.prosecution", "outcome == crime"),
        Edge("r4.prosecution", "end:prosecuted", "outcome == prosecuted"),
        Edge("r4.prosecution", "end:not_prosecuted", "outcome == not_prosecuted"),
    ),
)

# --- R5 temporary loss of support (四(一)3) ----------------------------------------------------
# Deadlines: the placement (5wd) is the plan's; the institution's admission (2wd) is ours, as
# in R1.


class R5PlacementDecision(Decision):
    reason: Literal["parent_imprisoned", "trafficked_no_guardian"]
    placed_on: date


class R5PlacementForm(R5PlacementDecision):
    notes: Notes


R5 = ProcedureSpec(
    code="R5",
    area="rescue",
    title="Temporary loss of support (临时监护缺失安置)",
    flow_name="r5-temporary-placement",
    entrypoint="flows/rescue/r5.py:r5_temporary_placement",
    steps=(
        StepSpec("r5.placement", "Place the child in a welfare institution", "5wd",
                 R5PlacementDecision, R5PlacementForm, owner="mca"),
        StepSpec("r5.admission", "Admit the child to the welfare institution", "2wd",
                 AdmissionDecision, AdmissionForm, owner="welfare"),
    ),
    graph=(
        Edge(BEGIN, "r5.placement"),
        Edge("r5.placement", "r5.admission"),
        Edge("r5.admission", "start:J2", "a trafficked infant with no guardian found "
                                         "(the placement's reason)"),
        Edge("r5.admission", "end:placed", "parents imprisoned: the placement is temporary"),
        Edge("start:J2", "end:placed"),
    ),
)

# --- R6 living assistance (四(一)5) ------------------------------------------------------------
# Deadlines: dibao enrolment (20wd) is the plan's; the eligibility check (10wd), the
# rehabilitation subsidy, medical assistance and insurance enrolment (20wd each) are ours.


class EligibilityDecision(Decision):
    dibao_eligible: bool
    disabled: bool
    congenital_disability: bool = False


class EligibilityForm(EligibilityDecision):
    household_size: int = Field(ge=1, le=20)
    income_per_person: Amount  # yuan per month
    notes: Notes


class GrantDecision(Decision):
    granted: bool


class GrantForm(GrantDecision):
    granted_on: date | None = None
    amount: Amount | None = None  # yuan per month (dibao) or per grant
    notes: Notes


class InsuranceDecision(Decision):
    enrolled_on: date


class InsuranceForm(InsuranceDecision):
    notes: Notes


R6 = ProcedureSpec(
    code="R6",
    area="rescue",
    title="Living assistance (生活救助)",
    flow_name="r6-living-assistance",
    entrypoint="flows/rescue/r6.py:r6_living_assistance",
    steps=(
        StepSpec("r6.eligibility", "Check the family's eligibility", "10wd",
                 EligibilityDecision, EligibilityForm, bureau="mca",
                 suite="family_eligibility", owner_rule=_STREET_RULE),
        StepSpec("r6.dibao", "Enrol the family in dibao", "20wd",
                 GrantDecision, GrantForm, owner="mca", suite="assistance_grant"),
        StepSpec("r6.rehabilitation", "Rehabilitation training subsidy for the disabled child",
                 "20wd", GrantDecision, GrantForm, owner="dpf", suite="assistance_grant"),
        StepSpec("r6.medical_aid", "Medical assistance for the disabled child", "20wd",
                 GrantDecision, GrantForm, owner="health", suite="assistance_grant"),
        StepSpec("r6.insurance", "Free resident medical insurance (congenital disability)",
                 "20wd", InsuranceDecision, InsuranceForm, owner="hrss"),
    ),
    graph=(
        Edge(BEGIN, "r6.eligibility"),
        Edge("r6.eligibility", "r6.dibao", "dibao_eligible"),
        Edge("r6.eligibility", "r6.rehabilitation", "not dibao_eligible and disabled"),
        Edge("r6.eligibility", "end:not_eligible", "not dibao_eligible and not disabled"),
        Edge("r6.dibao", "r6.rehabilitation", "the child is disabled"),
        Edge("r6.dibao", "end:assisted", "the child is not disabled, granted"),
        Edge("r6.dibao", "end:not_assisted", "the child is not disabled, not granted"),
        Edge("r6.rehabilitation", "r6.medical_aid"),
        Edge("r6.medical_aid", "r6.insurance", "a congenital disability"),
        Edge("r6.medical_aid", "end:assisted", "no congenital disability, something granted"),
        Edge("r6.medical_aid", "end:not_assisted", "no congenital disability, nothing granted"),
        Edge("r6.insurance", "end:assisted"),
    ),
)

# --- R7 charity home visits (四(一)7) ----------------------------------------------------------
# The plan gives no deadlines: the visit (20wd), the assessment (5wd), the payment (10wd) and
# the visit record (5wd) are ours.


class CharityVisitDecision(Decision):
    circumstance: Literal["serious_illness", "mental_disorder", "poverty"]


class CharityVisitForm(CharityVisitDecision):
    visited_on: date
    notes: Notes


class NeedDecision(Decision):
    grant_needed: bool
    amount: Amount | None = None  # the grant proposed, yuan


class NeedForm(NeedDecision):
    notes: Notes


class CharityPaymentDecision(Decision):
    paid_on: date
    amount_paid: Amount = Field(gt=0)


class CharityPaymentForm(CharityPaymentDecision):
    receipt_no: str = Field(max_length=32)
    notes: Notes


class VisitRecordDecision(Decision):
    recorded_on: date


class VisitRecordForm(VisitRecordDecision):
    notes: Notes


R7 = ProcedureSpec(
    code="R7",
    area="rescue",
    title="Charity home visits (慈善走访)",
    flow_name="r7-charity-visit",
    entrypoint="flows/rescue/r7.py:r7_charity_visit",
    steps=(
        StepSpec("r7.visit", "Visit the family", "20wd", CharityVisitDecision, CharityVisitForm,
                 owner="charity", suite="charity_visit"),
        StepSpec("r7.assessment", "Assess the family's need", "5wd", NeedDecision, NeedForm,
                 owner="charity"),
        StepSpec("r7.payment", "Pay the grant", "10wd", CharityPaymentDecision,
                 CharityPaymentForm, owner="charity", suite="charity_grant"),
        StepSpec("r7.record", "Record the visit", "5wd", VisitRecordDecision, VisitRecordForm,
                 owner="charity"),
    ),
    graph=(
        Edge(BEGIN, "r7.visit"),
        Edge("r7.visit", "r7.assessment"),
        Edge("r7.assessment", "r7.payment", "grant_needed"),
        Edge("r7.assessment", "r7.record", "not grant_needed"),
        Edge("r7.payment", "r7.record"),
        Edge("r7.record", "end:granted", "a grant was paid"),
        Edge("r7.record", "end:no_grant", "no grant was needed"),
    ),
)
