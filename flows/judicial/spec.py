"""J2 as data: household registration after two years without family (四(三)2)."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import Field

from flows.catalog import BEGIN, Edge, ProcedureSpec, StepSpec, WaitSpec
from flows.forms import Decision, District


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
