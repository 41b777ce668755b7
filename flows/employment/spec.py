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

from flows.catalog import BEGIN, Edge, ParamSpec, ProcedureSpec, StepSpec
from flows.forms import Amount, Decision, Notes
from flows.words import Words

APPLICATION_OWNER = ("the community workstation named by the parameter community, else the "
                     "government of the case's district")
Relation = Literal["mother", "father", "grandparent", "sibling", "guardian", "other"]
# The one parameter a W procedure takes when started by hand (see application_owner).
APPLICATION_PARAMS = (ParamSpec("community", "community", "社区工作站",
                                "the community workstation where the family applies "
                                "(default: the district government)"),)
# The outcomes every W procedure may end with.
WITHDRAWN = Words("申请已撤回", "Application withdrawn")
REJECTED = Words("未获批准", "Not approved")


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
    title="Free skills training for able family members",
    title_zh="家庭成员免费技能培训",
    flow_name="w1-skills-training",
    entrypoint="flows/employment/w1.py:w1_skills_training",
    params=APPLICATION_PARAMS,
    steps=(
        StepSpec("w1.application", "Record the family member's application for training", "5wd",
                 ApplicationDecision, TrainingApplicationForm, bureau="hrss",
                 suite="family_application", owner_rule=APPLICATION_OWNER,
                 title_zh="受理家庭成员培训申请"),
        StepSpec("w1.approval", "Approve free training and assign a course", "10wd",
                 TrainingApprovalDecision, TrainingApprovalForm, owner="hrss",
                 title_zh="审核并安排免费培训"),
        StepSpec("w1.delivery", "Record the training attended", "90d",
                 TrainingRecordDecision, TrainingRecordForm, owner="hrss",
                 suite="service_delivery", rung_deadline="5wd", title_zh="登记参训情况"),
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
    outcome_words={
        "withdrawn": WITHDRAWN,
        "rejected": REJECTED,
        "trained": Words("已完成培训", "Trained"),
        "not_trained": Words("未参加培训", "Not trained"),
    },
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
    title="Public-welfare jobs",
    title_zh="公益性岗位安置",
    flow_name="w2-public-welfare-job",
    entrypoint="flows/employment/w2.py:w2_public_welfare_job",
    params=APPLICATION_PARAMS,
    steps=(
        StepSpec("w2.application", "Record the family member's application for a job", "5wd",
                 ApplicationDecision, JobApplicationForm, bureau="hrss",
                 suite="family_application", owner_rule=APPLICATION_OWNER,
                 title_zh="受理家庭成员就业申请"),
        StepSpec("w2.approval", "Decide on a public-welfare job (community or elderly service)",
                 "10wd", JobApprovalDecision, JobApprovalForm, owner="hrss",
                 title_zh="审核安排公益性岗位"),
        StepSpec("w2.placement", "Record the job taken up", "20wd",
                 DeliveryDecision, JobPlacementForm, owner="hrss", suite="service_delivery",
                 rung_deadline="5wd", title_zh="登记上岗情况"),
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
    outcome_words={
        "withdrawn": WITHDRAWN,
        "rejected": REJECTED,
        "employed": Words("已上岗就业", "In work"),
        "not_taken_up": Words("未上岗", "Job not taken up"),
    },
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
    title="Start-up support: registration, tax relief, loans",
    title_zh="创业扶持",
    flow_name="w3-startup-support",
    entrypoint="flows/employment/w3.py:w3_startup_support",
    params=APPLICATION_PARAMS,
    steps=(
        StepSpec("w3.application", "Record the family member's start-up application", "5wd",
                 StartupApplicationDecision, StartupApplicationForm, bureau="hrss",
                 suite="family_application", owner_rule=APPLICATION_OWNER,
                 title_zh="受理家庭成员创业申请"),
        StepSpec("w3.registration", "Register the business", "5wd",
                 RegistrationDecision, RegistrationForm, owner="market",
                 title_zh="办理营业执照登记"),
        StepSpec("w3.tax_relief", "Decide the start-up tax relief", "10wd",
                 TaxReliefDecision, TaxReliefForm, owner="tax", title_zh="落实创业税收优惠"),
        # Start-up guaranteed loans (创业担保贷款) go through the employment service of hrss.
        StepSpec("w3.loan", "Decide and pay the start-up loan", "15wd",
                 DeliveryDecision, LoanForm, owner="hrss", suite="service_delivery",
                 title_zh="审批发放创业担保贷款"),
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
    outcome_words={
        "withdrawn": WITHDRAWN,
        "not_registered": Words("未能办理登记", "Business not registered"),
        "supported": Words("已落实创业扶持", "Start-up support given"),
    },
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
    title="Vocational education and training for disabled minors",
    title_zh="残疾未成年人职业教育培训",
    flow_name="w4-vocational-training",
    entrypoint="flows/employment/w4.py:w4_vocational_training",
    params=APPLICATION_PARAMS,
    steps=(
        StepSpec("w4.referral", "Refer the disabled child for vocational education", "5wd",
                 ReferralDecision, ReferralForm, bureau="dpf", suite="vocational_referral",
                 owner_rule=APPLICATION_OWNER, title_zh="转介残疾未成年人接受职业教育"),
        StepSpec("w4.assessment", "Assess the child and choose the programme", "10wd",
                 VocationalAssessmentDecision, VocationalAssessmentForm, owner="dpf",
                 title_zh="评估并确定培训项目"),
        StepSpec("w4.enrolment", "Record the place taken up", "30wd",
                 DeliveryDecision, EnrolmentForm, suite="service_delivery", rung_deadline="5wd",
                 owner_rule="edu for a vocational school, dpf for a training course",
                 title_zh="登记入学参训情况"),
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
    outcome_words={
        "withdrawn": Words("转介已撤回", "Referral withdrawn"),
        "not_suitable": Words("暂不适合职业教育培训", "Not suitable for vocational training"),
        "enrolled": Words("已入学参训", "Place taken up"),
        "not_enrolled": Words("未入学参训", "Place not taken up"),
    },
)

# --- the words of the forms' fields and choices (flows/words.py) ------------------------------

FIELDS: dict[str, Words] = {
    # The application (every W procedure)
    "applicant_relation": Words("申请人与儿童关系", "Applicant's relation to the child"),
    "applicant_age": Words("申请人年龄", "Applicant's age", "16至65周岁。", "16 to 65."),
    # W1
    "trade": Words("培训工种", "Trade"),
    "course_starts_on": Words("开班日期", "Course start date"),
    "course_code": Words("培训班编号", "Course number",
                         "人社部门培训班的编号，由大写字母、数字和连字符组成。",
                         "The course's number at the bureau: capital letters, digits, hyphens."),
    "certificate": Words("取得培训合格证书", "Certificate obtained"),
    # What was delivered (W1 to W4; amount: flows/words.py)
    "delivered": Words("已落实", "Delivered",
                       "技能培训：已参加培训；公益性岗位：已上岗；创业贷款：已放款；"
                       "职业教育培训：已入学或参训。",
                       "Training: attended; job: taken up; loan: paid out; vocational "
                       "education: place taken up."),
    "started_on": Words("起始日期", "Start date", "参训、上岗、放款或入学的日期。",
                        "The day the course, the job or the place began, or the loan was paid."),
    "ended_on": Words("结束日期", "End date", "培训结业或离岗的日期（选填）。",
                      "The day the course ended or the job was left (optional)."),
    "hours": Words("时长（小时）", "Hours", "技能培训填参训总学时；公益性岗位填每周工作小时数。",
                   "Training: hours attended; job: hours a week."),
    # W2
    "job_kind": Words("岗位类别", "Kind of job"),
    # W3
    "wants_loan": Words("申请创业担保贷款", "Applies for a start-up loan"),
    "business_kind": Words("经营行业", "Line of business"),
    "loan_requested": Words("申请贷款金额（元）", "Loan requested (yuan)", "不超过30万元。",
                            "Up to 300,000 yuan."),
    "registered_on": Words("登记日期", "Registration date", "营业执照核发日期。",
                           "The day the business licence was issued."),
    "credit_code": Words("统一社会信用代码", "Unified social credit code",
                         "营业执照上的18位代码。", "The 18 characters on the business licence."),
    "annual_relief": Words("年减免税额（元）", "Tax relief a year (yuan)"),
    "term_months": Words("贷款期限（月）", "Loan term (months)", "1至36个月。", "1 to 36."),
    # W4
    "disability_kind": Words("残疾类别", "Disability category", "按残疾人证填写。",
                             "As on the disability certificate."),
    "age": Words("年龄", "Age", "14至17周岁。", "14 to 17."),
}

OPTIONS: dict[str, Words] = {
    # The application (approved, rejected, referred: flows/words.py)
    "submitted": Words("已提交", "Submitted"),
    "withdrawn": Words("已撤回", "Withdrawn"),
    # Who applies (grandparent, other: flows/words.py)
    "mother": Words("母亲", "Mother"),
    "father": Words("父亲", "Father"),
    "sibling": Words("兄弟姐妹", "Brother or sister"),
    "guardian": Words("其他监护人", "Other guardian"),
    # W1: trades; farming is also a line of business (W3)
    "cooking": Words("烹饪", "Cooking"),
    "housekeeping": Words("家政服务", "Housekeeping"),
    "elderly_care": Words("养老护理", "Elderly care"),
    "electrician": Words("电工", "Electrician"),
    "welding": Words("焊工", "Welding"),
    "auto_repair": Words("汽车维修", "Car repair"),
    "farming": Words("种植养殖", "Farming"),
    "e_commerce": Words("电子商务", "E-commerce"),
    # W2: public-welfare jobs (四(四)2)
    "community_service": Words("社区服务岗位", "Community service"),
    "elderly_service": Words("养老服务岗位", "Elderly service"),
    # W3: lines of business
    "retail": Words("零售", "Retail"),
    "catering": Words("餐饮", "Catering"),
    "services": Words("生活服务", "Services"),
    "manufacturing": Words("加工制造", "Manufacturing"),
    # W3: the registration and the tax relief
    "registered": Words("准予登记", "Registered"),
    "refused": Words("不予办理", "Refused"),
    "granted": Words("予以减免", "Granted"),
    # W4: the programme
    "vocational_school": Words("职业学校就读", "Vocational school"),
    "training_course": Words("参加技能培训班", "Training course"),
    "not_suitable": Words("暂不适合", "Not suitable"),
}
