"""W4 vocational education and training for disabled minors (四(四), dpf)."""

from __future__ import annotations

from flows.employment.spec import W4, application_owner
from flows.steps import Procedure, procedure_flow


@procedure_flow(W4)
async def w4_vocational_training(p: Procedure) -> str:
    """Bring a disabled minor into vocational education or training.

    The community workstation (or the district government) refers the child (5 working days)
    → the disabled persons' federation assesses the child and chooses the programme
    (10 working days) → the place taken up is recorded by the education bureau for a
    vocational school, or by the federation for a training course (30 working days).

    Args:
        procedure_run_id: the procedure run in the case store.
    """
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
