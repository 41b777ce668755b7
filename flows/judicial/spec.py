"""The judicial procedures as data (四(三)): J1 family tracing, J2 household registration after
two years, J3 juvenile offenders and record sealing, J4 community correction support."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import Field

from flows.catalog import BEGIN, Edge, ParamSpec, ProcedureSpec, StepSpec, WaitSpec
from flows.forms import Decision, District, Notes
from flows.words import Words


class RegistrationDecision(Decision):
    registered_on: date


class RegistrationForm(RegistrationDecision):
    registered_district: District
    placement_date: date
    application_date: date
    institution: Literal["center", "welfare", "foster"]
    address: str = Field(max_length=200)


J2 = ProcedureSpec(
    code="J2",
    area="judicial",
    title="Household registration after two years",
    title_zh="两年后落户",
    flow_name="j2-hukou-registration",
    entrypoint="flows/judicial/j2.py:j2_hukou_registration",
    params=(ParamSpec("placed_on", "date", "安置日期",
                      "the day the child was placed: the two years count from it"),),
    steps=(
        StepSpec("j2.registration", "Register the child's household (hukou)", "20wd",
                 RegistrationDecision, RegistrationForm, owner="psb",
                 suite="hukou_application",
                 title_zh="办理户口登记"),
    ),
    waits=(
        # The clock starts at placement; finding the family stops it.
        WaitSpec("clock", "Two years or more without family", "2y", since="the placement",
                 title_zh="满两年仍查找不到亲属"),
    ),
    graph=(
        Edge(BEGIN, "wait:clock", "a placement date is recorded"),
        Edge(BEGIN, "end:not_placed", "no placement date"),
        Edge(BEGIN, "end:family_found", "the family was found before the clock started"),
        Edge("wait:clock", "j2.registration", "fired"),
        Edge("wait:clock", "end:family_found", "cancelled"),
        Edge("j2.registration", "end:registered"),
    ),
    outcome_words={
        "not_placed": Words("无安置日期，不予计时", "No placement date: not counted"),
        "family_found": Words("已找到亲属，停止计时", "Family found: clock stopped"),
        "registered": Words("已办理户口登记", "Household registered"),
    },
)

# --- J1 family tracing (四(三)1) ---------------------------------------------------------------

class SearchDecision(Decision):
    outcome: Literal["candidate", "no_match"]
    searched_on: date  # the next search, when nothing is found, counts from here


class SearchForm(SearchDecision):
    rescue_system_searched: bool  # the rescue information system (救助管理信息系统)
    population_system_searched: bool  # the population information system (人口信息系统)
    dna_database_searched: bool  # the national anti-trafficking DNA database (打拐DNA数据库)
    dna_sample_taken: bool = False
    notes: Notes


class VerificationDecision(Decision):
    outcome: Literal["confirmed", "not_confirmed"]
    verified_on: date


class VerificationForm(VerificationDecision):
    method: Literal["dna", "documents", "interview"]
    notes: Notes


J1 = ProcedureSpec(
    code="J1",
    area="judicial",
    title="Family tracing",
    title_zh="寻亲",
    flow_name="j1-family-tracing",
    entrypoint="flows/judicial/j1.py:j1_family_tracing",
    steps=(
        # PROCEDURES.md gives no deadline for a search or a verification: 10 working days
        # each (default), time for a DNA comparison to come back.
        StepSpec("j1.search", "Search the rescue, population and anti-trafficking DNA systems",
                 "10wd", SearchDecision, SearchForm, owner="psb", suite="family_search",
                 title_zh="查询救助保护、人口管理信息系统和打拐基因信息库"),
        StepSpec("j1.verification", "Verify the candidate match", "10wd",
                 VerificationDecision, VerificationForm, owner="psb",
                 title_zh="核实疑似亲属"),
    ),
    waits=(
        # 90 calendar days (default, PROCEDURES.md), from the search or verification that
        # found no family; repeated until the family is found or the case is closed.
        WaitSpec("interval", "Search again", "90d", since="the last search without result",
                 title_zh="定期再次查找"),
    ),
    graph=(
        Edge(BEGIN, "j1.search"),
        Edge("j1.search", "j1.verification", "outcome == candidate"),
        Edge("j1.search", "wait:interval", "outcome == no_match"),
        Edge("j1.verification", "start:R3",
             "outcome == confirmed, the family is recorded as found: J2's clock stops"),
        Edge("start:R3", "end:found"),
        Edge("j1.verification", "wait:interval", "outcome == not_confirmed"),
        Edge("wait:interval", "j1.search", "fired, and the case is still open"),
        Edge("wait:interval", "end:case_closed", "fired, and the case has been closed"),
        Edge("wait:interval", "end:family_found", "cancelled"),
    ),
    outcome_words={
        "found": Words("核实确认，寻亲成功", "Family found and confirmed"),
        "case_closed": Words("已结案，停止查找", "Case closed: search stopped"),
        "family_found": Words("已通过其他途径找到亲属", "Family found by other means"),
    },
)

# --- J3 juvenile offenders and record sealing (四(三)3) ----------------------------------------


class InvestigationDecision(Decision):
    offence_confirmed: bool


class InvestigationForm(InvestigationDecision):
    in_school: bool
    appropriate_adult_present: bool  # a guardian or appropriate adult at every questioning
    notes: Notes


Measure = Literal["reprimand_and_education", "conditional_non_prosecution", "prosecution"]


class HandlingDecision(Decision):
    measure: Measure


class HandlingForm(HandlingDecision):
    notes: Notes


class HelpEducationDecision(Decision):
    outcome: Literal["completed", "failed"]


class HelpEducationForm(HelpEducationDecision):
    plan_started_on: date
    notes: Notes


Sentence = Literal["exempted", "probation", "custodial_up_to_5y", "custodial_over_5y"]


class JudgmentDecision(Decision):
    sentence: Sentence
    judged_on: date


class JudgmentForm(JudgmentDecision):
    notes: Notes


class SealingDecision(Decision):
    sealed_on: date


class SealingForm(SealingDecision):
    # The record itself: moved into the sealed records table when the step completes.
    record_no: str = Field(max_length=40)
    authority: Literal["court", "procuratorate"]
    offence_date: date
    notes: Notes


J3 = ProcedureSpec(
    code="J3",
    area="judicial",
    title="Juvenile offenders and record sealing",
    title_zh="未成年人犯罪记录封存",
    flow_name="j3-juvenile-record-sealing",
    entrypoint="flows/judicial/j3.py:j3_juvenile_record_sealing",
    steps=(
        # No deadlines in PROCEDURES.md: each below is ours (default).
        StepSpec("j3.investigation", "Social investigation of the minor (education first)",
                 "10wd", InvestigationDecision, InvestigationForm, owner="psb",
                 title_zh="开展社会调查"),
        StepSpec("j3.handling", "Decide the lenient, education-first handling", "20wd",
                 HandlingDecision, HandlingForm, owner="procuratorate",
                 title_zh="决定教育为主的从宽处理措施"),
        # A conditional non-prosecution's test period is 6 to 12 months: the outcome is due
        # after six months, then each rung has 5 working days.
        StepSpec("j3.help_education", "Help and education plan carried out (帮教)", "6mo",
                 HelpEducationDecision, HelpEducationForm, owner="justice",
                 rung_deadline="5wd",
                 title_zh="落实帮教"),
        StepSpec("j3.judgment", "Juvenile court judgment", "60wd",
                 JudgmentDecision, JudgmentForm, owner="court",
                 title_zh="少年法庭审理判决"),
        StepSpec("j3.sealing", "Seal the criminal record", "5wd", SealingDecision, SealingForm,
                 suite="sealed_record",
                 owner_rule="the court after a judgment, else the procuratorate",
                 title_zh="封存犯罪记录"),
    ),
    graph=(
        Edge(BEGIN, "j3.investigation"),
        Edge("j3.investigation", "end:no_offence", "not offence_confirmed"),
        Edge("j3.investigation", "j3.handling", "offence_confirmed"),
        Edge("j3.handling", "j3.help_education",
             "measure in {reprimand_and_education, conditional_non_prosecution}"),
        Edge("j3.handling", "j3.judgment", "measure == prosecution"),
        Edge("j3.help_education", "j3.sealing", "outcome == completed"),
        Edge("j3.help_education", "j3.judgment", "outcome == failed"),
        Edge("j3.judgment", "start:J4", "sentence == probation"),
        Edge("start:J4", "j3.sealing"),
        Edge("j3.judgment", "j3.sealing", "sentence in {exempted, custodial_up_to_5y}"),
        # Only a sentence of five years or less is sealed (Criminal Procedure Law, art. 286).
        Edge("j3.judgment", "end:not_sealable", "sentence == custodial_over_5y"),
        Edge("j3.sealing", "end:sealed"),
    ),
    outcome_words={
        "no_offence": Words("不构成违法犯罪", "No offence"),
        "not_sealable": Words("判处超过五年有期徒刑，不予封存",
                              "Not sealable: sentence over five years"),
        "sealed": Words("犯罪记录已封存", "Record sealed"),
    },
)

# --- J4 community correction support (四(三)4) -------------------------------------------------


class PlanDecision(Decision):
    plan_from: date
    term_months: int = Field(ge=1, le=60)  # one review a month, then the release


class PlanForm(PlanDecision):
    identity_protected: bool
    emotional_support: bool
    schooling_or_work: Literal["school", "work", "training"]
    notes: Notes


class ReviewDecision(Decision):
    progress: Literal["on_track", "concern", "violation"]


class ReviewForm(ReviewDecision):
    review_date: date
    notes: Notes


class ReleaseDecision(Decision):
    released_on: date


class ReleaseForm(ReleaseDecision):
    notes: Notes


J4 = ProcedureSpec(
    code="J4",
    area="judicial",
    title="Community correction support",
    title_zh="社区矫正帮扶",
    flow_name="j4-community-correction",
    entrypoint="flows/judicial/j4.py:j4_community_correction",
    steps=(
        # No deadlines in PROCEDURES.md: 10 working days for the plan, 5 for a review and for
        # the release (defaults).
        StepSpec("j4.plan", "Fit a correction plan to the minor", "10wd",
                 PlanDecision, PlanForm, owner="justice", suite="correction_plan",
                 title_zh="制定个性化矫正帮扶方案"),
        StepSpec("j4.review", "Monthly review", "5wd", ReviewDecision, ReviewForm,
                 owner="justice", suite="correction_review",
                 title_zh="每月考察帮扶情况"),
        StepSpec("j4.release", "Release from community correction", "5wd",
                 ReleaseDecision, ReleaseForm, owner="justice",
                 title_zh="解除社区矫正"),
    ),
    waits=(
        WaitSpec("reviews", "A review falls due", "1mo",
                 since="the plan's start, then the previous review's date",
                 title_zh="月度考察到期"),
    ),
    graph=(
        Edge(BEGIN, "j4.plan"),
        Edge("j4.plan", "wait:reviews"),
        Edge("wait:reviews", "j4.review", "fired"),
        Edge("wait:reviews", "j4.review", "cancelled, by a family found: the review is held"),
        Edge("j4.review", "notify:j4.violation", "progress == violation"),
        Edge("j4.review", "wait:reviews", "more months of the term to come"),
        Edge("j4.review", "j4.release", "after the term's last month"),
        Edge("j4.release", "end:released"),
    ),
    outcome_words={
        "released": Words("已解除社区矫正", "Released from community correction"),
    },
)


# --- the words of the forms' fields and choices (flows/words.py) -------------------------------

FIELDS: dict[str, Words] = {
    # J2
    "registered_on": Words("户口登记日期", "Date registered"),
    "registered_district": Words("落户区县", "District of registration"),
    "placement_date": Words("安置日期", "Placement date",
                            "儿童被安置到救助保护机构、儿童福利机构或寄养家庭的日期。",
                            "The day the child was placed in care."),
    "institution": Words("安置场所", "Cared for by"),
    "address": Words("落户地址", "Address registered", "办理户口登记的住址。",
                     "The address the household is registered at."),
    # J1
    "searched_on": Words("查询日期", "Date searched", "未查到的，下次查找自该日起算。",
                         "When nothing is found, the next search counts from this day."),
    "rescue_system_searched": Words("已查询救助保护信息系统", "Rescue information system searched"),
    "population_system_searched": Words("已查询人口管理信息系统",
                                        "Population information system searched"),
    "dna_database_searched": Words("已比对全国打拐基因信息库",
                                   "Anti-trafficking DNA database searched"),
    "dna_sample_taken": Words("是否已采集基因样本", "DNA sample taken",
                              "如已采集血样录入打拐基因信息库。",
                              "For example a blood sample entered into the database."),
    "verified_on": Words("核实日期", "Date verified"),
    "method": Words("核实方式", "Verification method"),
    # J3
    "offence_confirmed": Words("是否查实违法犯罪行为", "Offence confirmed"),
    "in_school": Words("是否在校就读", "In school"),
    "appropriate_adult_present": Words("讯问时合适成年人是否到场", "Appropriate adult present",
                                       "每次讯问时，法定代理人或其他合适成年人均应到场。",
                                       "A guardian or appropriate adult at every questioning."),
    "measure": Words("处理措施", "Measure"),
    "plan_started_on": Words("帮教开始日期", "Help-education start date"),
    "sentence": Words("判决结果", "Sentence"),
    "judged_on": Words("判决日期", "Date of judgment"),
    "sealed_on": Words("封存日期", "Date sealed"),
    "record_no": Words("犯罪记录编号", "Record number", "被封存记录的案卷或文书编号。",
                       "The file or document number of the record sealed."),
    "authority": Words("封存机关", "Sealing authority"),
    "offence_date": Words("违法犯罪日期", "Date of the offence"),
    # J4
    "plan_from": Words("矫正开始日期", "Plan starts on", "每月考察自该日起算。",
                       "The monthly reviews count from this day."),
    "term_months": Words("矫正期限（月）", "Term (months)"),
    "identity_protected": Words("是否落实身份保护", "Identity protected"),
    "emotional_support": Words("是否安排思想情绪疏导", "Emotional support arranged"),
    "schooling_or_work": Words("就学就业安排", "Schooling or work"),
    "progress": Words("矫正表现", "Progress"),
    "review_date": Words("考察日期", "Review date"),
    "released_on": Words("解除矫正日期", "Date released"),
}

OPTIONS: dict[str, Words] = {
    # J1
    "candidate": Words("有疑似亲属", "Possible match"),
    "no_match": Words("未查到", "No match"),
    "confirmed": Words("确认亲属关系", "Confirmed"),
    "not_confirmed": Words("未能确认", "Not confirmed"),
    "dna": Words("基因比对", "DNA comparison"),
    "documents": Words("核对证件材料", "Documents"),
    "interview": Words("询问核实", "Interview"),
    # J3
    "reprimand_and_education": Words("训诫教育", "Reprimand and education"),
    "conditional_non_prosecution": Words("附条件不起诉", "Conditional non-prosecution"),
    "completed": Words("帮教完成", "Completed"),
    "failed": Words("帮教未达到要求", "Not completed"),
    "exempted": Words("免予刑事处罚", "Exempted from punishment"),
    "probation": Words("缓刑", "Probation"),
    "custodial_up_to_5y": Words("五年有期徒刑以下（实刑）", "Custodial, five years or less"),
    "custodial_over_5y": Words("超过五年有期徒刑", "Custodial, over five years"),
    "court": Words("人民法院", "Court"),
    "procuratorate": Words("人民检察院", "Procuratorate"),
    # J4
    "school": Words("就学", "School"),
    "work": Words("就业", "Work"),
    "training": Words("职业培训", "Training"),
    "on_track": Words("表现良好", "On track"),
    "violation": Words("违反矫正规定", "Violation"),
}
