"""R2 and R3 as data: their steps, owners, deadlines and forms (四(一)2–4)."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import Field

from flows.catalog import ProcedureSpec, StepSpec
from flows.forms import AgencyCode, Decision, District, Notes

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
                 PlacementDecision, PlacementForm, bureau="mca"),
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
                 bureau="mca", suite="followup_visit"),
        StepSpec("r3.closing", "Closing review", "5wd", ClosingDecision, ClosingForm,
                 owner="center"),
    ),
)

VISIT_MONTHS = (1, 3, 6, 12)
SCHOOL_AGE = (6, 15)  # compulsory education: ages 6 to 15 inclusive
