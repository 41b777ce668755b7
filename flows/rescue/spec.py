"""The rescue procedures R1–R7 as data: their steps, owners, deadlines and forms (四(一))."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import Field

from flows.catalog import BEGIN, Edge, ParamSpec, ProcedureSpec, StepSpec, WaitSpec
from flows.forms import AgencyCode, Amount, Decision, District, Notes
from flows.words import Words

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
    title="Street child rescue",
    title_zh="流浪儿童救助",
    flow_name="r2-street-child-rescue",
    entrypoint="flows/rescue/r2.py:r2_street_child_rescue",
    params=(ParamSpec("found_district", "district", "发现地区县",
                      "the district where the child was found (default: the case's)"),),
    steps=(
        StepSpec("r2.outreach", "Find the child and persuade them to accept help", "24h",
                 OutreachDecision, OutreachForm, owner="center",
                 title_zh="寻找儿童并劝导接受救助"),
        StepSpec("r2.intake", "Intake at the rescue station with a health check", "1wd",
                 IntakeDecision, IntakeForm, owner="center",
                 title_zh="接收入站并进行健康检查"),
        StepSpec("r2.identity", "Identity check and family tracing", "5wd",
                 IdentityDecision, IdentityForm, owner="psb",
                 title_zh="身份核查与寻亲"),
        StepSpec("r2.placement", "Place the child without family", "5wd",
                 PlacementDecision, PlacementForm, bureau="mca",
                 owner_rule="welfare for an infant or a child of imprisoned parents; with hukou "
                            "the district of origin (mca when outside the city); without "
                            "hukou the district where the child was found",
                            title_zh="安置查找不到亲属的儿童"),
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
    outcome_words={
        "not_reached": Words("多次寻找劝导未果", "Not reached: every attempt failed"),
        "returned_home": Words("已送返家庭", "Returned home"),
        "placed": Words("查找不到亲属，已妥善安置", "Placed without family"),
    },
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
    title="Return home and follow-up visits",
    title_zh="送返与回访",
    flow_name="r3-return-home",
    entrypoint="flows/rescue/r3.py:r3_return_home",
    steps=(
        StepSpec("r3.assessment", "Assess the family: guardian able and willing, home safe", "3wd",
                 AssessmentDecision, AssessmentForm, owner="center",
                 title_zh="评估监护能力和家庭安全状况"),
        StepSpec("r3.escort", "Escort home and hand over to the home street office", "5wd",
                 EscortDecision, EscortForm, owner="center",
                 title_zh="护送返家并与家庭所在地街道办事处交接"),
        StepSpec("r3.school_referral", "Return-to-school referral", "5wd",
                 SchoolReferralDecision, SchoolReferralForm, owner="edu",
                 title_zh="协调返校就学"),
        StepSpec("r3.visit", "Follow-up visit", "5wd", VisitDecision, VisitForm,
                 bureau="mca", suite="followup_visit",
                 owner_rule="the street office of the home place, named by the assessment",
                 title_zh="定期回访"),
        StepSpec("r3.closing", "Closing review", "5wd", ClosingDecision, ClosingForm,
                 owner="center",
                 title_zh="结案审核"),
    ),
    waits=(
        WaitSpec("visits", "Follow-up visits fall due", ("1mo", "3mo", "6mo", "12mo"),
                 since="the hand-over",
                 title_zh="回访到期"),
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
    outcome_words={
        "home_unsafe": Words("家庭不宜送返，转入监护干预", "Home unsafe: guardian intervention"),
        "closed": Words("回访结束，已结案", "Closed after the last visit"),
        "kept_open": Words("继续跟踪帮扶", "Kept open"),
    },
)

SCHOOL_AGE = (6, 15)  # compulsory education: ages 6 to 15 inclusive


def visit_key(after: str) -> str:
    """The visit's step and timer key: "1mo" → "visit-1m" (the keys R3 has always used)."""
    return f"visit-{after.removesuffix('o') if after.endswith('mo') else after}"


def default_street(district: str) -> str:
    """The first pilot street office of a district: the owner when the starter names none."""
    from app.domain.agencies import STREETS  # reference data, no database

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
    title="Abandoned infant or orphan placement",
    title_zh="弃婴孤儿安置",
    flow_name="r1-infant-orphan-placement",
    entrypoint="flows/rescue/r1.py:r1_infant_orphan_placement",
    steps=(
        StepSpec("r1.finding", "Record the finding and check identity", "1wd",
                 FindingDecision, FindingForm, owner="psb", suite="infant_finding",
                 title_zh="登记发现情况并核查身份"),
        StepSpec("r1.acceptance", "Accept the child into civil affairs' care", "2wd",
                 AcceptanceDecision, AcceptanceForm, owner="mca",
                 title_zh="民政部门接收儿童"),
        StepSpec("r1.admission", "Admit the child to the welfare institution", "2wd",
                 AdmissionDecision, AdmissionForm, owner="welfare",
                 title_zh="儿童福利机构接收入院养育"),
        StepSpec("r1.enrolment", "Enrol the child in orphan social security", "10wd",
                 EnrolmentDecision, EnrolmentForm, owner="mca", suite="orphan_allowance",
                 title_zh="纳入孤儿社会保障"),
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
    outcome_words={
        "returned_home": Words("已找到父母，送返家庭", "Parent found: returned home"),
        "placed": Words("已入院养育并纳入孤儿保障", "Placed and enrolled in orphan security"),
    },
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
    title="Guardian intervention ladder",
    title_zh="监护干预",
    flow_name="r4-guardian-intervention",
    entrypoint="flows/rescue/r4.py:r4_guardian_intervention",
    params=(ParamSpec("rung", "choice", "起始环节", "the rung to enter the ladder at",
                      choices=RUNGS),
            ParamSpec("street", "street", "街道办事处",
                      "the street office that admonishes (default: the district's first)"),
            ParamSpec("reason", "choice", "启动原因", "why the ladder starts",
                      choices=("harm_reported", "home_unsafe", "ran_away", "guardian_failing"))),
    steps=(
        StepSpec("r4.admonition", "Admonish the guardian and stop the harm", "3wd",
                 AdmonitionDecision, AdmonitionForm, bureau="mca",
                 suite="guardian_intervention", owner_rule=_STREET_RULE,
                 title_zh="劝诫监护人并制止侵害行为"),
        StepSpec("r4.check", "Follow-up check on the guardian", "10wd",
                 CheckDecision, CheckForm, bureau="mca", suite="guardian_intervention",
                 owner_rule=_STREET_RULE,
                 title_zh="跟踪核查监护人改正情况"),
        StepSpec("r4.reprimand", "Police reprimand and order to correct", "5wd",
                 ReprimandDecision, ReprimandForm, owner="psb", suite="guardian_intervention",
                 title_zh="公安机关训诫并责令改正"),
        StepSpec("r4.penalty", "Administrative penalty under public-security law", "10wd",
                 PenaltyDecision, PenaltyForm, owner="psb", suite="guardian_intervention",
                 title_zh="依法给予治安管理处罚"),
        StepSpec("r4.prosecution", "Criminal prosecution", "20wd",
                 ProsecutionDecision, ProsecutionForm, owner="procuratorate",
                 suite="guardian_intervention",
                 title_zh="依法追究刑事责任"),
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
    outcome_words={
        "corrected": Words("监护人已改正", "Guardian corrected"),
        "penalised": Words("已给予治安管理处罚", "Administrative penalty imposed"),
        "prosecuted": Words("已提起公诉", "Prosecuted"),
        "not_prosecuted": Words("不起诉", "Not prosecuted"),
    },
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
    title="Temporary loss of support",
    title_zh="临时监护缺失安置",
    flow_name="r5-temporary-placement",
    entrypoint="flows/rescue/r5.py:r5_temporary_placement",
    steps=(
        StepSpec("r5.placement", "Place the child in a welfare institution", "5wd",
                 R5PlacementDecision, R5PlacementForm, owner="mca",
                 title_zh="安置到社会福利机构抚育"),
        StepSpec("r5.admission", "Admit the child to the welfare institution", "2wd",
                 AdmissionDecision, AdmissionForm, owner="welfare",
                 title_zh="儿童福利机构接收入院抚育"),
    ),
    graph=(
        Edge(BEGIN, "r5.placement"),
        Edge("r5.placement", "r5.admission"),
        Edge("r5.admission", "start:J2", "a trafficked infant with no guardian found "
                                         "(the placement's reason)"),
        Edge("r5.admission", "end:placed", "parents imprisoned: the placement is temporary"),
        Edge("start:J2", "end:placed"),
    ),
    outcome_words={
        "placed": Words("已安置到社会福利机构", "Placed in a welfare institution"),
    },
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
    title="Living assistance",
    title_zh="生活救助",
    flow_name="r6-living-assistance",
    entrypoint="flows/rescue/r6.py:r6_living_assistance",
    params=(ParamSpec("street", "street", "街道办事处",
                      "the street office that checks eligibility "
                      "(default: the district's first)"),),
    steps=(
        StepSpec("r6.eligibility", "Check the family's eligibility", "10wd",
                 EligibilityDecision, EligibilityForm, bureau="mca",
                 suite="family_eligibility", owner_rule=_STREET_RULE,
                 title_zh="核查家庭救助条件"),
        StepSpec("r6.dibao", "Enrol the family in dibao", "20wd",
                 GrantDecision, GrantForm, owner="mca", suite="assistance_grant",
                 title_zh="纳入最低生活保障"),
        StepSpec("r6.rehabilitation", "Rehabilitation training subsidy for the disabled child",
                 "20wd", GrantDecision, GrantForm, owner="dpf", suite="assistance_grant",
                 title_zh="给予残疾儿童康复训练补助"),
        StepSpec("r6.medical_aid", "Medical assistance for the disabled child", "20wd",
                 GrantDecision, GrantForm, owner="health", suite="assistance_grant",
                 title_zh="给予残疾儿童医疗救助"),
        StepSpec("r6.insurance", "Free resident medical insurance (congenital disability)",
                 "20wd", InsuranceDecision, InsuranceForm, owner="hrss",
                 title_zh="为先天性残疾儿童办理免费参保"),
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
    outcome_words={
        "not_eligible": Words("不符合救助条件", "Not eligible"),
        "assisted": Words("已给予救助", "Assisted"),
        "not_assisted": Words("未获批准救助", "Not assisted"),
    },
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
    title="Charity home visits",
    title_zh="慈善走访",
    flow_name="r7-charity-visit",
    entrypoint="flows/rescue/r7.py:r7_charity_visit",
    steps=(
        StepSpec("r7.visit", "Visit the family", "20wd", CharityVisitDecision, CharityVisitForm,
                 owner="charity", suite="charity_visit",
                 title_zh="入户走访慰问"),
        StepSpec("r7.assessment", "Assess the family's need", "5wd", NeedDecision, NeedForm,
                 owner="charity",
                 title_zh="评估家庭困难程度"),
        StepSpec("r7.payment", "Pay the grant", "10wd", CharityPaymentDecision,
                 CharityPaymentForm, owner="charity", suite="charity_grant",
                 title_zh="发放扶贫济困资助金"),
        StepSpec("r7.record", "Record the visit", "5wd", VisitRecordDecision, VisitRecordForm,
                 owner="charity",
                 title_zh="登记走访情况"),
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
    outcome_words={
        "granted": Words("已发放资助", "Grant paid"),
        "no_grant": Words("无需资助", "No grant needed"),
    },
)


# --- the words of the forms' fields and choices (flows/words.py) -------------------------------

FIELDS: dict[str, Words] = {
    # R2
    "location": Words("找到儿童的地点", "Where the child was found",
                      "街道、路口或场所名称（选填）。", "Street, crossing or place (optional)."),
    "ill_or_injured": Words("是否患病或受伤", "Ill or injured",
                            "患病或受伤的，立即送定点医院先救治后结算。",
                            "If so, the child goes to a designated hospital at once."),
    "health_notes": Words("体检情况", "Health check", "健康检查发现的情况（选填）。",
                          "What the health check found (optional)."),
    "has_hukou": Words("是否有户籍", "Has household registration (hukou)"),
    "origin_district": Words("户籍所在区县", "District of household registration",
                             "户籍不在银川市的选“其他”，由市民政局安置；无户籍的不填。",
                             "Choose \"Other\" for a hukou outside the city; leave empty "
                             "without hukou."),
    "infant_or_parent_imprisoned": Words("是否为婴幼儿或父母服刑在押",
                                         "Infant, or parents imprisoned",
                                         "是的，由儿童福利机构安置。",
                                         "If so, a child welfare institution takes the child."),
    "placed_with": Words("安置场所", "Placed with"),
    "placed_on": Words("安置日期", "Placement date",
                       "两年以上仍查找不到亲属的，自该日起算办理户口登记。",
                       "Household registration after two years counts from this day."),
    # R3
    "guardian_able": Words("监护人是否具备监护能力和意愿", "Guardian able and willing to care"),
    "home_safe": Words("家庭环境是否安全", "Home safe"),
    "home_street": Words("家庭所在地街道办事处", "Street office of the home place",
                         "儿童家庭所在地的街道办事处（乡镇），负责交接后的定期回访。",
                         "The street office or township where the family lives; it makes "
                         "the follow-up visits."),
    "handed_over_on": Words("交接日期", "Hand-over date",
                            "与家庭所在地街道办事处完成交接的日期，回访时间自该日起算。",
                            "The day of the hand-over; the follow-up visits count from it."),
    "enrolled": Words("是否已返校就读", "Back in school"),
    "needs": Words("需要的帮扶", "Help needed", "可多选，所选帮扶将转相关部门办理。",
                   "Choose any; each starts the procedure for that help."),
    # R1
    "category": Words("儿童类别", "Category"),
    "parent_found": Words("是否查找到父母", "Parent found"),
    "found_on": Words("发现日期", "Date found"),
    "found_district": Words("发现地区县", "District where found"),
    "found_place": Words("发现地点", "Place found"),
    "accepted_on": Words("接收日期", "Date accepted", "民政部门接收儿童的日期。",
                         "The day civil affairs took the child into care."),
    "admitted_on": Words("入院日期", "Date admitted", "儿童福利机构接收儿童入院的日期。",
                         "The day the welfare institution admitted the child."),
    "enrolled_on": Words("纳入保障日期", "Date enrolled",
                         "纳入孤儿基本生活保障或参加城镇居民医疗保险的日期。",
                         "The day the child was enrolled in orphan security or in resident "
                         "medical insurance."),
    "monthly_allowance": Words("孤儿基本生活费（元/月）", "Basic living allowance (yuan a month)"),
    # R5
    "reason": Words("安置原因", "Reason for placement"),
    # R6
    "dibao_eligible": Words("是否符合低保条件", "Eligible for dibao"),
    "disabled": Words("儿童是否残疾", "Child disabled"),
    "congenital_disability": Words("是否先天性残疾", "Congenital disability"),
    "household_size": Words("家庭人口数", "Household size", "共同生活的家庭成员人数。",
                            "Family members living together."),
    "income_per_person": Words("家庭人均月收入（元）", "Monthly income per person (yuan)"),
    "granted": Words("是否批准", "Granted"),
    "granted_on": Words("批准日期", "Date granted"),
    # R7
    "circumstance": Words("家庭困难情形", "Family circumstance"),
    "visited_on": Words("走访慰问日期", "Date visited"),
    "grant_needed": Words("是否需要资助", "Grant needed"),
    "receipt_no": Words("收据编号", "Receipt number", "资助金发放收据上的编号。",
                        "The number on the receipt for the grant."),
    "recorded_on": Words("登记日期", "Date recorded"),
}

OPTIONS: dict[str, Words] = {
    # R2
    "accepted": Words("同意接受救助", "Accepted help"),
    "refused": Words("拒绝接受救助", "Refused help"),
    "not_found": Words("未找到儿童", "Child not found"),
    "family_found": Words("已查找到亲属", "Family found"),
    "family_not_found": Words("查找不到亲属", "Family not found"),
    # R3: a visit's situation and needs (the procedures they start)
    "ran_away": Words("再次外出流浪", "Ran away again"),
    "guardian_failing": Words("监护人不履行监护职责", "Guardian failing their duty"),
    "R6": Words("生活救助", "Living assistance"),
    "E4": Words("教育资助", "Education aid"),
    "P1": Words("心理咨询", "Counselling"),
    "W1": Words("免费职业技能培训", "Free skills training"),
    "keep_open": Words("继续跟踪帮扶", "Keep the case open"),
    # R1
    "abandoned_infant": Words("弃婴", "Abandoned infant"),
    "orphan": Words("孤儿", "Orphan"),
    # R4: the rungs (the start parameter rung), why the ladder starts, each rung's outcome
    "admonition": Words("劝诫、制止", "Admonition"),
    "check": Words("跟踪核查", "Follow-up check"),
    "reprimand": Words("训诫、责令改正", "Police reprimand"),
    "penalty": Words("治安管理处罚", "Administrative penalty"),
    "harm_reported": Words("接报侵害未成年人", "Harm reported"),
    "home_unsafe": Words("家庭不宜送返", "Home unsafe"),
    "stopped": Words("已制止", "Harm stopped"),
    "serious": Words("情节严重", "Serious"),
    "corrected": Words("已改正", "Corrected"),
    "still_failing": Words("仍未改正", "Still failing"),
    "crime": Words("涉嫌犯罪", "Suspected crime"),
    "penalised": Words("已给予处罚", "Penalised"),
    "prosecuted": Words("提起公诉", "Prosecuted"),
    "not_prosecuted": Words("不起诉", "Not prosecuted"),
    # R5
    "parent_imprisoned": Words("父母服刑在押", "Parents imprisoned"),
    "trafficked_no_guardian": Words("被解救且查找不到监护人的婴幼儿",
                                    "Rescued trafficked infant, no guardian found"),
    # R7
    "serious_illness": Words("患有重病", "Serious illness"),
    "mental_disorder": Words("患有精神障碍", "Mental disorder"),
    "poverty": Words("家庭贫困", "Poverty"),
}
