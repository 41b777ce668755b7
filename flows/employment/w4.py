"""W4 vocational education and training for disabled minors (四(四), dpf)."""

from __future__ import annotations

from prefect import flow

from app.config.procedures import procedure
from flows.employment.spec import W4, application_owner
from flows.steps import Procedure, on_failure


@flow(name=W4.flow_name, persist_result=True, on_failure=[on_failure], on_crashed=[on_failure])
async def w4_vocational_training(procedure_run_id: int) -> str:
    """Bring a disabled minor into vocational education or training.

    The community workstation (or the district government) refers the child (5 working days)
    → the disabled persons' federation assesses the child and chooses the programme
    (10 working days) → the place taken up is recorded by the education bureau for a
    vocational school, or by the federation for a training course (30 working days).

    Args:
        procedure_run_id: the procedure run in the case store.
    """
    p = await Procedure.begin(procedure(W4.code), procedure_run_id)  # with the settings

    referral = await p.human("w4.referral",
                             owner=application_owner(p.params, p.info["district"]))
    if referral.outcome == "withdrawn":
        return await p.finish("withdrawn")

    assessment = await p.human("w4.assessment")
    if assessment.outcome == "not_suitable":
        return await p.finish("not_suitable")

    provider = "edu" if assessment.outcome == "vocational_school" else "dpf"
    enrolment = await p.human("w4.enrolment", owner=provider)
    return await p.finish("enrolled" if enrolment.delivered else "not_enrolled")
