"""P1 and P2 as data: counselling and regular visits to children in difficulty (四(六)).

The plan gives no days. Ours, each *(default)* and a setting in procedures.toml:

- P1: the center records the referral within 2 working days and its social worker assesses the
  child within 5; a round of sessions is given 40 working days (about eight weekly sessions),
  then 5 per rung once missed; the review 5. A review may ask for another round, up to
  MAX_SESSION_ROUNDS rounds in all; after that the case ends `unresolved` and the center is told.
- P2: the center agrees the visiting plan (who visits, from which day) within 5 working days;
  the visits fall due monthly for twelve months from that day (`[P2.waits] visits`, a list of
  durations as R3's: change the interval or the number of visits there); each visit is due
  within 5 working days of its date and, missed, climbs the visitor's ladder. The visits end
  early when a visitor records that they are no longer needed (the child is out of
  difficulty or the case is closing), else after the last one.
"""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import Field

from flows.catalog import BEGIN, Edge, ProcedureSpec, StepSpec, WaitSpec
from flows.forms import AgencyCode, Decision, Notes
from flows.words import Words

MAX_SESSION_ROUNDS = 3

# --- P1 counselling -----------------------------------------------------------------------------


class ReferralDecision(Decision):
    reason: Literal["trauma", "left_behind", "dropout", "family_conflict", "behaviour", "other"]
    referred_by: AgencyCode  # e.g. street:xingqing-fenghuang, edu, psb
    referral_date: date


class ReferralForm(ReferralDecision):
    notes: Notes


class CounsellingAssessmentDecision(Decision):
    outcome: Literal["counselling", "clinical", "no_need"]
    risk: Literal["low", "medium", "high"]


class CounsellingAssessmentForm(CounsellingAssessmentDecision):
    notes: Notes


class SessionsDecision(Decision):
    sessions_held: int = Field(ge=0, le=60)


class SessionsForm(SessionsDecision):
    """A round of sessions (suite counselling_session)."""

    first_on: date | None = None
    last_on: date | None = None
    notes: Notes


class ReviewDecision(Decision):
    outcome: Literal["closed", "more_sessions"]


class ReviewForm(ReviewDecision):
    notes: Notes


P1 = ProcedureSpec(
    code="P1",
    area="psych",
    title="Counselling",
    title_zh="心理疏导",
    flow_name="p1-counselling",
    entrypoint="flows/psych/p1.py:p1_counselling",
    steps=(
        StepSpec("p1.referral", "Record the referral for counselling", "2wd",
                 ReferralDecision, ReferralForm, owner="center", title_zh="登记心理疏导转介"),
        StepSpec("p1.assessment", "Social-work assessment", "5wd",
                 CounsellingAssessmentDecision, CounsellingAssessmentForm, owner="center",
                 title_zh="开展社工评估"),
        StepSpec("p1.sessions", "Hold a round of counselling sessions", "40wd",
                 SessionsDecision, SessionsForm, suite="counselling_session",
                 rung_deadline="5wd",
                 owner_rule="the center's social workers for counselling; health (its "
                            "counselling clinics) when the assessment finds clinical needs",
                 title_zh="开展一轮心理疏导"),
        StepSpec("p1.review", "Review the counselling", "5wd", ReviewDecision, ReviewForm,
                 owner="center", title_zh="评估疏导效果"),
    ),
    graph=(
        Edge(BEGIN, "p1.referral"),
        Edge("p1.referral", "p1.assessment"),
        Edge("p1.assessment", "end:no_need", "outcome == no_need"),
        Edge("p1.assessment", "p1.sessions", "outcome in {counselling, clinical}"),
        Edge("p1.sessions", "p1.review"),
        Edge("p1.review", "end:closed", "outcome == closed"),
        Edge("p1.review", "p1.sessions", "outcome == more_sessions, another round"),
        Edge("p1.review", "notify:p1.unresolved",
             f"outcome == more_sessions, round {MAX_SESSION_ROUNDS} of {MAX_SESSION_ROUNDS}"),
        Edge("notify:p1.unresolved", "end:unresolved"),
    ),
    outcome_words={
        "no_need": Words("无需心理疏导", "No counselling needed"),
        "closed": Words("疏导结束，已结案", "Counselling closed"),
        "unresolved": Words("多轮疏导后仍未缓解", "Unresolved after the last round"),
    },
)

# --- P2 regular visits --------------------------------------------------------------------------


class VisitPlanDecision(Decision):
    visitor: AgencyCode  # community:…, street:…, women, youth, unions: who visits
    starts_on: date  # the visits fall due counting from this day


class VisitPlanForm(VisitPlanDecision):
    group: Literal["dropout", "left_behind", "no_guardian", "other"]
    notes: Notes


Support = Literal["listening", "encouragement", "companionship", "study_help", "life_help",
                  "referral"]


class SupportVisitDecision(Decision):
    situation: Literal["ok", "concern", "no_longer_needed"]


class SupportVisitForm(SupportVisitDecision):
    """A visit and the emotional support given (suite support_visit)."""

    visit_date: date
    child_seen: bool
    mood: Literal["good", "stable", "low", "distressed"]
    support: list[Support] = Field(min_length=1)
    support_minutes: int = Field(ge=5, le=480)
    notes: Notes


P2 = ProcedureSpec(
    code="P2",
    area="psych",
    title="Regular visits",
    title_zh="定期走访",
    flow_name="p2-regular-visits",
    entrypoint="flows/psych/p2.py:p2_regular_visits",
    steps=(
        StepSpec("p2.plan", "Agree the visiting plan: who visits, from when", "5wd",
                 VisitPlanDecision, VisitPlanForm, owner="center", title_zh="制定走访计划"),
        StepSpec("p2.visit", "Visit and give emotional support", "5wd",
                 SupportVisitDecision, SupportVisitForm, bureau="mca", suite="support_visit",
                 owner_rule="the visitor named by the plan", title_zh="入户走访并开展精神慰藉"),
    ),
    waits=(
        WaitSpec("visits", "A visit falls due", tuple(f"{m}mo" for m in range(1, 13)),
                 since="the plan's start day", title_zh="本次走访到期"),
    ),
    graph=(
        Edge(BEGIN, "p2.plan"),
        Edge("p2.plan", "wait:visits"),
        Edge("wait:visits", "p2.visit", "fired"),
        Edge("wait:visits", "end:stopped", "cancelled"),
        Edge("p2.visit", "notify:p2.concern", "situation == concern"),
        Edge("p2.visit", "end:no_longer_needed", "situation == no_longer_needed"),
        Edge("p2.visit", "wait:visits", "more visits to come"),
        Edge("p2.visit", "end:completed", "after the last visit"),
    ),
    outcome_words={
        "stopped": Words("走访已终止", "Visits stopped"),
        "no_longer_needed": Words("无需继续走访", "Visits no longer needed"),
        "completed": Words("走访期满", "All visits made"),
    },
)

# --- the words of the forms' fields and choices (flows/words.py) ------------------------------

FIELDS: dict[str, Words] = {
    # P1 (referral_date, starts_on, situation, visit_date, child_seen: flows/words.py)
    "reason": Words("转介原因", "Reason for referral"),
    "referred_by": Words("转介单位", "Referred by",
                         "提出转介的单位，如街道办事处、学校或公安机关。",
                         "The agency that referred the child: a street office, a school, the "
                         "police…"),
    "risk": Words("风险等级", "Risk"),
    "sessions_held": Words("本轮疏导次数", "Sessions held", "本轮实际开展的疏导次数。",
                           "Sessions actually held in this round."),
    "first_on": Words("首次疏导日期", "First session"),
    "last_on": Words("末次疏导日期", "Last session"),
    # P2
    "visitor": Words("走访单位", "Visitor",
                     "负责定期走访的社区、街道办事处、妇联、团市委或总工会。",
                     "Who visits: a community, a street office, the Women's Federation, the "
                     "Youth League or the trade unions."),
    "group": Words("走访对象类别", "Group"),
    "mood": Words("情绪状态", "Mood"),
    "support": Words("精神慰藉内容", "Support given", "可多选。", "One or more."),
    "support_minutes": Words("服务时长（分钟）", "Minutes of support", "5至480分钟。",
                             "5 to 480."),
}

OPTIONS: dict[str, Words] = {
    # P1: why the child is referred; P2: which group the child belongs to (other: words.py)
    "trauma": Words("心理创伤", "Trauma"),
    "left_behind": Words("留守儿童", "Left-behind child"),
    "dropout": Words("失学辍学", "Dropout"),
    "family_conflict": Words("家庭矛盾", "Family conflict"),
    "behaviour": Words("行为偏差", "Behaviour"),
    "no_guardian": Words("监护缺失", "No guardianship"),
    # P1: the assessment and the review (closed: words.py)
    "counselling": Words("社工心理疏导", "Counselling by a social worker"),
    "clinical": Words("转心理门诊", "Clinical counselling"),
    "no_need": Words("无需疏导", "No need"),
    "more_sessions": Words("继续疏导", "More sessions"),
    # P1 risk and P2 mood share "low": 偏低 reads in both (风险偏低, 情绪偏低).
    "low": Words("偏低", "Low"),
    "medium": Words("中等", "Medium"),
    "high": Words("较高", "High"),
    "good": Words("良好", "Good"),
    "stable": Words("平稳", "Stable"),
    "distressed": Words("痛苦不安", "Distressed"),
    # P2: the visit (ok, concern: words.py)
    "no_longer_needed": Words("无需继续走访", "No longer needed"),
    # P2: the emotional support given (心理抚慰、精神慰藉)
    "listening": Words("倾听", "Listening"),
    "encouragement": Words("鼓励", "Encouragement"),
    "companionship": Words("陪伴", "Companionship"),
    "study_help": Words("学业辅导", "Help with studies"),
    "life_help": Words("生活帮扶", "Help with daily life"),
    "referral": Words("转介服务", "Referral"),
}


def visit_key(after: str) -> str:
    """A visit's step and timer key: "1mo" → "visit-1m"; it never depends on the settings."""
    return f"visit-{after.removesuffix('o') if after.endswith('mo') else after}"
