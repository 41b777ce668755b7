"""E4 education aid for dibao and near-dibao families (四(二)4)."""

from __future__ import annotations

from flows.education.spec import E4
from flows.steps import Procedure, procedure_flow


@procedure_flow(E4)
async def e4_education_aid(p: Procedure) -> str:
    """Pay preschool aid, senior-high aid or the nutrition-lunch subsidy.

    The school takes the application of a dibao or near-dibao family → civil affairs verifies
    the family's status → the education bureau pays. A family found not eligible is told
    through the school (edu is notified).

    Args:
        procedure_run_id: the procedure run in the case store.
    """
    application = await p.human("e4.application")
    verification = await p.human("e4.verification")
    if not verification.eligible:
        await p.notify("edu", "e4.not_eligible", key="not-eligible", aid=application.aid)
        return await p.finish("not_eligible")

    await p.human("e4.payment")
    return await p.finish("paid")
