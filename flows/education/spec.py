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

from flows.catalog import BEGIN, Edge, ParamSpec, ProcedureSpec, StepSpec, WaitSpec
from flows.forms import Amount, Decision, District, Notes
from flows.words import Words

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
    title="Orphan schooling",
    title_zh="孤儿就学",
    flow_name="e1-orphan-schooling",
    entrypoint="flows/education/e1.py:e1_orphan_schooling",
    steps=(
        # 10 working days each: our default (the plan gives none).
        StepSpec("e1.assignment", "Place the orphan at the nearest suitable school", "10wd",
                 AssignmentDecision, AssignmentForm, owner="edu", title_zh="就近安排孤儿就学"),
        StepSpec("e1.enrolment", "Confirm the orphan is enrolled and attending", "10wd",
                 EnrolmentDecision, EnrolmentForm, owner="edu", suite="school_enrolment",
                 title_zh="确认孤儿入学就读"),
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
    outcome_words={
        "referred_to_e2": Words("已转残疾儿童就学", "Referred to disabled child schooling"),
        "enrolled": Words("已入学就读", "Enrolled and attending"),
        "dropout_reported": Words("未到校，已转辍学劝返", "Not attending: dropout reported"),
    },
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
    title="Disabled child schooling",
    title_zh="残疾儿童就学",
    flow_name="e2-disabled-child-schooling",
    entrypoint="flows/education/e2.py:e2_disabled_child_schooling",
    steps=(
        # Deadlines are our defaults (the plan gives none).
        StepSpec("e2.assessment", "Assess the disabled child for schooling", "15wd",
                 DisabilityAssessmentDecision, DisabilityAssessmentForm, owner="dpf",
                 suite="disability_assessment", title_zh="评估残疾儿童就学需求"),
        StepSpec("e2.mode", "Choose the mode of schooling", "10wd", ModeDecision, ModeForm,
                 owner="edu", title_zh="确定就学方式"),
        StepSpec("e2.delivery_plan", "Draw up and start the delivery plan", "10wd",
                 DeliveryPlanDecision, DeliveryPlanForm, bureau="edu",
                 owner_rule="community education: the district government of the case (edu "
                            "above it); every other mode: edu and its schools",
                 title_zh="制定并实施教育安置方案"),
        StepSpec("e2.subsidy", "Pay the preschool subsidy for a disabled child in difficulty",
                 "20wd", SubsidyDecision, SubsidyForm, owner="edu",
                 title_zh="发放困境残疾儿童入托补贴"),
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
    outcome_words={
        "plan_in_place": Words("教育安置方案已落实", "Schooling plan in place"),
        "subsidised": Words("已发放入托补贴", "Preschool subsidy paid"),
    },
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
    title="Dropout notification and return to school",
    title_zh="辍学通报与劝返复学",
    flow_name="e3-dropout-return",
    entrypoint="flows/education/e3.py:e3_dropout_return",
    steps=(
        StepSpec("e3.report", "The school reports the dropout", "2wd",
                 DropoutReportDecision, DropoutReportForm, owner="edu", suite="dropout_report",
                 title_zh="通报辍学信息"),
        StepSpec("e3.guardian_notice", "The school notifies the parent or guardian", "2wd",
                 GuardianNoticeDecision, GuardianNoticeForm, owner="edu",
                 title_zh="告知家长或监护人"),
        StepSpec("e3.persuasion", "School and family persuade the child back (visits)", "15wd",
                 PersuasionDecision, PersuasionForm, owner="edu", suite="return_effort",
                 title_zh="家校共同劝返复学"),
        # 10 working days: our default.
        StepSpec("e3.education_plan", "Moral and legal education plan for bad habits", "10wd",
                 EducationPlanDecision, EducationPlanForm, owner="edu",
                 title_zh="制定思想道德和法制教育方案"),
        StepSpec("e3.district_office", "Not returned: the district education office acts",
                 "10wd", ReturnDecision, ReturnForm, bureau="edu", suite="return_effort",
                 owner_rule="the district government of the case (standing for its education "
                            "office), with edu above it",
                 title_zh="区县教育部门督促返校"),
        StepSpec("e3.bureau_action", "Still not returned: the education bureau acts", "10wd",
                 ReturnDecision, ReturnForm, owner="edu", suite="return_effort",
                 title_zh="市教育局督办返校"),
        StepSpec("e3.attendance", "Confirm the child still attends school", "5wd",
                 AttendanceDecision, AttendanceForm, owner="edu", title_zh="复核返校就读情况"),
    ),
    waits=(
        # "After 30 days": counted in working days, as every duration of the plan is unless it
        # says calendar days.
        WaitSpec("attendance", "Attendance is confirmed after the return", "30wd",
                 since="the return to school", title_zh="返校后复核期满"),
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
    outcome_words={
        "not_returned": Words("经督办仍未返校", "Not back at school after the bureau acted"),
        "returned": Words("已返校就读", "Back at school"),
        "dropped_out_again": Words("再次辍学，已重新通报", "Dropped out again: reported anew"),
    },
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
    title="Education aid for dibao and near-dibao families",
    title_zh="困境家庭子女教育资助",
    flow_name="e4-education-aid",
    entrypoint="flows/education/e4.py:e4_education_aid",
    steps=(
        # Deadlines are our defaults. The school takes the application (edu); civil affairs
        # verifies the family's dibao or near-dibao status (mca); edu pays.
        StepSpec("e4.application", "Take the education aid application", "5wd",
                 AidApplicationDecision, AidApplicationForm, owner="edu",
                 suite="education_aid_application", title_zh="受理教育资助申请"),
        StepSpec("e4.verification", "Verify the family's dibao or near-dibao status", "10wd",
                 AidVerificationDecision, AidVerificationForm, owner="mca",
                 title_zh="核实低保或低保边缘家庭身份"),
        StepSpec("e4.payment", "Pay the aid", "20wd", AidPaymentDecision, AidPaymentForm,
                 owner="edu", title_zh="发放教育资助"),
    ),
    graph=(
        Edge(BEGIN, "e4.application"),
        Edge("e4.application", "e4.verification"),
        Edge("e4.verification", "e4.payment", "eligible"),
        Edge("e4.verification", "notify:e4.not_eligible", "not eligible"),
        Edge("notify:e4.not_eligible", "end:not_eligible"),
        Edge("e4.payment", "end:paid"),
    ),
    outcome_words={
        "not_eligible": Words("不符合资助条件", "Not eligible"),
        "paid": Words("教育资助已发放", "Aid paid"),
    },
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
    title="Migrant workers' children enrolment",
    title_zh="农民工随迁子女入学",
    flow_name="e5-migrant-children-enrolment",
    entrypoint="flows/education/e5.py:e5_migrant_children_enrolment",
    params=(ParamSpec("district", "district", "就学区县",
                      "the district whose government finds the school place "
                      "(default: the case's)"),),
    steps=(
        # Deadlines are our defaults. "Zero barrier": a missing document never refuses the
        # application; the district finds a nearby place, and the bureau one elsewhere.
        StepSpec("e5.application", "Take the enrolment application", "5wd",
                 PlaceApplicationDecision, PlaceApplicationForm, bureau="edu",
                 suite="school_place_application",
                 owner_rule="the district government where the family lives (parameter "
                            "district, else the case's), with edu above it",
                 title_zh="受理随迁子女入学申请"),
        StepSpec("e5.placement", "Give a place at a nearby school", "10wd",
                 PlacementDecision, PlacementForm, bureau="edu",
                 owner_rule="the same district government as the application",
                 title_zh="就近安排学位"),
        StepSpec("e5.coordination", "No nearby place: the bureau finds a school place",
                 "10wd", CoordinationDecision, CoordinationForm, owner="edu",
                 title_zh="市教育局统筹安排学位"),
    ),
    graph=(
        Edge(BEGIN, "e5.application"),
        Edge("e5.application", "e5.placement"),
        Edge("e5.placement", "end:placed", "outcome == placed"),
        Edge("e5.placement", "e5.coordination", "outcome == no_place_nearby"),
        Edge("e5.coordination", "end:placed_by_bureau"),
    ),
    outcome_words={
        "placed": Words("已就近入学", "Placed at a nearby school"),
        "placed_by_bureau": Words("已由市教育局统筹安排入学", "Placed by the education bureau"),
    },
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
    title="Proxy mothers for left-behind children",
    title_zh="农村留守儿童代理妈妈",
    flow_name="e6-proxy-mothers",
    entrypoint="flows/education/e6.py:e6_proxy_mothers",
    params=(ParamSpec("community", "community", "社区工作站",
                      "the community workstation that identifies the child "
                      "(default: the district government)"),),
    steps=(
        # Deadlines are our defaults; a contact is due within 5 working days of its month.
        StepSpec("e6.identification", "Identify the left-behind child", "10wd",
                 IdentificationDecision, IdentificationForm, bureau="women",
                 owner_rule="the community named by the parameter community, else the "
                            "district government of the case (women above it)",
                 title_zh="认定留守儿童"),
        StepSpec("e6.matching", "Match a volunteer proxy mother", "10wd",
                 MatchingDecision, MatchingForm, owner="women", title_zh="匹配代理妈妈"),
        StepSpec("e6.pairing", "Agree the one-to-one pairing", "10wd", PairingDecision,
                 PairingForm, owner="women", suite="proxy_pairing", title_zh="确定一对一结对"),
        StepSpec("e6.contact", "Record the month's contact", "5wd", ContactDecision,
                 ContactForm, owner="women", suite="proxy_contact",
                 title_zh="记录本月结对联系"),
    ),
    waits=(
        # A year of monthly contacts: our default.
        WaitSpec("contacts", "A month's contact falls due",
                 tuple(f"{m}mo" for m in range(1, 13)), since="the pairing",
                 title_zh="本月结对联系到期"),
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
    outcome_words={
        "not_left_behind": Words("不属于留守儿童", "Not a left-behind child"),
        "no_volunteer": Words("暂无代理妈妈可结对", "No volunteer proxy mother"),
        "completed": Words("结对期满", "Pairing completed"),
        "ended_early": Words("结对提前终止", "Pairing ended early"),
    },
)

# --- the words of the forms' fields and choices (flows/words.py) ------------------------------

FIELDS: dict[str, Words] = {
    # E1, E3
    "grade": Words("年级", "Grade", "小学一年级填1，依次类推，初中三年级填9。",
                   "1 for the first year of primary school, up to 9 for the last of junior "
                   "secondary."),
    "enrolled_on": Words("入学日期", "Enrolment date"),
    "attending": Words("在校正常就读", "Attending school", "儿童目前是否按时到校上课。",
                       "Whether the child now goes to school."),
    # E2
    "stage": Words("学段", "Stage of schooling"),
    "in_difficulty": Words("困境家庭儿童", "Child of a family in difficulty",
                           "低保、低保边缘、孤儿等困境家庭的儿童，学前阶段可享受入托补贴。",
                           "A child of a dibao or near-dibao family, an orphan…: in preschool, "
                           "the nursery subsidy is paid."),
    "assessed_on": Words("评估日期", "Assessment date"),
    "disability_category": Words("残疾类别", "Disability category", "按残疾人证填写。",
                                 "As on the disability certificate."),
    # E2 (the mode of schooling) and E6 (how the proxy mother was in touch) share this code.
    "mode": Words("方式", "Mode"),
    "sessions_per_month": Words("每月服务次数", "Sessions a month",
                                "每月送教、辅导或授课的次数。",
                                "Teaching or support sessions a month."),
    # E3
    "reason": Words("辍学原因", "Reason for dropping out"),
    "last_attended_on": Words("最后到校日期", "Last day at school"),
    "reported_on": Words("报告日期", "Date reported", "学校通报辍学信息的日期。",
                         "The day the school reported the dropout."),
    "notified_on": Words("告知日期", "Date notified", "学校告知家长或监护人的日期。",
                         "The day the school told the parent or guardian."),
    "method": Words("告知方式", "How notified"),
    "returned_on": Words("返校日期", "Date back at school", "已返校的必填。",
                         "Required when the child has returned."),
    "visits": Words("劝返次数", "Persuasion visits", "学校和家长上门劝学的次数。",
                    "How many visits were made to bring the child back."),
    "bad_habits": Words("沾染不良习气", "Bad habits found",
                        "发现沾染不良习气的，须制定思想道德和法制教育方案。",
                        "A moral and legal education plan follows."),
    "days_absent": Words("缺课天数", "Days absent", "返校以来缺课的天数。",
                         "Days missed since the return."),
    # E4
    "aid": Words("资助项目", "Aid"),
    "family_status": Words("家庭类别", "Family status"),
    "academic_year": Words("学年", "Academic year", "格式如：2026-2027。",
                           "For example 2026-2027."),
    "eligible": Words("符合资助条件", "Eligible", "经核实属于低保或低保边缘家庭。",
                      "The family is verified as dibao or near-dibao."),
    # E5
    "applied_on": Words("申请日期", "Date applied"),
    "residence_district": Words("居住区县", "District of residence"),
    "residence_months": Words("居住时长（月）", "Months of residence",
                              "在本区县连续居住的月数。",
                              "How many months the family has lived in the district."),
    "parent_employed": Words("父母在本地务工", "Parent works here", "父母一方在本市务工就业。",
                             "A parent works in the city."),
    # E6
    "left_behind": Words("属于留守儿童", "Left-behind child",
                         "父母双方外出务工，或一方外出务工、另一方无监护能力的农村儿童。",
                         "A rural child whose parents both work away, or one works away and "
                         "the other cannot care for the child."),
    "caregiver": Words("实际照料人", "Caregiver", "父母外出期间照料儿童的人。",
                       "Who looks after the child while the parents are away."),
    "matched": Words("已匹配代理妈妈", "Proxy mother matched"),
    "agreed_on": Words("结对日期", "Pairing date"),
    "volunteer_code": Words("代理妈妈志愿者编号", "Volunteer number",
                            "按妇联志愿者登记的编号填写（首位为字母，后接6位数字）。",
                            "The Women's Federation's number: V and six digits, e.g. V000123."),
    "guardian_consent": Words("监护人已同意", "Guardian consents"),
    "concern": Words("发现需关注情况", "Cause for concern",
                     "代理妈妈对儿童情况感到担忧的，将告知市未成年人社会保护中心。",
                     "The proxy mother is worried about the child: the Minor Protection "
                     "Center is told."),
    "pairing": Words("结对状态", "Pairing"),
    "contact_date": Words("联系日期", "Contact date"),
}

OPTIONS: dict[str, Words] = {
    # E1
    "assigned": Words("已就近安排学校", "School place assigned"),
    "needs_special_education": Words("需接受特殊教育", "Needs special education"),
    # E2 (stage), E4 (aid), E5 (stage)
    "preschool": Words("学前教育", "Preschool"),
    "compulsory": Words("义务教育", "Compulsory education"),
    "senior_high": Words("高中阶段", "Senior high school"),
    "nutrition_lunch": Words("营养午餐", "Nutrition lunch"),
    "primary": Words("小学", "Primary school"),
    "junior_secondary": Words("初中", "Junior secondary school"),
    # E2: the mode of schooling (四(二)2)
    "regular_class": Words("随班就读", "Regular class"),
    "special_school": Words("特殊教育学校就读", "Special school"),
    "community_education": Words("社区教育", "Community education"),
    "home_teaching": Words("送教上门", "Teaching at home"),
    # E3: why the child dropped out
    "family_hardship": Words("家庭困难", "Family hardship"),
    "learning_difficulty": Words("学习困难", "Learning difficulty"),
    "bad_habits": Words("沾染不良习气", "Bad habits"),
    "work": Words("外出务工", "Went to work"),
    "illness": Words("因病", "Illness"),
    # E3 (how the guardian was told), E6 (how the proxy mother was in touch)
    "visit": Words("上门家访", "Home visit"),
    "phone": Words("电话", "Phone"),
    "letter": Words("书面通知", "Letter"),
    "video": Words("视频通话", "Video call"),
    # E3
    "returned": Words("已返校", "Back at school"),
    "not_returned": Words("未返校", "Not back at school"),
    # E4
    "dibao": Words("低保家庭", "Dibao family"),
    "near_dibao": Words("低保边缘家庭", "Near-dibao family"),
    # E5
    "placed": Words("已就近安排学位", "Placed at a nearby school"),
    "no_place_nearby": Words("附近学校无学位", "No place nearby"),
    # E6: who looks after the child (grandparent, other: flows/words.py)
    "relative": Words("其他亲属", "Other relative"),
    "none": Words("无人照料", "No one"),
    "continue": Words("继续结对", "Continue the pairing"),
    "ended": Words("结束结对", "End the pairing"),
}


def month_key(after: str) -> str:
    """A month's step and timer key: "1mo" → "contact-1m" (independent of the settings)."""
    return f"contact-{after.removesuffix('o') if after.endswith('mo') else after}"

