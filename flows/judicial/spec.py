"""The judicial procedures as data (四(三)): J1 family tracing, J2 household registration after
two years, J3 juvenile offenders and record sealing, J4 community correction support."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import Field

from flows.catalog import BEGIN, Edge, ProcedureSpec, StepSpec, WaitSpec
from flows.forms import Decision, District, Notes


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
    title="Household registration after two years (两年后落户)",
    flow_name="j2-hukou-registration",
    entrypoint="flows/judicial/j2.py:j2_hukou_registration",
    steps=(
        StepSpec("j2.registration", "Register the child's household (hukou)", "20wd",
                 RegistrationDecision, RegistrationForm, owner="psb",
                 suite="hukou_application"),
    ),
    waits=(
        # The clock starts at placement; finding the family stops it.
        WaitSpec("clock", "Two years or more without family", "2y", since="the placement"),
    ),
    graph=(
        Edge(BEGIN, "wait:clock", "a placement date is recorded"),
        Edge(BEGIN, "end:not_placed", "no placement date"),
        Edge("wait:clock", "j2.registration", "fired"),
        Edge("wait:clock", "end:family_found", "cancelled"),
        Edge("j2.registration", "end:registered"),
    ),
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
    title="Family tracing (寻亲)",
    flow_name="j1-family-tracing",
    entrypoint="flows/judicial/j1.py:j1_family_tracing",
    steps=(
        # PROCEDURES.md gives no deadline for a search or a verification: 10 working days
        # each (default), time for a DNA comparison to come back.
        StepSpec("j1.search", "Search the rescue, population and anti-trafficking DNA systems",
                 "10wd", SearchDecision, SearchForm, owner="psb", suite="family_search"),
        StepSpec("j1.verification", "Verify the candidate match", "10wd",
                 VerificationDecision, VerificationForm, owner="psb"),
    ),
    waits=(
        # 90 calendar days (default, PROCEDURES.md), from the search or verification that
        # found no family; repeated until the family is found or the case is closed.
        WaitSpec("interval", "Search again", "90d", since="the last search without result"),
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
    title="Juvenile offenders and record sealing (未成年人犯罪记录封存)",
    flow_name="j3-juvenile-record-sealing",
    entrypoint="flows/judicial/j3.py:j3_juvenile_record_sealing",
    steps=(
        # No deadlines in PROCEDURES.md: each below is ours (default).
        StepSpec("j3.investigation", "Social investigation of the minor (education first)",
                 "10wd", InvestigationDecision, InvestigationForm, owner="psb"),
        StepSpec("j3.handling", "Decide the lenient, education-first handling", "20wd",
                 HandlingDecision, HandlingForm, owner="procuratorate"),
        # A conditional non-prosecution's test period is 6 to 12 months: the outcome is due
        # after six months, then each rung has 5 working days.
        StepSpec("j3.help_education", "Help and education plan carried out (帮教)", "6mo",
                 HelpEducationDecision, HelpEducationForm, owner="justice",
                 rung_deadline="5wd"),
        StepSpec("j3.judgment", "Juvenile court judgment", "60wd",
                 JudgmentDecision, JudgmentForm, owner="court"),
        StepSpec("j3.sealing", "Seal the criminal record", "5wd", SealingDecision, SealingForm,
                 suite="sealed_record",
                 owner_rule="the court after a judgment, else the procuratorate"),
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
    title="Community correction support (社区矫正帮扶)",
    flow_name="j4-community-correction",
    entrypoint="flows/judicial/j4.py:j4_community_correction",
    steps=(
        # No deadlines in PROCEDURES.md: 10 working days for the plan, 5 for a review and for
        # the release (defaults).
        StepSpec("j4.plan", "Fit a correction plan to the minor", "10wd",
                 PlanDecision, PlanForm, owner="justice", suite="correction_plan"),
        StepSpec("j4.review", "Monthly review", "5wd", ReviewDecision, ReviewForm,
                 owner="justice", suite="correction_review"),
        StepSpec("j4.release", "Release from community correction", "5wd",
                 ReleaseDecision, ReleaseForm, owner="justice"),
    ),
    waits=(
        WaitSpec("reviews", "A review falls due", "1mo",
                 since="the plan's start, then the previous review's date"),
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
)
