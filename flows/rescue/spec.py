"""R2 and R3 as data: their steps, owners, deadlines and forms (四(一)2–4)."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import Field

from flows.catalog import BEGIN, Edge, ProcedureSpec, StepSpec, WaitSpec
from flows.forms import AgencyCode, Decision, District, Notes

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
        Edge("r2.placement", "start:J2"),
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
        Edge("notify:r3.home_unsafe", "end:home_unsafe"),
        Edge("r3.escort", "r3.school_referral", "the child is of compulsory school age"),
        Edge("r3.escort", "wait:visits", "the child is not of school age"),
        Edge("r3.school_referral", "wait:visits"),
        Edge("wait:visits", "r3.visit"),
        Edge("r3.visit", "notify:r3.ran_away", "situation == ran_away"),
        Edge("r3.visit", "notify:r3.guardian_failing", "situation == guardian_failing"),
        Edge("r3.visit", "notify:r3.need", "one for each of the needs (R6, E4, P1, W1)"),
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
