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
    title="Counselling (心理疏导)",
    flow_name="p1-counselling",
    entrypoint="flows/psych/p1.py:p1_counselling",
    steps=(
        StepSpec("p1.referral", "Record the referral for counselling", "2wd",
                 ReferralDecision, ReferralForm, owner="center"),
        StepSpec("p1.assessment", "Social-work assessment", "5wd",
                 CounsellingAssessmentDecision, CounsellingAssessmentForm, owner="center"),
        StepSpec("p1.sessions", "Hold a round of counselling sessions", "40wd",
                 SessionsDecision, SessionsForm, suite="counselling_session",
                 rung_deadline="5wd",
                 owner_rule="the center's social workers for counselling; health (its "
                            "counselling clinics) when the assessment finds clinical needs"),
        StepSpec("p1.review", "Review the counselling", "5wd", ReviewDecision, ReviewForm,
                 owner="center"),
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
    title="Regular visits (定期走访)",
    flow_name="p2-regular-visits",
    entrypoint="flows/psych/p2.py:p2_regular_visits",
    steps=(
        StepSpec("p2.plan", "Agree the visiting plan: who visits, from when", "5wd",
                 VisitPlanDecision, VisitPlanForm, owner="center"),
        StepSpec("p2.visit", "Visit and give emotional support", "5wd",
                 SupportVisitDecision, SupportVisitForm, bureau="mca", suite="support_visit",
                 owner_rule="the visitor named by the plan"),
    ),
    waits=(
        WaitSpec("visits", "A visit falls due", tuple(f"{m}mo" for m in range(1, 13)),
                 since="the plan's start day"),
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
)


def visit_key(after: str) -> str:
    """A visit's step and timer key: "1mo" → "visit-1m"; it never depends on the settings."""
    return f"visit-{after.removesuffix('o') if after.endswith('mo') else after}"
