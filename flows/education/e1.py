"""E1 orphan schooling (四(二)1): the nearest suitable school, compulsory education guaranteed."""

from __future__ import annotations

from flows.education.spec import E1
from flows.steps import Procedure, procedure_flow


@procedure_flow(E1)
async def e1_orphan_schooling(p: Procedure) -> str:
    """Guarantee an orphan's compulsory education.

    The education bureau places the orphan at the nearest suitable school (a child who needs
    special education goes to E2) → the school confirms the child is enrolled and attending (a
    child who is not starts E3, the dropout procedure).

    Args:
        procedure_run_id: the procedure run in the case store.
    """
    assignment = await p.human("e1.assignment")
    if assignment.outcome == "needs_special_education":
        await p.start("E2", key="special-education")
        return await p.finish("referred_to_e2")

    enrolment = await p.human("e1.enrolment")
    if not enrolment.attending:
        await p.start("E3", key="not-attending")
        return await p.finish("dropout_reported")
    return await p.finish("enrolled")
